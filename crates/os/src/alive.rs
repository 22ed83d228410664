//! Whether a process still exists, asked with signal 0 (nothing is delivered), and a process
//! that has exited but not been reaped (a zombie) counts as gone. Callers decide what a
//! vanished process means; this module only asks the kernel.

use std::io;

/// True if a process with this pid exists and has not exited, including one owned by
/// another user (the kernel answers EPERM for those). Pid 0 and values that are not positive
/// `pid_t`s are never a process: `kill` would read them as "my process group" or "every
/// process".
///
/// A zombie answers signal 0 like a live process, but it will never do anything again. It
/// stays a zombie for as long as its parent does not reap it, which for a daemon that forked
/// itself away is whatever adopted it (a subreaper such as a build tool, a container's init,
/// a user's service manager): waiting for such a pid to vanish would wait for that parent.
pub fn process_exists(pid: u64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 performs only the existence and permission checks.
    let exists = unsafe { libc::kill(pid, 0) } == 0
        || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !is_zombie(pid)
}

/// True if /proc says `pid` has exited and waits to be reaped. Without a readable /proc the
/// answer is no: the caller then falls back to signal 0 alone.
fn is_zombie(pid: libc::pid_t) -> bool {
    let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ...": comm may hold spaces and parentheses, so the state is the first
    // field after the last ')'.
    let Some(close) = stat.iter().rposition(|b| *b == b')') else {
        return false;
    };
    matches!(stat.get(close + 2), Some(b'Z' | b'X'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_exists() {
        assert!(process_exists(u64::from(std::process::id())));
    }

    #[test]
    fn init_exists_even_if_not_ours() {
        assert!(process_exists(1));
    }

    #[test]
    fn zero_negative_and_huge_pids_do_not() {
        assert!(!process_exists(0));
        assert!(!process_exists(u64::MAX));
        assert!(!process_exists(u64::from(u32::MAX)));
    }

    #[test]
    fn an_unreaped_child_does_not() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawning true");
        let pid = u64::from(child.id());
        // Exited but not reaped: a zombie until the wait below.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while process_exists(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "a child that exited still counts as running"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            is_zombie(pid as libc::pid_t),
            "the child was reaped by someone else"
        );
        child.wait().expect("waiting for true");
    }

    #[test]
    fn a_reaped_child_does_not() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawning true");
        let pid = u64::from(child.id());
        child.wait().expect("waiting for true");
        // The pid could in theory be reused at once; on a quiet test machine it is not.
        assert!(!process_exists(pid));
    }
}
