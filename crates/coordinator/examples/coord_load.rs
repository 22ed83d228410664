//! The scale benchmark's two halves (bench/coordinator_scale.py runs them pinned to one CPU
//! each):
//! - `coord_load serve PORT` — the coordinator's server (`coordinator::server::Server`, the
//!   same code `distcc-coordinator` runs) on 127.0.0.1:PORT, until killed;
//! - `coord_load load PORT HOSTS CLIENTS SECONDS [RATE]` — registers HOSTS simulated daemons
//!   (4 slots each) and drives CLIENTS simulated clients over one `mio` thread, each in a loop
//!   of lease → grant → release: as fast as the coordinator answers (throughput), or with
//!   RATE pairs per second offered in all, evenly spread (latency at that load); prints
//!   `pairs_per_sec`, `p50_us`, `p99_us`, `max_us` (latency from sending the lease request to
//!   reading the grant).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use distcc_coordinator::server::{Config, Server};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use proto::coord::{self, Frame, Kind};

fn serve(port: u16) -> io::Result<()> {
    let l = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let (_keep, never) = std::os::unix::net::UnixStream::pair()?;
    let mut s = Server::new(l, Config::default())?;
    use std::os::fd::AsRawFd;
    s.run(never.as_raw_fd())
}

struct Client {
    stream: TcpStream,
    inbuf: Vec<u8>,
    sent: Instant,
    /// Paced mode: when the next request is due, and whether one is outstanding.
    next_at: Instant,
    busy: bool,
}

fn connect(addr: SocketAddr) -> io::Result<std::net::TcpStream> {
    let s = std::net::TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    Ok(s)
}

fn load(port: u16, hosts: usize, clients: usize, secs: u64, rate: Option<u64>) -> io::Result<()> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    // Daemons: registered and then silent apart from the coordinator's hello, which the
    // kernel buffers; a heartbeat is not needed within the run (15 s of silence allowed).
    let mut daemons = Vec::with_capacity(hosts);
    for i in 0..hosts {
        let mut s = connect(addr)?;
        let mut buf = Vec::new();
        coord::encode(
            &mut buf,
            &Frame::new(Kind::Hello)
                .with("role", "daemon")
                .with(
                    "host",
                    format!(
                        "10.{}.{}.{}:3632/4,lzo",
                        i / 65536,
                        (i / 256) % 256,
                        i % 256
                    ),
                )
                .with("jobs", 4)
                .with("slots", 4)
                .with("busy", 0),
        );
        s.write_all(&buf)?;
        daemons.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut poll = Poll::new()?;
    let mut conns: HashMap<Token, Client> = HashMap::new();
    let lease_req = |c: usize| {
        let mut b = Vec::new();
        coord::encode(
            &mut b,
            &Frame::new(Kind::Lease)
                .with("size", 20_000)
                .with("machine", format!("sim{}", c % 10))
                .with("user", "bench")
                .with("build", format!("sim{}:{}", c % 10, c % 3)),
        );
        b
    };
    // Paced: each client asks every `interval`, the clients evenly staggered.
    let interval = rate.map(|r| Duration::from_secs_f64(clients as f64 / r.max(1) as f64));
    let start = Instant::now();
    for c in 0..clients {
        let s = connect(addr)?;
        s.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(s);
        poll.registry()
            .register(&mut stream, Token(c), Interest::READABLE)?;
        let next_at = match interval {
            Some(i) => start + i.mul_f64(c as f64 / clients as f64),
            None => {
                stream.write_all(&lease_req(c))?;
                start
            }
        };
        conns.insert(
            Token(c),
            Client {
                stream,
                inbuf: Vec::new(),
                sent: Instant::now(),
                next_at,
                busy: interval.is_none(),
            },
        );
    }
    let warmup = Instant::now() + Duration::from_secs(1);
    let end = warmup + Duration::from_secs(secs);
    let mut lat_us: Vec<u32> = Vec::with_capacity(1 << 20);
    let mut pairs = 0u64;
    let mut waits = 0u64;
    let mut events = Events::with_capacity(1024);
    let mut measuring_since = None;
    while Instant::now() < end {
        let mut timeout = Duration::from_millis(100);
        if let Some(i) = interval {
            let now = Instant::now();
            for (t, c) in conns.iter_mut() {
                if !c.busy && c.next_at <= now {
                    c.stream.write_all(&lease_req(t.0))?;
                    c.sent = now;
                    c.busy = true;
                    c.next_at += i;
                }
                if !c.busy {
                    timeout = timeout.min(c.next_at.saturating_duration_since(now));
                }
            }
        }
        poll.poll(&mut events, Some(timeout))?;
        let now = Instant::now();
        if measuring_since.is_none() && now >= warmup {
            measuring_since = Some(now);
            lat_us.clear();
            pairs = 0;
        }
        for ev in &events {
            let t = ev.token();
            let Some(c) = conns.get_mut(&t) else { continue };
            let mut chunk = [0u8; 4096];
            loop {
                match c.stream.read(&mut chunk) {
                    Ok(0) => return Err(io::Error::other("the coordinator closed a client")),
                    Ok(n) => c.inbuf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            while let Some((f, used)) = coord::decode(&c.inbuf).map_err(io::Error::other)? {
                c.inbuf.drain(..used);
                match f.kind {
                    Kind::Grant => {
                        let us = c.sent.elapsed().as_micros().min(u32::MAX as u128) as u32;
                        lat_us.push(us);
                        pairs += 1;
                        let lease = f.num("lease").unwrap_or(0);
                        let mut out = Vec::with_capacity(128);
                        coord::encode(
                            &mut out,
                            &Frame::new(Kind::Free).with("lease", lease).with("ms", 900),
                        );
                        if interval.is_none() {
                            out.extend_from_slice(&lease_req(t.0));
                            c.sent = Instant::now();
                        } else {
                            c.busy = false;
                        }
                        c.stream.write_all(&out)?;
                    }
                    Kind::Wait => waits += 1,
                    other => return Err(io::Error::other(format!("unexpected {other:?}"))),
                }
            }
        }
    }
    let took = measuring_since.map_or(0.0, |s| s.elapsed().as_secs_f64());
    lat_us.sort_unstable();
    let pct = |p: f64| {
        lat_us
            .get(((lat_us.len() as f64 * p) as usize).min(lat_us.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!("hosts {hosts}");
    println!("clients {clients}");
    println!("seconds {took:.2}");
    println!("pairs {pairs}");
    println!("pairs_per_sec {:.0}", pairs as f64 / took.max(1e-9));
    println!("p50_us {}", pct(0.50));
    println!("p99_us {}", pct(0.99));
    println!("max_us {}", lat_us.last().copied().unwrap_or(0));
    println!("waits {waits}");
    drop(daemons);
    Ok(())
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> u64 {
        a.get(i).and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            panic!("usage: coord_load serve PORT | load PORT HOSTS CLIENTS SECONDS")
        })
    };
    let r = match a.first().map(String::as_str) {
        Some("serve") => serve(num(1) as u16),
        Some("load") => load(
            num(1) as u16,
            num(2) as usize,
            num(3) as usize,
            num(4),
            a.get(5).and_then(|r| r.parse().ok()),
        ),
        _ => {
            eprintln!("usage: coord_load serve PORT | load PORT HOSTS CLIENTS SECONDS");
            std::process::exit(101);
        }
    };
    if let Err(e) = r {
        eprintln!("coord_load: {e}");
        std::process::exit(1);
    }
}
