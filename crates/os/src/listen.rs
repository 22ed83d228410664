//! The wait at the top of every accept loop (the daemon's port, its stats port, the include
//! server's socket) and before every refill of a daemon's request: a descriptor ready to read
//! (a connection to accept, bytes of a request), or a shutdown request on a pipe, whichever
//! comes first. Reading, accepting, and what either means, is the caller's business.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// What [`wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The descriptor is readable: a connection waiting, bytes, end of file, or an error
    /// for the next accept or read to report.
    Ready,
    /// `shutdown` became readable (or hung up): stop accepting.
    Shutdown,
    /// The timeout passed first.
    TimedOut,
}

/// Waits until `fd` is readable or `shutdown` is, or `timeout` passes when given. A shutdown
/// wins over a ready `fd`; a wait interrupted by a signal is resumed. A negative `shutdown`
/// is never readable (poll ignores it). A zero timeout only looks, without waiting; any
/// other timeout waits at least a millisecond.
pub fn wait(fd: RawFd, shutdown: RawFd, timeout: Option<Duration>) -> io::Result<Wake> {
    let ms = match timeout {
        None => -1,
        Some(t) if t.is_zero() => 0,
        Some(t) => t.as_millis().clamp(1, i32::MAX as u128) as i32,
    };
    loop {
        let mut fds = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: shutdown,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of two pollfds for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(if fds[1].revents != 0 {
            Wake::Shutdown
        } else if n == 0 {
            Wake::TimedOut
        } else {
            Wake::Ready
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    #[test]
    fn connection_timeout_and_shutdown() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut p = [0; 2];
        // SAFETY: `p` has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        let short = Some(Duration::from_millis(20));
        assert_eq!(wait(l.as_raw_fd(), p[0], short).unwrap(), Wake::TimedOut);
        let look = Some(Duration::ZERO);
        assert_eq!(wait(l.as_raw_fd(), p[0], look).unwrap(), Wake::TimedOut);
        let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        assert_eq!(wait(l.as_raw_fd(), p[0], None).unwrap(), Wake::Ready);
        assert_eq!(wait(l.as_raw_fd(), p[0], look).unwrap(), Wake::Ready);
        // SAFETY: writing one byte from a valid buffer to our own pipe.
        assert_eq!(unsafe { libc::write(p[1], b"x".as_ptr().cast(), 1) }, 1);
        assert_eq!(wait(l.as_raw_fd(), p[0], None).unwrap(), Wake::Shutdown);
        // SAFETY: closing the descriptors we made.
        unsafe {
            libc::close(p[0]);
            libc::close(p[1]);
        }
    }
}
