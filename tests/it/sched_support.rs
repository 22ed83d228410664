//! For the scheduling tests (tests/it/sched.rs, tests/interop/sched.rs): Debian's distccd 3.4
//! on loopback whose `cc` is a wrapper that takes a while and logs when each job ran, so a
//! test can see the order of jobs and whether two ever shared a slot; and a look at the
//! client's waiting line.
//!
//! distccd 3.4 allow-lists a compiler by basename (`/usr/lib/distcc/cc` exists) and then runs
//! `cc` from its own PATH, so the wrapper goes first on the daemon's PATH only; clients
//! preprocess with the real `cc`. 3.4 drops every PATH entry whose name contains "distcc"
//! (its guard against masquerade loops), so the wrapper lives in a directory named without it.

#![allow(dead_code)]

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::support::{TempDir, free_port, wait_listening, which};

/// distccd 3.4 with a slow, logging `cc`; killed (with its process group) when dropped.
pub struct SlowDaemon {
    pub port: u16,
    pub jobs_log: PathBuf,
    child: Child,
    dir: TempDir,
    bin: PathBuf,
}

impl SlowDaemon {
    /// `jobs` daemon slots; every compile sleeps `sleep_ms` before running gcc.
    pub fn start(jobs: u32, sleep_ms: u32) -> SlowDaemon {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = TempDir::new("sched-daemon");
        let bin = std::env::temp_dir().join(format!(
            "slow-cc-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let jobs_log = dir.path().join("jobs.log");
        File::create(&jobs_log).unwrap();
        // The daemon may run as nobody when the tests run as root.
        std::fs::set_permissions(&jobs_log, std::fs::Permissions::from_mode(0o666)).unwrap();
        let gcc = which("gcc").expect("gcc");
        let script = format!(
            "#!/bin/sh\n\
             echo \"start $(date +%s%N) $$\" >> '{log}'\n\
             sleep {secs}\n\
             '{gcc}' \"$@\"\n\
             rc=$?\n\
             echo \"end $(date +%s%N) $$\" >> '{log}'\n\
             exit $rc\n",
            log = jobs_log.display(),
            secs = f64::from(sleep_ms) / 1000.0,
            gcc = gcc.display(),
        );
        let cc = bin.join("cc");
        std::fs::write(&cc, script).unwrap();
        std::fs::set_permissions(&cc, std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = free_port();
        let stderr = File::create(dir.path().join("distccd.log")).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new(which("distccd").expect("distccd"))
            .args([
                "--daemon",
                "--no-detach",
                "--log-stderr",
                "--log-level",
                "warning",
            ])
            .args(["--port", &port.to_string(), "--listen", "127.0.0.1"])
            .args(["--allow", "127.0.0.1/32", "--jobs", &jobs.to_string()])
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .expect("starting distccd");
        let mut d = SlowDaemon {
            port,
            jobs_log,
            child,
            dir,
            bin,
        };
        let log = d.dir.path().join("distccd.log");
        wait_listening(&mut d.child, port, "distccd 3.4", Some(&log));
        d
    }

    /// The `DISTCC_HOSTS` entry with `slots` client slots.
    pub fn host(&self, slots: u32) -> String {
        format!("127.0.0.1:{}/{slots}", self.port)
    }

    /// (start, end) of every finished job, in ns of the realtime clock, sorted by start.
    pub fn intervals(&self) -> Vec<(u128, u128)> {
        let text = std::fs::read_to_string(&self.jobs_log).unwrap_or_default();
        let mut starts = std::collections::HashMap::new();
        let mut out = Vec::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let (Some(kind), Some(t), Some(pid)) = (f.first(), f.get(1), f.get(2)) else {
                continue;
            };
            let Ok(t) = t.parse::<u128>() else { continue };
            match *kind {
                "start" => {
                    starts.insert(pid.to_string(), t);
                }
                "end" => {
                    if let Some(s) = starts.remove(*pid) {
                        out.push((s, t));
                    }
                }
                _ => {}
            }
        }
        out.sort();
        out
    }

    /// How many jobs have started.
    pub fn started(&self) -> usize {
        std::fs::read_to_string(&self.jobs_log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("start "))
            .count()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SlowDaemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the daemon's own process group, created at spawn.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.bin);
    }
}

/// Asserts that no two jobs overlapped: one slot was never used twice at once.
pub fn assert_no_overlap(intervals: &[(u128, u128)]) {
    for w in intervals.windows(2) {
        assert!(
            w[1].0 >= w[0].1,
            "two jobs ran at once on a one-slot host: {:?}",
            intervals
        );
    }
}

/// The longest gap between one job's end and the next one's start, in ms.
pub fn longest_handover_ms(intervals: &[(u128, u128)]) -> u128 {
    intervals
        .windows(2)
        .map(|w| w[1].0.saturating_sub(w[0].1) / 1_000_000)
        .max()
        .unwrap_or(0)
}

/// How many clients wait in the remote queue of `distcc_dir`.
pub fn waiting(distcc_dir: &Path) -> usize {
    std::fs::read_dir(distcc_dir.join("sched").join("remote"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0)
}

/// Polls `cond` every 10 ms for at most `secs` seconds.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
