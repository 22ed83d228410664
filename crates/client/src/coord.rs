//! The client's side of the farm coordinator (issue 15, docs/coordinator.md): with
//! `DISTCC_COORDINATOR=HOST[:PORT][,HOST[:PORT]…]` a compile asks the first coordinator that
//! answers for a lease (`LEAS` → `WAIT`… → `GRNT host=… slot=…`), compiles directly with that
//! daemon, and releases it (`FREE`, or simply by closing: the lease lives as long as this
//! connection, so a client that dies frees its slot at once).
//!
//! Never a failed compile because of the coordinator: one that cannot be reached within
//! [`CONNECT`], or goes silent for [`SILENCE`] (it sends `WAIT` every 0.5 s while we queue), or
//! closes, makes this compile use the client's own scheduling over the host list, and is
//! remembered as down for [`DOWN_FOR`] under `$DISTCC_DIR/coord/` so the next compiles do not
//! pay the timeout again. Plain std: one blocking socket, no thread. An entry ending in `,tls`
//! is reached over TLS with the client's `DISTCC_TLS_*` settings (`distcc-tls`, as for a
//! `,tls` host), a token sent as `AUTH` before the first frame.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use proto::coord::{self, Frame, Kind};

/// The coordinator's port when an entry names none.
pub const DEFAULT_PORT: u16 = 3634;
/// How long a connect may take.
const CONNECT: Duration = Duration::from_millis(500);
/// How long a queued client waits without hearing anything before it gives up.
const SILENCE: Duration = Duration::from_secs(2);
/// Leases one compile takes at most (each failed host is avoided in the next request);
/// then the client schedules by itself over the host list.
pub const MAX_LEASES: usize = 3;
/// How long a coordinator that failed is not asked again.
pub const DOWN_FOR: Duration = Duration::from_secs(10);

/// What a compile tells the coordinator about itself.
#[derive(Debug, Clone, Default)]
pub struct Job {
    /// Bytes of source (what the coordinator's speed model divides by).
    pub size: u64,
    /// Compiler identity (protocol 4's `CCID`, when known); empty: any host.
    pub ccid: String,
    /// Hosts (specs) that failed this compile already.
    pub avoid: Vec<String>,
}

/// One coordinator of `DISTCC_COORDINATOR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// `,tls`: reached over TLS.
    pub tls: bool,
}

/// A byte stream to a coordinator: a plain socket or TLS over one.
trait Link: Read + Write + Send {}
impl<T: Read + Write + Send> Link for T {}

/// A lease: held while the value lives. Dropping it releases the slot.
pub struct Lease {
    stream: Box<dyn Link>,
    pub id: u64,
    /// The daemon, in host-list syntax (`addr:port/slots,options`).
    pub spec: String,
    pub slot: u32,
    pub why: String,
    /// Sending to reply, when the job ran there: reported on release as a speed sample. A
    /// lease released without it (a failure, a local retry) teaches the coordinator nothing.
    ran: Cell<Option<Duration>>,
    /// Set by [`Lease::host_failed`]: the coordinator leaves the host out a while.
    failed: Cell<bool>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("id", &self.id)
            .field("spec", &self.spec)
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl Lease {
    /// The host failed this job (not the user's code).
    pub fn host_failed(&self) {
        self.failed.set(true);
    }

    /// The job ran there and took `took` from sending to the reply.
    pub fn ran(&self, took: Duration) {
        self.ran.set(Some(took));
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut f = Frame::new(Kind::Free).with("lease", self.id);
        if self.failed.get() {
            f = f.with("failed", 1);
        } else if let Some(took) = self.ran.get() {
            f = f.with("ms", took.as_millis());
        }
        let mut buf = Vec::new();
        coord::encode(&mut buf, &f);
        // A dead coordinator frees nothing, and needs nothing freed.
        let _ = self.stream.write_all(&buf);
        let _ = self.stream.flush();
    }
}

/// The answer of [`ask`].
#[derive(Debug)]
pub enum Answer {
    Granted(Lease),
    /// A coordinator answered that it cannot help (no daemon could run this job).
    Refused(String),
    /// No coordinator could be asked (all down, unreachable, or one died while we waited).
    Unavailable(String),
}

/// Parses `DISTCC_COORDINATOR`: comma- or space-separated `host[:port]` (`[v6]:port`), each
/// optionally followed by `,tls`.
pub fn parse_list(text: &str) -> Vec<Target> {
    let words: Vec<&str> = text
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut out: Vec<Target> = Vec::new();
    for w in words {
        if w == "tls" {
            if let Some(last) = out.last_mut() {
                last.tls = true;
            }
            continue;
        }
        let (host, port) = parse_entry(w);
        out.push(Target {
            host,
            port,
            tls: false,
        });
    }
    out
}

/// One host-list entry's coordinator, after `coord://`: `host[:port][,tls]` (`[v6][:port]`),
/// strictly (a bad port or option is `None`, which makes the host list malformed).
pub fn parse_target(text: &str) -> Option<Target> {
    let (addr, tls) = match text.split_once(',') {
        None => (text, false),
        Some((a, "tls")) => (a, true),
        Some(_) => return None,
    };
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let (h, p) = rest.split_once(']')?;
        match p {
            "" => (h, DEFAULT_PORT),
            p => (h, p.strip_prefix(':')?.parse().ok()?),
        }
    } else {
        match addr.split_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (addr, DEFAULT_PORT),
        }
    };
    let ok = !host.is_empty()
        && port != 0
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    ok.then(|| Target {
        host: host.to_owned(),
        port,
        tls,
    })
}

fn parse_entry(e: &str) -> (String, u16) {
    if let Some(rest) = e.strip_prefix('[')
        && let Some((host, port)) = rest.split_once(']')
    {
        let port = port.strip_prefix(':').and_then(|p| p.parse().ok());
        return (host.to_owned(), port.unwrap_or(DEFAULT_PORT));
    }
    match e.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h.to_owned(), port),
            Err(_) => (e.to_owned(), DEFAULT_PORT),
        },
        _ => (e.to_owned(), DEFAULT_PORT),
    }
}

fn down_file(dir: &Path, host: &str, port: u16) -> PathBuf {
    let safe: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("down_{safe}_{port}"))
}

fn is_down(dir: &Path, host: &str, port: u16) -> bool {
    std::fs::metadata(down_file(dir, host, port))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < DOWN_FOR)
}

fn mark_down(dir: &Path, host: &str, port: u16) {
    let _ = std::fs::create_dir_all(dir);
    let p = down_file(dir, host, port);
    let _ = std::fs::write(&p, b"");
}

fn clear_down(dir: &Path, host: &str, port: u16) {
    let _ = std::fs::remove_file(down_file(dir, host, port));
}

fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn read_frame(stream: &mut dyn Read, buf: &mut Vec<u8>) -> io::Result<Frame> {
    loop {
        match coord::decode(buf) {
            Ok(Some((f, used))) => {
                buf.drain(..used);
                return Ok(f);
            }
            Ok(None) => {}
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the coordinator closed the connection",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Who is asking: this machine, this user, and the build (the process group, which `make`
/// and its recipes share) — the coordinator's unit of fairness.
fn identity() -> (String, String, String) {
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    let user = std::env::var("USER").unwrap_or_else(|_| {
        // SAFETY: getuid cannot fail.
        unsafe { libc::getuid() }.to_string()
    });
    // SAFETY: getpgrp cannot fail.
    let pgid = unsafe { libc::getpgrp() };
    let build = format!("{machine}:{pgid}");
    (machine, user, build)
}

/// Asks the coordinators in `list` in order, skipping those remembered as down (`state`,
/// `$DISTCC_DIR/coord`). Blocks while the request is queued; `on_wait` runs once when it is.
pub fn ask(list: &[Target], state: &Path, job: &Job, on_wait: impl FnOnce()) -> Answer {
    let (machine, user, build) = identity();
    let mut req = Frame::new(Kind::Lease)
        .with("size", job.size)
        .with("machine", &machine)
        .with("user", &user)
        .with("build", &build);
    if !job.ccid.is_empty() && coord::value_ok(&job.ccid) {
        req = req.with("ccid", &job.ccid);
    }
    let avoid: Vec<&str> = job
        .avoid
        .iter()
        .map(String::as_str)
        .filter(|s| coord::value_ok(s) && !s.contains(' '))
        .collect();
    if !avoid.is_empty() {
        req = req.with("avoid", avoid.join(" "));
    }
    let mut bytes = Vec::new();
    coord::encode(&mut bytes, &req);
    let mut on_wait = Some(on_wait);
    let mut why = String::from("every coordinator is marked down");
    for Target { host, port, tls } in list {
        if is_down(state, host, *port) {
            why = format!(
                "coordinator {host}:{port} failed less than {}s ago",
                DOWN_FOR.as_secs()
            );
            continue;
        }
        let attempt = (|| -> io::Result<Answer> {
            let tcp = connect(host, *port)?;
            let _ = tcp.set_nodelay(true);
            tcp.set_read_timeout(Some(SILENCE))?;
            tcp.set_write_timeout(Some(SILENCE))?;
            let mut s: Box<dyn Link> = if *tls {
                let settings = tls::client::ClientSettings::from_lookup(|k| std::env::var(k).ok());
                let client = tls::client::Client::new(&settings)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                Box::new(client.connect(host, tcp).map_err(io::Error::other)?)
            } else {
                Box::new(tcp)
            };
            s.write_all(&bytes)?;
            s.flush()?;
            let mut buf = Vec::new();
            loop {
                let f = read_frame(&mut s, &mut buf)?;
                match f.kind {
                    Kind::Wait | Kind::Ping => {
                        if let Some(w) = on_wait.take() {
                            w();
                        }
                    }
                    Kind::Grant => {
                        let (Some(id), Some(spec)) = (f.num("lease"), f.get("host")) else {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "a grant without lease= or host=",
                            ));
                        };
                        return Ok(Answer::Granted(Lease {
                            stream: s,
                            id,
                            spec: spec.to_owned(),
                            slot: f.num("slot").unwrap_or(0).min(u32::MAX as u64) as u32,
                            why: f.get("why").unwrap_or("").to_owned(),
                            ran: Cell::new(None),
                            failed: Cell::new(false),
                        }));
                    }
                    Kind::Refuse => {
                        return Ok(Answer::Refused(
                            f.get("why").unwrap_or("no reason given").to_owned(),
                        ));
                    }
                    other => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("unexpected {other:?} from the coordinator"),
                        ));
                    }
                }
            }
        })();
        match attempt {
            Ok(a) => {
                clear_down(state, host, *port);
                return a;
            }
            Err(e) => {
                mark_down(state, host, *port);
                why = format!("coordinator {host}:{port}: {e}");
            }
        }
    }
    Answer::Unavailable(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Instant;

    #[test]
    fn lists_parse_the_distcc_way() {
        let t = |h: &str, port, tls| Target {
            host: h.to_owned(),
            port,
            tls,
        };
        assert_eq!(
            parse_list("a, b:1,tls [::1]:7,[fe80::1]"),
            vec![
                t("a", DEFAULT_PORT, false),
                t("b", 1, true),
                t("::1", 7, false),
                t("fe80::1", DEFAULT_PORT, false),
            ]
        );
        assert!(parse_list(" ,").is_empty());
    }

    #[test]
    fn host_list_targets_parse_strictly() {
        let t = |h: &str, port, tls| {
            Some(Target {
                host: h.to_owned(),
                port,
                tls,
            })
        };
        assert_eq!(parse_target("c"), t("c", DEFAULT_PORT, false));
        assert_eq!(parse_target("c.example:7,tls"), t("c.example", 7, true));
        assert_eq!(parse_target("[::1]:7"), t("::1", 7, false));
        assert_eq!(parse_target("[::1]"), t("::1", DEFAULT_PORT, false));
        for bad in [
            "",
            ":7",
            "c:",
            "c:x",
            "c:0",
            "c:7,lzo",
            "c,tls,tls",
            "c/4",
            "[::1",
            "[::1]7",
            "u@c",
        ] {
            assert_eq!(parse_target(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_dead_coordinator_is_remembered_and_skipped() {
        let dir = std::env::temp_dir().join(format!("coord-test-{}", std::process::id()));
        // A port nobody listens on: bind, note the port, close.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let list = vec![Target {
            host: "127.0.0.1".to_owned(),
            port,
            tls: false,
        }];
        let t = Instant::now();
        assert!(matches!(
            ask(&list, &dir, &Job::default(), || {}),
            Answer::Unavailable(_)
        ));
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(is_down(&dir, "127.0.0.1", port));
        match ask(&list, &dir, &Job::default(), || {}) {
            Answer::Unavailable(why) => assert!(why.contains("less than"), "{why}"),
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_grant_after_a_wait_and_the_release_on_drop() {
        let dir = std::env::temp_dir().join(format!("coord-test2-{}", std::process::id()));
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = Vec::new();
            let req = read_frame(&mut s, &mut buf).unwrap();
            assert_eq!(req.kind, Kind::Lease);
            assert_eq!(req.get("avoid"), Some("x:1/2"));
            let mut out = Vec::new();
            coord::encode(&mut out, &Frame::new(Kind::Wait));
            coord::encode(
                &mut out,
                &Frame::new(Kind::Grant)
                    .with("lease", 9)
                    .with("host", "127.0.0.1:5/2,lzo")
                    .with("slot", 1),
            );
            s.write_all(&out).unwrap();
            read_frame(&mut s, &mut buf).unwrap()
        });
        let job = Job {
            size: 10,
            avoid: vec!["x:1/2".to_owned()],
            ..Job::default()
        };
        let waited = Cell::new(false);
        let target = Target {
            host: "127.0.0.1".to_owned(),
            port,
            tls: false,
        };
        let lease = match ask(&[target], &dir, &job, || waited.set(true)) {
            Answer::Granted(l) => l,
            other => panic!("{other:?}"),
        };
        assert!(waited.get());
        assert_eq!(
            (lease.id, lease.spec.as_str(), lease.slot),
            (9, "127.0.0.1:5/2,lzo", 1)
        );
        lease.host_failed();
        drop(lease);
        let free = server.join().unwrap();
        assert_eq!(free.kind, Kind::Free);
        assert_eq!(free.get("lease"), Some("9"));
        assert_eq!(free.get("failed"), Some("1"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
