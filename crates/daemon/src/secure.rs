//! TLS on distccd's own port (`--tls-cert`): one port serves plain and TLS connections, told
//! apart by their first byte (a TLS ClientHello starts with 0x16, a distcc request with `D`).
//!
//! A TLS connection is handshaken here, its optional `AUTH` token read, and the client
//! checked (`tls::server::Server::authorize`, then `--tls-allow`). A client that may compile
//! is served by the ordinary `serve` over one end of a socket pair while a proxy thread
//! moves bytes between the other end and the TLS session: `serve` keeps every behaviour it
//! has on TCP (deadlines, the early start, and the hang-up watch: a client that goes away
//! makes the proxy shut the pair's write side, which `serve` sees as it sees a TCP FIN).
//! A client that may not compile, and with `--tls-only` a plain one, gets a failure reply
//! in its own protocol version that says why (a 3.4 client prints it), never a silent close.
//!
//! What it leaves to others: certificates, tokens and the words of TLS errors (`tls`), the
//! protocol (`serve`), the address check (`server`, before this runs).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use os::exit::ExitCode;
use proto::{Reply, read_version_greeting, write_reply};
use tls::rustls::{ServerConnection, StreamOwned};
use tls::server::{Denied, Server};

use crate::log::Level;
use crate::log_at;
use crate::serve::{Conn, ServeConfig, serve};
use crate::stats::Dropped;

/// The first byte of a TLS record carrying a handshake message.
const HANDSHAKE: u8 = 0x16;

/// Stack of the proxy thread: rustls' record layer keeps its buffers on the heap.
const PROXY_STACK: usize = 256 * 1024;

/// Plaintext held for `serve` before the proxy stops reading from the client.
const HELD: usize = 256 * 1024;

/// The daemon's TLS set-up, shared by every connection.
#[derive(Debug)]
pub struct Secure {
    pub server: Server,
    /// `--tls-allow`.
    pub allow: Vec<String>,
    /// `--tls-only`.
    pub only: bool,
}

/// Serves one accepted connection, plain or TLS (the caller checked `--allow`).
pub fn serve_conn(stream: TcpStream, peer: String, secure: &Secure, cfg: &ServeConfig) {
    let mut first = [0u8; 1];
    let peeked = stream
        .set_read_timeout(Some(cfg.read_timeout.max(Duration::from_millis(1))))
        .and_then(|()| stream.peek(&mut first));
    match peeked {
        Ok(0) => {
            cfg.stats.dropped(Dropped::Empty);
            log_at!(Level::Info, "{peer}: closed without a request");
            return;
        }
        Ok(_) => {}
        Err(e) => {
            cfg.stats.dropped(Dropped::BadRequest);
            log_at!(Level::Info, "{peer}: nothing received: {e}");
            return;
        }
    }
    if first[0] != HANDSHAKE {
        let _ = stream.set_read_timeout(None);
        if secure.only {
            cfg.stats.dropped(Dropped::Access);
            let why = "this distccd accepts only TLS connections (--tls-only): add ,tls to the host's entry and set DISTCC_TLS_CA or DISTCC_TLS_PIN";
            log_at!(
                Level::Warning,
                "{peer}: plain connection refused: TLS required"
            );
            let mut s = &stream;
            // 402: TLS required.
            refuse(&mut s, &stream, 402, why);
            return;
        }
        let (mut r, mut w) = (&stream, &stream);
        serve(
            Conn {
                fd: stream.as_fd(),
                reader: &mut r,
                writer: &mut w,
                peer,
                principal: crate::chunks::ip_principal(&stream),
            },
            cfg,
        );
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut conn = match ServerConnection::new(secure.server.config()) {
        Ok(c) => c,
        Err(e) => {
            log_at!(Level::Error, "{peer}: cannot start TLS: {e}");
            return;
        }
    };
    let deadline = Instant::now() + cfg.request_timeout;
    while conn.is_handshaking() {
        if Instant::now() > deadline {
            cfg.stats.dropped(Dropped::BadRequest);
            log_at!(
                Level::Warning,
                "{peer}: TLS handshake past the request deadline"
            );
            return;
        }
        if let Err(e) = conn.complete_io(&mut &stream) {
            cfg.stats.dropped(Dropped::Access);
            log_at!(
                Level::Warning,
                "{peer}: TLS handshake failed: {}",
                tls::explain::server_side(&e)
            );
            // The alert rustls queued tells the client why; let it arrive before the close.
            let _ = conn.write_tls(&mut &stream);
            linger(&stream);
            return;
        }
    }
    let mut session = StreamOwned::new(conn, &stream);
    // The first four bytes of plaintext: an `AUTH` frame, or the start of the request.
    let mut head = [0u8; 4];
    if let Err(e) = session.read_exact(&mut head) {
        cfg.stats.dropped(Dropped::Empty);
        log_at!(
            Level::Info,
            "{peer}: TLS session closed without a request: {e}"
        );
        return;
    }
    let (token, lead): (Option<Vec<u8>>, &[u8]) = if &head == b"AUTH" {
        match proto::auth::read(&mut (&head[..]).chain(&mut session)) {
            Ok(t) => (Some(t), &[]),
            Err(e) => {
                cfg.stats.dropped(Dropped::BadRequest);
                log_at!(Level::Warning, "{peer}: bad AUTH frame: {e}");
                return;
            }
        }
    } else {
        (None, &head[..])
    };
    let who = match secure
        .server
        .authorize(&session.conn, token.as_deref(), &secure.allow)
    {
        Ok(who) => who,
        Err(denied) => {
            cfg.stats.dropped(Dropped::Access);
            log_at!(Level::Warning, "{peer}: TLS client refused: {denied}");
            let why = denied.to_string();
            let mut r = lead.chain(&mut session);
            let mut greeting = [0u8; proto::HEADER_LEN];
            // The version decides the reply's shape; nothing else of the request matters.
            let version = r
                .read_exact(&mut greeting)
                .ok()
                .and_then(|()| read_version_greeting(&mut &greeting[..]).ok());
            if let Some(version) = version {
                send_refusal(&mut session, version, credentials_code(&denied), &why);
                session.conn.send_close_notify();
                let _ = session.flush();
            }
            linger(&stream);
            return;
        }
    };
    // Chunks "have" answers go by who TLS proved the client is, else by its address.
    let principal = match who.names.first() {
        Some(name) => format!("tls:{name}"),
        None => crate::chunks::ip_principal(&stream),
    };
    let peer = format!("{peer} ({})", who.label());
    log_at!(Level::Debug, "{peer}: TLS client accepted");
    let (mine, theirs) = match UnixStream::pair() {
        Ok(p) => p,
        Err(e) => {
            log_at!(Level::Error, "{peer}: cannot make a socket pair: {e}");
            return;
        }
    };
    let StreamOwned { conn, .. } = session;
    let io_timeout = cfg.read_timeout;
    let lead = lead.to_vec();
    std::thread::scope(|s| {
        let proxy = std::thread::Builder::new()
            .name(format!("tls {peer}"))
            .stack_size(PROXY_STACK)
            .spawn_scoped(s, || proxy(conn, &stream, mine, lead, io_timeout));
        if let Err(e) = proxy {
            log_at!(Level::Error, "{peer}: cannot start the TLS thread: {e}");
            return;
        }
        let (mut r, mut w) = (&theirs, &theirs);
        serve(
            Conn {
                fd: theirs.as_fd(),
                reader: &mut r,
                writer: &mut w,
                peer,
                principal,
            },
            cfg,
        );
        // Closing our end tells the proxy the reply is complete.
        drop(theirs);
    });
}

/// Reads the request's greeting and answers a failure reply with `why` (plain connections).
fn refuse(rw: &mut &TcpStream, stream: &TcpStream, code: u32, why: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if let Ok(version) = read_version_greeting(rw) {
        send_refusal(rw, version, code, why);
    }
    linger(stream);
}

/// The refusal in the client's protocol: in 4, `RSLT code` (4xx, the client's credentials)
/// and `TEXT`; in 1–3, a reply any client reads, a failed compile (exit 101, as `serve`'s
/// refusals) whose `SERR` says why.
fn send_refusal(w: &mut dyn Write, version: proto::Version, code: u32, why: &str) {
    if version == proto::Version::V4 {
        let _ = proto::write_refusal(w, code, &format!("distccd: {why}"));
        return;
    }
    let msg = format!("distccd: {why}\n").into_bytes();
    let reply = Reply::failure(version, ExitCode::BadArguments.as_wait_status(), msg);
    let _ = write_reply(w, &reply).and_then(|()| w.flush());
}

/// Protocol 4's code for a refused TLS client (docs/protocol-4.md): 401 a bad or missing
/// token, 400 an unknown client.
fn credentials_code(d: &Denied) -> u32 {
    match d {
        Denied::BadToken | Denied::NoCredentials { by_token: true, .. } => 401,
        Denied::NoCredentials { .. } | Denied::NotAllowed { .. } => 400,
    }
}

/// Closes gently: no more writes, then what the client still sends (the rest of its request:
/// our client sends the source once its preprocessor is done) is read and dropped until it
/// closes, goes quiet for 10 s, or a minute has passed, so the close does not reset the
/// connection before our last words are read.
fn linger(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let until = Instant::now() + Duration::from_secs(60);
    let mut sink = [0u8; 4096];
    let mut r = stream;
    while Instant::now() < until {
        match r.read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// Moves bytes between the TLS session on `tcp` and `serve`'s socket pair end until `serve`
/// closes its end. The client's end of input becomes a shutdown of the pair's write side.
fn proxy(
    mut conn: ServerConnection,
    tcp: &TcpStream,
    pair: UnixStream,
    lead: Vec<u8>,
    io_timeout: Duration,
) {
    if tcp.set_nonblocking(true).is_err() || pair.set_nonblocking(true).is_err() {
        return;
    }
    let mut to_serve = lead;
    let mut client_done = false;
    let mut client_dead = false;
    let mut pair_shut = false;
    let mut buf = vec![0u8; 16 * 1024];
    let mut stalled_since: Option<Instant> = None;
    loop {
        // Plaintext rustls already decrypted goes first.
        if !client_done {
            loop {
                match conn.reader().read(&mut buf) {
                    Ok(0) => {
                        client_done = true;
                        break;
                    }
                    Ok(n) => to_serve.extend_from_slice(&buf[..n]),
                    Err(_) => break,
                }
            }
        }
        // To serve.
        while !to_serve.is_empty() {
            match (&pair).write(&to_serve) {
                Ok(n) => {
                    to_serve.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    // `serve` stopped reading (it answered early, or gave up on the request):
                    // what it wrote before closing still goes to the client.
                    to_serve.clear();
                    client_done = true;
                }
            }
        }
        if client_done && to_serve.is_empty() && !pair_shut {
            let _ = pair.shutdown(Shutdown::Write);
            pair_shut = true;
        }
        // To the client.
        if client_dead {
            conn = discard_tls(conn);
        }
        while conn.wants_write() && !client_dead {
            match conn.write_tls(&mut &*tcp) {
                Ok(_) => stalled_since = None,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let since = *stalled_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > io_timeout {
                        client_dead = true;
                    }
                    break;
                }
                Err(_) => client_dead = true,
            }
        }
        let want_tcp_in = !client_done && !client_dead && to_serve.len() < HELD;
        let want_tcp_out = conn.wants_write() && !client_dead;
        let want_pair_in = !conn.wants_write() || client_dead;
        let tcp_events = (if want_tcp_in { libc::POLLIN } else { 0 })
            | (if want_tcp_out { libc::POLLOUT } else { 0 });
        let pair_events = (if want_pair_in { libc::POLLIN } else { 0 })
            | (if to_serve.is_empty() {
                0
            } else {
                libc::POLLOUT
            });
        // A descriptor we want nothing from is left out (-1): poll reports a hang-up on it
        // whatever the events asked, and the loop would spin.
        let mut fds = [
            libc::pollfd {
                fd: if tcp_events == 0 { -1 } else { tcp.as_raw_fd() },
                events: tcp_events,
                revents: 0,
            },
            libc::pollfd {
                fd: if pair_events == 0 {
                    -1
                } else {
                    pair.as_raw_fd()
                },
                events: pair_events,
                revents: 0,
            },
        ];
        if poll(&mut fds, io_timeout) == 0 && want_tcp_out {
            client_dead = true;
        }
        if fds[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 && want_tcp_in {
            match conn.read_tls(&mut &*tcp) {
                Ok(0) => client_done = true,
                Ok(_) => {
                    if conn.process_new_packets().is_err() {
                        // A broken or forged record: the session cannot go on.
                        let _ = conn.write_tls(&mut &*tcp);
                        client_done = true;
                        client_dead = true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    client_done = true;
                    client_dead = true;
                }
            }
        }
        if fds[1].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 && want_pair_in {
            let mut served_all = false;
            let mut got = 0;
            while got < 64 * 1024 {
                match (&pair).read(&mut buf) {
                    Ok(0) => {
                        served_all = true;
                        break;
                    }
                    Ok(n) => {
                        got += n;
                        if !client_dead {
                            // The record layer takes 16 KiB at once within its 64 KiB limit
                            // (the loop above emptied it).
                            let _ = conn.writer().write_all(&buf[..n]);
                            while conn.wants_write() {
                                if conn.write_tls(&mut &*tcp).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        served_all = true;
                        break;
                    }
                }
            }
            if served_all {
                if !client_dead {
                    conn.send_close_notify();
                    finish(&mut conn, tcp, io_timeout);
                }
                return;
            }
        }
    }
}

/// Sends what rustls still holds, within `io_timeout`.
fn finish(conn: &mut ServerConnection, tcp: &TcpStream, io_timeout: Duration) {
    let _ = tcp.set_nonblocking(false);
    let _ = tcp.set_write_timeout(Some(io_timeout));
    while conn.wants_write() {
        if conn.write_tls(&mut &*tcp).is_err() {
            break;
        }
    }
}

/// Drops whatever rustls holds for a client that is gone.
fn discard_tls(mut conn: ServerConnection) -> ServerConnection {
    while conn.wants_write() {
        if conn.write_tls(&mut io::sink()).is_err() {
            break;
        }
    }
    conn
}

fn poll(fds: &mut [libc::pollfd; 2], timeout: Duration) -> i32 {
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
    loop {
        // SAFETY: `fds` is a valid array of two pollfds for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if n >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return n.max(0);
        }
    }
}
