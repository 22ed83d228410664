//! Fuzz bodies: one plain `fn(&[u8])` per decoder of this crate that reads bytes from outside
//! (token headers, requests, replies, pump file lists, LZO bodies, monitor state records).
//!
//! Each body feeds its input to the decoder and then checks properties of the outcome, and
//! panics when one fails: decode → encode → decode is stable, LZO compression is undone
//! exactly, decompression never exceeds its cap and agrees with a second, independent decoder
//! (the `lzo` crate), header parsing agrees with a small model of C's `strtoul(…, 16)`, errors
//! are of the kinds the input can explain, and nothing decoded exceeds [`LIMITS`].
//!
//! The same bodies run under cargo-fuzz (`fuzz/fuzz_targets/`, libFuzzer) and in the stable
//! test `crates/proto/tests/fuzz.rs` (checked-in corpus plus seeded random inputs). Driving
//! them (corpus, mutation, counting allocations against [`Target::max_alloc`]) is left to
//! those callers. This module exists only with the `fuzzing` feature, so the binaries never
//! carry it or the reference decoder.

pub mod driver;

use std::cell::Cell;

use crate::lzo::{self as codec, LzoError};
use crate::message::{
    Answer, Compression, PumpEntry, Reply, RequestHead, Version, read_answer, read_body,
    read_pump_entry, read_pump_entry_as, read_pump_file_count, read_reply, read_request_head,
    read_version_greeting, write_body, write_pump_entry, write_pump_entry_as,
    write_pump_file_count, write_refusal, write_reply, write_request_head,
};
use crate::state::{self, StateError, StateRecord};
use crate::token::{HEADER_LEN, Parsed, Token, encode_header, parse_header, read_header};
use crate::{Limits, ProtoError};

/// Small caps, so that a body can show that nothing a peer claims makes the decoder read or
/// reserve past them. Large enough that the captured 3.4 vectors in testdata/ decode whole,
/// which lets mutations of them reach deep into the decoders.
pub const LIMITS: Limits = Limits {
    max_argc: 16,
    max_arg_len: 512,
    max_argv_total: 2048,
    max_body: 64 * 1024,
    max_unpacked: 256 * 1024,
    max_files: 8,
    max_chunks: 64,
    max_chunk_len: 4096,
};

/// Caps for decoding what a body re-encoded. A body that is at most `max_unpacked` bytes
/// once unpacked may grow past `max_body` when compressed again (LZO's worst case is
/// `n + n/16 + 67`), so only the body cap is widened.
const REENCODED: Limits = Limits {
    max_body: worst_case_packed(LIMITS.max_unpacked as usize) as u32,
    ..LIMITS
};

/// Cap on decompression in the LZO bodies: random input can claim far more output than it
/// carries (each zero byte of a length extension adds 255).
pub const LZO_CAP: usize = 256 * 1024;

/// One fuzz target: its name (the cargo-fuzz target and the corpus directory under
/// testdata/fuzz/ carry the same name), its body, and the largest single allocation the body
/// may make for an input of `n` bytes. The bound is loose on purpose: what it must catch is an
/// allocation sized by a forged length (gigabytes), not a few kilobytes of slack.
pub struct Target {
    pub name: &'static str,
    pub body: fn(&[u8]),
    pub max_alloc: fn(usize) -> usize,
    /// The one input length the decoder accepts, if it has one; the driver keeps half of
    /// its mutants at that length so they get past the length check.
    pub fixed_len: Option<usize>,
}

/// Every body of this crate.
pub const TARGETS: &[Target] = &[
    Target {
        name: "header",
        body: header,
        max_alloc: |_| 1024,
        fixed_len: None,
    },
    Target {
        name: "request",
        body: request,
        max_alloc: codec_alloc,
        fixed_len: None,
    },
    Target {
        name: "reply",
        body: reply,
        max_alloc: codec_alloc,
        fixed_len: None,
    },
    Target {
        name: "request_v4",
        body: request_v4,
        max_alloc: codec_alloc,
        fixed_len: None,
    },
    Target {
        name: "reply_v4",
        body: reply_v4,
        max_alloc: codec_alloc,
        fixed_len: None,
    },
    Target {
        name: "cache_verdict",
        body: cache_verdict,
        max_alloc: codec_alloc,
        fixed_len: None,
    },
    Target {
        name: "chunk_list",
        body: chunk_list,
        max_alloc: codec_alloc,
        fixed_len: None,
    },
    Target {
        name: "chunk_need",
        body: chunk_need,
        max_alloc: codec_alloc,
        fixed_len: None,
    },
    Target {
        name: "zstd_body",
        body: zstd_body,
        max_alloc: codec_alloc,
        fixed_len: None,
    },
    Target {
        name: "pump_entries",
        body: pump_entries,
        max_alloc: codec_alloc,
        fixed_len: None,
    },
    Target {
        name: "lzo_decompress",
        body: lzo_decompress,
        max_alloc: |n| 2 * worst_case_packed(LZO_CAP) + 4 * n,
        fixed_len: None,
    },
    Target {
        name: "lzo_roundtrip",
        body: lzo_roundtrip,
        max_alloc: |n| 4 * worst_case_packed(n) + 64 * 1024,
        fixed_len: None,
    },
    Target {
        name: "auth",
        body: auth,
        max_alloc: |_| 1024,
        fixed_len: None,
    },
    Target {
        name: "state",
        body: state_record,
        max_alloc: |_| 1024,
        fixed_len: Some(state::RECORD_LEN),
    },
    Target {
        name: "coord",
        body: coord,
        max_alloc: |_| 16 * 1024,
        fixed_len: None,
    },
];

/// Bodies that decode whole messages hold at most one unpacked body (`max_unpacked`), its
/// re-compression, buffers that grow by doubling to hold copies of the input, and LZO's
/// dictionary.
fn codec_alloc(n: usize) -> usize {
    2 * worst_case_packed(LIMITS.max_unpacked as usize) + 4 * n + 64 * 1024
}

/// The most `lzo1x_1` can produce from `n` bytes (what the compressor reserves).
const fn worst_case_packed(n: usize) -> usize {
    n + n / 16 + 64 + 3
}

thread_local! {
    static DECODED: Cell<u64> = const { Cell::new(0) };
}

/// Notes that an input got past the decoder and on to the round-trip checks. Bodies of other
/// crates call it too.
pub fn decoded() {
    DECODED.with(|n| n.set(n.get() + 1));
}

/// How many inputs on this thread have decoded successfully so far (for a pump file list,
/// how many entries). A driver reports it to show how deep its inputs reach: a run in which
/// nothing decodes has checked only the error paths.
pub fn decoded_count() -> u64 {
    DECODED.with(|n| n.get())
}

// ---------------------------------------------------------------------------------------
// Token headers

/// What glibc's `strtoul(field, &end, 16)` does with the eight parameter bytes of a header,
/// which 3.4 has copied into a buffer with a NUL after them.
#[derive(Debug, PartialEq, Eq)]
struct Strtoul {
    /// The result as 3.4 stores it (`*val = strtoul(…)`, cut to `unsigned`).
    value: u32,
    /// Index one past the last byte used; 0 when nothing was converted.
    end: usize,
    /// A minus sign was taken: strtoul negates the number.
    negative: bool,
}

/// The model, written straight from the C standard rather than from `token.rs`, so that the
/// two can disagree.
fn strtoul16(field: &[u8; 8]) -> Strtoul {
    // The byte at `i`, or the NUL that terminates the C string.
    let at = |i: usize| field.get(i).copied().unwrap_or(0);
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let mut i = 0;
    while is_space(at(i)) {
        i += 1;
    }
    let mut negative = false;
    match at(i) {
        b'-' => {
            negative = true;
            i += 1;
        }
        b'+' => i += 1,
        _ => {}
    }
    if at(i) == b'0' && (at(i + 1) == b'x' || at(i + 1) == b'X') && at(i + 2).is_ascii_hexdigit() {
        i += 2;
    }
    let first_digit = i;
    let mut acc: u64 = 0;
    while let Some(d) = (at(i) as char).to_digit(16) {
        // Eight bytes hold at most eight digits: no overflow, so no ERANGE.
        acc = acc * 16 + u64::from(d);
        i += 1;
    }
    if i == first_digit {
        return Strtoul {
            value: 0,
            end: 0,
            negative: false,
        };
    }
    let ulong = if negative { acc.wrapping_neg() } else { acc };
    Strtoul {
        value: ulong as u32,
        end: i,
        negative,
    }
}

/// Token headers: `parse_header` agrees with the `strtoul` model on every 12 bytes (except that
/// it refuses a minus sign on purpose, where 3.4 would negate), `read_header` agrees with
/// `parse_header`, and whatever parses re-encodes canonically to a header that parses back.
pub fn header(data: &[u8]) {
    let parsed = parse_header(data);
    let read = read_header(&mut &data[..]);
    let Some(head) = data.get(..HEADER_LEN) else {
        assert!(matches!(parsed, Ok(Parsed::NeedMore)), "{parsed:?}");
        match (data.is_empty(), &read) {
            (true, Ok(None)) | (false, Err(ProtoError::Truncated { .. })) => {}
            _ => panic!("short read of {} bytes gave {read:?}", data.len()),
        }
        return;
    };
    let token = Token([head[0], head[1], head[2], head[3]]);
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&head[4..]);
    let model = strtoul16(&raw);
    let accepted_by_3_4 = model.end == 8;
    match &parsed {
        Ok(Parsed::Header(h)) => {
            assert!(accepted_by_3_4, "{raw:?} accepted, 3.4 refuses it");
            assert!(!model.negative, "{raw:?}: a minus sign must be refused");
            assert_eq!(h.token, token);
            assert_eq!(h.value, model.value, "{raw:?}");
        }
        Ok(Parsed::NeedMore) => panic!("NeedMore with {} bytes", data.len()),
        Err(ProtoError::BadParameter { token: t, raw: r }) => {
            assert_eq!((*t, *r), (token, raw));
            assert!(
                !accepted_by_3_4 || model.negative,
                "{raw:?} refused, 3.4 reads it as {:#x}",
                model.value
            );
        }
        Err(e) => panic!("unexpected error kind {e:?}"),
    }
    match (&parsed, &read) {
        (Ok(Parsed::Header(a)), Ok(Some(b))) => assert_eq!(a, b),
        (Err(ProtoError::BadParameter { .. }), Err(ProtoError::BadParameter { .. })) => {}
        _ => panic!("parse_header gave {parsed:?}, read_header gave {read:?}"),
    }
    if let Ok(Parsed::Header(h)) = parsed {
        decoded();
        let mut again = Vec::new();
        encode_header(&mut again, h.token, h.value);
        assert_eq!(again.len(), HEADER_LEN);
        assert!(
            again[4..]
                .iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)),
            "3.4 emits eight lowercase hex digits"
        );
        if raw
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
        {
            assert_eq!(again, head, "canonical header re-encodes byte for byte");
        }
        assert_eq!(parse_header(&again).ok(), Some(Parsed::Header(h)));
    }
}

// ---------------------------------------------------------------------------------------
// Requests, replies, pump file lists

/// Asserts that a decoding error is one that bytes from a slice can cause, and that any cap it
/// reports is one of [`LIMITS`] (or [`REENCODED`]'s wider body cap) and was really exceeded.
fn check_error(e: &ProtoError) {
    match e {
        ProtoError::Io(e) => panic!("reading a byte slice cannot fail: {e}"),
        ProtoError::Eof { .. } | ProtoError::Truncated { .. } => {}
        ProtoError::UnexpectedToken { expected, got } => assert_ne!(expected, got),
        ProtoError::BadParameter { raw, .. } => {
            let model = strtoul16(raw);
            assert!(
                model.end != 8 || model.negative,
                "{raw:?} is a valid parameter"
            );
        }
        ProtoError::TooLarge { token, len, max } => {
            assert!(len > max, "{token}: {len} does not exceed {max}");
            let caps = [
                LIMITS.max_unpacked,
                u64::from(crate::MAX_TEXT),
                u64::from(crate::MAX_RESULT),
                u64::from(LIMITS.max_argc),
                u64::from(LIMITS.max_arg_len),
                LIMITS.max_argv_total,
                u64::from(LIMITS.max_body),
                u64::from(REENCODED.max_body),
                u64::from(LIMITS.max_files),
                u64::from(LIMITS.max_chunks),
                u64::from(LIMITS.max_chunk_len),
            ];
            assert!(
                caps.contains(max),
                "{token}: cap {max} is not a configured limit"
            );
        }
        ProtoError::UnsupportedVersion(v) => assert!(*v > 4, "version {v} is supported"),
        ProtoError::VersionMismatch { sent, got } => assert_ne!(sent, got),
        ProtoError::Lzo(LzoError::TooLarge { max }) => assert_eq!(*max, LIMITS.max_unpacked),
        ProtoError::Lzo(LzoError::Corrupt(_)) | ProtoError::Malformed { .. } => {}
        ProtoError::Lzo(LzoError::OverBudget { .. }) | ProtoError::OverBudget { .. } => {
            panic!("{e}: no budget was set")
        }
        ProtoError::Zstd { .. } => {}
        ProtoError::Refused { code, text } => {
            assert!(*code != 0 && *code <= crate::MAX_RESULT, "RSLT {code}");
            assert!(text.len() <= 3 * crate::MAX_TEXT as usize);
        }
    }
}

/// A string the decoder accepted: within its own cap and free of NUL bytes.
fn check_string(s: &[u8]) {
    assert!(s.len() <= LIMITS.max_arg_len as usize);
    assert!(!s.contains(&0), "a NUL byte got through");
}

fn check_body(b: &[u8], version: Version) {
    let cap = match version {
        Version::V1 => u64::from(LIMITS.max_body),
        Version::V2 | Version::V3 | Version::V4 => LIMITS.max_unpacked,
    };
    assert!(
        b.len() as u64 <= cap,
        "body of {} bytes passed cap {cap}",
        b.len()
    );
}

/// The part of a request after its head.
#[derive(Debug, PartialEq, Eq)]
enum RequestBody {
    Source(Vec<u8>),
    Files(Vec<PumpEntry>),
}

/// Decodes a whole request: greeting, head, then the `DOTI` body or the `NFIL` file list.
fn decode_request(
    r: &mut &[u8],
    limits: &Limits,
) -> Result<(RequestHead, RequestBody), ProtoError> {
    let version = read_version_greeting(r)?;
    let head = read_request_head(r, version, limits)?;
    let body = if head.is_pump() {
        let n = read_pump_file_count(r, limits)?;
        let mut files = Vec::new();
        for _ in 0..n {
            files.push(read_pump_entry_as(
                r,
                version.compression(),
                limits,
                &mut |_| true,
            )?);
        }
        RequestBody::Files(files)
    } else {
        let mut src = Vec::new();
        read_body(r, Token::DOTI, version.compression(), limits, &mut src)?;
        RequestBody::Source(src)
    };
    Ok((head, body))
}

fn encode_request(head: &RequestHead, body: &RequestBody) -> Vec<u8> {
    let mut out = Vec::new();
    write_request_head(&mut out, head);
    match body {
        RequestBody::Source(src) => {
            write_body(&mut out, Token::DOTI, head.version.compression(), src)
                .expect("writing to a Vec cannot fail");
        }
        RequestBody::Files(files) => {
            write_pump_file_count(&mut out, files.len() as u32);
            let c = match head.version {
                Version::V4 => Compression::Zstd,
                _ => Compression::Lzo,
            };
            for f in files {
                write_pump_entry_as(&mut out, f, c).expect("writing to a Vec cannot fail");
            }
        }
    }
    out
}

fn check_entry(e: &PumpEntry) {
    check_string(&e.name);
    match &e.kind {
        crate::PumpEntryKind::File(data) => check_body(data, Version::V3),
        crate::PumpEntryKind::Link(target) => check_string(target),
    }
}

/// A whole request (what a daemon reads from a client): decoded under small limits, every
/// part within them, errors of explicable kinds; what decodes re-encodes to bytes that decode
/// to the same request and re-encode to the same bytes.
pub fn request(data: &[u8]) {
    let (head, body) = match decode_request(&mut &data[..], &LIMITS) {
        Ok(x) => x,
        Err(e) => return check_error(&e),
    };
    assert!(!head.argv.is_empty() && head.argv.len() <= LIMITS.max_argc as usize);
    let total: usize = head.argv.iter().chain(&head.cwd).map(|a| a.len()).sum();
    assert!(total as u64 <= LIMITS.max_argv_total);
    head.argv
        .iter()
        .chain(&head.cwd)
        .for_each(|a| check_string(a));
    if head.version == Version::V4 {
        let ccid = head.ccid.as_ref().expect("a protocol 4 request has a CCID");
        assert!(ccid.len() <= crate::MAX_TEXT as usize);
    } else {
        assert_eq!(head.cwd.is_some(), head.version.is_pump());
        assert!(head.ccid.is_none());
    }
    match &body {
        RequestBody::Source(src) => check_body(src, head.version),
        RequestBody::Files(files) => {
            assert!(files.len() <= LIMITS.max_files as usize);
            files.iter().for_each(check_entry);
        }
    }
    decoded();
    let bytes = encode_request(&head, &body);
    let mut r = &bytes[..];
    let again = decode_request(&mut r, &REENCODED).expect("a re-encoded request decodes");
    assert!(
        r.is_empty(),
        "{} bytes left after a re-encoded request",
        r.len()
    );
    assert_eq!(again, (head, body));
    assert_eq!(encode_request(&again.0, &again.1), bytes);
}

fn check_reply(rep: &Reply, version: Version) {
    assert_eq!(rep.version, version);
    for b in [&rep.stderr, &rep.stdout, &rep.object]
        .into_iter()
        .chain(&rep.dotd)
    {
        check_body(b, version);
    }
    assert!(rep.dotd.is_none() || version.is_pump() || version == Version::V4);
}

/// A reply (what a client reads from a daemon), tried as each protocol version: decoded under
/// small limits, re-encoded, decoded again to the same reply and re-encoded to the same bytes.
pub fn reply(data: &[u8]) {
    for version in [Version::V1, Version::V2, Version::V3, Version::V4] {
        let rep = match read_reply(&mut &data[..], version, &LIMITS) {
            Ok(rep) => rep,
            Err(ProtoError::Refused { code, text }) => {
                check_refusal(data, code, &text);
                continue;
            }
            // A reply in another version than the request's is reported with that version.
            Err(ProtoError::VersionMismatch { sent, got }) => {
                assert_eq!(sent, version.number());
                assert_ne!(got, sent);
                continue;
            }
            Err(e) => {
                check_error(&e);
                continue;
            }
        };
        decoded();
        check_reply(&rep, version);
        let mut bytes = Vec::new();
        write_reply(&mut bytes, &rep).expect("writing to a Vec cannot fail");
        let mut r = &bytes[..];
        let again = read_reply(&mut r, version, &REENCODED).expect("a re-encoded reply decodes");
        assert!(
            r.is_empty(),
            "{} bytes left after a re-encoded reply",
            r.len()
        );
        assert_eq!(again, rep);
        let mut twice = Vec::new();
        write_reply(&mut twice, &again).expect("writing to a Vec cannot fail");
        assert_eq!(twice, bytes);
    }
}

/// A protocol 4 refusal that decoded: a code of the allowed range, a text within its cap, and
/// re-encoding it decodes to the same refusal.
fn check_refusal(data: &[u8], code: u32, text: &str) {
    assert!(code != 0 && code <= crate::MAX_RESULT, "RSLT {code}");
    assert!(
        data.len() >= 36,
        "a refusal needs DONE, RSLT and TEXT headers"
    );
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    );
    decoded();
    let mut bytes = Vec::new();
    write_refusal(&mut bytes, code, text).expect("writing to a Vec cannot fail");
    match read_answer(&mut &bytes[..], Version::V4, &LIMITS) {
        Ok((Answer::Refused(r), None)) if r.code == code => {
            // Cut at a character boundary when the cleaned text grew past the cap.
            assert!(text.starts_with(&r.text));
        }
        other => panic!("a re-encoded refusal gave {other:?}"),
    }
}

/// Protocol 4 requests: the input after a fixed `DIST 4` greeting, so every mutation reaches
/// `CCID`, `FLAG` and the zstd bodies; the properties are [`request`]'s.
pub fn request_v4(data: &[u8]) {
    let mut bytes = b"DIST00000004".to_vec();
    bytes.extend_from_slice(data);
    request(&bytes);
}

/// Protocol 4 replies after a fixed `DONE 4`: `RSLT`, `TEXT` and the five zstd bodies; the
/// properties are [`reply`]'s.
pub fn reply_v4(data: &[u8]) {
    let mut bytes = b"DONE00000004".to_vec();
    bytes.extend_from_slice(data);
    reply(&bytes);
}

/// The daemon's answer to a request with a cache key (`read_cache_verdict`): `CMIS 0` is a
/// miss and nothing else is read; an answer starting `DONE` is exactly what `read_answer`
/// reads from the same bytes; anything else is an error of a kind the input explains.
pub fn cache_verdict(data: &[u8]) {
    use crate::message::{CacheVerdict, read_answer, read_cache_verdict};
    let mut r = data;
    match read_cache_verdict(&mut r, &LIMITS) {
        Ok(CacheVerdict::Miss) => {
            decoded();
            assert_eq!(&data[..4], b"CMIS");
            assert_eq!(data.len() - r.len(), 12, "a miss is one header");
        }
        Ok(CacheVerdict::Answer(a)) => {
            decoded();
            let (b, _) = read_answer(&mut &data[..], Version::V4, &LIMITS)
                .expect("the same bytes read as an answer");
            assert_eq!(a, b);
        }
        Err(e) => check_error(&e),
    }
}

/// One protocol 4 body (`ULEN`, `DOTI`, zstd frame): accepted only when it decodes to exactly
/// `ULEN` bytes within the caps; what decodes re-encodes to a body that decodes to the same
/// bytes and re-encodes to the same bytes; a cap one byte below the body refuses it.
pub fn zstd_body(data: &[u8]) {
    let mut out = Vec::new();
    let got = read_body(
        &mut &data[..],
        Token::DOTI,
        Compression::Zstd,
        &LIMITS,
        &mut out,
    );
    // The whole-body decoder (a reply's bodies) accepts what the stream decoder accepts, with
    // the same bytes; what it alone accepts (a frame asking for a window over the stream's
    // cap, which it never allocates) still decodes to exactly `ULEN`.
    if data.len() >= 12 && &data[..4] == b"ULEN" {
        let mut r = data;
        let ulen = crate::token::read_expected(&mut r, Token::ULEN);
        if let Ok(ulen) = ulen {
            match (
                crate::zstd::read_frame_to_vec(&mut r, Token::DOTI, ulen, &LIMITS),
                &got,
            ) {
                (Ok(whole), Ok(_)) => assert_eq!(whole, out),
                (Ok(whole), Err(_)) => assert_eq!(whole.len(), ulen as usize),
                (Err(e), Ok(_)) => {
                    panic!("the stream decoder accepts what the whole one refuses: {e}")
                }
                (Err(e), Err(_)) => check_error(&e),
            }
        }
    }
    let n = match got {
        Ok(n) => n,
        Err(e) => return check_error(&e),
    };
    assert_eq!(n, out.len() as u64);
    assert!(n <= LIMITS.max_unpacked);
    assert_eq!(&data[..4], b"ULEN");
    decoded();
    let mut bytes = Vec::new();
    write_body(&mut bytes, Token::DOTI, Compression::Zstd, &out).expect("writing to a Vec");
    let mut again = Vec::new();
    read_body(
        &mut &bytes[..],
        Token::DOTI,
        Compression::Zstd,
        &REENCODED,
        &mut again,
    )
    .expect("a re-encoded body decodes");
    assert_eq!(again, out);
    if let Some(short) = n.checked_sub(1) {
        let tight = Limits {
            max_unpacked: short,
            ..LIMITS
        };
        let e = read_body(
            &mut &bytes[..],
            Token::DOTI,
            Compression::Zstd,
            &tight,
            &mut Vec::new(),
        )
        .expect_err("a body one byte over the cap");
        assert!(matches!(e, ProtoError::TooLarge { .. }), "{e}");
    }
}

/// A protocol 3 file list on its own (`NFIL`, then `NAME` + `FILE`/`LINK` entries), so the
/// fuzzer need not first get through a request head to reach it.
pub fn pump_entries(data: &[u8]) {
    let mut r = data;
    let n = match read_pump_file_count(&mut r, &LIMITS) {
        Ok(n) => n,
        Err(e) => return check_error(&e),
    };
    assert!(n <= LIMITS.max_files);
    for _ in 0..n {
        let entry = match read_pump_entry(&mut r, &LIMITS) {
            Ok(e) => e,
            Err(e) => return check_error(&e),
        };
        decoded();
        check_entry(&entry);
        let mut bytes = Vec::new();
        write_pump_entry(&mut bytes, &entry).expect("writing to a Vec cannot fail");
        let mut rr = &bytes[..];
        let again = read_pump_entry(&mut rr, &REENCODED).expect("a re-encoded entry decodes");
        assert!(rr.is_empty());
        assert_eq!(again, entry);
    }
}

// ---------------------------------------------------------------------------------------
// LZO

/// The second decoder: the `lzo` crate, written independently of ours (`lzo.rs`). It needs
/// an output buffer of known size.
fn reference_decompress(src: &[u8], room: usize) -> Option<Vec<u8>> {
    if src.is_empty() {
        // The protocol's empty body; `lzo` (like liblzo) calls a 0-byte block truncated.
        return Some(Vec::new());
    }
    let mut out = vec![0u8; room];
    let n = lzo::decompress_into(src, &mut out).ok()?;
    out.truncate(n);
    Some(out)
}

/// Arbitrary bytes as an LZO body: decompression stays within its cap exactly (a cap one byte
/// short of the output fails with `TooLarge`, a cap equal to it succeeds), agrees with the
/// `lzo` crate on which streams are valid and what they hold, and what it produces
/// compresses and decompresses back to itself.
pub fn lzo_decompress(data: &[u8]) {
    let ours = codec::decompress(data, LZO_CAP as u64);
    let reference = reference_decompress(data, LZO_CAP);
    match &ours {
        Ok(out) => {
            assert!(out.len() <= LZO_CAP);
            assert_eq!(reference.as_ref(), Some(out), "the two decoders disagree");
            // The cap is exact at both edges.
            assert_eq!(codec::decompress(data, out.len() as u64).as_ref(), Ok(out));
            if let Some(short) = out.len().checked_sub(1) {
                assert_eq!(
                    codec::decompress(data, short as u64),
                    Err(LzoError::TooLarge { max: short as u64 }),
                    "a cap one byte short of the output"
                );
            }
            // A budget of half the output is asked before the buffer grows past it, and
            // refuses: never a buffer larger than what was granted.
            let half = (out.len() / 2) as u64;
            let mut refused_at = None;
            let r = codec::decompress_granted(data, LZO_CAP as u64, &mut |t| {
                if t > half {
                    refused_at = Some(t);
                }
                t <= half
            });
            match r {
                Ok(small) => assert_eq!(&small, out),
                Err(LzoError::OverBudget { at }) => {
                    assert!(at > half);
                    assert_eq!(refused_at, Some(at));
                }
                Err(e) => panic!("a budget changed the outcome: {e}"),
            }
            decoded();
            let packed = codec::compress(out);
            assert!(packed.len() <= worst_case_packed(out.len()));
            assert_eq!(&codec::decompress(&packed, out.len() as u64).unwrap(), out);
        }
        Err(LzoError::TooLarge { max }) => {
            assert_eq!(*max, LZO_CAP as u64);
            assert!(reference.is_none(), "lzo decoded past the cap");
        }
        Err(LzoError::Corrupt(why)) => {
            assert!(
                reference.is_none(),
                "lzo decodes what we call corrupt ({why})"
            );
        }
        Err(LzoError::OverBudget { .. }) => panic!("no budget was set"),
    }
}

/// Arbitrary bytes as a body to send: compression is undone exactly by both decoders, stays
/// within LZO's worst-case growth, and a cap one byte short of the original is refused.
pub fn lzo_roundtrip(data: &[u8]) {
    let packed = codec::compress(data);
    assert!(packed.len() <= worst_case_packed(data.len()));
    assert_eq!(packed.is_empty(), data.is_empty());
    decoded();
    let back = codec::decompress(&packed, data.len() as u64).expect("our own stream decodes");
    assert_eq!(back, data);
    let theirs = reference_decompress(&packed, data.len()).expect("lzo decodes our stream");
    assert_eq!(theirs, data);
    if let Some(short) = data.len().checked_sub(1) {
        assert_eq!(
            codec::decompress(&packed, short as u64),
            Err(LzoError::TooLarge { max: short as u64 })
        );
    }
}

// ---------------------------------------------------------------------------------------
// Monitor state records

/// The `AUTH` frame a TLS client sends before its request: a token is returned exactly when
/// the header is `AUTH` with a length of at most `auth::MAX_LEN` and that many printable
/// bytes follow; what is returned re-encodes to the bytes read; nothing is allocated on the
/// strength of the length beyond the cap.
pub fn auth(data: &[u8]) {
    let mut r = data;
    match crate::auth::read(&mut r) {
        Ok(token) => {
            decoded();
            assert!(crate::auth::token_ok(&token));
            let mut again = Vec::new();
            crate::auth::encode(&mut again, &token).expect("a token read re-encodes");
            let used = data.len() - r.len();
            assert_eq!(again.len(), used);
            assert_eq!(
                parse_header(&again).ok(),
                parse_header(&data[..HEADER_LEN]).ok(),
                "same header value"
            );
            assert_eq!(&again[HEADER_LEN..], &data[HEADER_LEN..used]);
        }
        Err(
            ProtoError::Eof { .. }
            | ProtoError::Truncated { .. }
            | ProtoError::UnexpectedToken { .. }
            | ProtoError::BadParameter { .. }
            | ProtoError::TooLarge { .. }
            | ProtoError::Malformed { .. },
        ) => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

/// A chunked source's list (`chunks::read_list`, what a daemon reads from a client): what
/// decodes holds 1 to `max_chunks` entries of 1 to `max_chunk_len` bytes, at most
/// `max_unpacked` together, used exactly `12 + 16 + 20 n` bytes (header, namespace key,
/// entries) and re-encodes to them.
pub fn chunk_list(data: &[u8]) {
    let mut r = data;
    match crate::chunks::read_list(&mut r, &LIMITS) {
        Ok((key, list)) => {
            decoded();
            assert!(!list.is_empty() && list.len() <= LIMITS.max_chunks as usize);
            let total: u64 = list.iter().map(|c| u64::from(c.len)).sum();
            assert!(total <= LIMITS.max_unpacked);
            assert!(
                list.iter()
                    .all(|c| c.len >= 1 && c.len <= LIMITS.max_chunk_len)
            );
            let used = data.len() - r.len();
            assert_eq!(
                used,
                HEADER_LEN + crate::chunks::KEY_LEN + list.len() * crate::chunks::ENTRY_LEN
            );
            let mut again = Vec::new();
            crate::chunks::encode_list(&mut again, &key, &list);
            assert_eq!(&again[HEADER_LEN..], &data[HEADER_LEN..used]);
            assert_eq!(
                crate::chunks::read_list(&mut &again[..], &LIMITS).expect("re-encoded list"),
                (key, list)
            );
        }
        Err(e) => check_error(&e),
    }
}

/// The daemon's answer to a chunk list (`chunks::read_need_or_answer`, what a client reads),
/// for a list of as many chunks as the first input byte says: a `NEED` that decodes has that
/// count, no bit past it, and re-encodes to the bytes used; an answer in its place is what
/// `read_answer` reads from the same bytes.
pub fn chunk_need(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = u32::from(n);
    let mut r = rest;
    match crate::chunks::read_need_or_answer(&mut r, n, &LIMITS) {
        Ok(crate::chunks::NeedOr::Answer(a)) => {
            decoded();
            let (b, _) = read_answer(&mut &rest[..], Version::V4, &LIMITS)
                .expect("the same bytes read as an answer");
            assert_eq!(a, b);
        }
        Ok(crate::chunks::NeedOr::Need(need)) => {
            decoded();
            assert_eq!(need.len(), n as usize);
            assert!(need.count() <= need.len());
            assert!(!need.get(n as usize));
            let mut again = Vec::new();
            need.encode(&mut again);
            let used = rest.len() - r.len();
            assert_eq!(used, again.len());
            assert_eq!(&again[HEADER_LEN..], &rest[HEADER_LEN..used]);
        }
        Err(e) => check_error(&e),
    }
}

/// A state file's contents (what `distccmon-text` reads from any client's directory): decodes
/// exactly when the length, magic and size are right, strings are NUL-free and cut at 127
/// bytes, and a decoded record re-encodes to bytes that decode to the same record.
/// The coordinator's frames (`coord::decode`): whatever it accepts is within `MAX_LEN` and
/// `MAX_FIELDS`, says how many bytes it used, and re-encodes to a frame that decodes the same
/// and uses as many bytes; a frame is never reported from fewer bytes than it needs.
pub fn coord(data: &[u8]) {
    use crate::coord::{self, MAX_FIELDS, MAX_LEN};
    match coord::decode(data) {
        Ok(Some((frame, used))) => {
            assert!(used <= data.len() && used <= HEADER_LEN + MAX_LEN);
            assert!(frame.fields.len() <= MAX_FIELDS);
            decoded();
            let mut again = Vec::new();
            coord::encode(&mut again, &frame);
            assert_eq!(again.len(), used, "re-encoded length");
            assert_eq!(coord::decode(&again).ok().flatten(), Some((frame, used)));
            assert!(matches!(
                coord::decode(&data[..used - 1]),
                Ok(None) | Err(_)
            ));
        }
        Ok(None) => assert!(data.len() < HEADER_LEN + MAX_LEN),
        Err(_) => {}
    }
}

pub fn state_record(data: &[u8]) {
    let result = StateRecord::decode(data);
    let word = std::mem::size_of::<usize>();
    let read_word = |at: usize| {
        let mut b = [0u8; 8];
        if cfg!(target_endian = "little") {
            b[..word].copy_from_slice(&data[at..at + word]);
        } else {
            b[8 - word..].copy_from_slice(&data[at..at + word]);
        }
        u64::from_ne_bytes(b)
    };
    if data.len() != state::RECORD_LEN {
        assert_eq!(result, Err(StateError::WrongLength { len: data.len() }));
        return;
    }
    let (size, magic) = (read_word(0), read_word(word));
    match &result {
        Ok(rec) => {
            assert_eq!((size, magic), (state::RECORD_LEN as u64, state::MAGIC));
            for s in [&rec.file, &rec.host] {
                assert!(s.len() < state::FIELD_LEN && !s.contains(&0));
            }
            decoded();
            let bytes = rec.encode();
            assert_eq!(StateRecord::decode(&bytes).as_ref(), Ok(rec));
            assert_eq!(
                StateRecord::decode(&bytes).map(|r| r.encode()),
                Ok(bytes),
                "canonical bytes re-encode byte for byte"
            );
        }
        Err(StateError::BadMagic { found }) => {
            assert_eq!(*found, magic);
            assert_ne!(magic, state::MAGIC);
        }
        Err(StateError::BadStructSize { found }) => {
            assert_eq!(magic, state::MAGIC);
            assert_eq!(*found, size);
            assert_ne!(size, state::RECORD_LEN as u64);
        }
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Header;

    fn model(s: &[u8; 8]) -> Option<u32> {
        let m = strtoul16(s);
        (m.end == 8).then_some(m.value)
    }

    /// The model must itself be right, or agreeing with it proves nothing.
    #[test]
    fn strtoul_model_matches_c() {
        assert_eq!(model(b"0000abcd"), Some(0xabcd));
        assert_eq!(model(b" \t+0x1F0"), Some(0x1f0));
        assert_eq!(model(b"0x      "), None);
        assert_eq!(model(b"00000x12"), None);
        assert_eq!(model(b"1234567\0"), None);
        assert_eq!(model(b"        "), None);
        let neg = strtoul16(b"-0000001");
        assert_eq!((neg.value, neg.end, neg.negative), (u32::MAX, 8, true));
        assert_eq!(strtoul16(b"-0000000").value, 0);
    }

    #[test]
    fn every_target_has_a_distinct_name() {
        let mut names: Vec<_> = TARGETS.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TARGETS.len());
    }

    #[test]
    fn header_body_accepts_its_own_encoding() {
        let mut b = Vec::new();
        encode_header(&mut b, Token::ARGV, 0x1234_abcd);
        header(&b);
        assert_eq!(
            parse_header(&b).unwrap(),
            Parsed::Header(Header {
                token: Token::ARGV,
                value: 0x1234_abcd
            })
        );
    }
}
