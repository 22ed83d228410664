//! Host-list entries that stand for other hosts: a DNS SRV name (`_distcc._tcp.example.org`)
//! becomes one TCP entry per address and port its record names, with the SRV entry's `/N`
//! and options; `+zeroconf` becomes the entries of the host file that a background browser
//! (`distcc-zeroconf`, started here when none runs, as 3.4 forks one) keeps in
//! `$DISTCC_DIR/zeroconf/hosts`, in 3.4's format and with 3.4's locks, so 3.4's clients and
//! ours can share one browser. Runs only when the list holds such an entry, so an ordinary list costs
//! nothing; the answer is cached under `$DISTCC_DIR/srv/` for its TTL (`discovery::cache`),
//! so a build asks the name server about once per TTL. A name that cannot be looked up (and
//! was never cached) contributes no hosts, with a warning; the rest of the list still serves.

use std::net::IpAddr;
use std::time::SystemTime;

use discovery::cache::{self, Freshness};
use discovery::resolv::Resolver;
use discovery::{Target, srv};

use crate::config::Config;
use crate::hosts::{Host, HostList, Transport};
use crate::log::Log;

/// Replaces every SRV entry of `list` by the hosts it names, in place (list order kept).
pub fn expand(list: &mut HostList, config: &Config, log: &Log) {
    if !list
        .hosts
        .iter()
        .any(|h| matches!(h.transport, Transport::Srv { .. } | Transport::Zeroconf))
    {
        return;
    }
    let resolver = Resolver::system();
    let dir = config.top_dir().map(|d| d.join("srv"));
    let mut out = Vec::with_capacity(list.hosts.len());
    for h in list.hosts.drain(..) {
        if h.transport == Transport::Zeroconf {
            match zeroconf_hosts(config, log) {
                Ok(found) => out.extend(found),
                Err(e) => log.warning(format_args!("+zeroconf: {e}; it adds no hosts")),
            }
            continue;
        }
        let Transport::Srv { name } = &h.transport else {
            out.push(h);
            continue;
        };
        let ask = || srv::lookup(&resolver, name);
        let got = match &dir {
            Some(d) => cache::lookup(d, name, SystemTime::now(), ask),
            None => ask().map(|f| (f.targets, Freshness::Asked, None)),
        };
        match got {
            Ok((targets, how, err)) => {
                if let Some(e) = err {
                    log.warning(format_args!(
                        "cannot refresh SRV name {name} ({e}); using its expired answer"
                    ));
                }
                log.info(format_args!(
                    "SRV name {name}: {} host(s){}",
                    targets.len(),
                    match how {
                        Freshness::Cached => " (cached)",
                        Freshness::Asked => "",
                        Freshness::ExpiredBusy => " (expired; another client is refreshing it)",
                        Freshness::ExpiredFailed => " (expired)",
                    }
                ));
                out.extend(targets.into_iter().map(|t| entry(&h, t)));
            }
            Err(e) => log.warning(format_args!(
                "cannot look up SRV name {name}: {e}; it adds no hosts"
            )),
        }
    }
    list.hosts = out;
}

/// 3.4's cap on the zeroconf host file.
const MAX_ZEROCONF_FILE: u64 = 100 * 1024;

/// The hosts of `+zeroconf`: starts the browser if none holds `zeroconf/lock` (then gives it
/// up to a second to find the first daemons, as 3.4 sleeps a second), reads the host file
/// under a shared fcntl lock, and marks it used (its access time), which keeps the browser
/// alive; it exits 20 s after the last use.
fn zeroconf_hosts(config: &Config, log: &Log) -> Result<Vec<Host>, String> {
    let dir = config
        .top_dir()
        .ok_or("no $DISTCC_DIR or $HOME for the zeroconf host file")?
        .join("zeroconf");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let hosts_path = dir.join("hosts");
    let running = os::lock::holder(&dir.join("lock")).map_err(|e| e.to_string())?;
    if running.is_none() {
        start_browser(&dir, log)?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while std::time::Instant::now() < deadline {
            if std::fs::metadata(&hosts_path).is_ok_and(|m| m.len() > 0) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
    }
    let file = match std::fs::File::open(&hosts_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot open {}: {e}", hosts_path.display())),
    };
    os::lock::wait_lock(&file, false).map_err(|e| e.to_string())?;
    let mut text = String::new();
    let read = std::io::Read::read_to_string(
        &mut std::io::Read::take(&file, MAX_ZEROCONF_FILE),
        &mut text,
    );
    let _ = os::lock::touch_atime(&file);
    let _ = os::lock::unlock_file(&file);
    read.map_err(|e| format!("cannot read {}: {e}", hosts_path.display()))?;
    let name = hosts_path.display().to_string();
    let list = crate::hosts::parse(&text, &name).map_err(|e| e.to_string())?;
    log.info(format_args!("+zeroconf: {} host(s)", list.hosts.len()));
    Ok(list.hosts)
}

/// Runs `distcc-zeroconf DIR` (beside this program, else on `PATH`), which detaches at once.
fn start_browser(dir: &std::path::Path, log: &Log) -> Result<(), String> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("distcc-zeroconf")))
        .filter(|p| p.is_file());
    let program = beside.unwrap_or_else(|| "distcc-zeroconf".into());
    log.info(format_args!("+zeroconf: starting {}", program.display()));
    let mut cmd = os::process::Command::new(&program);
    cmd.arg(dir)
        .stdin(os::process::Input::Null)
        .stdout(os::process::Output::Null)
        .stderr(os::process::Output::Null)
        .timeout(std::time::Duration::from_secs(10));
    match cmd.run() {
        Ok(o) if o.success() => Ok(()),
        Ok(_) => Err(format!("{} failed", program.display())),
        Err(e) => Err(format!("cannot run {}: {e}", program.display())),
    }
}

/// The TCP entry for one target, spelt as the user would have written it.
fn entry(srv: &Host, t: Target) -> Host {
    let shown = match t.addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    // Slots the records give (DNS-SD TXT) win over the entry's /N.
    let slots = t.slots.unwrap_or(srv.slots);
    let mut spec = format!("{shown}:{}/{slots}", t.port);
    for (on, opt) in [
        (srv.lzo, ",lzo"),
        (srv.cpp, ",cpp"),
        (srv.down, ",down"),
        (srv.tls, ",tls"),
    ] {
        if on {
            spec.push_str(opt);
        }
    }
    Host {
        spec,
        transport: Transport::Tcp {
            host: t.addr.to_string(),
            port: t.port,
        },
        slots,
        ..srv.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_srv_entry_lends_its_limit_and_options_to_each_host() {
        let list = crate::hosts::parse("_distcc._tcp.farm.test/3,lzo", "t").unwrap();
        let srv = &list.hosts[0];
        assert_eq!(
            srv.transport,
            Transport::Srv {
                name: "_distcc._tcp.farm.test".into()
            }
        );
        let h = entry(
            srv,
            Target {
                addr: "fd00::2".parse().unwrap(),
                port: 4000,
                slots: None,
            },
        );
        assert_eq!(h.spec, "[fd00::2]:4000/3,lzo");
        assert_eq!(crate::hosts::parse(&h.spec, "t").unwrap().hosts[0], h);
        assert_eq!(h.lock_stem(), "tcp_fd00::2_4000");
    }

    #[test]
    fn an_srv_entry_refuses_a_port() {
        assert!(crate::hosts::parse("_distcc._tcp.farm.test:3632", "t").is_err());
        assert!(crate::hosts::parse("_distcc._tcp.farm.test/2:3632", "t").is_err());
    }
}
