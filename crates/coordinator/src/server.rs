//! The coordinator's one port: a single-threaded `mio` event loop over every connection —
//! daemons (`HELO role=daemon`, then `LOAD`), clients (`LEAS`/`FREE`) and HTTP (`GET /json`,
//! `/metrics`, `/dashboard`, told apart by their first bytes). One thread owns the [`Farm`], so
//! no lock is taken per message; the decisions are the farm's, this file only moves bytes.
//!
//! Time: the loop wakes at least every [`TICK`] to send `WAIT` keep-alives to queued clients
//! (so a client notices a dead coordinator within a second), to expire leases and to drop
//! daemons that have been silent for [`Config::daemon_silence`].
//!
//! TLS (protocol 4's `distcc-tls`, `--tls-cert` and the rest): a connection whose first byte
//! is 0x16 (a ClientHello) gets a rustls `ServerConnection` that carries the same frames and
//! pages; the client proves itself by certificate or by an `AUTH` token frame before its
//! first frame (as with distccd), and `--tls-allow` names who may use the port. With
//! `--tls-only`, plain connections get a `NOPE` saying TLS is required (the pages stay plain).

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
    /// TLS beside plain connections (`--tls-cert` …).
    pub tls: Option<std::sync::Arc<tls::server::Server>>,
    /// `--tls-allow`: names that may use the port over TLS; empty: whoever proved itself.
    pub tls_allow: Vec<String>,
    /// `--tls-only`: plain frames are refused.
    pub tls_only: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            lease_time: Duration::from_secs(3600),
            daemon_silence: Duration::from_secs(15),
            verbose: false,
            tls: None,
            tls_allow: Vec::new(),
            tls_only: false,
        }
    }
}

/// How a connection is carried.
enum Carrier {
    /// Nothing received yet.
    Undecided,
    Plain,
    /// TLS; `authorized` once the client proved itself (or nobody needs it to).
    Tls {
        conn: Box<tls::rustls::ServerConnection>,
        authorized: bool,
    },
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
    carrier: Carrier,
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
                            carrier: Carrier::Undecided,
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
        let mut raw = Vec::new();
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
                        raw.extend_from_slice(&buf[..n]);
                        if raw.len() + c.inbuf.len() > coord::MAX_LEN + 64 * 1024 {
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
        if !self.received(t, raw) {
            self.close(t);
            return;
        }
        if !self.process(t) || eof {
            self.close(t);
        }
    }

    /// Routes raw bytes: plain ones to the frame buffer, TLS records through rustls (whose
    /// handshake answers are flushed). False: close the connection.
    fn received(&mut self, t: Token, raw: Vec<u8>) -> bool {
        let tls_cfg = self.cfg.tls.clone();
        let tls_only = self.cfg.tls_only;
        let Some(c) = self.conns.get_mut(&t) else {
            return false;
        };
        if raw.is_empty() {
            return true;
        }
        if let Carrier::Undecided = c.carrier {
            c.carrier = match (&tls_cfg, raw[0]) {
                (Some(s), 0x16) => match tls::rustls::ServerConnection::new(s.config()) {
                    Ok(conn) => Carrier::Tls {
                        conn: Box::new(conn),
                        authorized: false,
                    },
                    Err(_) => return false,
                },
                _ => Carrier::Plain,
            };
            if matches!(c.carrier, Carrier::Plain) && tls_only && !raw.starts_with(b"GET ") {
                c.close_after_write = true;
                let mut f = Vec::new();
                coord::encode(
                    &mut f,
                    &Frame::new(Kind::Refuse)
                        .with("why", "this coordinator takes TLS connections only"),
                );
                c.out.extend_from_slice(&f);
                self.flush(t);
                return true;
            }
        }
        match &mut c.carrier {
            Carrier::Undecided | Carrier::Plain => {
                c.inbuf.extend_from_slice(&raw);
                true
            }
            Carrier::Tls { conn, .. } => {
                let mut rest = &raw[..];
                while !rest.is_empty() {
                    match conn.read_tls(&mut rest) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(_) => return false,
                    }
                    if conn.process_new_packets().is_err() {
                        // rustls queued an alert saying why; send it, then close.
                        let _ = conn.write_tls(&mut c.stream);
                        return false;
                    }
                    let mut buf = [0u8; 8192];
                    loop {
                        match conn.reader().read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => c.inbuf.extend_from_slice(&buf[..n]),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(_) => return false,
                        }
                    }
                }
                self.flush(t);
                true
            }
        }
    }

    /// Over TLS, before the first frame: the client's `AUTH` token if it sends one, then
    /// `tls::server::Server::authorize`. `Some(true)`: go on; `Some(false)`: refused (a
    /// `NOPE` is on its way); `None`: more bytes needed.
    fn authorize(&mut self, t: Token) -> Option<bool> {
        let Some(tls_cfg) = self.cfg.tls.clone() else {
            return Some(true);
        };
        let allow = self.cfg.tls_allow.clone();
        let c = self.conns.get_mut(&t)?;
        let Carrier::Tls { conn, authorized } = &mut c.carrier else {
            return Some(true);
        };
        if *authorized {
            return Some(true);
        }
        if conn.is_handshaking() || c.inbuf.len() < 4 {
            return None;
        }
        let token = if c.inbuf.starts_with(b"AUTH") {
            let h = match proto::parse_header(&c.inbuf) {
                Ok(proto::Parsed::Header(h)) => h,
                Ok(proto::Parsed::NeedMore) => return None,
                Err(_) => return Some(false),
            };
            let len = h.value as usize;
            if len > proto::auth::MAX_LEN {
                return Some(false);
            }
            let end = proto::HEADER_LEN + len;
            if c.inbuf.len() < end {
                return None;
            }
            let tok = c.inbuf[proto::HEADER_LEN..end].to_vec();
            c.inbuf.drain(..end);
            Some(tok)
        } else {
            None
        };
        match tls_cfg.authorize(conn, token.as_deref(), &allow) {
            Ok(_) => {
                *authorized = true;
                Some(true)
            }
            Err(denied) => {
                let peer = c.peer;
                c.inbuf.clear();
                c.close_after_write = true;
                self.log(format_args!("{peer}: refused: {denied}"));
                self.send(t, &Frame::new(Kind::Refuse).with("why", denied.to_string()));
                Some(false)
            }
        }
    }

    /// Handles every whole frame received; false: close the connection.
    fn process(&mut self, t: Token) -> bool {
        match self.authorize(t) {
            None => return true,
            Some(false) => return true, // closed once the refusal is sent
            Some(true) => {}
        }
        loop {
            let Some(c) = self.conns.get_mut(&t) else {
                return false;
            };
            if c.close_after_write {
                return true;
            }
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
        let mut bytes = Vec::new();
        coord::encode(&mut bytes, f);
        self.queue(t, &bytes);
    }

    /// Queues bytes for the peer (through TLS when the connection has it) and flushes.
    fn queue(&mut self, t: Token, bytes: &[u8]) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        match &mut c.carrier {
            Carrier::Tls { conn, .. } => {
                if conn.writer().write_all(bytes).is_err() {
                    c.close_after_write = true;
                }
            }
            _ => c.out.extend_from_slice(bytes),
        }
        self.flush(t);
    }

    fn flush(&mut self, t: Token) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        let mut dead = false;
        if let Carrier::Tls { conn, .. } = &mut c.carrier {
            while conn.wants_write() {
                match conn.write_tls(&mut c.stream) {
                    Ok(0) => {
                        dead = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        dead = true;
                        break;
                    }
                }
            }
        }
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
        let tls_pending = match &c.carrier {
            Carrier::Tls { conn, .. } => conn.wants_write(),
            _ => false,
        };
        let want_write = !c.out.is_empty() || tls_pending;
        if want_write != c.writable && !dead {
            c.writable = want_write;
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ = self.poll.registry().reregister(&mut c.stream, t, interest);
        }
        if dead || (!want_write && c.close_after_write) {
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
        c.close_after_write = true;
        let mut resp = Vec::with_capacity(body.len() + 160);
        let _ = write!(
            resp,
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        self.queue(t, &resp);
        true
    }
}

/// The live view: one static page polling `/json` every second; values set with
/// `textContent` only, so nothing a peer sends becomes markup.
const DASHBOARD: &str = include_str!("dashboard.html");
