//! One exchange with a server: connect (TCP within 4 s, or an ssh child through `ssh`),
//! send the head while the local preprocessor still runs, then the preprocessed source (or, in
//! pump mode, the head and the include server's file list), then read the reply, with
//! `DISTCC_IO_TIMEOUT` on every read and write. The protocol is spoken over a [`Stream`],
//! whichever the transport. Every way this can fail is a
//! [`CommFailure`]: the caller backs the host off and tries elsewhere.

use std::io::{BufReader, BufWriter, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use os::exit::ExitCode;
use proto::{Limits, Reply, RequestHead, Token};

use crate::hosts::{Host, Transport};
use crate::log::Log;
use crate::ssh;
use crate::transport::Stream;

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

/// How to reach servers: what every attempt needs besides the job.
pub struct Link<'a> {
    pub io_timeout: Duration,
    /// `DISTCC_TCP_CORK`.
    pub cork: bool,
    pub ssh: &'a ssh::Settings,
    pub log: &'a Log,
}

/// What follows the command line in a request.
pub enum Body<'a> {
    /// Protocol 1 or 2 (a `,cpp` host gets 2): the preprocessed source, from a function
    /// that blocks until the local preprocessor is done and returns it, or `None` if it
    /// failed.
    Preprocessed(&'a mut dyn FnMut() -> Option<Vec<u8>>),
    /// Protocol 3 (pump): the working directory and the include server's file list.
    Pump {
        cwd: &'a [u8],
        closure: &'a crate::pump::Closure,
    },
}

/// Runs one job on `host`.
pub fn attempt(
    host: &Host,
    argv: &[Vec<u8>],
    link: &Link<'_>,
    progress: &mut dyn Progress,
    body: &mut Body<'_>,
) -> Attempt {
    match &host.transport {
        Transport::Tcp { host: name, port } => {
            progress.connecting();
            let stream = match connect(name, *port) {
                Ok(s) => Stream::Tcp(s),
                Err(e) => return Attempt::Comm(e),
            };
            stream.set_io_timeout(link.io_timeout);
            exchange(&stream, host, argv, link.cork, progress, body)
        }
        Transport::Ssh {
            user,
            host: machine,
            command,
        } => {
            let target = ssh::Target {
                user: user.as_deref(),
                machine,
                command: command.as_deref(),
            };
            ssh::attempt(
                link.ssh,
                &target,
                link.io_timeout,
                link.log,
                &mut |stream| {
                    progress.connecting();
                    exchange(stream, host, argv, false, progress, body)
                },
            )
        }
        Transport::Reapi { url } => {
            crate::reapi::attempt(url, link.io_timeout, link.log, &mut |s| {
                progress.connecting();
                exchange(s, host, argv, false, progress, body)
            })
        }
        Transport::Local => unreachable!("callers run localhost jobs locally"),
        // `discover::expand` replaced every SRV entry before slots were chosen.
        Transport::Srv { name } => Attempt::Comm(fail(
            ExitCode::ConnectFailed,
            format!("SRV name {name} was not expanded"),
        )),
        Transport::Zeroconf => {
            Attempt::Comm(fail(ExitCode::ConnectFailed, "+zeroconf was not expanded"))
        }
    }
}

/// The protocol over a connected stream.
fn exchange(
    stream: &Stream,
    host: &Host,
    argv: &[Vec<u8>],
    cork: bool,
    progress: &mut dyn Progress,
    body: &mut Body<'_>,
) -> Attempt {
    let (version, cwd) = match body {
        Body::Pump { cwd, .. } => (proto::Version::V3, Some(cwd.to_vec())),
        // A `,cpp` host whose compile is preprocessed here gets protocol 2, as from 3.4.
        Body::Preprocessed(_) => match host.protocol() {
            proto::Version::V3 => (proto::Version::V2, None),
            v => (v, None),
        },
    };
    let mut head = Vec::new();
    proto::write_request_head(
        &mut head,
        &RequestHead {
            version,
            cwd,
            argv: argv.to_vec(),
        },
    );
    match body {
        Body::Pump { closure, .. } => {
            progress.sending();
            if cork {
                stream.cork(true);
            }
            let encoded = crate::pump::encode_files(&mut head, closure);
            if let Err(e) = encoded.and_then(|()| (&*stream).write_all(&head)) {
                return Attempt::Comm(io_failure("sending the request and its files", &e));
            }
        }
        Body::Preprocessed(wait_cpp) => {
            // The command line leaves now, ahead of the source, uncorked: our daemon starts
            // the compiler on it while the preprocessor still runs here.
            if let Err(e) = (&*stream).write_all(&head) {
                return Attempt::Comm(io_failure("sending the request", &e));
            }
            progress.preprocessing();
            let Some(source) = wait_cpp() else {
                return Attempt::CppFailed;
            };
            progress.sending();
            if cork {
                stream.cork(true);
            }
            let mut w = BufWriter::with_capacity(64 * 1024, stream);
            let sent = proto::write_body(&mut w, Token::DOTI, version.compression(), &source)
                .and_then(|()| w.flush());
            drop(w);
            if let Err(e) = sent {
                return Attempt::Comm(io_failure("sending the source", &e));
            }
        }
    }
    if cork {
        stream.cork(false);
    }
    progress.compiling();
    let mut r = BufReader::with_capacity(64 * 1024, stream);
    match proto::read_reply(&mut r, version, &Limits::DEFAULT) {
        Ok(reply) => {
            progress.receiving();
            Attempt::Reply(reply)
        }
        Err(proto::ProtoError::Io(e)) if timed_out(&e) => {
            Attempt::Comm(io_failure("waiting for the reply", &e))
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

/// True for what a socket timeout (`DISTCC_IO_TIMEOUT`) looks like.
fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// A failed read or write. A timeout says so in words (the OS's "resource temporarily
/// unavailable" explains nothing) and gets 3.4's timeout exit code.
fn io_failure(what: &str, e: &std::io::Error) -> CommFailure {
    if matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
    ) {
        // As 3.4 does, a daemon that refuses a job closes the connection: here while we
        // were still sending.
        fail(
            ExitCode::IoError,
            format!(
                "{what}: the server closed the connection ({e}); it may refuse this client, this compiler or these options"
            ),
        )
    } else if timed_out(e) {
        fail(
            ExitCode::Timeout,
            format!("{what}: timed out (no progress within DISTCC_IO_TIMEOUT)"),
        )
    } else {
        fail(ExitCode::IoError, format!("{what}: {e}"))
    }
}

/// Resolves `host` now (3.4 resolves on every call) and connects within [`CONNECT_TIMEOUT`].
fn connect(host: &str, port: u16) -> Result<TcpStream, CommFailure> {
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
                // The command line and the source go in two writes, some time apart; the
                // source must not wait for the acknowledgement of the command line (Nagle).
                let _ = s.set_nodelay(true);
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
