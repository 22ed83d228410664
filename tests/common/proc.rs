//! Stopping what a test started in a process group of its own (`process_group(0)`): a
//! daemon and its children, sshd, Avahi. Included by `tests/it` and `tests/interop`.

#![allow(dead_code)]

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// SIGTERM to `child`'s process group, up to `grace` for `child` to exit, then SIGKILL to
/// whatever is left of the group; reaps `child` and returns how it ended.
pub fn stop_group(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    let group = -(child.id() as libc::pid_t);
    // SAFETY: kill(2) on the process group of a child this test started (and has not reaped)
    // in a group of its own; it touches no memory.
    unsafe { libc::kill(group, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above; what did not stop is killed outright.
    unsafe { libc::kill(group, libc::SIGKILL) };
    child.wait().ok()
}
