//! Requests and replies of protocol versions 1, 2, 3 and 4, element by element.
//!
//! Protocol 4 (ours only, docs/protocol-4.md) adds `CCID` and `FLAG` to the request, `RSLT`
//! and `TEXT` to the reply, and sends every body as `ULEN <n>` + `<TOKEN> <clen>` + one zstd
//! frame ([`crate::zstd`]).
//!
//! The request is split in two: [`RequestHead`] (greeting, working directory, argv) is small
//! and is read whole; the body that follows (`DOTI` in 1/2, the `NFIL` file list in 3) may be
//! many megabytes and is handed to the caller's writer one element at a time.

use std::io::{self, Read, Write};

use crate::error::ProtoError;
use crate::limits::Limits;
use crate::lzo;
use crate::token::{Token, encode_header, read_expected, read_header};

/// A protocol version that distcc 3.4 speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// Plain bodies, preprocessed on the client.
    V1,
    /// LZO bodies, preprocessed on the client.
    V2,
    /// LZO bodies, sources and headers sent for preprocessing on the server ("pump").
    V3,
    /// Ours only: zstd bodies, compiler identity, in-band errors; plain or pump by `FLAG`.
    V4,
}

/// How bulk bodies are encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Lzo,
    /// `ULEN` + one zstd frame (protocol 4).
    Zstd,
}

impl Version {
    /// Interprets the `DIST` parameter. 3.4 treats 0 as 1.
    pub fn from_wire(n: u32) -> Result<Version, ProtoError> {
        match n {
            0 | 1 => Ok(Version::V1),
            2 => Ok(Version::V2),
            3 => Ok(Version::V3),
            4 => Ok(Version::V4),
            other => Err(ProtoError::UnsupportedVersion(other)),
        }
    }

    pub fn number(self) -> u32 {
        match self {
            Version::V1 => 1,
            Version::V2 => 2,
            Version::V3 => 3,
            Version::V4 => 4,
        }
    }

    pub fn compression(self) -> Compression {
        match self {
            Version::V1 => Compression::None,
            Version::V2 | Version::V3 => Compression::Lzo,
            Version::V4 => Compression::Zstd,
        }
    }

    /// True for the pump protocol 3, where the server preprocesses. A protocol 4 request
    /// says so in its `FLAG` ([`RequestHead::is_pump`]).
    pub fn is_pump(self) -> bool {
        self == Version::V3
    }
}

/// The small, fixed part of a request: everything before the source body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub version: Version,
    /// The client's working directory (`CDIR`); protocol 3, and protocol 4 in pump mode.
    pub cwd: Option<Vec<u8>>,
    /// The compiler command line, compiler name first.
    pub argv: Vec<Vec<u8>>,
    /// The client's compiler identity (`CCID`, opaque here); protocol 4 only.
    pub ccid: Option<Vec<u8>>,
    /// Protocol 4: the result cache key (`FLAG` bit 1, `CKEY` after the command line). The
    /// server answers before the source or the pump files are sent ([`read_cache_verdict`]).
    pub cache_key: Option<[u8; CACHE_KEY_LEN]>,
    /// Protocol 4 plain mode: the source comes as chunks (`FLAG` bit 2, [`crate::chunks`]):
    /// a `CHNK` list where `DOTI` would be, the daemon's `NEED`, then the missing ones.
    pub chunked: bool,
}

impl RequestHead {
    /// True when the server preprocesses: protocol 3, or protocol 4 with the pump flag.
    pub fn is_pump(&self) -> bool {
        self.cwd.is_some()
    }
}

/// The longest `CCID` and `TEXT` (protocol 4).
pub const MAX_TEXT: u32 = 4096;

/// `FLAG` bit 0: the server preprocesses (pump).
pub const FLAG_PUMP: u32 = 1;
/// `FLAG` bit 1: a `CKEY` follows the command line (plain or pump mode).
pub const FLAG_CACHE: u32 = 2;
/// `FLAG` bit 2: the source comes as chunks (plain mode only, [`crate::chunks`]).
pub const FLAG_CHUNKS: u32 = 4;
/// The length of a `CKEY` (a SHA-256 digest).
pub const CACHE_KEY_LEN: usize = 32;

/// Reads the `DIST` greeting alone, so a server can decide what to do before reading more.
pub fn read_version_greeting<R: Read + ?Sized>(r: &mut R) -> Result<Version, ProtoError> {
    Version::from_wire(read_expected(r, Token::DIST)?)
}

/// Reads `CDIR` (protocol 3), `ARGC` and every `ARGV` after a greeting already read.
pub fn read_request_head<R: Read + ?Sized>(
    r: &mut R,
    version: Version,
    limits: &Limits,
) -> Result<RequestHead, ProtoError> {
    let mut total: u64 = 0;
    let mut ccid = None;
    let mut pump = version.is_pump();
    let mut cached = false;
    let mut chunked = false;
    if version == Version::V4 {
        let len = read_expected(r, Token::CCID)?;
        check_len(Token::CCID, len.into(), MAX_TEXT.into())?;
        ccid = Some(read_exact_vec(r, Token::CCID, len)?);
        let flags = read_expected(r, Token::FLAG)?;
        if flags & !(FLAG_PUMP | FLAG_CACHE | FLAG_CHUNKS) != 0 {
            return Err(ProtoError::Malformed {
                token: Token::FLAG,
                why: "unknown flag bits",
            });
        }
        pump = flags & FLAG_PUMP != 0;
        cached = flags & FLAG_CACHE != 0;
        chunked = flags & FLAG_CHUNKS != 0;
        if pump && chunked {
            return Err(ProtoError::Malformed {
                token: Token::FLAG,
                why: "chunks in pump mode",
            });
        }
    }
    let cwd = if pump {
        Some(read_string(r, Token::CDIR, limits, &mut total)?)
    } else {
        None
    };
    let argc = read_expected(r, Token::ARGC)?;
    if argc == 0 {
        return Err(ProtoError::Malformed {
            token: Token::ARGC,
            why: "empty command line",
        });
    }
    check_len(Token::ARGC, argc.into(), limits.max_argc.into())?;
    let mut argv = Vec::with_capacity(argc as usize);
    for _ in 0..argc {
        argv.push(read_string(r, Token::ARGV, limits, &mut total)?);
    }
    let cache_key = if cached {
        let len = read_expected(r, Token::CKEY)?;
        if len as usize != CACHE_KEY_LEN {
            return Err(ProtoError::Malformed {
                token: Token::CKEY,
                why: "a cache key is 32 bytes",
            });
        }
        let v = read_exact_vec(r, Token::CKEY, len)?;
        let mut k = [0u8; CACHE_KEY_LEN];
        k.copy_from_slice(&v);
        Some(k)
    } else {
        None
    };
    Ok(RequestHead {
        version,
        cwd,
        argv,
        ccid,
        cache_key,
        chunked,
    })
}

/// Encodes a request head: `DIST`, then for protocol 4 `CCID` and `FLAG`, then `CDIR` for
/// pump, `ARGC`, `ARGV`….
pub fn write_request_head(buf: &mut Vec<u8>, head: &RequestHead) {
    encode_header(buf, Token::DIST, head.version.number());
    if head.version == Version::V4 {
        put_string(buf, Token::CCID, head.ccid.as_deref().unwrap_or_default());
        let mut flags = 0;
        if head.cwd.is_some() {
            flags |= FLAG_PUMP;
        }
        if head.cache_key.is_some() {
            flags |= FLAG_CACHE;
        }
        if head.chunked && head.cwd.is_none() {
            flags |= FLAG_CHUNKS;
        }
        encode_header(buf, Token::FLAG, flags);
    }
    if head.version.is_pump() || (head.version == Version::V4 && head.cwd.is_some()) {
        put_string(buf, Token::CDIR, head.cwd.as_deref().unwrap_or_default());
    }
    encode_header(buf, Token::ARGC, len_u32(head.argv.len()));
    for arg in &head.argv {
        put_string(buf, Token::ARGV, arg);
    }
    if head.version == Version::V4
        && let Some(k) = &head.cache_key
    {
        put_string(buf, Token::CKEY, k);
    }
}

/// Reads a bulk body carrying `token` (`DOTI`, `DOTO`, `SERR`, …) into `out`, decompressing
/// it if the protocol says so. Uncompressed bodies are streamed; an LZO body must be held
/// whole because the format has no framing. Returns the number of bytes written to `out`.
pub fn read_body<R: Read + ?Sized, W: Write + ?Sized>(
    r: &mut R,
    token: Token,
    compression: Compression,
    limits: &Limits,
    out: &mut W,
) -> Result<u64, ProtoError> {
    read_body_granted(r, token, compression, limits, out, &mut |_| true)
}

/// [`read_body`] into a new vector: a zstd body is decoded whole, into exactly its `ULEN`
/// ([`crate::zstd::read_frame_to_vec`]).
fn read_body_to_vec<R: Read + ?Sized>(
    r: &mut R,
    token: Token,
    compression: Compression,
    limits: &Limits,
) -> Result<Vec<u8>, ProtoError> {
    if compression == Compression::Zstd {
        let ulen = read_expected(r, Token::ULEN)?;
        return crate::zstd::read_frame_to_vec(r, token, ulen, limits);
    }
    let mut out = Vec::new();
    read_body(r, token, compression, limits, &mut out)?;
    Ok(out)
}

/// [`read_body`], asking `grant(total)` before holding `total` bytes at once (an LZO body is
/// held compressed, then decompressed beside it; an uncompressed one is streamed and asks
/// nothing). A refusal is [`ProtoError::OverBudget`], with the body not read to its end.
pub fn read_body_granted<R: Read + ?Sized, W: Write + ?Sized>(
    r: &mut R,
    token: Token,
    compression: Compression,
    limits: &Limits,
    out: &mut W,
    grant: &mut dyn FnMut(u64) -> bool,
) -> Result<u64, ProtoError> {
    if compression == Compression::Zstd {
        let ulen = read_expected(r, Token::ULEN)?;
        return crate::zstd::read_frame(r, token, ulen, limits, out, grant);
    }
    let len = read_expected(r, token)?;
    read_body_after_header(r, token, len, compression, limits, out, grant)
}

fn read_body_after_header<R: Read + ?Sized, W: Write + ?Sized>(
    r: &mut R,
    token: Token,
    len: u32,
    compression: Compression,
    limits: &Limits,
    out: &mut W,
    grant: &mut dyn FnMut(u64) -> bool,
) -> Result<u64, ProtoError> {
    check_len(token, len.into(), limits.max_body.into())?;
    match compression {
        Compression::None => {
            let copied = io::copy(&mut r.take(len.into()), out)?;
            if copied != u64::from(len) {
                return Err(ProtoError::Truncated { token });
            }
            Ok(copied)
        }
        Compression::Lzo => {
            if !grant(len.into()) {
                return Err(ProtoError::OverBudget { token });
            }
            let packed = read_exact_vec(r, token, len)?;
            let plain = lzo::decompress_granted(&packed, limits.max_unpacked, &mut |t| {
                grant(u64::from(len) + t)
            })
            .map_err(|e| match e {
                lzo::LzoError::OverBudget { .. } => ProtoError::OverBudget { token },
                e => ProtoError::Lzo(e),
            })?;
            out.write_all(&plain)?;
            Ok(plain.len() as u64)
        }
        Compression::Zstd => unreachable!("zstd bodies start with ULEN (read_body_granted)"),
    }
}

/// Writes a bulk body, compressing it if the protocol says so. An empty body is always sent
/// as length zero, never compressed.
pub fn write_body<W: Write + ?Sized>(
    w: &mut W,
    token: Token,
    compression: Compression,
    data: &[u8],
) -> io::Result<()> {
    let packed;
    let wire = match compression {
        Compression::Zstd => return crate::zstd::write_frame(w, token, data),
        Compression::None => data,
        Compression::Lzo => {
            packed = lzo::compress(data);
            &packed[..]
        }
    };
    let len = u32::try_from(wire.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "body exceeds 4 GiB"))?;
    let mut head = Vec::with_capacity(12);
    encode_header(&mut head, token, len);
    w.write_all(&head)?;
    w.write_all(wire)
}

/// One entry of a protocol 3 file list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PumpEntry {
    /// Absolute path on the client, as the client sent it. Not yet checked for safety: the
    /// daemon decides where (and whether) it may be placed.
    pub name: Vec<u8>,
    pub kind: PumpEntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PumpEntryKind {
    /// File contents, already decompressed.
    File(Vec<u8>),
    /// Symbolic link target.
    Link(Vec<u8>),
}

/// Encodes `NFIL n`.
pub fn write_pump_file_count(buf: &mut Vec<u8>, n: u32) {
    encode_header(buf, Token::NFIL, n);
}

/// Reads `NFIL` and checks it against the cap.
pub fn read_pump_file_count<R: Read + ?Sized>(
    r: &mut R,
    limits: &Limits,
) -> Result<u32, ProtoError> {
    let n = read_expected(r, Token::NFIL)?;
    check_len(Token::NFIL, n.into(), limits.max_files.into())?;
    Ok(n)
}

/// Writes one `NAME` followed by `FILE` (LZO) or `LINK`.
pub fn write_pump_entry<W: Write + ?Sized>(w: &mut W, entry: &PumpEntry) -> io::Result<()> {
    write_pump_entry_as(w, entry, Compression::Lzo)
}

/// [`write_pump_entry`] with the `FILE` body in `compression` (zstd in protocol 4).
pub fn write_pump_entry_as<W: Write + ?Sized>(
    w: &mut W,
    entry: &PumpEntry,
    compression: Compression,
) -> io::Result<()> {
    let mut buf = Vec::new();
    match &entry.kind {
        PumpEntryKind::File(data) => {
            put_string(&mut buf, Token::NAME, &entry.name);
            w.write_all(&buf)?;
            write_body(w, Token::FILE, compression, data)
        }
        PumpEntryKind::Link(target) => {
            encode_pump_link(&mut buf, &entry.name, target);
            w.write_all(&buf)
        }
    }
}

/// Appends one `NAME` + `FILE` entry whose body is already LZO1X (the include server's
/// copies): the bytes [`write_pump_entry`] sends for the same file after compressing it.
pub fn encode_pump_packed_file(buf: &mut Vec<u8>, name: &[u8], packed: &[u8]) -> io::Result<()> {
    let len = u32::try_from(packed.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "body exceeds 4 GiB"))?;
    put_string(buf, Token::NAME, name);
    encode_header(buf, Token::FILE, len);
    buf.extend_from_slice(packed);
    Ok(())
}

/// Appends one `NAME` + `LINK` entry.
pub fn encode_pump_link(buf: &mut Vec<u8>, name: &[u8], target: &[u8]) {
    put_string(buf, Token::NAME, name);
    put_string(buf, Token::LINK, target);
}

/// Reads one `NAME` + `FILE`/`LINK` entry of a protocol 3 file list.
pub fn read_pump_entry<R: Read + ?Sized>(
    r: &mut R,
    limits: &Limits,
) -> Result<PumpEntry, ProtoError> {
    read_pump_entry_granted(r, limits, &mut |_| true)
}

/// [`read_pump_entry`], asking `grant` before holding a file's bytes, as [`read_body_granted`].
pub fn read_pump_entry_granted<R: Read + ?Sized>(
    r: &mut R,
    limits: &Limits,
    grant: &mut dyn FnMut(u64) -> bool,
) -> Result<PumpEntry, ProtoError> {
    read_pump_entry_as(r, Compression::Lzo, limits, grant)
}

/// [`read_pump_entry_granted`] for `FILE` bodies in `compression` (zstd in protocol 4, where
/// a file is `NAME`, `ULEN`, `FILE`).
pub fn read_pump_entry_as<R: Read + ?Sized>(
    r: &mut R,
    compression: Compression,
    limits: &Limits,
    grant: &mut dyn FnMut(u64) -> bool,
) -> Result<PumpEntry, ProtoError> {
    let mut total = 0;
    let name = read_string(r, Token::NAME, limits, &mut total)?;
    let Some(h) = read_header(r)? else {
        return Err(ProtoError::Eof {
            expected: Token::FILE,
        });
    };
    let kind = match h.token {
        Token::ULEN if compression == Compression::Zstd => {
            let mut data = Vec::new();
            crate::zstd::read_frame(r, Token::FILE, h.value, limits, &mut data, grant)?;
            PumpEntryKind::File(data)
        }
        Token::FILE if compression != Compression::Zstd => {
            let mut data = Vec::new();
            read_body_after_header(
                r,
                Token::FILE,
                h.value,
                compression,
                limits,
                &mut data,
                grant,
            )?;
            PumpEntryKind::File(data)
        }
        Token::LINK => {
            check_len(Token::LINK, h.value.into(), limits.max_arg_len.into())?;
            let target = read_exact_vec(r, Token::LINK, h.value)?;
            check_string(Token::LINK, &target)?;
            PumpEntryKind::Link(target)
        }
        got => {
            let expected = if compression == Compression::Zstd {
                Token::ULEN
            } else {
                Token::FILE
            };
            return Err(ProtoError::UnexpectedToken { expected, got });
        }
    };
    Ok(PumpEntry { name, kind })
}

/// The server's answer to one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub version: Version,
    /// Unix wait status of the compiler: `exit << 8`, or the terminating signal.
    pub status: u32,
    pub stderr: Vec<u8>,
    pub stdout: Vec<u8>,
    /// The object file; empty when the compile failed.
    pub object: Vec<u8>,
    /// The dependency file (`DOTD`), protocol 3 only, sent only after a successful compile.
    pub dotd: Option<Vec<u8>>,
}

impl Reply {
    /// A reply that reports `status` with no output, as 3.4 sends for internal failures.
    pub fn failure(version: Version, status: u32, stderr: Vec<u8>) -> Reply {
        Reply {
            version,
            status,
            stderr,
            stdout: Vec::new(),
            object: Vec::new(),
            dotd: None,
        }
    }
}

/// Writes `DONE STAT SERR SOUT DOTO` and, for protocol 3, `DOTD` when present. In protocol 4:
/// `DONE 4`, `RSLT 0`, `STAT`, and all five bodies (`DOTD` empty when absent).
pub fn write_reply<W: Write + ?Sized>(w: &mut W, reply: &Reply) -> io::Result<()> {
    let c = reply.version.compression();
    let mut head = Vec::with_capacity(36);
    encode_header(&mut head, Token::DONE, reply.version.number());
    if reply.version == Version::V4 {
        encode_header(&mut head, Token::RSLT, 0);
    }
    encode_header(&mut head, Token::STAT, reply.status);
    w.write_all(&head)?;
    write_body(w, Token::SERR, c, &reply.stderr)?;
    write_body(w, Token::SOUT, c, &reply.stdout)?;
    write_body(w, Token::DOTO, c, &reply.object)?;
    if reply.version == Version::V4 {
        write_body(w, Token::DOTD, c, reply.dotd.as_deref().unwrap_or_default())?;
    } else if reply.version.is_pump()
        && let Some(dotd) = &reply.dotd
    {
        write_body(w, Token::DOTD, c, dotd)?;
    }
    w.flush()
}

/// A protocol 4 refusal or server failure: `RSLT <code>` (not 0) and its `TEXT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// By class (docs/protocol-4.md): 1xx the host's fault, 2xx the request's, 3xx the
    /// compiler's, 4xx the client's credentials.
    pub code: u32,
    /// For the user; at most [`MAX_TEXT`] bytes, control characters other than newline and
    /// tab replaced.
    pub text: String,
}

/// What a server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The compiler ran (protocol 1–3 always; protocol 4 `RSLT 0`).
    Ran(Reply),
    /// Protocol 4 only: the job was refused or the server failed.
    Refused(Refusal),
}

/// The highest `RSLT` code accepted.
pub const MAX_RESULT: u32 = 999;

/// Writes a protocol 4 refusal: `DONE 4`, `RSLT code`, `TEXT` (cut to [`MAX_TEXT`] bytes at a
/// character boundary).
pub fn write_refusal<W: Write + ?Sized>(w: &mut W, code: u32, text: &str) -> io::Result<()> {
    debug_assert!(code != 0 && code <= MAX_RESULT, "bad RSLT code {code}");
    let mut end = text.len().min(MAX_TEXT as usize);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut buf = Vec::with_capacity(36 + end);
    encode_header(&mut buf, Token::DONE, Version::V4.number());
    encode_header(&mut buf, Token::RSLT, code);
    put_string(&mut buf, Token::TEXT, &text.as_bytes()[..end]);
    w.write_all(&buf)?;
    w.flush()
}

/// Reads a reply to a request made in `version`. The server must answer in the same version.
/// A protocol 4 refusal is [`ProtoError::Refused`]; [`read_answer`] returns it as a value.
pub fn read_reply<R: Read + ?Sized>(
    r: &mut R,
    version: Version,
    limits: &Limits,
) -> Result<Reply, ProtoError> {
    match read_answer(r, version, limits)?.0 {
        Answer::Ran(reply) => Ok(reply),
        Answer::Refused(Refusal { code, text }) => Err(ProtoError::Refused { code, text }),
    }
}

/// Reads a reply, as [`read_reply`], and says whether the header of our daemon's
/// advertisement trailer ([`crate::advert`]) was read in its place: after a failed protocol 3
/// compile a `DOTD` may be missing, so the next header there is either `DOTD` or the trailer
/// (`Some(len)`: its body of `len` bytes is next). Otherwise the trailer, if any, is unread.
pub fn read_answer<R: Read + ?Sized>(
    r: &mut R,
    version: Version,
    limits: &Limits,
) -> Result<(Answer, Option<u32>), ProtoError> {
    let done = read_expected(r, Token::DONE)?;
    read_answer_after_done(r, version, done, limits)
}

/// The daemon's first word after a request with a cache key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheVerdict {
    /// `CMIS 0`: not in its cache; send the source (`DOTI`) and read the answer as usual.
    Miss,
    /// A whole protocol 4 answer: the cached result (`RSLT 0`), or a refusal.
    Answer(Answer),
}

/// Reads the daemon's answer to a request with `FLAG` bit 1: `CMIS 0`, or `DONE 4` and the
/// rest of a protocol 4 answer.
pub fn read_cache_verdict<R: Read + ?Sized>(
    r: &mut R,
    limits: &Limits,
) -> Result<CacheVerdict, ProtoError> {
    let h = read_header(r)?.ok_or(ProtoError::Eof {
        expected: Token::DONE,
    })?;
    match h.token {
        Token::CMIS if h.value == 0 => Ok(CacheVerdict::Miss),
        Token::CMIS => Err(ProtoError::Malformed {
            token: Token::CMIS,
            why: "CMIS carries 0",
        }),
        Token::DONE => read_answer_after_done(r, Version::V4, h.value, limits)
            .map(|(a, _)| CacheVerdict::Answer(a)),
        got => Err(ProtoError::UnexpectedToken {
            expected: Token::DONE,
            got,
        }),
    }
}

/// Writes `CMIS 0`.
pub fn write_cache_miss(buf: &mut Vec<u8>) {
    encode_header(buf, Token::CMIS, 0);
}

pub(crate) fn read_answer_after_done<R: Read + ?Sized>(
    r: &mut R,
    version: Version,
    done: u32,
    limits: &Limits,
) -> Result<(Answer, Option<u32>), ProtoError> {
    // 3.4 compares the raw number, so a DONE of 0 never answers a request of 1.
    if done != version.number() {
        return Err(ProtoError::VersionMismatch {
            sent: version.number(),
            got: done,
        });
    }
    if version == Version::V4 {
        let code = read_expected(r, Token::RSLT)?;
        check_len(Token::RSLT, code.into(), MAX_RESULT.into())?;
        if code != 0 {
            let len = read_expected(r, Token::TEXT)?;
            check_len(Token::TEXT, len.into(), MAX_TEXT.into())?;
            let raw = read_exact_vec(r, Token::TEXT, len)?;
            return Ok((
                Answer::Refused(Refusal {
                    code,
                    text: clean_text(&raw),
                }),
                None,
            ));
        }
    }
    let status = read_expected(r, Token::STAT)?;
    let c = version.compression();
    let stderr = read_body_to_vec(r, Token::SERR, c, limits)?;
    let stdout = read_body_to_vec(r, Token::SOUT, c, limits)?;
    let object = read_body_to_vec(r, Token::DOTO, c, limits)?;
    let mut trailer = None;
    let dotd = if version == Version::V4 {
        let d = read_body_to_vec(r, Token::DOTD, c, limits)?;
        (!d.is_empty()).then_some(d)
    } else if version.is_pump() {
        // Old servers omit DOTD after a failed compile; a clean close is fine there, and so
        // is our daemon's trailer.
        match read_header(r)? {
            None => None,
            Some(h) if h.token == Token::DOTD => {
                let mut d = Vec::new();
                read_body_after_header(r, Token::DOTD, h.value, c, limits, &mut d, &mut |_| true)?;
                Some(d)
            }
            Some(h) if h.token == crate::advert::ADVT => {
                trailer = Some(h.value);
                None
            }
            Some(h) => {
                return Err(ProtoError::UnexpectedToken {
                    expected: Token::DOTD,
                    got: h.token,
                });
            }
        }
    } else {
        None
    };
    Ok((
        Answer::Ran(Reply {
            version,
            status,
            stderr,
            stdout,
            object,
            dotd,
        }),
        trailer,
    ))
}

/// A `TEXT` as the user may see it: UTF-8 (lossy), control characters other than newline and
/// tab shown as `?`.
fn clean_text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

fn check_len(token: Token, len: u64, max: u64) -> Result<(), ProtoError> {
    if len > max {
        return Err(ProtoError::TooLarge { token, len, max });
    }
    Ok(())
}

fn check_string(token: Token, s: &[u8]) -> Result<(), ProtoError> {
    if s.contains(&0) {
        return Err(ProtoError::Malformed {
            token,
            why: "contains a NUL byte",
        });
    }
    Ok(())
}

fn read_string<R: Read + ?Sized>(
    r: &mut R,
    token: Token,
    limits: &Limits,
    total: &mut u64,
) -> Result<Vec<u8>, ProtoError> {
    let len = read_expected(r, token)?;
    check_len(token, len.into(), limits.max_arg_len.into())?;
    *total += u64::from(len);
    check_len(token, *total, limits.max_argv_total)?;
    let s = read_exact_vec(r, token, len)?;
    check_string(token, &s)?;
    Ok(s)
}

/// Reads exactly `len` bytes, growing the buffer as data actually arrives so that a forged
/// length costs nothing until the bytes are really sent.
fn read_exact_vec<R: Read + ?Sized>(
    r: &mut R,
    token: Token,
    len: u32,
) -> Result<Vec<u8>, ProtoError> {
    let mut v = Vec::with_capacity((len as usize).min(64 * 1024));
    let got = r.take(len.into()).read_to_end(&mut v)?;
    if got != len as usize {
        return Err(ProtoError::Truncated { token });
    }
    Ok(v)
}

fn put_string(buf: &mut Vec<u8>, token: Token, s: &[u8]) {
    encode_header(buf, token, len_u32(s.len()));
    buf.extend_from_slice(s);
}

fn len_u32(n: usize) -> u32 {
    // Callers build requests from argv and paths, which the OS caps far below 4 GiB.
    u32::try_from(n).expect("string longer than 4 GiB")
}

#[cfg(test)]
mod cache_key_tests {
    use super::*;

    fn head(key: Option<[u8; CACHE_KEY_LEN]>) -> RequestHead {
        RequestHead {
            version: Version::V4,
            cwd: None,
            argv: vec![b"gcc".to_vec(), b"-c".to_vec(), b"a.c".to_vec()],
            ccid: Some(b"target=t\n".to_vec()),
            cache_key: key,
            chunked: false,
        }
    }

    #[test]
    fn a_cache_key_follows_the_command_line() {
        let mut buf = Vec::new();
        write_request_head(&mut buf, &head(Some([7; 32])));
        let text = String::from_utf8_lossy(&buf);
        assert!(text.contains("FLAG00000002"), "{text}");
        assert!(buf.ends_with(&[&b"CKEY00000020"[..], &[7; 32]].concat()));
        let mut r = &buf[12..];
        let got = read_request_head(&mut r, Version::V4, &Limits::DEFAULT).unwrap();
        assert_eq!(got, head(Some([7; 32])));
        // Without a key: FLAG 0 and no CKEY.
        let mut plain = Vec::new();
        write_request_head(&mut plain, &head(None));
        assert!(!String::from_utf8_lossy(&plain).contains("CKEY"));
        // A key of another length is refused.
        let short = [&buf[..buf.len() - 44], &b"CKEY00000010"[..], &[1; 16]].concat();
        assert!(read_request_head(&mut &short[12..], Version::V4, &Limits::DEFAULT).is_err());
        // Pump mode with a key: FLAG 3, CDIR before the command line, CKEY after it.
        let mut pump = head(Some([9; 32]));
        pump.cwd = Some(b"/src".to_vec());
        let mut buf = Vec::new();
        write_request_head(&mut buf, &pump);
        let text = String::from_utf8_lossy(&buf);
        assert!(text.contains("FLAG00000003CDIR00000004/srcARGC"), "{text}");
        assert!(buf.ends_with(&[&b"CKEY00000020"[..], &[9; 32]].concat()));
        let got = read_request_head(&mut &buf[12..], Version::V4, &Limits::DEFAULT).unwrap();
        assert_eq!(got, pump);
    }

    #[test]
    fn verdicts() {
        let mut miss = Vec::new();
        write_cache_miss(&mut miss);
        assert_eq!(miss, b"CMIS00000000");
        assert_eq!(
            read_cache_verdict(&mut &miss[..], &Limits::DEFAULT).unwrap(),
            CacheVerdict::Miss
        );
        let mut refusal = Vec::new();
        write_refusal(&mut refusal, 300, "no such compiler").unwrap();
        assert!(matches!(
            read_cache_verdict(&mut &refusal[..], &Limits::DEFAULT).unwrap(),
            CacheVerdict::Answer(Answer::Refused(Refusal { code: 300, .. }))
        ));
        assert!(read_cache_verdict(&mut &b"CMIS00000001"[..], &Limits::DEFAULT).is_err());
        assert!(read_cache_verdict(&mut &b"STAT00000000"[..], &Limits::DEFAULT).is_err());
    }
}
