//! `TCP_CORK`, shared by the client and the daemon: while corked, small writes (a request's or
//! a reply's headers) leave as full segments with the data after them, never held back by
//! Nagle waiting for the peer's delayed ACK; uncorking sends what is left at once.

use std::os::fd::RawFd;

/// Sets or clears `TCP_CORK` on `fd`. On anything that is not a TCP socket (an inetd pipe, an
/// ssh child's socket pair) it fails, and the failure is ignored: it only costs efficiency.
pub fn set_cork(fd: RawFd, on: bool) {
    let v: libc::c_int = on.into();
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live local; a descriptor that
    // is not a TCP socket only makes it return an error.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_CORK,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Sets `TCP_DEFER_ACCEPT` on a listening socket: the kernel hands a connection to `accept`
/// only once the client has sent data (or after about `secs` seconds of retransmissions).
pub fn set_defer_accept(fd: RawFd, secs: u32) -> std::io::Result<()> {
    let v = libc::c_int::try_from(secs).unwrap_or(libc::c_int::MAX);
    // SAFETY: as in `set_cork`: a live local of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
