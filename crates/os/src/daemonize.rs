//! Detaching from the terminal the way classic Unix daemons (and distccd 3.4) do.
//!
//! Must run before any thread starts: `fork` copies only the calling thread.

use std::io;

/// Forks twice with a `setsid` between, so the survivor is not a session leader and can never
/// reacquire a controlling terminal; the original process and the intermediate one exit 0,
/// the original only after the intermediate (so the daemon is in its own session by then).
/// Standard input, output and error are pointed at `/dev/null`, and the working directory at
/// `/`. Returns in the detached grandchild only.
pub fn detach() -> io::Result<()> {
    // SAFETY: single-threaded at this point (documented precondition); plain syscalls.
    unsafe {
        match libc::fork() {
            -1 => return Err(io::Error::last_os_error()),
            0 => {}
            pid => {
                // Exit only once the intermediate has left our session and process group
                // (it exits right after its own fork): whoever started us may kill our
                // group as soon as we are gone (`process::Child` does), and must not catch
                // the daemon in it.
                let mut status = 0;
                while libc::waitpid(pid, &mut status, 0) == -1
                    && *libc::__errno_location() == libc::EINTR
                {}
                libc::_exit(0)
            }
        }
        if libc::setsid() == -1 {
            return Err(io::Error::last_os_error());
        }
        match libc::fork() {
            -1 => return Err(io::Error::last_os_error()),
            0 => {}
            _ => libc::_exit(0),
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        }
        libc::chdir(c"/".as_ptr());
    }
    Ok(())
}

/// Lowers the scheduling priority of the whole process by `increment` (as `nice(1)`).
pub fn nice(increment: i32) -> io::Result<()> {
    // SAFETY: plain syscall; errno must be cleared because -1 is a valid return value.
    unsafe {
        *libc::__errno_location() = 0;
        if libc::nice(increment) == -1 && *libc::__errno_location() != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
