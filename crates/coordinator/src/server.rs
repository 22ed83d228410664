//! The coordinator's one port: a single-threaded `mio` event loop over every connection —
//! daemons (`HELO role=daemon`, then `LOAD`), clients (`LEAS`/`FREE`) and HTTP (`GET /json`,
//! `/metrics`, `/dashboard`, told apart by their first bytes). One thread owns the [`Farm`], so
//! no lock is taken per message; the decisions are the farm's, this file only moves bytes.
//!
//! Time: the loop wakes at least every [`TICK`] to send `WAIT` keep-alives to queued clients
//! (so a client notices a dead coordinator within a second), to expire leases and to drop
//! daemons that have been silent for [`Config::daemon_silence`].
//!
//! TLS and authentication (protocol 4's `distcc-tls`) plug in at [`Conn::stream`]: a first
//! byte 0x16 would start a rustls `ServerConnection` that wraps the same frames. Not yet.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use proto::coord::{self, Frame, Kind};

use crate::farm::{Farm, Grant, HostReport, Millis, Outcome, Request};

/// How often the loop wakes with nothing to do.
pub const TICK: Duration = Duration::from_millis(250);
/// Queued clients hear `WAIT` this often.
const KEEPALIVE: Duration = Duration::from_millis(500);
/// The most a connection may have unsent before it is dropped (a peer that never reads).
const MAX_OUT: usize = 1 << 20;
/// The most an HTTP request head may be.
const MAX_HTTP_HEAD: usize = 8192;
/// Connections at most.
const MAX_CONNS: usize = 16384;

const LISTENER: Token = Token(0);
const SHUTDOWN: Token = Token(1);

/// What the command line sets.
#[derive(Debug, Clone)]
pub struct Config {
    pub lease_time: Duration,
    /// A daemon not heard from for this long is dropped.
    pub daemon_silence: Duration,
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            lease_time: Duration::from_secs(3600),
            daemon_silence: Duration::from_secs(15),
            verbose: false,
        }
    }
}

#[derive(Debug, PartialEq)]
enum Role {
    Unknown,
    Daemon(u64),
    Client,
    Http,
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    role: Role,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    writable: bool,
    close_after_write: bool,
    queued: bool,
    last_heard: Instant,
    last_wait: Instant,
}

/// Parses a daemon's `HELO`/`LOAD` fields.
fn report(f: &Frame, peer: SocketAddr) -> Option<HostReport> {
    let spec = f.get("host")?.to_owned();
    // The spec must be an address clients can use; a daemon that gives none gets its peer
    // address (what the coordinator saw it from) with its port.
    let spec = if spec.starts_with(':') {
        format!("{}{spec}", peer.ip())
    } else {
        spec
    };
    let jobs = f
        .num("jobs")
        .unwrap_or(0)
        .min(crate::farm::MAX_SLOTS as u64) as u32;
    let slots = f.num("slots").map_or(jobs, |s| s.min(jobs as u64) as u32);
    Some(HostReport {
        spec,
        slots,
        jobs,
        busy: f.num("busy").unwrap_or(0).min(1 << 16) as u32,
        load: f.float("load").unwrap_or(0.0),
        other_load: f.float("other-load").unwrap_or(0.0),
        mem_mb: f.num("mem-mb").unwrap_or(0),
        speed_hint: f.float("speed").filter(|s| *s > 0.0),
        ccids: f
            .get("ccids")
            .map(|c| {
                c.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        withdrawn: f.get("withdrawn").map(str::to_owned),
    })
}

fn request(f: &Frame, peer: SocketAddr) -> Request {
    let machine = f.get("machine").unwrap_or("").to_owned();
    let machine = if machine.is_empty() {
        peer.ip().to_string()
    } else {
        machine
    };
    Request {
        build: f
            .get("build")
            .map_or_else(|| machine.clone(), str::to_owned),
        machine,
        user: f.get("user").unwrap_or("").to_owned(),
        size: f.num("size").unwrap_or(0),
        ccid: f.get("ccid").unwrap_or("").to_owned(),
        avoid: f
            .get("avoid")
            .map(|a| {
                a.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn grant_frame(g: &Grant) -> Frame {
    Frame::new(Kind::Grant)
        .with("lease", g.lease)
        .with("host", &g.spec)
        .with("slot", g.slot)
        .with("why", &g.why)
}

/// The event loop. Returns when the shutdown descriptor becomes readable.
pub struct Server {
    poll: Poll,
    listener: TcpListener,
    conns: HashMap<Token, Conn>,
    next: usize,
    farm: Farm,
    cfg: Config,
    start: Instant,
}

impl Server {
    pub fn new(listener: std::net::TcpListener, cfg: Config) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Server {
            poll,
            listener,
            conns: HashMap::new(),
            next: 2,
            farm: Farm::new(cfg.lease_time),
            cfg,
            start: Instant::now(),
        })
    }

    fn now(&self) -> Millis {
        self.start.elapsed().as_millis() as Millis
    }

    fn log(&self, msg: std::fmt::Arguments) {
        if self.cfg.verbose {
            eprintln!("distcc-coordinator[{}] {msg}", std::process::id());
        }
    }

    /// Runs until `shutdown` (a descriptor that becomes readable) fires.
    pub fn run(&mut self, shutdown: std::os::fd::RawFd) -> io::Result<()> {
        self.poll
            .registry()
            .register(&mut SourceFd(&shutdown), SHUTDOWN, Interest::READABLE)?;
        let mut events = Events::with_capacity(1024);
        let mut last_tick = Instant::now();
        loop {
            match self.poll.poll(&mut events, Some(TICK)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for ev in &events {
                match ev.token() {
                    SHUTDOWN => return Ok(()),
                    LISTENER => self.accept(),
                    t => {
                        if ev.is_writable() {
                            self.flush(t);
                        }
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.readable(t);
                        }
                    }
                }
            }
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                self.tick();
            }
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, peer)) => {
                    if self.conns.len() >= MAX_CONNS {
                        self.log(format_args!("too many connections; dropped {peer}"));
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let t = Token(self.next);
                    self.next += 1;
                    if self
                        .poll
                        .registry()
                        .register(&mut stream, t, Interest::READABLE)
                        .is_err()
                    {
                        continue;
                    }
                    let now = Instant::now();
                    self.conns.insert(
                        t,
                        Conn {
                            stream,
                            peer,
                            role: Role::Unknown,
                            inbuf: Vec::new(),
                            out: Vec::new(),
                            writable: false,
                            close_after_write: false,
                            queued: false,
                            last_heard: now,
                            last_wait: now,
                        },
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.log(format_args!("accept: {e}"));
                    return;
                }
            }
        }
    }

    fn readable(&mut self, t: Token) {
        let mut eof = false;
        {
            let Some(c) = self.conns.get_mut(&t) else {
                return;
            };
            let mut buf = [0u8; 8192];
            loop {
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        c.inbuf.extend_from_slice(&buf[..n]);
                        if c.inbuf.len() > coord::MAX_LEN + 64 * 1024 {
                            eof = true;
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        eof = true;
                        break;
                    }
                }
            }
            c.last_heard = Instant::now();
        }
        if !self.process(t) || eof {
            self.close(t);
        }
    }

    /// Handles every whole frame received; false: close the connection.
    fn process(&mut self, t: Token) -> bool {
        loop {
            let Some(c) = self.conns.get_mut(&t) else {
                return false;
            };
            if c.role == Role::Unknown && c.inbuf.starts_with(b"GET ") {
                c.role = Role::Http;
            }
            if c.role == Role::Http {
                return self.http(t);
            }
            let (frame, used) = match coord::decode(&c.inbuf) {
                Ok(Some(x)) => x,
                Ok(None) => return true,
                Err(e) => {
                    let peer = c.peer;
                    self.log(format_args!("{peer}: {e}; closing"));
                    return false;
                }
            };
            c.inbuf.drain(..used);
            if !self.frame(t, frame) {
                return false;
            }
        }
    }

    fn frame(&mut self, t: Token, f: Frame) -> bool {
        let now = self.now();
        let Some(c) = self.conns.get_mut(&t) else {
            return false;
        };
        let peer = c.peer;
        match (&c.role, f.kind) {
            (Role::Unknown, Kind::Hello) if f.get("role") == Some("daemon") => {
                let Some(r) = report(&f, peer) else {
                    self.log(format_args!("{peer}: daemon hello without host="));
                    return false;
                };
                let spec = r.spec.clone();
                let (id, closed) = self.farm.register(r, now);
                if let Some(c) = self.conns.get_mut(&t) {
                    c.role = Role::Daemon(id);
                }
                self.log(format_args!("{peer}: daemon {spec} registered"));
                self.send(t, &Frame::new(Kind::Hello).with("role", "coordinator"));
                self.close_clients(closed);
                let g = self.farm.dispatch(now);
                self.send_grants(g);
                true
            }
            (Role::Unknown, Kind::Hello) => {
                c.role = Role::Client;
                true
            }
            (Role::Daemon(id), Kind::Load) => {
                let id = *id;
                let Some(r) = report(&f, peer) else {
                    return false;
                };
                self.farm.update(id, r, now);
                let g = self.farm.dispatch(now);
                self.send_grants(g);
                true
            }
            (Role::Daemon(_), Kind::Ping) | (Role::Client, Kind::Ping) => true,
            (Role::Unknown | Role::Client, Kind::Lease) => {
                c.role = Role::Client;
                if c.queued {
                    return false; // one request at a time per connection
                }
                let req = request(&f, peer);
                let (outcome, others) = self.farm.request(t.0 as u64, req, now);
                match outcome {
                    Outcome::Granted(g) => self.send(t, &grant_frame(&g)),
                    Outcome::Queued(ahead) => {
                        if let Some(c) = self.conns.get_mut(&t) {
                            c.queued = true;
                            c.last_wait = Instant::now();
                        }
                        self.send(t, &Frame::new(Kind::Wait).with("ahead", ahead));
                    }
                    Outcome::Refused(why) => {
                        self.send(t, &Frame::new(Kind::Refuse).with("why", why));
                    }
                }
                self.send_grants(others);
                true
            }
            (Role::Client, Kind::Free) => {
                let Some(lease) = f.num("lease") else {
                    return false;
                };
                // Only a lease of this connection may be released through it.
                let g = self.farm.release_of(
                    t.0 as u64,
                    lease,
                    f.num("ms"),
                    f.get("failed") == Some("1"),
                    now,
                );
                self.send_grants(g);
                true
            }
            _ => {
                self.log(format_args!("{peer}: unexpected {:?}; closing", f.kind));
                false
            }
        }
    }

    fn send_grants(&mut self, grants: Vec<(u64, Grant)>) {
        for (conn, g) in grants {
            let t = Token(conn as usize);
            if let Some(c) = self.conns.get_mut(&t) {
                c.queued = false;
            }
            self.send(t, &grant_frame(&g));
        }
    }

    fn close_clients(&mut self, conns: Vec<u64>) {
        for c in conns {
            self.close(Token(c as usize));
        }
    }

    fn send(&mut self, t: Token, f: &Frame) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        coord::encode(&mut c.out, f);
        self.flush(t);
    }

    fn flush(&mut self, t: Token) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        let mut dead = false;
        while !c.out.is_empty() {
            match c.stream.write(&c.out) {
                Ok(0) => {
                    dead = true;
                    break;
                }
                Ok(n) => {
                    c.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    dead = true;
                    break;
                }
            }
        }
        if c.out.len() > MAX_OUT {
            dead = true;
        }
        let want_write = !c.out.is_empty();
        if want_write != c.writable && !dead {
            c.writable = want_write;
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ = self.poll.registry().reregister(&mut c.stream, t, interest);
        }
        if dead || (c.out.is_empty() && c.close_after_write) {
            self.close(t);
        }
    }

    fn close(&mut self, t: Token) {
        let Some(mut c) = self.conns.remove(&t) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        let now = self.now();
        let grants = match c.role {
            Role::Daemon(id) => {
                self.log(format_args!("{}: daemon left", c.peer));
                let conns = self.farm.remove(id, now);
                self.close_clients(conns);
                self.farm.dispatch(now)
            }
            Role::Client => self.farm.closed(t.0 as u64, now),
            Role::Unknown | Role::Http => Vec::new(),
        };
        self.send_grants(grants);
    }

    fn tick(&mut self) {
        let now = self.now();
        let (expired, grants) = self.farm.expire(now);
        self.close_clients(expired);
        self.send_grants(grants);
        let silence = self.cfg.daemon_silence;
        let mut silent = Vec::new();
        let mut waits = Vec::new();
        for (t, c) in &mut self.conns {
            match c.role {
                Role::Daemon(_) | Role::Unknown | Role::Http
                    if c.last_heard.elapsed() > silence =>
                {
                    silent.push(*t);
                }
                Role::Client if c.queued && c.last_wait.elapsed() >= KEEPALIVE => {
                    c.last_wait = Instant::now();
                    waits.push(*t);
                }
                _ => {}
            }
        }
        for t in silent {
            self.close(t);
        }
        for t in waits {
            self.send(t, &Frame::new(Kind::Wait));
        }
    }

    fn http(&mut self, t: Token) -> bool {
        let Some(c) = self.conns.get_mut(&t) else {
            return false;
        };
        let Some(end) = c.inbuf.windows(4).position(|w| w == b"\r\n\r\n") else {
            return c.inbuf.len() <= MAX_HTTP_HEAD;
        };
        let head = String::from_utf8_lossy(&c.inbuf[..end]).into_owned();
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        let path = path.split('?').next().unwrap_or("/");
        let now = self.now();
        let (ctype, body) = match path {
            "/json" => ("application/json", self.farm.json(now)),
            "/metrics" => ("text/plain; version=0.0.4", self.farm.prometheus()),
            "/" | "/dashboard" => ("text/html; charset=utf-8", DASHBOARD.to_owned()),
            _ => ("text/plain", "not found\n".to_owned()),
        };
        let status = if ctype == "text/plain" {
            "404 Not Found"
        } else {
            "200 OK"
        };
        let Some(c) = self.conns.get_mut(&t) else {
            return false;
        };
        c.inbuf.clear();
        let _ = write!(
            c.out,
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        c.close_after_write = true;
        self.flush(t);
        true
    }
}

/// The live view: one static page polling `/json` every second; values set with
/// `textContent` only, so nothing a peer sends becomes markup.
const DASHBOARD: &str = include_str!("dashboard.html");
