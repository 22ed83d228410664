//! The advertisement our daemon appends after a protocol 1–3 reply: `ADVT <len>` and `len`
//! bytes of `key=value` lines, at most [`MAX_LEN`] bytes.
//!
//! distcc 3.4's client reads exactly the reply's elements and closes, so it never sees the
//! trailer; ours reads on after the reply until the trailer is whole or the stream ends (the
//! daemon sends the trailer in the same corked write and closes) and learns what the host can
//! do beyond 3.4 — the protocol 4 handshake that costs no round trip and never fails a
//! compile against a 3.4 daemon — and which compiler ran the job (`ran=`).
//! The keys are listed in docs/protocol-4.md; unknown keys are kept and ignored by callers.

use crate::error::ProtoError;
use crate::token::{HEADER_LEN, Parsed, Token, encode_header, parse_header};

/// The token of the trailer.
pub const ADVT: Token = Token(*b"ADVT");

/// The largest trailer body either side accepts.
pub const MAX_LEN: usize = 1024;

/// What a daemon said about itself, in its order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advert {
    pub entries: Vec<(String, String)>,
}

impl Advert {
    /// The value of `key`, if the daemon named it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The highest protocol the daemon speaks (`protocol=`), if it said.
    pub fn protocol(&self) -> Option<u32> {
        self.get("protocol")?.parse().ok()
    }
}

fn key_ok(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn value_ok(v: &str) -> bool {
    v.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Appends the trailer. Entries whose key or value the format cannot carry (see
/// [`parse`]) are a caller's bug and panic in debug builds; in release they are skipped.
pub fn encode(buf: &mut Vec<u8>, advert: &Advert) {
    let mut body = String::new();
    for (k, v) in &advert.entries {
        debug_assert!(key_ok(k) && value_ok(v), "bad advert entry {k}={v}");
        if key_ok(k) && value_ok(v) {
            body.push_str(k);
            body.push('=');
            body.push_str(v);
            body.push('\n');
        }
    }
    debug_assert!(body.len() <= MAX_LEN, "advert longer than {MAX_LEN}");
    body.truncate(MAX_LEN);
    encode_header(buf, ADVT, body.len() as u32);
    buf.extend_from_slice(body.as_bytes());
}

/// Parses a trailer from the bytes that followed a reply. `Ok(None)` when there are none
/// (a 3.4 daemon, or the trailer has not arrived yet); an error for anything else than one
/// whole, well-formed trailer.
pub fn parse(bytes: &[u8]) -> Result<Option<Advert>, ProtoError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let header = match parse_header(bytes)? {
        Parsed::NeedMore => return Err(ProtoError::Truncated { token: ADVT }),
        Parsed::Header(h) => h,
    };
    if header.token != ADVT {
        return Err(ProtoError::UnexpectedToken {
            expected: ADVT,
            got: header.token,
        });
    }
    let len = header.value as usize;
    if len > MAX_LEN {
        return Err(ProtoError::TooLarge {
            token: ADVT,
            len: len as u64,
            max: MAX_LEN as u64,
        });
    }
    let body = &bytes[HEADER_LEN..];
    if body.len() < len {
        return Err(ProtoError::Truncated { token: ADVT });
    }
    if body.len() > len {
        return Err(ProtoError::Malformed {
            token: ADVT,
            why: "bytes after the advertisement",
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| ProtoError::Malformed {
        token: ADVT,
        why: "not text",
    })?;
    let mut entries = Vec::new();
    for line in text.split_terminator('\n') {
        let Some((k, v)) = line.split_once('=') else {
            return Err(ProtoError::Malformed {
                token: ADVT,
                why: "a line without '='",
            });
        };
        if !key_ok(k) || !value_ok(v) {
            return Err(ProtoError::Malformed {
                token: ADVT,
                why: "a key or value outside the allowed characters",
            });
        }
        entries.push((k.to_owned(), v.to_owned()));
    }
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(ProtoError::Malformed {
            token: ADVT,
            why: "last line not ended",
        });
    }
    Ok(Some(Advert { entries }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advert(pairs: &[(&str, &str)]) -> Advert {
        Advert {
            entries: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn round_trip() {
        let a = advert(&[("protocol", "4"), ("ssh-socket", "/home/u/.distcc/held/s")]);
        let mut buf = Vec::new();
        encode(&mut buf, &a);
        assert_eq!(&buf[..12], b"ADVT0000002d");
        let back = parse(&buf).unwrap().unwrap();
        assert_eq!(back, a);
        assert_eq!(back.protocol(), Some(4));
        assert_eq!(back.get("ssh-socket"), Some("/home/u/.distcc/held/s"));
        assert_eq!(back.get("nope"), None);
    }

    #[test]
    fn nothing_after_the_reply_is_no_advert() {
        assert_eq!(parse(b"").unwrap(), None);
    }

    #[test]
    fn bad_trailers_are_errors() {
        for bad in [
            &b"ADVT0000"[..],
            b"ADVT00000004ab",
            b"ADVT00000002a\n",
            b"ADVT00000003a=b",
            b"ADVT00000004A=b\n",
            b"ADVT00000004a=\x01\n",
            b"DOTO00000000",
            b"ADVT00000004a=b\nX",
            b"ADVTffffffff",
        ] {
            assert!(parse(bad).is_err(), "{}", bad.escape_ascii());
        }
    }
}
