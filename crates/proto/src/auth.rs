//! The client's token inside TLS: `AUTH <len>` and `len` bytes of token, sent before `DIST`
//! (docs/protocol-4.md, "TLS"). Only our client sends it and only over TLS, to our daemon;
//! a 3.4 peer never sees it.
//!
//! A token is printable ASCII without blanks (what a `name token` line of `--tls-tokens`
//! can hold), 1 to [`MAX_LEN`] bytes; the length is checked before anything is read.

use std::io::Read;

use crate::error::ProtoError;
use crate::token::{Token, encode_header, read_expected};

/// The token of the frame.
pub const AUTH: Token = Token(*b"AUTH");

/// The longest token either side accepts.
pub const MAX_LEN: usize = 256;

/// True for a token the frame can carry.
pub fn token_ok(token: &[u8]) -> bool {
    !token.is_empty() && token.len() <= MAX_LEN && token.iter().all(|&b| (0x21..0x7f).contains(&b))
}

/// Appends the frame. A token [`token_ok`] refuses is the caller's error.
pub fn encode(buf: &mut Vec<u8>, token: &[u8]) -> Result<(), ProtoError> {
    if !token_ok(token) {
        return Err(ProtoError::Malformed {
            token: AUTH,
            why: "a token is 1 to 256 printable characters without blanks",
        });
    }
    encode_header(buf, AUTH, token.len() as u32);
    buf.extend_from_slice(token);
    Ok(())
}

/// Reads one frame (its header included) and returns the token.
pub fn read<R: Read + ?Sized>(r: &mut R) -> Result<Vec<u8>, ProtoError> {
    let len = read_expected(r, AUTH)? as usize;
    if len > MAX_LEN {
        return Err(ProtoError::TooLarge {
            token: AUTH,
            len: len as u64,
            max: MAX_LEN as u64,
        });
    }
    let mut token = vec![0u8; len];
    r.read_exact(&mut token).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ProtoError::Truncated { token: AUTH },
        _ => ProtoError::Io(e),
    })?;
    if !token_ok(&token) {
        return Err(ProtoError::Malformed {
            token: AUTH,
            why: "not 1 to 256 printable characters without blanks",
        });
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut b = Vec::new();
        encode(&mut b, b"s3cret").unwrap();
        assert_eq!(b, b"AUTH00000006s3cret");
        assert_eq!(read(&mut &b[..]).unwrap(), b"s3cret");
    }

    #[test]
    fn refuses_bad_tokens_and_lengths() {
        assert!(encode(&mut Vec::new(), b"").is_err());
        assert!(encode(&mut Vec::new(), b"two words").is_err());
        assert!(encode(&mut Vec::new(), &[b'a'; MAX_LEN + 1]).is_err());
        assert!(matches!(
            read(&mut &b"AUTH00000101"[..]),
            Err(ProtoError::TooLarge { .. })
        ));
        assert!(matches!(
            read(&mut &b"AUTH00000005abc"[..]),
            Err(ProtoError::Truncated { .. })
        ));
        assert!(matches!(
            read(&mut &b"AUTH00000002a\n"[..]),
            Err(ProtoError::Malformed { .. })
        ));
        assert!(matches!(
            read(&mut &b"DIST00000001"[..]),
            Err(ProtoError::UnexpectedToken { .. })
        ));
    }
}
