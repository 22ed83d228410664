//! The byte stream one exchange runs over: a TCP connection to a daemon, or the socket pair
//! on an ssh child's standard input and output. `remote` speaks the protocol over a
//! [`Stream`] without knowing which; opening and closing belong to `remote` (TCP) and `ssh`.
//!
//! Both kinds carry `DISTCC_IO_TIMEOUT` as socket read and write timeouts, so a stalled peer
//! (a daemon, or an ssh whose far side went quiet) ends the exchange the same way.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A connected byte stream to a server.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    /// Our end of the socket pair whose other end is ssh's stdin and stdout.
    Ssh(UnixStream),
}

impl Stream {
    /// Sets the timeout of every single read and write.
    pub fn set_io_timeout(&self, t: Duration) {
        // A zero timeout is an error for sockets; callers never pass one (config rejects it).
        let t = Some(t.max(Duration::from_millis(1)));
        let _ = match self {
            Stream::Tcp(s) => s.set_read_timeout(t).and(s.set_write_timeout(t)),
            Stream::Ssh(s) => s.set_read_timeout(t).and(s.set_write_timeout(t)),
        };
    }

    /// Reads what has already arrived, without waiting: `None` when nothing has (or on any
    /// error). The stream is blocking again afterwards.
    pub fn read_ready(&self, buf: &mut [u8]) -> Option<usize> {
        let set = |on: bool| match self {
            Stream::Tcp(s) => s.set_nonblocking(on),
            Stream::Ssh(s) => s.set_nonblocking(on),
        };
        set(true).ok()?;
        let got = (&*self).read(buf);
        let _ = set(false);
        got.ok().filter(|n| *n > 0)
    }

    /// `TCP_CORK` on or off; nothing for ssh, whose own buffering decides the packets.
    pub fn cork(&self, on: bool) {
        let Stream::Tcp(stream) = self else {
            return;
        };
        os::tcp::set_cork(stream.as_raw_fd(), on);
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match *self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Ssh(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Ssh(s) => (&*s).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unix_stream_reads_writes_and_times_out() {
        let (a, b) = UnixStream::pair().unwrap();
        let s = Stream::Ssh(a);
        s.set_io_timeout(Duration::from_millis(50));
        (&s).write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        (&b).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        let mut buf = [0u8; 1];
        let e = (&s).read(&mut buf).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{e:?}"
        );
        s.cork(true);
    }
}
