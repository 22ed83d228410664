//! The exchange between a distcc client and the include server of pump mode, byte for byte as
//! 3.4's `dcc_talk_to_include_server` speaks it over the server's unix socket:
//!
//! - client → server: `CDIR` (length, then the cwd bytes), `ARGC n`, then n × `ARGV` (length,
//!   bytes) — the compiler command line, compiler first;
//! - server → client: `ARGC n`, then n × `ARGV` with the absolute names under the server's
//!   client root; `ARGC 00000000` means "gave up": the client preprocesses locally.
//!
//! No string may hold a NUL byte (3.4 passes them as C strings). Every count and length is
//! capped by the reader's [`Caps`]. What it leaves to others: what the names are.

use std::io::Read;

use crate::{Limits, ProtoError, Token, encode_header, read_expected};

/// The reader's caps on a list of strings: how many, how long each, how long all together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub max_count: u32,
    pub max_len: u32,
    pub max_total: u64,
}

impl Caps {
    /// A server reading a request: `Limits`' command-line caps.
    pub fn request(l: &Limits) -> Caps {
        Caps {
            max_count: l.max_argc,
            max_len: l.max_arg_len,
            max_total: l.max_argv_total,
        }
    }

    /// A client reading a reply: as many names as a pump request may carry files.
    pub fn reply(l: &Limits) -> Caps {
        Caps {
            max_count: l.max_files,
            max_len: l.max_arg_len,
            max_total: l.max_argv_total,
        }
    }
}

/// One request: the client's working directory and command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub cwd: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
}

/// The bytes of a request for `argv` run in `cwd`.
pub fn encode_request<A: AsRef<[u8]>>(cwd: &[u8], argv: &[A]) -> Vec<u8> {
    let mut buf = Vec::new();
    put(&mut buf, Token::CDIR, cwd);
    encode_list(&mut buf, argv);
    buf
}

/// Reads one request.
pub fn read_request<R: Read>(r: &mut R, caps: &Caps) -> Result<Request, ProtoError> {
    let mut total = 0;
    let cwd = read_string(r, Token::CDIR, caps, &mut total)?;
    let argv = read_list(r, caps, &mut total)?;
    Ok(Request { cwd, argv })
}

/// The bytes of a reply naming `names` (none: "gave up").
pub fn encode_reply<A: AsRef<[u8]>>(names: &[A]) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_list(&mut buf, names);
    buf
}

/// Reads one reply: the names, empty when the server gave up.
pub fn read_reply<R: Read>(r: &mut R, caps: &Caps) -> Result<Vec<Vec<u8>>, ProtoError> {
    read_list(r, caps, &mut 0)
}

fn put(buf: &mut Vec<u8>, token: Token, s: &[u8]) {
    encode_header(buf, token, u32::try_from(s.len()).unwrap_or(u32::MAX));
    buf.extend_from_slice(s);
}

fn encode_list<A: AsRef<[u8]>>(buf: &mut Vec<u8>, items: &[A]) {
    encode_header(
        buf,
        Token::ARGC,
        u32::try_from(items.len()).unwrap_or(u32::MAX),
    );
    for a in items {
        put(buf, Token::ARGV, a.as_ref());
    }
}

fn read_list<R: Read>(r: &mut R, caps: &Caps, total: &mut u64) -> Result<Vec<Vec<u8>>, ProtoError> {
    let n = read_expected(r, Token::ARGC)?;
    if n > caps.max_count {
        return Err(ProtoError::Malformed {
            token: Token::ARGC,
            why: "too many strings",
        });
    }
    (0..n)
        .map(|_| read_string(r, Token::ARGV, caps, total))
        .collect()
}

fn read_string<R: Read>(
    r: &mut R,
    token: Token,
    caps: &Caps,
    total: &mut u64,
) -> Result<Vec<u8>, ProtoError> {
    let len = read_expected(r, token)?;
    *total += u64::from(len);
    if len > caps.max_len || *total > caps.max_total {
        return Err(ProtoError::Malformed {
            token,
            why: "string too long",
        });
    }
    let mut v = Vec::with_capacity((len as usize).min(64 * 1024));
    if r.take(len.into()).read_to_end(&mut v)? != len as usize {
        return Err(ProtoError::Truncated { token });
    }
    if v.contains(&0) {
        return Err(ProtoError::Malformed {
            token,
            why: "contains a NUL byte",
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_bytes() {
        let b = encode_request(b"/w", &["gcc", "-c"]);
        assert_eq!(
            b,
            b"CDIR00000002/wARGC00000002ARGV00000003gccARGV00000002-c".to_vec()
        );
        let caps = Caps::request(&Limits::DEFAULT);
        let req = read_request(&mut &b[..], &caps).unwrap();
        assert_eq!(req.cwd, b"/w");
        assert_eq!(req.argv, [b"gcc".to_vec(), b"-c".to_vec()]);
        assert_eq!(encode_reply::<&[u8]>(&[]), b"ARGC00000000");
        assert!(read_request(&mut &b"CDIR00000009/w"[..], &caps).is_err());
        let reply = encode_reply(&["/r/a.h.lzo"]);
        let names = read_reply(&mut &reply[..], &Caps::reply(&Limits::DEFAULT)).unwrap();
        assert_eq!(names, [b"/r/a.h.lzo".to_vec()]);
    }

    #[test]
    fn caps_and_nul_bytes_are_refused() {
        let tight = Caps {
            max_count: 1,
            max_len: 4,
            max_total: 6,
        };
        assert!(read_reply(&mut &encode_reply(&["a", "b"])[..], &tight).is_err());
        assert!(read_reply(&mut &encode_reply(&["abcde"])[..], &tight).is_err());
        assert!(read_request(&mut &encode_request(b"abcd", &["abc"])[..], &tight).is_err());
        assert!(read_reply(&mut &encode_reply(&["a\0b"])[..], &tight).is_err());
    }
}
