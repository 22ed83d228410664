//! Registration with farm coordinators (`--coordinator HOST[:PORT]`, issue 15;
//! docs/coordinator.md): one thread per coordinator connects, says `HELO role=daemon` with
//! the address clients should use, its slots and figures, then sends `LOAD` when they change
//! (looked at every [`TICK`]) and at least every [`HEARTBEAT`]. A lost connection is retried
//! forever with a backoff from 0.1 s to [`MAX_BACKOFF`]; a restarted daemon registers again
//! by itself, and the coordinator replaces its old entry.
//!
//! What it reports: `jobs` (`--jobs`), `busy` (jobs holding a slot now, from any client, 3.4's
//! too: `Stats::compiling`), the one-minute load and what of it is not distcc's
//! (`other-load` = load − busy), available memory, and `slots`: what it offers now. It offers
//! none while `--coordinator-withdraw-file` exists (a desktop user's switch), and shrinks by
//! the excess when `other-load` is over `--coordinator-max-load`.
//!
//! It never changes how jobs are served: the daemon's own `--jobs` limit stays the enforcer.
//!
//! `--coordinator HOST:PORT,tls` registers over TLS, with the daemon's `DISTCC_TLS_*`
//! variables as a client's (`DISTCC_TLS_CA` or `DISTCC_TLS_PIN` to check the coordinator,
//! `DISTCC_TLS_CERT`/`KEY` or `DISTCC_TLS_TOKEN` to prove who it is).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proto::coord::{self, Frame, Kind};

use crate::stats::Stats;

/// The coordinator's port when `--coordinator` names none.
pub const DEFAULT_PORT: u16 = 3634;
/// How often figures are looked at.
pub const TICK: Duration = Duration::from_millis(250);
/// The longest the coordinator goes without hearing from us.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// The longest wait between reconnects.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How often the allow-listed compilers' identities are looked at again (cheap while their
/// files are unchanged: `identity::Index` keeps what it probed by file identity).
pub const IDENTITIES_EVERY: Duration = Duration::from_secs(30);
/// The most bytes of `ccids=` a report carries (a frame holds 4096).
pub const MAX_CCIDS_LEN: usize = 3000;

/// The identities (`Identity::farm_key`, space-separated) of the compilers this daemon
/// allow-lists, once known: `None` until the first probe ends. Reports carry `ccids=` only
/// when known, so the coordinator treats a daemon still probing as one that lists none.
pub type Ccids = Arc<Mutex<Option<String>>>;

/// The `ccids=` value for `index`: every allow-listed compiler's identity for each language
/// it may compile (C, C++, Objective-C and -C++; a preprocessed source runs the same
/// programs), each once, capped at [`MAX_CCIDS_LEN`]. Probes what is not known yet
/// (~100 ms per compiler and language), so it runs off the registration path.
pub fn farm_keys(index: &identity::Index) -> String {
    use args::Language as L;
    let mut keys: Vec<String> = Vec::new();
    for lang in [L::C, L::Cxx, L::ObjC, L::ObjCxx] {
        for (_, id) in index.identities(lang) {
            if let Ok(id) = id {
                let k = id.farm_key();
                if coord::value_ok(&k) && !k.contains(' ') && !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    let mut out = String::new();
    for k in keys {
        if out.len() + k.len() + 1 > MAX_CCIDS_LEN {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&k);
    }
    out
}

/// Starts the thread that fills `ccids` from `index` at once and every
/// [`IDENTITIES_EVERY`] after (a compiler upgraded in place changes its identity), until
/// shutdown. The registration threads send the new value with their next report.
pub fn start_identities(
    index: impl Fn() -> String + Send + 'static,
    ccids: Ccids,
    shutdown: RawFd,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("coord-ccids".into())
        .spawn(move || {
            loop {
                let keys = index();
                *ccids.lock().unwrap_or_else(|p| p.into_inner()) = Some(keys);
                if let Ok(os::listen::Wake::Shutdown) =
                    os::listen::wait(-1, shutdown, Some(IDENTITIES_EVERY))
                {
                    return;
                }
            }
        })?;
    Ok(())
}

/// What the command line says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// `--coordinator`, each `host[:port][,tls]`: host, port, and whether over TLS.
    pub coordinators: Vec<(String, u16, bool)>,
    /// `--coordinator-name`: the name or address clients reach this daemon by; default: the
    /// local address of the connection to the coordinator.
    pub name: Option<String>,
    /// `--coordinator-max-load`: other (non-distcc) load above which slots are withdrawn.
    pub max_load: Option<f64>,
    /// `--coordinator-withdraw-file`: offer nothing while this file exists.
    pub withdraw_file: Option<PathBuf>,
}

/// Parses one `--coordinator` value: `host`, `host:port`, `[v6]:port`, each optionally
/// followed by `,tls`.
pub fn parse_target(v: &str) -> Option<(String, u16, bool)> {
    let (v, tls) = match v.strip_suffix(",tls") {
        Some(rest) => (rest, true),
        None => (v, false),
    };
    let (h, p) = parse_address(v)?;
    Some((h, p, tls))
}

fn parse_address(v: &str) -> Option<(String, u16)> {
    if let Some(rest) = v.strip_prefix('[') {
        let (h, p) = rest.split_once(']')?;
        let port = match p.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if p.is_empty() => DEFAULT_PORT,
            None => return None,
        };
        return Some((h.to_owned(), port));
    }
    match v.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_owned(), p.parse().ok()?)),
        Some(_) => Some((v.to_owned(), DEFAULT_PORT)),
        None if v.is_empty() => None,
        None => Some((v.to_owned(), DEFAULT_PORT)),
    }
}

/// What this daemon is doing now.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub jobs: u32,
    pub busy: u32,
    pub load: f64,
    pub mem_mb: u64,
}

/// The slots to offer and why fewer than `jobs`, from the figures and settings.
pub fn offer(f: &Figures, s: &Settings, withdraw_file_exists: bool) -> (u32, Option<String>) {
    if withdraw_file_exists {
        let p = s
            .withdraw_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return (0, Some(format!("withdrawn while {p} exists")));
    }
    let other = (f.load - f64::from(f.busy)).max(0.0);
    match s.max_load {
        Some(max) if other > max => {
            let excess = (other - max).ceil() as u32;
            let slots = f.jobs.saturating_sub(excess);
            (slots, Some(format!("other load {other:.2} over {max:.2}")))
        }
        _ => (f.jobs, None),
    }
}

fn read_figures(stats: &Stats) -> Figures {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_ascii_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let mem_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemAvailable:"))?
                .split_ascii_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb / 1024);
    Figures {
        jobs: stats.config.jobs.min(u32::MAX as usize) as u32,
        busy: stats.compiling().min(u32::MAX as usize) as u32,
        load,
        mem_mb,
    }
}

fn frame(
    kind: Kind,
    spec: &str,
    f: &Figures,
    offered: (u32, Option<String>),
    ccids: Option<&str>,
) -> Frame {
    let mut fr = Frame::new(kind);
    if kind == Kind::Hello {
        fr = fr.with("role", "daemon");
    }
    fr = fr
        .with("host", spec)
        .with("jobs", f.jobs)
        .with("slots", offered.0)
        .with("busy", f.busy)
        .with("load", format!("{:.2}", f.load))
        .with(
            "other-load",
            format!("{:.2}", (f.load - f64::from(f.busy)).max(0.0)),
        )
        .with("mem-mb", f.mem_mb);
    if let Some(why) = offered.1 {
        fr = fr.with("withdrawn", why);
    }
    if let Some(c) = ccids {
        fr = fr.with("ccids", c);
    }
    fr
}

/// Starts one registration thread per coordinator. `port` is the port this daemon serves
/// compiles on; `log` receives one line per connect, loss and withdrawal.
/// `ccids` is filled by [`start_identities`].
pub fn start(
    settings: Settings,
    port: u16,
    stats: Arc<Stats>,
    ccids: Ccids,
    shutdown: RawFd,
    log: fn(&str),
) -> io::Result<()> {
    let settings = Arc::new(settings);
    for (host, cport, tls) in settings.coordinators.clone() {
        let r = Registration {
            host,
            cport,
            tls,
            settings: settings.clone(),
            port,
            stats: stats.clone(),
            ccids: ccids.clone(),
            shutdown,
            log,
        };
        std::thread::Builder::new()
            .name("coordinator".into())
            .spawn(move || run(&r))?;
    }
    Ok(())
}

/// One registration thread's whole world: the coordinator (`host`:`cport`, over TLS or not)
/// and this daemon's side (its settings, compile port, figures, compiler identities, the
/// shutdown descriptor and the log).
struct Registration {
    host: String,
    cport: u16,
    tls: bool,
    settings: Arc<Settings>,
    port: u16,
    stats: Arc<Stats>,
    ccids: Ccids,
    shutdown: RawFd,
    log: fn(&str),
}

fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for a in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, Duration::from_secs(1)) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn spec_for(name: Option<&str>, local: SocketAddr, port: u16, jobs: u32) -> String {
    let host = match (name, local) {
        (Some(n), _) => n.to_owned(),
        (None, SocketAddr::V4(a)) => a.ip().to_string(),
        (None, SocketAddr::V6(a)) => format!("[{}]", a.ip()),
    };
    format!("{host}:{port}/{jobs},lzo")
}

/// Registers, and again after each loss with a growing pause, until shutdown.
fn run(r: &Registration) {
    let (host, cport, shutdown, log) = (&r.host, r.cport, r.shutdown, r.log);
    let mut backoff = Duration::from_millis(100);
    loop {
        let outcome = session(r);
        match outcome {
            Ok(()) => return, // shutdown
            Err(e) => log(&format!(
                "coordinator {host}:{cport}: {e}; retrying in {:.1}s",
                backoff.as_secs_f64()
            )),
        }
        if let Ok(os::listen::Wake::Shutdown) = os::listen::wait(-1, shutdown, Some(backoff)) {
            return;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A byte stream to a coordinator: a plain socket or TLS over one.
trait Link: Read + Write {}
impl<T: Read + Write> Link for T {}

/// One connection: registers, then reports until it fails (`Err`) or shutdown (`Ok`).
fn session(r: &Registration) -> io::Result<()> {
    let (host, cport, tls, port) = (r.host.as_str(), r.cport, r.tls, r.port);
    let (s, stats, ccids, shutdown, log) = (&*r.settings, &*r.stats, &r.ccids, r.shutdown, r.log);
    let known = || ccids.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let tcp = connect(host, cport)?;
    tcp.set_nodelay(true)?;
    tcp.set_write_timeout(Some(Duration::from_secs(5)))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let local = tcp.local_addr()?;
    let fd = tcp.as_raw_fd();
    let mut conn: Box<dyn Link> = if tls {
        let settings = tls::client::ClientSettings::from_lookup(|k| std::env::var(k).ok());
        let client =
            tls::client::Client::new(&settings).map_err(|e| io::Error::other(e.to_string()))?;
        Box::new(client.connect(host, tcp).map_err(io::Error::other)?)
    } else {
        Box::new(tcp)
    };
    let figures = read_figures(stats);
    let spec = spec_for(s.name.as_deref(), local, port, figures.jobs);
    let exists = |s: &Settings| s.withdraw_file.as_ref().is_some_and(|p| p.exists());
    let mut offered = offer(&figures, s, exists(s));
    let mut sent_ccids = known();
    let mut buf = Vec::new();
    coord::encode(
        &mut buf,
        &frame(
            Kind::Hello,
            &spec,
            &figures,
            offered.clone(),
            sent_ccids.as_deref(),
        ),
    );
    conn.write_all(&buf)?;
    conn.flush()?;
    log(&format!(
        "registered with coordinator {host}:{cport}{} as {spec}",
        if tls { " over TLS" } else { "" }
    ));
    let mut last = (figures, offered.clone());
    let mut sent_at = Instant::now();
    let mut inbuf = Vec::new();
    loop {
        match os::listen::wait(fd, shutdown, Some(TICK))? {
            os::listen::Wake::Shutdown => return Ok(()),
            os::listen::Wake::Ready => {
                // The coordinator says little (its hello); a close means it went away.
                let mut chunk = [0u8; 1024];
                let n = conn.read(&mut chunk)?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the coordinator closed the connection",
                    ));
                }
                inbuf.extend_from_slice(&chunk[..n]);
                while let Some((_, used)) = coord::decode(&inbuf)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?
                {
                    inbuf.drain(..used);
                }
            }
            os::listen::Wake::TimedOut => {}
        }
        let figures = read_figures(stats);
        offered = offer(&figures, s, exists(s));
        let now_ccids = known();
        let changed = now_ccids != sent_ccids
            || figures.busy != last.0.busy
            || figures.jobs != last.0.jobs
            || offered != last.1
            || (figures.load - last.0.load).abs() >= 0.5;
        if changed || sent_at.elapsed() >= HEARTBEAT {
            if offered.1 != last.1.1 {
                match &offered.1 {
                    Some(why) => log(&format!("offering {} slots: {why}", offered.0)),
                    None => log(&format!("offering all {} slots again", offered.0)),
                }
            }
            buf.clear();
            coord::encode(
                &mut buf,
                &frame(
                    Kind::Load,
                    &spec,
                    &figures,
                    offered.clone(),
                    now_ccids.as_deref(),
                ),
            );
            sent_ccids = now_ccids;
            conn.write_all(&buf)?;
            conn.flush()?;
            sent_at = Instant::now();
            last = (figures, offered.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(parse_target("c"), Some(("c".into(), DEFAULT_PORT, false)));
        assert_eq!(parse_target("c:7"), Some(("c".into(), 7, false)));
        assert_eq!(parse_target("c:7,tls"), Some(("c".into(), 7, true)));
        assert_eq!(parse_target("[::1]:7"), Some(("::1".into(), 7, false)));
        assert_eq!(
            parse_target("[::1]"),
            Some(("::1".into(), DEFAULT_PORT, false))
        );
        assert_eq!(parse_target("c:x"), None);
        assert_eq!(parse_target(""), None);
    }

    #[test]
    fn slots_shrink_with_other_load_and_go_with_the_withdraw_file() {
        let s = Settings {
            max_load: Some(1.0),
            withdraw_file: Some("/run/x".into()),
            ..Settings::default()
        };
        let f = |load: f64, busy: u32| Figures {
            jobs: 4,
            busy,
            load,
            mem_mb: 0,
        };
        assert_eq!(offer(&f(3.0, 3), &s, false), (4, None), "the load is ours");
        let (n, why) = offer(&f(3.5, 1), &s, false);
        assert_eq!(n, 2);
        assert!(why.unwrap().contains("other load 2.50 over 1.00"));
        assert_eq!(offer(&f(9.0, 0), &s, false).0, 0);
        let (n, why) = offer(&f(0.0, 0), &s, true);
        assert_eq!(n, 0);
        assert!(why.unwrap().contains("/run/x"));
    }

    #[test]
    fn specs_name_what_clients_reach() {
        let v4: SocketAddr = "10.0.0.5:4444".parse().unwrap();
        let v6: SocketAddr = "[fe80::1]:4444".parse().unwrap();
        assert_eq!(spec_for(None, v4, 3632, 4), "10.0.0.5:3632/4,lzo");
        assert_eq!(spec_for(None, v6, 3632, 4), "[fe80::1]:3632/4,lzo");
        assert_eq!(spec_for(Some("h.example"), v4, 1, 2), "h.example:1/2,lzo");
    }
}
