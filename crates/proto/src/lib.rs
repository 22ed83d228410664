//! Every byte format of distcc's wire protocol: the 12-byte token headers, the request and
//! reply of protocol versions 1, 2 and 3, and the LZO1X bodies of versions 2 and 3; and our
//! own protocol 4 (docs/protocol-4.md): zstd bodies, `CCID`, `FLAG`, `RSLT` and `TEXT`.
//!
//! This crate does no I/O of its own. Encoders append to a `Vec<u8>` or write to a caller's
//! `Write`; decoders read from a caller's `Read` or parse a byte slice. Every length that comes
//! off the wire is checked against [`Limits`] before any memory is reserved for it, so a
//! hostile peer cannot make either side allocate more than the limits allow.
//!
//! Policy (which compilers may run, what a job directory looks like, when to fall back) lives
//! in the `daemon` and `client` crates; this crate only says whether bytes are well formed.

pub mod advert;
pub mod auth;
pub mod chunks;
pub mod coord;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
pub mod include_server;
mod limits;
pub mod lzo;
mod message;
pub mod state;
mod token;
pub mod zstd;

pub use error::ProtoError;
pub use limits::Limits;
pub use message::{
    Answer, CACHE_KEY_LEN, CacheVerdict, Compression, FLAG_CACHE, FLAG_CHUNKS, FLAG_PUMP,
    MAX_RESULT, MAX_TEXT, PumpEntry, PumpEntryKind, Refusal, Reply, RequestHead, Version,
    encode_pump_link, encode_pump_packed_file, read_answer, read_body, read_body_granted,
    read_cache_verdict, read_pump_entry, read_pump_entry_as, read_pump_entry_granted,
    read_pump_file_count, read_reply, read_request_head, read_version_greeting, write_body,
    write_cache_miss, write_pump_entry, write_pump_entry_as, write_pump_file_count, write_refusal,
    write_reply, write_request_head,
};
pub use token::{
    HEADER_LEN, Header, Parsed, Token, encode_header, parse_header, read_expected, read_header,
};
