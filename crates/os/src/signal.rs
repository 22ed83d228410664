//! A shutdown request from SIGTERM or SIGINT, visible as a readable descriptor.
//!
//! The handler only writes one byte to a pipe (async-signal-safe). The pipe is never read,
//! so once a signal has arrived its read end stays readable: any number of threads can put
//! it in their `poll` set and all of them wake up. What a shutdown means is the caller's
//! decision.

use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

static WRITE_FD: AtomicI32 = AtomicI32::new(-1);
static READ_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_sig: libc::c_int) {
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking, a full pipe is fine.
        unsafe {
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
    }
}

/// Installs the SIGTERM/SIGINT handlers (once) and ignores SIGPIPE, so a peer that hangs up
/// shows as `EPIPE` instead of killing the process. Returns the descriptor that becomes
/// readable on shutdown.
pub fn install_shutdown_handlers() -> io::Result<BorrowedFd<'static>> {
    let existing = READ_FD.load(Ordering::Acquire);
    if existing >= 0 {
        // SAFETY: the pipe is never closed once installed.
        return Ok(unsafe { BorrowedFd::borrow_raw(existing) });
    }
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds has room for the two descriptors pipe2 returns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    WRITE_FD.store(fds[1], Ordering::Release);
    READ_FD.store(fds[0], Ordering::Release);
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: sigaction with a handler that only calls write(2).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    ignore_sigpipe();
    // SAFETY: the pipe stays open for the life of the process.
    Ok(unsafe { BorrowedFd::borrow_raw(fds[0]) })
}

/// Ignores SIGPIPE for the whole process. Children get the default back on exec.
pub fn ignore_sigpipe() {
    // SAFETY: plain syscall.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// True once a shutdown signal has arrived.
pub fn shutdown_requested() -> bool {
    let fd = READ_FD.load(Ordering::Acquire);
    if fd < 0 {
        return false;
    }
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut p, 1, 0) == 1 }
}

/// Raises a shutdown as if a signal had arrived (for `--lifetime` and tests).
pub fn request_shutdown() {
    on_signal(0);
}
