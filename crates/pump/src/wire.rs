//! The include server's side of the exchange with a distcc client. The bytes are
//! `proto::include_server`'s (3.4's `dcc_talk_to_include_server`); here a request becomes
//! text, since the analysis works on UTF-8 paths, and a reply is written.
//!
//! What it leaves to others: what the names are.

use std::io::{Read, Write};

use proto::include_server::{self, Caps};
use proto::{Limits, ProtoError, Token};

/// One request: the client's working directory and command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub cwd: String,
    pub argv: Vec<String>,
}

/// Reads one request, capped by `limits`' command-line caps; a string that is not UTF-8 is
/// malformed.
pub fn read_request<R: Read>(r: &mut R, limits: &Limits) -> Result<Request, ProtoError> {
    let raw = include_server::read_request(r, &Caps::request(limits))?;
    let text = |v: Vec<u8>, token| {
        String::from_utf8(v).map_err(|_| ProtoError::Malformed {
            token,
            why: "not UTF-8",
        })
    };
    Ok(Request {
        cwd: text(raw.cwd, Token::CDIR)?,
        argv: raw
            .argv
            .into_iter()
            .map(|a| text(a, Token::ARGV))
            .collect::<Result<_, _>>()?,
    })
}

/// Writes the reply naming `names` (none: "gave up").
pub fn write_reply<W: Write>(w: &mut W, names: &[String]) -> std::io::Result<()> {
    w.write_all(&include_server::encode_reply(names))?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_text() {
        let b = include_server::encode_request(b"/w", &["gcc", "-c"]);
        let req = read_request(&mut &b[..], &Limits::DEFAULT).unwrap();
        assert_eq!(
            req,
            Request {
                cwd: "/w".into(),
                argv: vec!["gcc".into(), "-c".into()],
            }
        );
        let b = include_server::encode_request(b"/w", &[&b"gcc\xff"[..]]);
        assert!(read_request(&mut &b[..], &Limits::DEFAULT).is_err());
        let mut out = Vec::new();
        write_reply(&mut out, &[]).unwrap();
        assert_eq!(out, b"ARGC00000000");
    }
}
