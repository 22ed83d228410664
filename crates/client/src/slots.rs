//! Slot choice: which host runs the next job, using 3.4's lock files so that C and Rust
//! clients on one machine share the same slots.
//!
//! A slot is `$DISTCC_DIR/lock/cpu_<host>_<n>` held with an fcntl write lock for as long as
//! the job uses the host. The search is breadth-first in host-list order (slot 0 of every
//! host, then slot 1, …); when nothing is free the client sleeps `DISTCC_PAUSE_TIME_MSEC` and
//! tries again. The interface is two calls ([`acquire`], [`acquire_local`]) so that a smarter
//! scheduler can replace the waiting without touching the rest of the client.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use os::lock::FileLock;

use crate::hosts::Host;

/// 3.4 never looks past slot 50 of any host.
const MAX_SLOTS: u32 = 50;

/// A held slot: released when dropped.
#[derive(Debug)]
pub struct Slot {
    /// Index into the candidate list given to [`acquire`].
    pub host: usize,
    /// Slot number on that host.
    pub n: u32,
    _lock: FileLock,
}

fn lock_path(lock_dir: &Path, stem: &str, n: u32) -> PathBuf {
    lock_dir.join(format!("cpu_{stem}_{n}"))
}

/// Takes the first free slot among `hosts`, breadth-first, waiting `pause` between rounds.
/// `on_wait` is called once before the first sleep (to note the blocked state).
pub fn acquire(
    lock_dir: &Path,
    hosts: &[&Host],
    pause: Duration,
    mut on_wait: impl FnMut(),
) -> io::Result<Slot> {
    let deepest = hosts
        .iter()
        .map(|h| h.slots)
        .max()
        .unwrap_or(0)
        .min(MAX_SLOTS);
    let mut waited = false;
    loop {
        for n in 0..deepest {
            for (i, host) in hosts.iter().enumerate() {
                if n >= host.slots {
                    continue;
                }
                if let Some(lock) = FileLock::try_lock(&lock_path(lock_dir, &host.lock_stem(), n))?
                {
                    return Ok(Slot {
                        host: i,
                        n,
                        _lock: lock,
                    });
                }
            }
        }
        if !waited {
            on_wait();
            waited = true;
        }
        // A zero pause would spin a CPU that the compilers need.
        std::thread::sleep(pause.max(Duration::from_millis(1)));
    }
}

/// Takes one of `slots` local slots (`cpu_localhost_<n>`), the same files for compiling and
/// preprocessing as in 3.4, waiting as [`acquire`] does.
pub fn acquire_local(lock_dir: &Path, slots: u32, pause: Duration) -> io::Result<(u32, FileLock)> {
    loop {
        for n in 0..slots.clamp(1, MAX_SLOTS) {
            if let Some(lock) = FileLock::try_lock(&lock_path(lock_dir, "localhost", n))? {
                return Ok((n, lock));
            }
        }
        std::thread::sleep(pause.max(Duration::from_millis(1)));
    }
}
