//! Walking the candidates: name lookups and probes run in their own threads (std only), and
//! this module's loop hands each finished host to the caller as soon as it is known, so the
//! output order is the order in which hosts finish, as in 3.4.
//!
//! A pattern (`distcc%d`) is walked from 1 with `overlap + 1` lookups in flight, and the walk
//! stops once more than `dns_gap` names failed to resolve (lookups already started still
//! count). A host list is checked whole: unlike 3.4, an unresolvable name in the list does not
//! stop the names after it from being tried. The whole scan ends at the `-t` timeout; threads
//! still running then are abandoned to the process exit.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use super::options::{Options, Targets};
use super::probe::{ProbeSpec, Verdict, prefix_matches, probe};

/// Lookups kept in flight for an explicit host list.
const LIST_WINDOW: u32 = 64;

/// One host that was probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The name as tried (with the domain appended under `-d`).
    pub name: String,
    pub addr: IpAddr,
    pub up: bool,
    /// From the start of the connect to the verdict; zero when nothing was connected (`-c0`).
    pub latency: Duration,
    /// Why it is down, for `-v`.
    pub why: Option<String>,
}

enum Event {
    Resolved {
        name: String,
        addr: Result<SocketAddr, String>,
    },
    Probed(Outcome),
}

/// Turns a name and port into the address to probe. Injected so tests need no DNS.
pub type Resolver = Arc<dyn Fn(&str, u16) -> Result<SocketAddr, String> + Send + Sync>;

/// Runs the scan with the system resolver. `domain` is appended to every name (the binary
/// works it out for `-d`). `log` receives progress lines when `-v` was given; `report`
/// receives every probed host. Returns how many hosts were up.
pub fn scan(
    opts: &Options,
    domain: Option<&str>,
    log: &mut dyn FnMut(&str),
    report: &mut dyn FnMut(&Outcome),
) -> usize {
    scan_with(opts, domain, Arc::new(resolve), log, report)
}

/// [`scan`] with a given resolver.
pub fn scan_with(
    opts: &Options,
    domain: Option<&str>,
    resolver: Resolver,
    log: &mut dyn FnMut(&str),
    report: &mut dyn FnMut(&Outcome),
) -> usize {
    let start = Instant::now();
    let deadline = opts.timeout.map(|t| start + t);
    let pattern = matches!(opts.targets, Targets::Pattern(_));
    let window = if pattern {
        opts.overlap.saturating_add(1)
    } else {
        LIST_WINDOW
    };
    let spec = ProbeSpec {
        connect_timeout: opts.connect_timeout,
        compile: opts.compiler.clone().zip(opts.compile_timeout),
        protocol: opts.protocol,
    };
    let (tx, rx) = mpsc::channel::<Event>();

    let mut next = 1u32;
    let mut lookups = 0u32;
    let mut probes = 0u32;
    let mut stopped = false;
    let mut bad_names = 0u32;
    let mut first_addr: Option<IpAddr> = None;
    let mut up = 0usize;

    loop {
        while !stopped && lookups < window {
            let Some(mut name) = opts.targets.name(next) else {
                stopped = true;
                break;
            };
            if let Some(d) = domain {
                name.push('.');
                name.push_str(d);
            }
            next += 1;
            lookups += 1;
            if opts.verbose > 0 {
                log(&format!("looking up {name}"));
            }
            let tx = tx.clone();
            let port = opts.port;
            let resolver = Arc::clone(&resolver);
            thread::spawn(move || {
                let addr = resolver(&name, port);
                let _ = tx.send(Event::Resolved { name, addr });
            });
        }
        if lookups == 0 && probes == 0 {
            break;
        }
        let event = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(e) => e,
                    Err(_) => {
                        if opts.verbose > 0 {
                            log("timeout");
                        }
                        break;
                    }
                }
            }
            // The loop holds `tx`, so this cannot see a disconnect while work is pending.
            None => match rx.recv() {
                Ok(e) => e,
                Err(_) => break,
            },
        };
        match event {
            Event::Resolved { name, addr } => {
                lookups -= 1;
                let addr = addr.and_then(|a| {
                    if opts.match_bits == 0 {
                        return Ok(a);
                    }
                    match first_addr {
                        None => {
                            first_addr = Some(a.ip());
                            Ok(a)
                        }
                        Some(f) if prefix_matches(&f, &a.ip(), opts.match_bits) => Ok(a),
                        Some(_) => Err(format!("{} is on another network", a.ip())),
                    }
                });
                match addr {
                    Err(why) => {
                        if opts.verbose > 0 {
                            log(&format!("{name} not found: {why}"));
                        }
                        bad_names += 1;
                        if pattern && bad_names > opts.dns_gap {
                            stopped = true;
                        }
                    }
                    Ok(addr) => {
                        probes += 1;
                        if opts.verbose > 0 {
                            log(&format!("probing {name} at {addr}"));
                        }
                        let tx = tx.clone();
                        let spec = spec.clone();
                        thread::spawn(move || {
                            let t = Instant::now();
                            let verdict = probe(addr, &spec);
                            let latency = if spec.connect_timeout.is_some() {
                                t.elapsed()
                            } else {
                                Duration::ZERO
                            };
                            let (up, why) = match verdict {
                                Verdict::Up => (true, None),
                                Verdict::Down(why) => (false, Some(why)),
                            };
                            let _ = tx.send(Event::Probed(Outcome {
                                name,
                                addr: addr.ip(),
                                up,
                                latency,
                                why,
                            }));
                        });
                    }
                }
            }
            Event::Probed(outcome) => {
                probes -= 1;
                if outcome.up {
                    up += 1;
                }
                if opts.verbose > 0
                    && let Some(why) = &outcome.why
                {
                    log(&format!("{} is down: {why}", outcome.name));
                }
                report(&outcome);
            }
        }
    }
    up
}

/// The system resolver: the first IPv4 address of `name` (3.4 looks up IPv4 only), else its
/// first IPv6 address. A name of only digits and dots that is not an IPv4 address (what
/// `127.0.0.%d` becomes past 255) is refused without asking DNS: no top-level domain is
/// numeric, so the query could only leak to the network for nothing.
pub fn resolve(name: &str, port: u16) -> Result<SocketAddr, String> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return name
            .parse::<Ipv4Addr>()
            .map(|ip| SocketAddr::from((ip, port)))
            .map_err(|_| format!("{name} is not an address"));
    }
    let addrs: Vec<SocketAddr> = (name, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| "no address".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn opts(targets: Targets, port: u16) -> Options {
        Options {
            targets,
            port,
            connect_timeout: Some(Duration::from_millis(300)),
            timeout: Some(Duration::from_secs(5)),
            ..Options::default()
        }
    }

    /// "hostN" is 127.0.0.1 for N up to 3; every other name is unknown. No DNS is asked.
    fn fake() -> Resolver {
        Arc::new(|name: &str, port: u16| {
            let n: u32 = name
                .strip_prefix("host")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("{name}: unknown"))?;
            if (1..=3).contains(&n) {
                Ok(SocketAddr::from(([127, 0, 0, 1], port)))
            } else {
                Err(format!("{name}: unknown"))
            }
        })
    }

    fn run(o: &Options) -> (usize, Vec<Outcome>) {
        let mut seen = Vec::new();
        let n = scan_with(o, None, fake(), &mut |_| {}, &mut |out| {
            seen.push(out.clone())
        });
        (n, seen)
    }

    #[test]
    fn host_list_reports_up_and_down() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let o = opts(
            Targets::Hosts(vec!["host1".into(), "host9".into(), "host2".into()]),
            port,
        );
        let (n, seen) = run(&o);
        assert_eq!(n, 2, "host1 and host2, past the unknown host9");
        let mut names: Vec<&str> = seen.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["host1", "host2"]);
        assert!(seen.iter().all(|s| s.up));
    }

    #[test]
    fn pattern_walks_until_the_first_unknown_name() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let o = opts(Targets::Pattern("host%d".into()), port);
        let (n, seen) = run(&o);
        assert_eq!(n, 3);
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn down_hosts_are_reported_as_down() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let o = opts(Targets::Hosts(vec!["host1".into()]), port);
        let (n, seen) = run(&o);
        assert_eq!(n, 0);
        assert_eq!(seen.len(), 1);
        assert!(!seen[0].up && seen[0].why.is_some());
    }

    #[test]
    fn numeric_names_past_255_are_refused_without_dns() {
        assert!(resolve("127.0.0.256", 1).is_err());
        assert_eq!(
            resolve("127.0.0.9", 5),
            Ok(SocketAddr::from(([127, 0, 0, 9], 5)))
        );
    }

    #[test]
    fn timeout_ends_the_scan() {
        // A listener that never accepts still completes the TCP handshake, so to hold a
        // probe open use a test compile against a silent server with a long compile timeout.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut o = opts(Targets::Hosts(vec!["host1".into()]), port);
        o.compiler = Some("gcc".into());
        o.compile_timeout = Some(Duration::from_secs(30));
        o.timeout = Some(Duration::from_millis(300));
        let t = Instant::now();
        let (n, seen) = run(&o);
        assert_eq!(n, 0);
        assert!(seen.is_empty());
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}
