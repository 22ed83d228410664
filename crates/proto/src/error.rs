//! The one error type of the wire codec.

use std::fmt;
use std::io;

use crate::token::Token;

/// Why a byte stream could not be decoded or encoded.
#[derive(Debug)]
pub enum ProtoError {
    /// The underlying reader or writer failed.
    Io(io::Error),
    /// The peer closed the stream where a token was due.
    Eof { expected: Token },
    /// The stream ended in the middle of a header or body.
    Truncated { token: Token },
    /// A header carried a different token from the one the protocol requires here.
    UnexpectedToken { expected: Token, got: Token },
    /// The parameter of a header was not a hexadecimal number.
    BadParameter { token: Token, raw: [u8; 8] },
    /// A length or count exceeded the configured cap.
    TooLarge { token: Token, len: u64, max: u64 },
    /// The client asked for a protocol version this side does not speak.
    UnsupportedVersion(u32),
    /// The server answered in another protocol version than the request's.
    VersionMismatch { sent: u32, got: u32 },
    /// An LZO body was not a valid LZO1X stream, or expanded past the cap.
    Lzo(crate::lzo::LzoError),
    /// A pump file name or other string broke a structural rule (empty, NUL byte).
    Malformed { token: Token, why: &'static str },
    /// Holding the body would pass the reader's memory budget.
    OverBudget { token: Token },
    /// A protocol 4 body was not one valid zstd frame.
    Zstd { token: Token, why: String },
    /// A protocol 4 server refused the job or failed (`RSLT` not 0), with its `TEXT`.
    Refused { code: u32, text: String },
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoError::Io(e) => write!(f, "i/o error: {e}"),
            ProtoError::Eof { expected } => {
                write!(f, "connection closed where {expected} was expected")
            }
            ProtoError::Truncated { token } => write!(f, "stream ended inside {token}"),
            ProtoError::UnexpectedToken { expected, got } => {
                write!(f, "protocol derailment: expected {expected}, got {got}")
            }
            ProtoError::BadParameter { token, raw } => write!(
                f,
                "parameter of {token} is not hexadecimal: {:?}",
                String::from_utf8_lossy(raw)
            ),
            ProtoError::TooLarge { token, len, max } => {
                write!(f, "{token} length {len} exceeds the limit of {max}")
            }
            ProtoError::UnsupportedVersion(v) => write!(f, "unsupported protocol version {v}"),
            ProtoError::VersionMismatch { sent, got } => {
                write!(
                    f,
                    "request was protocol {sent} but the reply is protocol {got}"
                )
            }
            ProtoError::Lzo(e) => write!(f, "bad lzo body: {e}"),
            ProtoError::Malformed { token, why } => write!(f, "malformed {token}: {why}"),
            ProtoError::OverBudget { token } => {
                write!(f, "{token} body refused: the memory budget is spent")
            }
            ProtoError::Zstd { token, why } => write!(f, "bad zstd body in {token}: {why}"),
            ProtoError::Refused { code, text } => write!(f, "server refused ({code}): {text}"),
        }
    }
}

impl std::error::Error for ProtoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProtoError::Io(e) => Some(e),
            ProtoError::Lzo(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ProtoError {
    fn from(e: io::Error) -> Self {
        ProtoError::Io(e)
    }
}

impl From<crate::lzo::LzoError> for ProtoError {
    fn from(e: crate::lzo::LzoError) -> Self {
        ProtoError::Lzo(e)
    }
}

impl ProtoError {
    /// True when the peer simply went away (closed, reset, timed out) rather than sending
    /// malformed bytes. Callers use this to tell a communication failure from an attack.
    pub fn is_disconnect(&self) -> bool {
        match self {
            ProtoError::Eof { .. } | ProtoError::Truncated { .. } => true,
            ProtoError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }
}
