//! The include server: a unix socket, one thread per connection, one shared analyser.
//!
//! A request is read with a timeout, answered under the analyser's lock (the analysis is
//! short; the caches it fills are what make the next one shorter), and the names written
//! back. Anything that cannot be analysed is answered with an empty list, which 3.4's client
//! takes as "preprocess locally"; the reason goes to standard error as a warning.
//! What it leaves to others: forking and signals (the `include-server` main).

use std::io::{self, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use os::listen;
use proto::Limits;

use crate::analyze;
use crate::command::{self, NotCovered};
use crate::defaults::Defaults;
use crate::fscache::Fs;
use crate::root::ClientRoot;
use crate::wire::{self, Request};

/// Counters kept for `-s` and for tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub requests: u64,
    pub gave_up: u64,
    pub names: u64,
    pub files: u64,
    pub compressed: u64,
    pub scans: u64,
}

struct State {
    fs: Fs,
    defaults: Defaults,
    root: Option<ClientRoot>,
    stats: Stats,
}

/// The analyser shared by all connections.
pub struct Server {
    state: Mutex<State>,
    limits: Limits,
    unsafe_absolute: bool,
    warnings: bool,
}

impl Server {
    pub fn new(root: ClientRoot) -> Server {
        Server {
            state: Mutex::new(State {
                fs: Fs::default(),
                defaults: Defaults::default(),
                root: Some(root),
                stats: Stats::default(),
            }),
            limits: Limits::DEFAULT,
            unsafe_absolute: false,
            warnings: true,
        }
    }

    /// `--unsafe_absolute_includes` and `--debug_pattern`'s warnings bit.
    pub fn with_options(mut self, unsafe_absolute: bool, warnings: bool) -> Server {
        self.unsafe_absolute = unsafe_absolute;
        self.warnings = warnings;
        self
    }

    /// The names for one request, or why it was not analysed.
    pub fn answer(&self, req: &Request) -> Result<Vec<String>, NotCovered> {
        let cmd = command::parse(&req.argv)?;
        let cwd = Path::new(&req.cwd);
        if !cwd.is_absolute() {
            return Err(NotCovered(format!(
                "working directory '{}' is not absolute",
                req.cwd
            )));
        }
        // A panic in one request must not stop the server: take the state even if poisoned.
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let st = &mut *guard;
        st.stats.requests += 1;
        let result = (|| {
            let closure = analyze::closure_with(
                &mut st.fs,
                &mut st.defaults,
                cwd,
                &cmd,
                self.unsafe_absolute,
            )?;
            if self.warnings {
                for name in &closure.ignored_absolute {
                    eprintln!(
                        "WARNING include server: Absolute filepath '{name}' was IGNORED \
                         (--unsafe_absolute_includes) for translation unit '{}'",
                        cmd.source
                    );
                }
            }
            let root = st
                .root
                .as_mut()
                .ok_or_else(|| NotCovered("shutting down".into()))?;
            let (names, counts) = root
                .reply(&closure, cwd, &mut st.fs)
                .map_err(|e| NotCovered(format!("cannot prepare files: {e}")))?;
            st.stats.files += counts.files as u64;
            st.stats.compressed += counts.compressed as u64;
            Ok(names)
        })();
        st.stats.scans = st.fs.scans;
        match &result {
            Ok(names) => st.stats.names += names.len() as u64,
            Err(_) => st.stats.gave_up += 1,
        }
        result
    }

    pub fn stats(&self) -> Stats {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).stats
    }

    /// Removes the client root; later requests are answered "preprocess locally".
    pub fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).root = None;
    }

    fn handle(&self, mut s: UnixStream) {
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(30)));
        let req = match wire::read_request(&mut s, &self.limits) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("WARNING include server: bad request: {e}");
                return;
            }
        };
        let names = match self.answer(&req) {
            Ok(n) => n,
            Err(why) if self.warnings => {
                eprintln!(
                    "WARNING include server: Preprocessing locally. Include server not covering: {why} for translation unit '{}'",
                    command::parse(&req.argv)
                        .map(|c| c.source)
                        .unwrap_or_default()
                );
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        let _ = wire::write_reply(&mut s, &names);
    }
}

/// Accepts connections until `shutdown` becomes readable.
pub fn serve(
    listener: &UnixListener,
    server: &Arc<Server>,
    shutdown: BorrowedFd<'_>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    loop {
        let fd = listener.as_raw_fd();
        if listen::wait(fd, shutdown.as_raw_fd(), None)? == listen::Wake::Shutdown {
            return Ok(());
        }
        match listener.accept() {
            Ok((s, _)) => {
                let _ = s.set_nonblocking(false);
                let srv = Arc::clone(server);
                std::thread::spawn(move || srv.handle(s));
            }
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Prints the counters as `-s` asks.
pub fn print_stats(out: &mut impl Write, s: &Stats) -> io::Result<()> {
    let per = if s.requests > s.gave_up {
        s.files as f64 / (s.requests - s.gave_up) as f64
    } else {
        0.0
    };
    writeln!(
        out,
        "include server: {} requests, {} gave up, {} names sent, {:.1} files per answered request, {} compressed copies made, {} files scanned",
        s.requests, s.gave_up, s.names, per, s.compressed, s.scans
    )
}

/// 3.4's include server returns as soon as the server runs: fork, the parent writes the
/// child's pid to `pid_file` and exits 0, the child leaves the session and returns. Call
/// before any thread starts (fork copies only the calling thread).
pub fn fork_background(pid_file: Option<&Path>) -> io::Result<()> {
    // SAFETY: single-threaded by the documented precondition.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            // SAFETY: plain syscall; leaves the caller's process group and terminal.
            unsafe { libc::setsid() };
            Ok(())
        }
        child => {
            let code = match pid_file.map(|f| std::fs::write(f, format!("{child}\n"))) {
                Some(Err(e)) => {
                    eprintln!("include-server: cannot write the pid file: {e}");
                    1
                }
                _ => 0,
            };
            std::process::exit(code);
        }
    }
}
