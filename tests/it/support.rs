//! Helpers shared by the `it` tests: tool checks that fail under `CI=true`, temp dirs that an
//! unprivileged daemon can use, and our `distccd` on a free loopback port, stopped on drop.

#![allow(dead_code)]

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral loopback port")
}

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
    child: Option<Child>,
}

impl OurDaemon {
    pub fn start(extra: &[&str]) -> OurDaemon {
        let dir = TempDir::new("distccd");
        let allow = dir.path().join("allow");
        let jobs = dir.path().join("jobs");
        std::fs::create_dir(&allow).unwrap();
        std::fs::create_dir(&jobs).unwrap();
        std::fs::set_permissions(&jobs, std::fs::Permissions::from_mode(0o1777)).unwrap();
        for name in [
            "gcc",
            "g++",
            "cc",
            "c++",
            "x86_64-linux-gnu-gcc",
            "x86_64-linux-gnu-g++",
        ] {
            std::os::unix::fs::symlink("/usr/bin/distcc", allow.join(name)).unwrap();
        }
        let port = free_port();
        let log = dir.path().join("distccd.log");
        let stderr = File::create(dir.path().join("stderr")).unwrap();
        let child = Command::new(distccd_bin())
            .args(["--daemon", "--no-detach", "--listen", "127.0.0.1"])
            .args(["--port", &port.to_string(), "--allow", "127.0.0.1/32"])
            .arg("--allowed-compilers")
            .arg(&allow)
            .arg("--log-file")
            .arg(&log)
            .args(["--log-level", "info"])
            .args(extra)
            .env("TMPDIR", &jobs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .expect("starting distccd");
        let mut d = OurDaemon {
            port,
            dir,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(Ok(Some(st))) = d.child.as_mut().map(|c| c.try_wait()) {
                panic!("distccd exited at start-up ({st}): {}", d.stderr_text());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
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
        self.dir.path().join("jobs")
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
            let group = -(c.id() as libc::pid_t);
            // SAFETY: the daemon's own process group, created at spawn.
            unsafe { libc::kill(group, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // SAFETY: as above.
            unsafe { libc::kill(group, libc::SIGKILL) };
            let _ = c.wait();
        }
    }
}
