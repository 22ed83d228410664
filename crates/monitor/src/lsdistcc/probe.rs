//! Probing one server address: is something listening on the distcc port, and (with a
//! compiler given) does it compile a tiny program?
//!
//! The test compile is the request 3.4's lsdistcc sends, built with `proto`: the compiler
//! named by `-p` compiling `int foo(){return 0;}` as `hello.c` to `hello.o`, in the protocol
//! chosen by `-P`. The server is up when it answers `DONE` in that protocol with a zero `STAT`
//! and then closes the connection, all within the compile timeout.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use proto::{
    Limits, PumpEntry, PumpEntryKind, RequestHead, Token, Version, read_reply, write_body,
    write_pump_entry, write_pump_file_count, write_request_head,
};

/// The program 3.4 compiles.
const PROGRAM: &[u8] = b"int foo(){return 0;}";

/// How one probe ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Up,
    /// Down, and why (for `-v`).
    Down(String),
}

/// What to do on the connection.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    /// `None`: report up without connecting (`-c0`).
    pub connect_timeout: Option<Duration>,
    /// Compiler and timeout of the test compile; `None`: connecting is enough.
    pub compile: Option<(String, Duration)>,
    pub protocol: Version,
}

/// The bytes of the test request.
pub fn test_request(compiler: &str, protocol: Version) -> Vec<u8> {
    let head = RequestHead {
        version: protocol,
        cwd: protocol.is_pump().then(|| b"/".to_vec()),
        ccid: None,
        cache_key: None,
        chunked: false,
        argv: [compiler, "-c", "hello.c", "-o", "hello.o"]
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect(),
    };
    let mut buf = Vec::new();
    write_request_head(&mut buf, &head);
    // Writing into a Vec cannot fail, and the body is far below the 4 GiB frame limit.
    let written = if protocol.is_pump() {
        write_pump_file_count(&mut buf, 1);
        write_pump_entry(
            &mut buf,
            &PumpEntry {
                name: b"/hello.c".to_vec(),
                kind: PumpEntryKind::File(PROGRAM.to_vec()),
            },
        )
    } else {
        write_body(&mut buf, Token::DOTI, protocol.compression(), PROGRAM)
    };
    debug_assert!(written.is_ok());
    buf
}

/// Probes `addr` as `spec` says.
pub fn probe(addr: SocketAddr, spec: &ProbeSpec) -> Verdict {
    let Some(connect_timeout) = spec.connect_timeout else {
        return Verdict::Up;
    };
    let stream = match TcpStream::connect_timeout(&addr, connect_timeout) {
        Ok(s) => s,
        Err(e) => return Verdict::Down(format!("connect failed: {e}")),
    };
    let Some((compiler, timeout)) = &spec.compile else {
        return Verdict::Up;
    };
    match test_compile(stream, compiler, spec.protocol, *timeout) {
        Ok(()) => Verdict::Up,
        Err(why) => Verdict::Down(why),
    }
}

fn test_compile(
    stream: TcpStream,
    compiler: &str,
    protocol: Version,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut conn = Deadlined { stream, deadline };
    conn.write_all(&test_request(compiler, protocol))
        .map_err(|e| format!("sending the test compile failed: {e}"))?;
    // Small caps: a real answer to this request is a few hundred bytes.
    let limits = Limits {
        max_body: 1024 * 1024,
        max_unpacked: 4 * 1024 * 1024,
        ..Limits::DEFAULT
    };
    let reply = read_reply(&mut conn, protocol, &limits)
        .map_err(|e| format!("bad answer to the test compile: {e}"))?;
    if reply.status != 0 {
        return Err(format!(
            "test compile failed: status {:#x}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.stderr).trim_end()
        ));
    }
    // 3.4 counts the server as up only once it closes the connection.
    let _ = conn.stream.shutdown(Shutdown::Write);
    let mut rest = [0u8; 1024];
    let mut extra = 0usize;
    loop {
        match conn.read(&mut rest) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                extra += n;
                if extra > 1024 * 1024 {
                    return Err("server keeps sending after its answer".into());
                }
            }
            Err(e) => return Err(format!("waiting for the server to close: {e}")),
        }
    }
}

/// A stream whose every read and write must finish by one deadline.
struct Deadlined {
    stream: TcpStream,
    deadline: Instant,
}

impl Deadlined {
    fn remaining(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "compile timeout expired",
            ));
        }
        Ok(left)
    }
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.remaining()?;
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

impl Write for Deadlined {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.remaining()?;
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Whether the first `bits` bits of two addresses agree (3.4's `-m`). Addresses of different
/// families never match.
pub fn prefix_matches(a: &std::net::IpAddr, b: &std::net::IpAddr, bits: u8) -> bool {
    let (a, b) = match (a, b) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(b)) => {
            (u128::from(a.to_bits()) << 96, u128::from(b.to_bits()) << 96)
        }
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(b)) => (a.to_bits(), b.to_bits()),
        _ => return bits == 0,
    };
    if bits == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - u32::from(bits.min(128)));
    (a ^ b) & mask == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, TcpListener};

    #[test]
    fn v1_request_is_3_4_canned_query() {
        let expected = b"DIST00000001ARGC00000005ARGV00000003gccARGV00000002-c\
ARGV00000007hello.cARGV00000002-oARGV00000007hello.oDOTI00000014int foo(){return 0;}";
        assert_eq!(test_request("gcc", Version::V1), expected.to_vec());
    }

    #[test]
    fn v3_request_sends_hello_c_in_cdir_root() {
        let r = test_request("cc", Version::V3);
        let text = String::from_utf8_lossy(&r);
        assert!(text.starts_with("DIST00000003CDIR00000001/ARGC00000005ARGV00000002cc"));
        assert!(text.contains("NFIL00000001NAME00000008/hello.cFILE"));
    }

    #[test]
    fn prefix_match() {
        let a = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
        let b = IpAddr::V4(Ipv4Addr::new(10, 1, 200, 3));
        assert!(prefix_matches(&a, &b, 16));
        assert!(!prefix_matches(&a, &b, 17));
        assert!(prefix_matches(&a, &b, 0));
    }

    #[test]
    fn connect_refused_is_down_and_listening_is_up() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let spec = ProbeSpec {
            connect_timeout: Some(Duration::from_millis(500)),
            compile: None,
            protocol: Version::V1,
        };
        assert_eq!(probe(addr, &spec), Verdict::Up);
        drop(l);
        assert!(matches!(probe(addr, &spec), Verdict::Down(_)));
        let no_connect = ProbeSpec {
            connect_timeout: None,
            ..spec
        };
        assert_eq!(probe(addr, &no_connect), Verdict::Up);
    }

    #[test]
    fn silent_server_times_out_as_down() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let spec = ProbeSpec {
            connect_timeout: Some(Duration::from_millis(500)),
            compile: Some(("gcc".into(), Duration::from_millis(200))),
            protocol: Version::V1,
        };
        let t = Instant::now();
        assert!(matches!(probe(addr, &spec), Verdict::Down(_)));
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}
