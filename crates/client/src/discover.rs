//! Host-list entries that stand for other hosts: a DNS SRV name (`_distcc._tcp.example.org`)
//! becomes one TCP entry per address and port its record names, with the SRV entry's `/N`
//! and options. Runs only when the list holds such an entry, so an ordinary list costs
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
        .any(|h| matches!(h.transport, Transport::Srv { .. }))
    {
        return;
    }
    let resolver = Resolver::system();
    let dir = config.top_dir().map(|d| d.join("srv"));
    let mut out = Vec::with_capacity(list.hosts.len());
    for h in list.hosts.drain(..) {
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

/// The TCP entry for one target, spelt as the user would have written it.
fn entry(srv: &Host, t: Target) -> Host {
    let shown = match t.addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    let mut spec = format!("{shown}:{}/{}", t.port, srv.slots);
    for (on, opt) in [(srv.lzo, ",lzo"), (srv.cpp, ",cpp"), (srv.down, ",down")] {
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
