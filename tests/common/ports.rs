//! Loopback ports for tests, shared by the `it` and `interop` suites.
//!
//! Every port is below 32768, outside the kernel's ephemeral range, so no outgoing connection
//! takes it while a test holds it. Ports come from blocks of `BLOCK` that this process claims
//! with an `flock` on a file under the temp dir, held until the process exits: two test
//! processes running at once (both suites, several worktrees) never hand out the same port,
//! and within a process each port is handed out once. A port is also checked free (bindable)
//! when handed out, for processes that are not tests.
//!
//! A host that must be down for a whole test is a [`DeadPort`]: a socket bound there but not
//! listening, so connecting is refused and nothing else can take the port meanwhile. A server
//! started on a port is waited for with [`wait_listening`], which fails clearly if it exits.

#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FIRST: u32 = 20000;
const BLOCK: u32 = 64;
const BLOCKS: u32 = (32768 - FIRST) / BLOCK;

/// The ports this process may hand out: the claimed blocks' locks (held to the end) and the
/// next port of the current block.
struct Claims {
    locks: Vec<File>,
    next: u32,
    end: u32,
    tried_blocks: u32,
}

static CLAIMS: Mutex<Claims> = Mutex::new(Claims {
    locks: Vec::new(),
    next: 0,
    end: 0,
    tried_blocks: 0,
});

impl Claims {
    /// Claims the next block no other process holds.
    fn claim_block(&mut self) {
        let dir = std::env::temp_dir().join("distcc-rs-test-ports");
        let _ = std::fs::create_dir_all(&dir);
        let start = std::process::id() % BLOCKS;
        while self.tried_blocks < BLOCKS {
            let block = (start + self.tried_blocks) % BLOCKS;
            self.tried_blocks += 1;
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(format!("block-{block}")))
                .expect("opening a port block's lock file");
            // SAFETY: flock on a descriptor we own; no memory is involved.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                self.locks.push(file);
                self.next = FIRST + block * BLOCK;
                self.end = self.next + BLOCK;
                return;
            }
        }
        panic!("no block of loopback test ports below 32768 is free");
    }

    /// `n` consecutive ports nobody listens on now, from this process's blocks.
    fn take(&mut self, n: u32) -> u16 {
        loop {
            if self.next + n > self.end {
                self.claim_block();
            }
            let port = self.next;
            self.next += 1;
            if (port..port + n).all(|p| TcpListener::bind(("127.0.0.1", p as u16)).is_ok()) {
                self.next = port + n;
                return port as u16;
            }
        }
    }
}

/// A loopback port below 32768 that nobody listens on and no other test process is given.
pub fn free_port() -> u16 {
    CLAIMS.lock().unwrap_or_else(|e| e.into_inner()).take(1)
}

/// As [`free_port`], a port `p` with `p + 1` free too (a daemon and its stats port).
pub fn free_port_pair() -> u16 {
    CLAIMS.lock().unwrap_or_else(|e| e.into_inner()).take(2)
}

/// A host that is down for as long as this lives: loopback ports bound but not listening.
/// Connecting gets ECONNREFUSED, and nobody else can bind them (no `SO_REUSEADDR` here).
pub struct DeadPort {
    pub port: u16,
    _sockets: Vec<OwnedFd>,
}

impl DeadPort {
    /// One dead port.
    pub fn new() -> DeadPort {
        DeadPort::consecutive(1)
    }

    /// A dead port whose stats port (`port + 1`, the farm view's default pairing) is dead too.
    pub fn with_stats_port() -> DeadPort {
        DeadPort::consecutive(2)
    }

    fn consecutive(n: u32) -> DeadPort {
        for _ in 0..100 {
            let port = CLAIMS.lock().unwrap_or_else(|e| e.into_inner()).take(n);
            let sockets: Vec<OwnedFd> = (0..n as u16)
                .map_while(|i| bound_not_listening(port + i))
                .collect();
            if sockets.len() == n as usize {
                return DeadPort {
                    port,
                    _sockets: sockets,
                };
            }
        }
        panic!("could not hold a dead loopback port");
    }
}

/// A TCP socket bound to 127.0.0.1:`port`, never listening; `None` if the bind fails.
fn bound_not_listening(port: u16) -> Option<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the descriptor is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `addr` is a valid sockaddr_in of the size passed, alive for the call.
    let r = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&raw const addr).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    (r == 0).then_some(sock)
}

/// Waits (15 s at most) until `child`, started as `what` to listen on loopback `port`,
/// accepts there. A child that exits first (a failed bind ends a daemon at once) is a failure
/// that shows `log` (its stderr or log file, if any), never a wait that times out or a
/// connection to whatever else holds the port.
pub fn wait_listening(child: &mut Child, port: u16, what: &str, log: Option<&Path>) {
    let log_text = || {
        log.map_or_else(String::new, |l| {
            std::fs::read_to_string(l).unwrap_or_default()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited at start-up ({st}): {}", log_text());
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within 15 s: {}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_dead_port_refuses_connections_and_cannot_be_taken() {
    let dead = DeadPort::with_stats_port();
    for p in [dead.port, dead.port + 1] {
        let err = std::net::TcpStream::connect(("127.0.0.1", p)).unwrap_err();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "{p}: {err}"
        );
        assert!(
            TcpListener::bind(("127.0.0.1", p)).is_err(),
            "{p} was taken"
        );
    }
    let port = dead.port;
    drop(dead);
    TcpListener::bind(("127.0.0.1", port)).expect("free again once dropped");
}

#[test]
fn free_ports_are_distinct_and_below_the_ephemeral_range() {
    let mut seen: Vec<u16> = (0..3 * BLOCK).map(|_| free_port()).collect();
    let p = free_port_pair();
    seen.extend([p, p + 1]);
    assert!(
        seen.iter().all(|&p| (20000..32768).contains(&p)),
        "{seen:?}"
    );
    seen.sort_unstable();
    let n = seen.len();
    seen.dedup();
    assert_eq!(seen.len(), n, "a port was handed out twice");
}
