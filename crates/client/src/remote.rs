//! One exchange with a server over TCP: connect (4 s), send the head while the local
//! preprocessor still runs, then the preprocessed source, then read the reply, with
//! `DISTCC_IO_TIMEOUT` on every read and write. Every way this can fail is a
//! [`CommFailure`]: the caller backs the host off and tries elsewhere.
//!
//! SSH hosts are parsed but their transport is not written yet; an attempt on one is reported
//! as a communication failure that says so.

use std::io::{BufReader, BufWriter, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::Duration;

use os::exit::ExitCode;
use proto::{Limits, Reply, RequestHead, Token};

use crate::hosts::{Host, Transport};

/// 3.4's connect timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);

/// Why the host could not do the job. Never the user's code's fault.
#[derive(Debug)]
pub struct CommFailure {
    pub why: String,
    pub code: ExitCode,
}

fn fail(code: ExitCode, why: impl Into<String>) -> CommFailure {
    CommFailure {
        why: why.into(),
        code,
    }
}

/// The outcome of an attempt.
pub enum Attempt {
    Reply(Reply),
    /// The local preprocessor failed; the connection was dropped. Not the host's fault.
    CppFailed,
    Comm(CommFailure),
}

/// Things the exchange reports as it goes (monitor phases).
pub trait Progress {
    fn connecting(&mut self) {}
    fn preprocessing(&mut self) {}
    fn sending(&mut self) {}
    fn compiling(&mut self) {}
    fn receiving(&mut self) {}
}

/// Runs one job on `host`. `wait_cpp` blocks until the preprocessed source is ready and
/// returns it, or `None` if the preprocessor failed.
pub fn attempt(
    host: &Host,
    argv: &[Vec<u8>],
    io_timeout: Duration,
    cork: bool,
    progress: &mut dyn Progress,
    wait_cpp: &mut dyn FnMut() -> Option<Vec<u8>>,
) -> Attempt {
    let (name, port) = match &host.transport {
        Transport::Tcp { host, port } => (host.as_str(), *port),
        Transport::Ssh { .. } => {
            return Attempt::Comm(fail(
                ExitCode::ConnectFailed,
                "the ssh transport is not implemented yet",
            ));
        }
        Transport::Local => unreachable!("callers run localhost jobs locally"),
    };
    progress.connecting();
    let stream = match connect(name, port, io_timeout) {
        Ok(s) => s,
        Err(e) => return Attempt::Comm(e),
    };
    let version = host.protocol();
    // Pump (protocol 3) needs the include scanner, which is not written yet: such hosts get
    // protocol 2, which every 3.4 server speaks.
    let version = if version == proto::Version::V3 {
        proto::Version::V2
    } else {
        version
    };
    if cork {
        set_cork(&stream, true);
    }
    let mut head = Vec::new();
    proto::write_request_head(
        &mut head,
        &RequestHead {
            version,
            cwd: None,
            argv: argv.to_vec(),
        },
    );
    if let Err(e) = (&stream).write_all(&head) {
        return Attempt::Comm(fail(ExitCode::IoError, format!("sending the request: {e}")));
    }
    progress.preprocessing();
    let Some(source) = wait_cpp() else {
        return Attempt::CppFailed;
    };
    progress.sending();
    let mut w = BufWriter::with_capacity(64 * 1024, &stream);
    let sent = proto::write_body(&mut w, Token::DOTI, version.compression(), &source)
        .and_then(|()| w.flush());
    drop(w);
    if let Err(e) = sent {
        return Attempt::Comm(fail(ExitCode::IoError, format!("sending the source: {e}")));
    }
    if cork {
        set_cork(&stream, false);
    }
    progress.compiling();
    let mut r = BufReader::with_capacity(64 * 1024, &stream);
    match proto::read_reply(&mut r, version, &Limits::DEFAULT) {
        Ok(reply) => {
            progress.receiving();
            Attempt::Reply(reply)
        }
        Err(e) if e.is_disconnect() => Attempt::Comm(fail(
            ExitCode::IoError,
            format!(
                "server provided no answer or a truncated one ({e}); it may refuse this client, this compiler or these options"
            ),
        )),
        Err(e) => Attempt::Comm(fail(ExitCode::ProtocolError, format!("bad reply: {e}"))),
    }
}

/// Resolves `host` now (3.4 resolves on every call) and connects within [`CONNECT_TIMEOUT`].
fn connect(host: &str, port: u16, io_timeout: Duration) -> Result<TcpStream, CommFailure> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            fail(
                ExitCode::ConnectFailed,
                format!("cannot resolve {host}: {e}"),
            )
        })?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(io_timeout));
                let _ = s.set_write_timeout(Some(io_timeout));
                return Ok(s);
            }
            Err(e) => last = Some(format!("connect to {addr} failed: {e}")),
        }
    }
    Err(fail(
        ExitCode::ConnectFailed,
        last.unwrap_or_else(|| format!("{host} has no address")),
    ))
}

fn set_cork(stream: &TcpStream, on: bool) {
    let v: libc::c_int = on.into();
    // SAFETY: setsockopt on a socket we own, with a pointer to a live c_int of the right size.
    // A failure only costs packet efficiency, so it is ignored.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CORK,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}
