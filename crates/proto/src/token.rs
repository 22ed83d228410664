//! The 12-byte header that starts every protocol element: four ASCII token bytes and eight
//! hexadecimal digits.

use std::fmt;
use std::io::{self, Read};

use crate::error::ProtoError;

/// Length of every header on the wire.
pub const HEADER_LEN: usize = 12;

/// A four-byte token such as `DIST` or `DOTO`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(pub [u8; 4]);

impl Token {
    pub const DIST: Token = Token(*b"DIST");
    pub const ARGC: Token = Token(*b"ARGC");
    pub const ARGV: Token = Token(*b"ARGV");
    pub const DOTI: Token = Token(*b"DOTI");
    pub const DONE: Token = Token(*b"DONE");
    pub const STAT: Token = Token(*b"STAT");
    pub const SERR: Token = Token(*b"SERR");
    pub const SOUT: Token = Token(*b"SOUT");
    pub const DOTO: Token = Token(*b"DOTO");
    pub const DOTD: Token = Token(*b"DOTD");
    pub const CDIR: Token = Token(*b"CDIR");
    pub const NFIL: Token = Token(*b"NFIL");
    pub const NAME: Token = Token(*b"NAME");
    pub const FILE: Token = Token(*b"FILE");
    pub const LINK: Token = Token(*b"LINK");
    /// Protocol 4: the client's compiler identity.
    pub const CCID: Token = Token(*b"CCID");
    /// Protocol 4: request flags (bit 0: pump).
    pub const FLAG: Token = Token(*b"FLAG");
    /// Protocol 4: the result class of a reply (0: the compiler ran).
    pub const RSLT: Token = Token(*b"RSLT");
    /// Protocol 4: a message for the user after a non-zero `RSLT`.
    pub const TEXT: Token = Token(*b"TEXT");
    /// Protocol 4: the uncompressed length of the body that follows.
    pub const ULEN: Token = Token(*b"ULEN");
    /// Protocol 4 with `FLAG` bit 1: the result cache key (32 bytes) after the command line.
    pub const CKEY: Token = Token(*b"CKEY");
    /// Protocol 4: the daemon's cache has no result for `CKEY`; the client sends the source.
    pub const CMIS: Token = Token(*b"CMIS");
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens off the wire may be any bytes; show them escaped rather than trusting them.
        write!(f, "{}", self.0.escape_ascii())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({self})")
    }
}

/// One decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub token: Token,
    pub value: u32,
}

/// Result of parsing a header from a buffer that may not hold all of it yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Fewer than [`HEADER_LEN`] bytes are available.
    NeedMore,
    Header(Header),
}

/// Appends a header. distcc 3.4 always emits lowercase hex; so do we.
pub fn encode_header(buf: &mut Vec<u8>, token: Token, value: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.extend_from_slice(&token.0);
    for shift in (0..8).rev() {
        buf.push(HEX[((value >> (shift * 4)) & 0xf) as usize]);
    }
}

/// Parses a header from the start of `bytes`.
///
/// The parameter is read the way 3.4's `strtoul(…, 16)` reads it, since real peers are what
/// must be accepted: leading blanks, an optional `+`, an optional `0x`, then hex digits that
/// must fill the rest of the eight bytes. A minus sign is refused (strtoul would negate).
pub fn parse_header(bytes: &[u8]) -> Result<Parsed, ProtoError> {
    let Some(head) = bytes.get(..HEADER_LEN) else {
        return Ok(Parsed::NeedMore);
    };
    let token = Token([head[0], head[1], head[2], head[3]]);
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&head[4..]);
    let value = parse_param(&raw).ok_or(ProtoError::BadParameter { token, raw })?;
    Ok(Parsed::Header(Header { token, value }))
}

fn parse_param(raw: &[u8; 8]) -> Option<u32> {
    let mut rest: &[u8] = raw;
    while let [b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c', tail @ ..] = rest {
        rest = tail;
    }
    if let [b'+', tail @ ..] = rest {
        rest = tail;
    }
    // strtoul takes "0x" only when a hex digit follows it; otherwise the "0" alone is parsed
    // and the "x" is left over, which then fails the whole-field check below.
    if let [b'0', b'x' | b'X', d, ..] = rest
        && d.is_ascii_hexdigit()
    {
        rest = &rest[2..];
    }
    if rest.is_empty() {
        return None;
    }
    let mut value: u32 = 0;
    for &c in rest {
        let digit = (c as char).to_digit(16)?;
        // At most eight digits fit in the field, so this cannot overflow.
        value = (value << 4) | digit;
    }
    Some(value)
}

/// Reads one header. Returns `Ok(None)` on a clean end of stream before its first byte, so
/// callers can tell "the peer hung up between elements" from "the peer hung up mid-element".
pub fn read_header<R: Read + ?Sized>(r: &mut R) -> Result<Option<Header>, ProtoError> {
    let mut buf = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(ProtoError::Truncated {
                    token: Token([buf[0], buf[1], buf[2], buf[3]]),
                });
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    match parse_header(&buf)? {
        Parsed::Header(h) => Ok(Some(h)),
        Parsed::NeedMore => unreachable!("a full header was read"),
    }
}

/// Reads a header that must carry `expected`, and returns its parameter.
pub fn read_expected<R: Read + ?Sized>(r: &mut R, expected: Token) -> Result<u32, ProtoError> {
    match read_header(r)? {
        None => Err(ProtoError::Eof { expected }),
        Some(h) if h.token == expected => Ok(h.value),
        Some(h) => Err(ProtoError::UnexpectedToken {
            expected,
            got: h.token,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(s: &str) -> Option<u32> {
        parse_param(s.as_bytes().try_into().unwrap())
    }

    #[test]
    fn encodes_lowercase() {
        let mut b = Vec::new();
        encode_header(&mut b, Token::STAT, 0xabc);
        encode_header(&mut b, Token::DIST, 0xffff_ffff);
        assert_eq!(b, b"STAT00000abcDISTffffffff");
    }

    #[test]
    fn parses_what_strtoul_accepts() {
        assert_eq!(param("00000100"), Some(0x100));
        assert_eq!(param("0000ABCD"), Some(0xabcd));
        assert_eq!(param("   0001f"), Some(0x1f));
        assert_eq!(param("+0000001"), Some(1));
        assert_eq!(param("0x00ffff"), Some(0xffff));
        assert_eq!(param(" +0x1234"), Some(0x1234));
    }

    #[test]
    fn rejects_what_strtoul_rejects() {
        assert_eq!(param("0000000g"), None);
        assert_eq!(param("        "), None);
        assert_eq!(param("-0000001"), None);
        assert_eq!(param("0000001 "), None);
        assert_eq!(param("000000x1"), None);
        assert_eq!(param("0x      "), None);
    }

    #[test]
    fn need_more_below_twelve_bytes() {
        assert_eq!(parse_header(b"DIST0000000").unwrap(), Parsed::NeedMore);
    }

    #[test]
    fn clean_eof_and_truncation_differ() {
        assert!(read_header(&mut &b""[..]).unwrap().is_none());
        assert!(matches!(
            read_header(&mut &b"DIST00"[..]),
            Err(ProtoError::Truncated { .. })
        ));
    }

    #[test]
    fn wrong_token_is_named() {
        let err = read_expected(&mut &b"ARGC00000001"[..], Token::DIST).unwrap_err();
        assert_eq!(
            err.to_string(),
            "protocol derailment: expected DIST, got ARGC"
        );
    }
}
