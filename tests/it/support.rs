//! Helpers shared by the `it` tests: tool checks that fail under `CI=true`, temp dirs that an
//! unprivileged daemon can use, and our `distccd` on a free loopback port, stopped on drop.

#![allow(dead_code)]

use std::fs::File;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Every compiler name a test daemon allow-lists by default.
pub(crate) const DEFAULT_COMPILER_NAMES: &[&str] = &[
    "gcc",
    "g++",
    "cc",
    "c++",
    "x86_64-linux-gnu-gcc",
    "x86_64-linux-gnu-g++",
];

pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// True when every tool is on PATH; panics under `CI=true` otherwise, else prints a skip.
pub fn require(tools: &[&str]) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        !ci(),
        "CI=true and required tools are missing: {}",
        missing.join(", ")
    );
    eprintln!("skipping: missing {}", missing.join(", "));
    false
}

pub use crate::ports::{DeadPort, free_port, free_port_pair, wait_listening};

/// A directory (mode 1777, so a daemon that dropped root can use it) removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "distcc-rs-it-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o1777))
            .expect("chmod temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn distccd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_distccd"))
}

/// Our distccd on a free loopback port, with its own job TMPDIR, its own compiler allow-list
/// directory (gcc, g++, cc, c++) and its log in a file; SIGTERM then SIGKILL on drop.
pub struct OurDaemon {
    pub port: u16,
    pub dir: TempDir,
    jobs: PathBuf,
    child: Option<Child>,
}

impl OurDaemon {
    pub fn start(extra: &[&str]) -> OurDaemon {
        OurDaemon::start_in(None, "127.0.0.1", &["127.0.0.1/32"], None, extra)
    }

    /// As `start`, optionally inside network namespace `netns` (through `ip netns exec`, which
    /// keeps the pid), listening on `listen`, allowing `allow`, with `jobs` as its TMPDIR (for
    /// example a small tmpfs) instead of a fresh directory.
    pub fn start_in(
        netns: Option<&str>,
        listen: &str,
        allow: &[&str],
        jobs: Option<&Path>,
        extra: &[&str],
    ) -> OurDaemon {
        OurDaemon::start_full(netns, listen, allow, jobs, extra, None, &[])
    }

    /// As `start_in`, with `env` added to the daemon's environment.
    pub fn start_env(
        netns: Option<&str>,
        listen: &str,
        allow: &[&str],
        jobs: Option<&Path>,
        extra: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> OurDaemon {
        OurDaemon::start_full(netns, listen, allow, jobs, extra, None, env)
    }

    /// As `start`, with `bin` first on the daemon's `PATH` and each of `compilers` (found
    /// there) on its allow-list: a test's own "compiler".
    pub fn start_with_compilers(extra: &[&str], bin: &Path, compilers: &[&str]) -> OurDaemon {
        OurDaemon::start_full(
            None,
            "127.0.0.1",
            &["127.0.0.1/32"],
            None,
            extra,
            Some((bin, compilers)),
            &[],
        )
    }

    fn start_full(
        netns: Option<&str>,
        listen: &str,
        allow: &[&str],
        jobs: Option<&Path>,
        extra: &[&str],
        compilers: Option<(&Path, &[&str])>,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> OurDaemon {
        let dir = TempDir::new("distccd");
        let allow_dir = dir.path().join("allow");
        std::fs::create_dir(&allow_dir).unwrap();
        let jobs = match jobs {
            Some(j) => j.to_path_buf(),
            None => {
                let j = dir.path().join("jobs");
                std::fs::create_dir(&j).unwrap();
                std::fs::set_permissions(&j, std::fs::Permissions::from_mode(0o1777)).unwrap();
                j
            }
        };
        for name in DEFAULT_COMPILER_NAMES {
            std::os::unix::fs::symlink("/usr/bin/distcc", allow_dir.join(name)).unwrap();
        }
        if let Some((_, names)) = compilers {
            for name in names {
                std::os::unix::fs::symlink("/usr/bin/distcc", allow_dir.join(name)).unwrap();
            }
        }
        let port = free_port();
        let log = dir.path().join("distccd.log");
        let stderr = File::create(dir.path().join("stderr")).unwrap();
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(distccd_bin());
                c
            }
            None => Command::new(distccd_bin()),
        };
        cmd.args(["--daemon", "--no-detach", "--listen", listen])
            .args(["--port", &port.to_string()]);
        for a in allow {
            cmd.args(["--allow", a]);
        }
        cmd.arg("--allowed-compilers")
            .arg(&allow_dir)
            .arg("--log-file")
            .arg(&log)
            .args(["--log-level", "info"])
            .args(extra)
            .env("TMPDIR", &jobs)
            .envs(env.iter().copied());
        if let Some((bin, _)) = compilers {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![bin.to_path_buf()];
            dirs.extend(std::env::split_paths(&path));
            cmd.env("PATH", std::env::join_paths(dirs).unwrap());
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .expect("starting distccd");
        let mut d = OurDaemon {
            port,
            dir,
            jobs,
            child: Some(child),
        };
        // Where the test cannot connect (another namespace), the log says when it listens.
        let loopback = netns.is_none()
            && listen
                .parse::<std::net::IpAddr>()
                .is_ok_and(|a| a.is_loopback());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(Ok(Some(st))) = d.child.as_mut().map(|c| c.try_wait()) {
                panic!("distccd exited at start-up ({st}): {}", d.stderr_text());
            }
            // The port accepts (into the kernel's backlog) as soon as it is bound, before the
            // daemon drops root, probes its sandbox and opens its signal pipe; the log line
            // comes once all that is done, so tests that count its descriptors see them all.
            let up = d.log_text().contains("listening on")
                && (!loopback || TcpStream::connect((listen, port)).is_ok());
            if up {
                break;
            }
            assert!(Instant::now() < deadline, "distccd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to distccd");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s
    }

    pub fn jobs_dir(&self) -> PathBuf {
        self.jobs.clone()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("distccd.log")).unwrap_or_default()
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Waits until the log contains `needle` (logs are written after the reply is sent).
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let t = self.log_text();
            if t.contains(needle) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "log never showed {needle:?}:\n{t}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `sig` to the daemon process alone (not its compilers' groups).
    pub fn signal(&self, sig: libc::c_int) {
        if let Some(c) = &self.child {
            // SAFETY: signals the daemon we started (not yet reaped while we own it).
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("daemon still owned");
        // SAFETY: signals the daemon we started.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        c.wait().expect("waiting for distccd")
    }
}

impl Drop for OurDaemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            crate::proc::stop_group(&mut c, Duration::from_secs(5));
        }
    }
}
