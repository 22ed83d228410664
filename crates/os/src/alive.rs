//! Whether a process still exists, asked with signal 0 (nothing is delivered). Callers decide
//! what a vanished process means; this module only asks the kernel.

use std::io;

/// True if a process with this pid exists, including one owned by another user (the kernel
/// answers EPERM for those). Pid 0 and values that are not positive `pid_t`s are never a
/// process: `kill` would read them as "my process group" or "every process".
pub fn process_exists(pid: u64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 performs only the existence and permission checks.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
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
