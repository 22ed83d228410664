//! The exchange between a distcc client and the include server, byte for byte as 3.4's
//! `dcc_talk_to_include_server` speaks it over the unix socket:
//!
//! - client → server: `CDIR` (length, then the cwd bytes, no NUL), `ARGC n`, then n × `ARGV`
//!   (length, bytes) — the compiler command line, compiler first;
//! - server → client: `ARGC n`, then n × `ARGV` with the absolute names under the client
//!   root; `ARGC 00000000` means "gave up": the client preprocesses locally.
//!
//! Lengths are capped by `proto::Limits`. What it leaves to others: what the names are.

use std::io::{Read, Write};

use proto::{Limits, ProtoError, Token};

/// One request: the client's working directory and command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub cwd: String,
    pub argv: Vec<String>,
}

fn read_string<R: Read>(
    r: &mut R,
    token: Token,
    limits: &Limits,
    total: &mut u64,
) -> Result<String, ProtoError> {
    let len = proto::read_expected(r, token)?;
    *total += u64::from(len);
    if len > limits.max_arg_len || *total > limits.max_argv_total {
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
    String::from_utf8(v).map_err(|_| ProtoError::Malformed {
        token,
        why: "not UTF-8",
    })
}

/// Reads a request.
pub fn read_request<R: Read>(r: &mut R, limits: &Limits) -> Result<Request, ProtoError> {
    let mut total = 0;
    let cwd = read_string(r, Token::CDIR, limits, &mut total)?;
    let argc = proto::read_expected(r, Token::ARGC)?;
    if argc > limits.max_argc {
        return Err(ProtoError::Malformed {
            token: Token::ARGC,
            why: "too many arguments",
        });
    }
    let mut argv = Vec::with_capacity(argc.min(1024) as usize);
    for _ in 0..argc {
        argv.push(read_string(r, Token::ARGV, limits, &mut total)?);
    }
    Ok(Request { cwd, argv })
}

/// Encodes a request (what the client sends; for tests and our own client).
pub fn encode_request(req: &Request) -> Vec<u8> {
    let mut buf = Vec::new();
    put(&mut buf, Token::CDIR, req.cwd.as_bytes());
    encode_list(&mut buf, &req.argv);
    buf
}

fn put(buf: &mut Vec<u8>, token: Token, s: &[u8]) {
    // Paths and arguments are far below 4 GiB; the cap is the OS's PATH_MAX / ARG_MAX.
    proto::encode_header(buf, token, u32::try_from(s.len()).unwrap_or(u32::MAX));
    buf.extend_from_slice(s);
}

fn encode_list(buf: &mut Vec<u8>, items: &[String]) {
    proto::encode_header(
        buf,
        Token::ARGC,
        u32::try_from(items.len()).unwrap_or(u32::MAX),
    );
    for a in items {
        put(buf, Token::ARGV, a.as_bytes());
    }
}

/// Writes the reply: the names, or none to make the client preprocess locally.
pub fn write_reply<W: Write>(w: &mut W, names: &[String]) -> std::io::Result<()> {
    let mut buf = Vec::new();
    encode_list(&mut buf, names);
    w.write_all(&buf)?;
    w.flush()
}

/// Reads a reply (for tests and our own client).
pub fn read_reply<R: Read>(r: &mut R, limits: &Limits) -> Result<Vec<String>, ProtoError> {
    let n = proto::read_expected(r, Token::ARGC)?;
    if n > limits.max_files {
        return Err(ProtoError::Malformed {
            token: Token::ARGC,
            why: "too many files",
        });
    }
    let mut total = 0;
    (0..n)
        .map(|_| read_string(r, Token::ARGV, limits, &mut total))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_bytes() {
        let req = Request {
            cwd: "/w".into(),
            argv: vec!["gcc".into(), "-c".into()],
        };
        let b = encode_request(&req);
        assert_eq!(
            b,
            b"CDIR00000002/wARGC00000002ARGV00000003gccARGV00000002-c".to_vec()
        );
        assert_eq!(read_request(&mut &b[..], &Limits::DEFAULT).unwrap(), req);
        let mut out = Vec::new();
        write_reply(&mut out, &[]).unwrap();
        assert_eq!(out, b"ARGC00000000");
        assert!(read_request(&mut &b"CDIR00000009/w"[..], &Limits::DEFAULT).is_err());
    }
}
