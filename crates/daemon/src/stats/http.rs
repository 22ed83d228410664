//! The stats port (`--stats`, `--stats-port`, 3633 by default): a hand-written HTTP/1.1
//! server on std threads that answers one request per connection and closes.
//!
//! Routes: `/json` (and `/stats.json`), `/metrics` (Prometheus), `/dashboard` (a static page
//! that polls `/json`); anything else — any path, a request that is not HTTP, or no request
//! at all within a short wait — gets 3.4's plain-text page, as 3.4 answers whatever arrives.
//! Peers outside `--allow` are closed without a word (as 3.4). A connection may take at most
//! [`REQUEST_TIMEOUT`] to send its request and at most [`MAX_CONCURRENT`] are served at once,
//! so a slow or flooding client cannot hold the port.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use os::listen::{self, Wake};

use super::{Stats, json, prom, system, text};
use crate::access::AllowList;
use crate::log::Level;
use crate::log_at;

/// The dashboard: one static page whose script polls `/json` every second.
pub const DASHBOARD: &str = include_str!("dashboard.html");

/// Longest a client may take to send its request line and headers.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for a first byte before answering a silent client with 3.4's page (3.4
/// answers at once; a short wait lets a request that is on its way choose the route).
const FIRST_BYTE: Duration = Duration::from_millis(300);
/// Largest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// Connections served at once; more are closed.
pub const MAX_CONCURRENT: usize = 32;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Text,
    Json,
    Metrics,
    Dashboard,
}

/// The route for a request head (possibly empty or not HTTP at all), and whether it is HEAD.
pub fn route(head: &[u8]) -> (Route, bool) {
    let line = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_ascii_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return (Route::Text, false);
    };
    let path = target.split(['?', '#']).next().unwrap_or("");
    let r = match path {
        "/json" | "/stats.json" => Route::Json,
        "/metrics" => Route::Metrics,
        "/dashboard" | "/dashboard/" => Route::Dashboard,
        _ => Route::Text,
    };
    (r, method == "HEAD")
}

/// The full response for `route`.
pub fn respond(stats: &Stats, route: Route, head_only: bool) -> Vec<u8> {
    let (ctype, body) = match route {
        Route::Text => {
            let page = text::render(&stats.snapshot(), &system::read());
            // 3.4's exact header (bare LF, HTTP/1.0, no length); scrapers may match on it.
            let mut out = text::HEADER.as_bytes().to_vec();
            if !head_only {
                out.extend_from_slice(page.as_bytes());
            }
            return out;
        }
        Route::Json => (
            "application/json",
            json::render(&stats.snapshot(), &system::read()),
        ),
        Route::Metrics => (
            prom::CONTENT_TYPE,
            prom::render(&stats.snapshot(), &system::read()),
        ),
        Route::Dashboard => ("text/html; charset=utf-8", DASHBOARD.to_owned()),
    };
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// Reads a request head: until a blank line, [`MAX_HEAD`] bytes, the client's end, or the
/// timeouts. Whatever arrived is returned; the caller routes on it.
fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let start = Instant::now();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let limit = if head.is_empty() {
            FIRST_BYTE
        } else {
            REQUEST_TIMEOUT
        };
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return head;
        }
        match stream.read(&mut buf) {
            Ok(0) => return head,
            Ok(n) => {
                head.extend_from_slice(&buf[..n]);
                if head.len() >= MAX_HEAD
                    || head.windows(4).any(|w| w == b"\r\n\r\n")
                    || head.windows(2).any(|w| w == b"\n\n")
                {
                    return head;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return head,
        }
    }
}

fn serve_one(mut stream: TcpStream, stats: &Stats) {
    let head = read_head(&mut stream);
    let (r, head_only) = route(&head);
    let out = respond(stats, r, head_only);
    let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
    let _ = stream.write_all(&out);
    // Closing with unread request bytes would reset the connection and could discard the
    // reply at the client: say we are done, then drain briefly.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves the stats port until `shutdown_fd` becomes readable. Runs on its own thread.
pub fn run(listener: TcpListener, allow: AllowList, stats: Arc<Stats>, shutdown_fd: RawFd) {
    if let Err(e) = listener.set_nonblocking(true) {
        log_at!(Level::Error, "stats port: {e}");
        return;
    }
    let busy = Arc::new(AtomicUsize::new(0));
    loop {
        match listen::wait(listener.as_raw_fd(), shutdown_fd, None) {
            Ok(Wake::Shutdown) => return,
            Ok(_) => {}
            Err(e) => {
                log_at!(Level::Error, "stats port: poll failed: {e}");
                return;
            }
        }
        loop {
            let (stream, peer) = match listener.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log_at!(Level::Error, "stats port: accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                    break;
                }
            };
            if !allow.allows(peer.ip()) {
                log_at!(
                    Level::Warning,
                    "stats request from {peer} denied by the access list"
                );
                continue;
            }
            if busy.fetch_add(1, Ordering::AcqRel) >= MAX_CONCURRENT {
                busy.fetch_sub(1, Ordering::AcqRel);
                log_at!(
                    Level::Warning,
                    "stats port: {MAX_CONCURRENT} requests in progress, dropping {peer}"
                );
                continue;
            }
            let slot = Slot(busy.clone());
            let stats = stats.clone();
            let spawned = std::thread::Builder::new()
                .name("stats".into())
                .stack_size(256 * 1024)
                .spawn(move || {
                    let _slot = slot;
                    if stream.set_nonblocking(false).is_ok() {
                        serve_one(stream, &stats);
                    }
                });
            if let Err(e) = spawned {
                log_at!(Level::Error, "stats port: cannot start a thread: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route(b"GET /json HTTP/1.1\r\n\r\n"), (Route::Json, false));
        assert_eq!(
            route(b"GET /stats.json?x=1 HTTP/1.1\r\n"),
            (Route::Json, false)
        );
        assert_eq!(
            route(b"HEAD /metrics HTTP/1.0\r\n\r\n"),
            (Route::Metrics, true)
        );
        assert_eq!(
            route(b"GET /dashboard HTTP/1.1\r\n"),
            (Route::Dashboard, false)
        );
        assert_eq!(route(b"GET / HTTP/1.0\r\n\r\n"), (Route::Text, false));
        assert_eq!(
            route(b"GET /anything HTTP/1.0\r\n\r\n"),
            (Route::Text, false)
        );
        assert_eq!(route(b""), (Route::Text, false));
        assert_eq!(route(b"\xff\xfe garbage"), (Route::Text, false));
    }

    #[test]
    fn json_has_a_length_and_the_text_page_is_3_4s() {
        let stats = Stats::new(super::super::Config::default());
        let r = respond(&stats, Route::Json, false);
        let s = String::from_utf8(r).unwrap();
        let (head, body) = s.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"));
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
        let t = String::from_utf8(respond(&stats, Route::Text, false)).unwrap();
        assert!(t.starts_with("HTTP/1.0 200 OK\nContent-Type: text/plain\nConnection: close\n\nargv /distccd\n<distccstats>\n"));
        let h = respond(&stats, Route::Dashboard, true);
        assert!(h.ends_with(b"\r\n\r\n"));
    }
}
