//! The farm view (`distcc-farm`): every host of the client's list at once — reachable or
//! not, backed off or not (and why), its busy slots and the jobs running there — from each
//! daemon's stats port (`/json`, see the daemon's `stats::json`) and the client's backoff
//! files.
//!
//! This module fetches and renders; it is handed the hosts (with their backoff state) by the
//! binary, which reads the host list with the client crate (this crate must not depend on
//! it). Hosts are queried in parallel std threads with a timeout each, so one dead host
//! delays a refresh by at most that timeout.

pub mod coordinator;
pub mod json;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use json::Value;

/// One host to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host list entry, as written.
    pub spec: String,
    /// Where its stats port is; `None` for hosts without one (localhost, ssh).
    pub stats: Option<(String, u16)>,
    /// Slots the host list gives it.
    pub list_slots: u32,
    /// Time left in its backoff period, if backed off.
    pub backoff_left: Option<Duration>,
    /// Why this client backed it off, most frequent first (from the client's statistics).
    pub backoff_reasons: Vec<(String, u64)>,
}

/// What a host's stats port said.
#[derive(Debug, Clone, PartialEq)]
pub enum Reach {
    Up(Value),
    Down(String),
    NoStatsPort,
}

/// `GET /json` from `host:port`, within `timeout` for connecting and for each read.
pub fn fetch(host: &str, port: u16, timeout: Duration) -> Result<Value, String> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = String::from("no address");
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let mut s = stream.ok_or(last)?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.write_all(
        format!("GET /json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    s.take(json::MAX_LEN as u64 + 4096)
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8(body).map_err(|_| "the answer is not utf-8".to_owned())?;
    let (head, doc) = text
        .split_once("\r\n\r\n")
        .ok_or("no HTTP answer (is this a stats port?)")?;
    if !head.starts_with("HTTP/1.1 200") {
        // 3.4's daemon answers every request with its plain-text page.
        if text.contains("<distccstats>") {
            return Err("a distcc 3.4 stats page (no JSON)".into());
        }
        return Err(format!("answered {}", head.lines().next().unwrap_or("")));
    }
    json::parse(doc).map_err(|e| format!("bad JSON: {e}"))
}

/// Queries every target in parallel.
pub fn poll(targets: &[Target], timeout: Duration) -> Vec<Reach> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|t| {
                scope.spawn(move || match &t.stats {
                    None => Reach::NoStatsPort,
                    Some((h, p)) => match fetch(h, *p, timeout) {
                        Ok(v) => Reach::Up(v),
                        Err(e) => Reach::Down(e),
                    },
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Reach::Down("query thread panicked".into()))
            })
            .collect()
    })
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut o: String = s.chars().take(n.saturating_sub(1)).collect();
        o.push('~');
        o
    }
}

/// The whole view as text.
pub fn render(targets: &[Target], reaches: &[Reach]) -> String {
    let mut o = String::new();
    let (mut up, mut off, mut busy, mut total) = (0, 0, 0u64, 0u64);
    let _ = writeln!(
        o,
        "{:<28} {:<34} {:>5} {:>7} {:>6} {:>6}  running",
        "host", "state", "slots", "ok", "error", "other"
    );
    for (t, r) in targets.iter().zip(reaches) {
        let backoff = t.backoff_left.map(|l| {
            off += 1;
            let why = t
                .backoff_reasons
                .first()
                .map_or(String::new(), |(w, _)| format!(" ({w})"));
            format!("backed off {}s{why}", l.as_secs())
        });
        match r {
            Reach::Up(v) => {
                up += 1;
                let c = v.get("counters");
                let n = |k: &str| c.get(k).as_u64().unwrap_or(0);
                let slots = v.get("slots");
                let (b, s) = (
                    slots.get("busy").as_u64().unwrap_or(0),
                    slots.get("total").as_u64().unwrap_or(0),
                );
                busy += b;
                total += s;
                let state = backoff.unwrap_or_else(|| "up".to_owned());
                let running: Vec<String> = v
                    .get("running")
                    .as_array()
                    .iter()
                    .map(|j| {
                        format!(
                            "{} ({}, {}, {:.1}s)",
                            j.get("file").as_str().unwrap_or("?"),
                            j.get("compiler").as_str().unwrap_or("?"),
                            j.get("phase").as_str().unwrap_or("?"),
                            j.get("elapsed_ms").as_f64().unwrap_or(0.0) / 1000.0
                        )
                    })
                    .collect();
                let other = n("compile_timeout") + n("cli_disconnect") + n("refused") + n("failed");
                let _ = writeln!(
                    o,
                    "{:<28} {:<34} {:>5} {:>7} {:>6} {:>6}  {}",
                    cut(&t.spec, 28),
                    cut(&state, 34),
                    format!("{b}/{s}"),
                    n("compile_ok"),
                    n("compile_error"),
                    other,
                    if running.is_empty() {
                        "-".to_owned()
                    } else {
                        running.join(", ")
                    }
                );
            }
            Reach::Down(why) => {
                let state = backoff.unwrap_or_else(|| "down".to_owned());
                let _ = writeln!(
                    o,
                    "{:<28} {:<34} {:>5} {:>7} {:>6} {:>6}  {}",
                    cut(&t.spec, 28),
                    cut(&state, 34),
                    format!("?/{}", t.list_slots),
                    "-",
                    "-",
                    "-",
                    why
                );
            }
            Reach::NoStatsPort => {
                let state = backoff.unwrap_or_else(|| "no stats port".to_owned());
                let _ = writeln!(
                    o,
                    "{:<28} {:<34} {:>5} {:>7} {:>6} {:>6}  -",
                    cut(&t.spec, 28),
                    cut(&state, 34),
                    format!("?/{}", t.list_slots),
                    "-",
                    "-",
                    "-"
                );
            }
        }
    }
    let _ = writeln!(
        o,
        "{} hosts: {up} answering, {off} backed off; {busy}/{total} slots busy",
        targets.len()
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(spec: &str) -> Target {
        Target {
            spec: spec.into(),
            stats: None,
            list_slots: 2,
            backoff_left: None,
            backoff_reasons: Vec::new(),
        }
    }

    #[test]
    fn renders_up_down_and_backed_off_hosts() {
        let doc = json::parse(
            r#"{"counters":{"compile_ok":7,"compile_error":1,"refused":2},
                "slots":{"busy":1,"total":4},
                "running":[{"file":"a.c","compiler":"gcc","phase":"compiling","elapsed_ms":1500}]}"#,
        )
        .unwrap();
        let mut off = target("h2:3632/2");
        off.backoff_left = Some(Duration::from_secs(42));
        off.backoff_reasons = vec![("connect failed".into(), 3)];
        let text = render(
            &[target("h1:3632/4"), off, target("@ssh")],
            &[
                Reach::Up(doc),
                Reach::Down("connection refused".into()),
                Reach::NoStatsPort,
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("h1:3632/4"), "{text}");
        assert!(lines[1].contains("up"), "{text}");
        assert!(lines[1].contains("1/4"), "{text}");
        assert!(lines[1].contains("a.c (gcc, compiling, 1.5s)"), "{text}");
        assert!(lines[2].contains("backed off 42s (connect"), "{text}");
        assert!(lines[2].ends_with("connection refused"), "{text}");
        assert!(lines[3].contains("no stats port"), "{text}");
        assert_eq!(
            lines[4],
            "3 hosts: 1 answering, 1 backed off; 1/4 slots busy"
        );
    }

    #[test]
    fn fetch_reports_a_closed_port() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let e = fetch("127.0.0.1", port, Duration::from_secs(1)).unwrap_err();
        assert!(!e.is_empty());
    }
}
