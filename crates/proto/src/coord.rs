//! The farm coordinator's wire (issue 15): one framed message format that daemons, clients
//! and `distcc-coordinator` speak over one TCP port. docs/coordinator.md is its contract.
//!
//! A frame is distcc's 12-byte header (a 4-byte token and 8 lowercase hex digits giving the
//! length) and that many bytes of `key=value\n` lines, at most [`MAX_LEN`] bytes and
//! [`MAX_FIELDS`] lines: the shape of the advertisement (`advert`), readable in a packet
//! capture, and cheap to parse (the coordinator parses tens of thousands a second).
//!
//! Sans-I/O: [`encode`] appends to a buffer and [`decode`] looks at the bytes received so far
//! and says "a frame of n bytes", "need more bytes" (`Ok(None)`) or why they are not a frame.
//! What the keys mean is the coordinator's and its peers' business; unknown keys are kept.

use crate::error::ProtoError;
use crate::token::{HEADER_LEN, Parsed, Token, encode_header, parse_header};

/// The longest frame body either side accepts.
pub const MAX_LEN: usize = 4096;
/// The most `key=value` lines in one frame.
pub const MAX_FIELDS: usize = 64;

/// What a frame is. The token on the wire is in brackets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `HELO`: the first frame of a daemon (`role=daemon`) or of a client (`role=client`).
    Hello,
    /// `LOAD`: a daemon's current slots, busy slots, load and memory.
    Load,
    /// `LEAS`: a client asks for a slot for one job.
    Lease,
    /// `WAIT`: the coordinator has queued the request (repeated as a keep-alive).
    Wait,
    /// `GRNT`: a lease: the host to compile on and the slot held there.
    Grant,
    /// `FREE`: the client is done with its lease (and how long the job took).
    Free,
    /// `NOPE`: the coordinator cannot help (no host for this job, bad request); text in `why`.
    Refuse,
    /// `PING`: a keep-alive with nothing to say.
    Ping,
}

const KINDS: [(Kind, Token); 8] = [
    (Kind::Hello, Token(*b"HELO")),
    (Kind::Load, Token(*b"LOAD")),
    (Kind::Lease, Token(*b"LEAS")),
    (Kind::Wait, Token(*b"WAIT")),
    (Kind::Grant, Token(*b"GRNT")),
    (Kind::Free, Token(*b"FREE")),
    (Kind::Refuse, Token(*b"NOPE")),
    (Kind::Ping, Token(*b"PING")),
];

impl Kind {
    pub fn token(self) -> Token {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, t)| *t)
            // Every kind is in the table above.
            .unwrap_or(Token(*b"PING"))
    }

    pub fn from_token(t: Token) -> Option<Kind> {
        KINDS.iter().find(|(_, tok)| *tok == t).map(|(k, _)| *k)
    }
}

/// One message: its kind and its fields, in their order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: Kind,
    pub fields: Vec<(String, String)>,
}

impl Frame {
    pub fn new(kind: Kind) -> Frame {
        Frame {
            kind,
            fields: Vec::new(),
        }
    }

    /// Adds a field (builder style). A key or value the format cannot carry is a caller's
    /// bug: it panics in debug builds and is dropped by [`encode`] in release builds.
    pub fn with(mut self, key: &str, value: impl ToString) -> Frame {
        self.fields.push((key.to_owned(), value.to_string()));
        self
    }

    /// The value of the first field named `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key` as a number, if it is one.
    pub fn num(&self, key: &str) -> Option<u64> {
        self.get(key)?.parse().ok()
    }

    /// The value of `key` as a decimal fraction (`load=1.25`), if it is one and finite.
    pub fn float(&self, key: &str) -> Option<f64> {
        self.get(key)?.parse::<f64>().ok().filter(|f| f.is_finite())
    }
}

/// Keys: lowercase letters, digits, `-` and `_`; not empty.
pub fn key_ok(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 32
        && k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Values: printable ASCII, spaces allowed, no newline.
pub fn value_ok(v: &str) -> bool {
    v.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Appends one frame. Fields that would break the format, and any past [`MAX_FIELDS`] or
/// [`MAX_LEN`], are left out (see [`Frame::with`]).
pub fn encode(buf: &mut Vec<u8>, frame: &Frame) {
    let start = buf.len();
    encode_header(buf, frame.kind.token(), 0);
    let mut n = 0;
    for (k, v) in &frame.fields {
        debug_assert!(key_ok(k) && value_ok(v), "bad coordinator field {k}={v}");
        let line = k.len() + v.len() + 2;
        if !key_ok(k) || !value_ok(v) || n == MAX_FIELDS {
            continue;
        }
        if buf.len() - start - HEADER_LEN + line > MAX_LEN {
            debug_assert!(false, "coordinator frame longer than {MAX_LEN}");
            break;
        }
        buf.extend_from_slice(k.as_bytes());
        buf.push(b'=');
        buf.extend_from_slice(v.as_bytes());
        buf.push(b'\n');
        n += 1;
    }
    let len = buf.len() - start - HEADER_LEN;
    let mut head = Vec::with_capacity(HEADER_LEN);
    encode_header(&mut head, frame.kind.token(), len as u32);
    buf[start..start + HEADER_LEN].copy_from_slice(&head);
}

fn malformed(token: Token, why: &'static str) -> ProtoError {
    ProtoError::Malformed { token, why }
}

/// Decodes the frame at the start of `bytes`: `Ok(Some((frame, used)))`, or `Ok(None)` when
/// more bytes are needed. Unknown tokens, over-long frames and bad lines are errors; the
/// connection should then be closed.
pub fn decode(bytes: &[u8]) -> Result<Option<(Frame, usize)>, ProtoError> {
    let header = match parse_header(bytes)? {
        Parsed::NeedMore => return Ok(None),
        Parsed::Header(h) => h,
    };
    let Some(kind) = Kind::from_token(header.token) else {
        return Err(malformed(header.token, "not a coordinator message"));
    };
    let len = header.value as usize;
    if len > MAX_LEN {
        return Err(ProtoError::TooLarge {
            token: header.token,
            len: len as u64,
            max: MAX_LEN as u64,
        });
    }
    let Some(body) = bytes.get(HEADER_LEN..HEADER_LEN + len) else {
        return Ok(None);
    };
    let text = std::str::from_utf8(body).map_err(|_| malformed(header.token, "not text"))?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(malformed(header.token, "last line not ended"));
    }
    let mut fields = Vec::new();
    for line in text.split_terminator('\n') {
        if fields.len() == MAX_FIELDS {
            return Err(malformed(header.token, "too many fields"));
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(malformed(header.token, "a line without '='"));
        };
        if !key_ok(k) || !value_ok(v) {
            return Err(malformed(
                header.token,
                "a key or value outside the allowed characters",
            ));
        }
        fields.push((k.to_owned(), v.to_owned()));
    }
    Ok(Some((Frame { kind, fields }, HEADER_LEN + len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_literal_bytes() {
        let f = Frame::new(Kind::Lease)
            .with("size", 1234)
            .with("ccid", "gcc 12");
        let mut buf = Vec::new();
        encode(&mut buf, &f);
        assert_eq!(buf, b"LEAS00000016size=1234\nccid=gcc 12\n");
        let (back, used) = decode(&buf).unwrap().unwrap();
        assert_eq!((back.clone(), used), (f, buf.len()));
        assert_eq!(back.num("size"), Some(1234));
        assert_eq!(back.get("ccid"), Some("gcc 12"));
        assert_eq!(back.get("nope"), None);
    }

    #[test]
    fn partial_frames_need_more() {
        let mut buf = Vec::new();
        encode(&mut buf, &Frame::new(Kind::Grant).with("host", "h:1"));
        encode(&mut buf, &Frame::new(Kind::Ping));
        for cut in 0..21 {
            assert!(decode(&buf[..cut]).unwrap().is_none(), "{cut}");
        }
        let (a, n) = decode(&buf).unwrap().unwrap();
        assert_eq!(a.kind, Kind::Grant);
        let (b, m) = decode(&buf[n..]).unwrap().unwrap();
        assert_eq!((b.kind, n + m), (Kind::Ping, buf.len()));
    }

    #[test]
    fn bad_frames_are_errors() {
        for bad in [
            &b"DIST00000001"[..],
            b"LEAS00001001",
            b"LEASffffffff",
            b"LEAS00000002a\n",
            b"LEAS00000003a=b",
            b"LEAS00000004A=b\n",
            b"LEAS00000004a=\x01\n",
            b"LEAS00000002\xff\n",
            b"LEASzzzzzzzz",
        ] {
            assert!(decode(bad).is_err(), "{}", bad.escape_ascii());
        }
        let mut many = String::new();
        for i in 0..=MAX_FIELDS {
            many.push_str(&format!("k{i}=v\n"));
        }
        let mut buf = Vec::new();
        encode_header(&mut buf, Kind::Free.token(), many.len() as u32);
        buf.extend_from_slice(many.as_bytes());
        assert!(decode(&buf).is_err());
    }

    #[test]
    fn every_kind_has_its_own_token() {
        for (k, t) in KINDS {
            assert_eq!(k.token(), t);
            assert_eq!(Kind::from_token(t), Some(k));
        }
    }
}
