//! What every interop test needs: tool checks that fail under `CI=true`, free loopback ports,
//! temporary directories, and daemons (ours or Debian's 3.4) that stop when dropped.

#![allow(dead_code)]

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// True when running under CI, where a missing tool is a failure rather than a skip.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The absolute path of `tool` on PATH, if any.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Returns true when every tool is on PATH. Otherwise panics under `CI=true`, and outside CI
/// prints why the test is skipped and returns false.
pub fn require(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if ci() {
        panic!(
            "CI=true and required tools are missing: {}",
            missing.join(", ")
        );
    }
    eprintln!("skipping: missing {}", missing.join(", "));
    false
}

pub use crate::ports::{free_port, wait_listening};

/// A directory removed (with everything in it) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let base = std::env::var_os("TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        let path = base.join(format!(
            "distcc-rs-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        // Daemons started as root drop to an unprivileged user and must still reach the
        // files tests hand them.
        let _ = Command::new("chmod").arg("0777").arg(&path).status();
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

/// Which daemon implementation to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    Ours,
    Distcc34,
}

/// A daemon listening on a loopback port, killed when dropped.
pub struct Daemon {
    pub port: u16,
    pub log: PathBuf,
    child: Child,
    _dir: TempDir,
}

impl Daemon {
    /// Starts a daemon with `jobs` slots that accepts only 127.0.0.1. Its log (stderr) goes to
    /// a file the test can read: the file is opened here, so a daemon that drops root can
    /// still write it.
    pub fn start(which: Impl, jobs: u32) -> Daemon {
        Daemon::start_with(which, jobs, &[])
    }

    /// As `start`, with `extra` arguments for the daemon (for example `--stats`).
    pub fn start_with(which: Impl, jobs: u32, extra: &[&str]) -> Daemon {
        Daemon::start_env(which, jobs, extra, &[])
    }

    /// As `start_with`, with `env` added to the daemon's environment.
    pub fn start_env(
        which: Impl,
        jobs: u32,
        extra: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Daemon {
        let dir = TempDir::new("daemon");
        let log = dir.path().join("distccd.log");
        let port = free_port();
        let program = match which {
            Impl::Ours => PathBuf::from(env!("CARGO_BIN_EXE_distccd")),
            Impl::Distcc34 => which_or_panic("distccd"),
        };
        let stderr = File::create(&log).expect("creating the daemon log");
        let child = Command::new(program)
            .args([
                "--daemon",
                "--no-detach",
                "--log-stderr",
                "--log-level",
                "info",
            ])
            .args(["--port", &port.to_string(), "--listen", "127.0.0.1"])
            .args(["--allow", "127.0.0.1/32", "--jobs", &jobs.to_string()])
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            // Its own process group, so that 3.4's pre-forked children die with it.
            .process_group(0)
            .spawn()
            .expect("starting distccd");
        let mut d = Daemon {
            port,
            log,
            child,
            _dir: dir,
        };
        d.wait_ready();
        d
    }

    fn wait_ready(&mut self) {
        wait_listening(&mut self.child, self.port, "distccd", Some(&self.log));
    }

    /// The `DISTCC_HOSTS` entry for this daemon.
    pub fn host(&self, lzo: bool, limit: u32) -> String {
        let lzo = if lzo { ",lzo" } else { "" };
        format!("127.0.0.1:{}/{limit}{lzo}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Its own process group (`start` made it), so that 3.4's children go with it.
        crate::proc::stop_group(&mut self.child, Duration::from_secs(5));
    }
}

fn which_or_panic(tool: &str) -> PathBuf {
    which(tool).unwrap_or_else(|| panic!("{tool} is not installed"))
}
