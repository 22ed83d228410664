//! The accept loop: one thread per connection, a cap on connections, the access list, and a
//! graceful stop (no new connections; requests still being read are abandoned; compiles
//! already running finish and are answered).
//!
//! Job slots are not taken here: a connection thread takes one only after its request is
//! fully received (see `serve`), so idle or slow clients hold a cheap thread and a connection
//! slot, never a compiler slot.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use os::listen::{self, Wake};

use crate::access::AllowList;
use crate::log::Level;
use crate::log_at;
use crate::serve::{Conn, ServeConfig, serve};
use crate::stats::Dropped;

/// Stack of a connection thread: serving keeps its buffers on the heap, so this is plenty and
/// keeps a thousand idle connections cheap.
const CONNECTION_STACK: usize = 256 * 1024;

/// Binds the listening socket: `listen` if given, else every address (dual-stack IPv6 when
/// the host has it, IPv4 otherwise).
pub fn bind(listen: Option<IpAddr>, port: u16) -> io::Result<TcpListener> {
    match listen {
        Some(a) => TcpListener::bind(SocketAddr::new(a, port)),
        None => TcpListener::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port))
            .or_else(|_| {
                TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
            }),
    }
}

/// Counts live connections so the cap can be enforced and shutdown can wait for them.
#[derive(Default)]
struct Active {
    n: Mutex<usize>,
    cv: Condvar,
    /// Open connections per client address, for `--max-connections-per-peer`.
    per_peer: Mutex<std::collections::HashMap<IpAddr, usize>>,
}

struct ActiveGuard(Arc<Active>, IpAddr);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        {
            let mut m = self.0.per_peer.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(k) = m.get_mut(&self.1) {
                *k -= 1;
                if *k == 0 {
                    m.remove(&self.1);
                }
            }
        }
        let mut n = self.0.n.lock().unwrap_or_else(|p| p.into_inner());
        *n -= 1;
        self.0.cv.notify_all();
    }
}

/// What the loop needs besides the per-request configuration.
pub struct ServerConfig {
    pub allow: AllowList,
    pub max_connections: usize,
    /// Connections one client address may hold open.
    pub max_per_peer: usize,
    /// Stop after this long (`--lifetime`).
    pub lifetime: Option<Duration>,
    /// `--tls-cert` and the rest: TLS beside plain connections on the same port.
    pub tls: Option<Arc<crate::secure::Secure>>,
}

/// Accepts until `shutdown_fd` becomes readable (or the lifetime ends), then waits for every
/// connection thread to finish.
pub fn run(
    listener: TcpListener,
    server: &ServerConfig,
    cfg: Arc<ServeConfig>,
    shutdown_fd: RawFd,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let active = Arc::new(Active::default());
    let started = Instant::now();
    loop {
        let timeout = match server.lifetime {
            Some(l) => {
                let left = l.saturating_sub(started.elapsed());
                if left.is_zero() {
                    log_at!(Level::Notice, "lifetime of {}s ended", l.as_secs());
                    break;
                }
                Some(left)
            }
            None => None,
        };
        match listen::wait(listener.as_raw_fd(), shutdown_fd, timeout)? {
            Wake::Shutdown => {
                log_at!(
                    Level::Notice,
                    "shutdown requested: no longer accepting connections"
                );
                break;
            }
            Wake::TimedOut => continue,
            Wake::Ready => {}
        }
        loop {
            match listener.accept() {
                Ok((stream, peer)) => accept_one(stream, peer, server, &cfg, &active),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors or memory: back off instead of spinning.
                    log_at!(Level::Error, "accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                    break;
                }
            }
        }
    }
    drop(listener);
    let mut n = active.n.lock().unwrap_or_else(|p| p.into_inner());
    if *n > 0 {
        log_at!(Level::Notice, "waiting for {} connection(s) to finish", *n);
    }
    while *n > 0 {
        n = active.cv.wait(n).unwrap_or_else(|p| p.into_inner());
    }
    log_at!(Level::Notice, "all jobs finished; exiting");
    Ok(())
}

fn accept_one(
    stream: TcpStream,
    peer: SocketAddr,
    server: &ServerConfig,
    cfg: &Arc<ServeConfig>,
    active: &Arc<Active>,
) {
    if !server.allow.allows(peer.ip()) {
        cfg.stats.dropped(Dropped::Access);
        log_at!(
            Level::Warning,
            "connection from {peer} denied by the access list"
        );
        return;
    }
    {
        let mut n = active.n.lock().unwrap_or_else(|p| p.into_inner());
        if *n >= server.max_connections {
            cfg.stats.dropped(Dropped::Overload);
            log_at!(
                Level::Warning,
                "connection limit of {} reached: dropping {peer}",
                server.max_connections
            );
            return;
        }
        // One address may not take every connection (idle ones included) from the others.
        let mut m = active.per_peer.lock().unwrap_or_else(|p| p.into_inner());
        let k = m.entry(canonical(peer.ip())).or_insert(0);
        if *k >= server.max_per_peer {
            drop(m);
            cfg.stats.dropped(Dropped::Overload);
            log_at!(
                Level::Warning,
                "{peer} already holds {} connections (--max-connections-per-peer): dropping",
                server.max_per_peer
            );
            return;
        }
        *k += 1;
        *n += 1;
    }
    cfg.stats.accepted();
    let guard = ActiveGuard(active.clone(), canonical(peer.ip()));
    let cfg = cfg.clone();
    let tls = server.tls.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("conn {peer}"))
        .stack_size(CONNECTION_STACK)
        .spawn(move || {
            let _guard = guard;
            if stream.set_nonblocking(false).is_err()
                || stream.set_write_timeout(Some(cfg.read_timeout)).is_err()
            {
                return;
            }
            let peer_s = peer.to_string();
            log_at!(Level::Debug, "connection from {peer_s}");
            if let Some(tls) = tls {
                crate::secure::serve_conn(stream, peer_s, &tls, &cfg);
                return;
            }
            let (mut r, mut w) = (&stream, &stream);
            serve(
                Conn {
                    fd: stream.as_fd(),
                    reader: &mut r,
                    writer: &mut w,
                    peer: peer_s,
                    principal: crate::chunks::ip_principal(&stream),
                },
                &cfg,
            );
        });
    if let Err(e) = spawned {
        // The guard moved into the failed closure and was dropped with it.
        log_at!(Level::Error, "cannot start a thread for {peer}: {e}");
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is, so one client counts once.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// True when standard input is a socket: how 3.4 guesses inetd mode when neither `--inetd`
/// nor `--daemon` is given.
pub fn stdin_is_socket() -> bool {
    // SAFETY: fstat on descriptor 0 into a zeroed struct.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(0, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK
    }
}
