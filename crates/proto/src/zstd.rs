//! Protocol 4 bodies: `ULEN <uncompressed length>`, then `<TOKEN> <compressed length>` and one
//! zstd frame (level [`LEVEL`]). An empty body is `ULEN 0`, `<TOKEN> 0`.
//!
//! The receiver refuses a `ULEN` above `Limits::max_unpacked` and a compressed length above
//! `Limits::max_body` before reading anything more, decodes as the bytes arrive (so a daemon
//! can feed the compiler while the source is still coming), never lets the frame ask for a
//! window over [`WINDOW_LOG_MAX`], and refuses a frame that decodes to any other length than
//! its `ULEN` or that leaves bytes unused. The `zstd` crate (libzstd) does the coding.

use std::io::{self, BufRead, Read, Write};

use crate::error::ProtoError;
use crate::limits::Limits;
use crate::token::{Token, encode_header, read_expected};

/// The compression level of every body we send (the receiver decodes any level). Level 3
/// (zstd's default) packs libgit2's preprocessed sources 5.6 % smaller than level 1 for about
/// 0.2 ms more per 500 KB body (bench/results/protocol4.txt has the measurement), which is
/// what brings protocol 4 under 2/3 of LZO's bytes.
pub const LEVEL: i32 = 3;

/// The match finder's two tables at [`LEVEL`] hold 2^14 entries each (128 KiB in all), not
/// level 3's 2^17 and 2^16 (768 KiB). A client is a fresh process per compile, so every page
/// of those tables is a page fault (about 1.8 µs each here) before it is a lookup, and the
/// smaller tables also stay in cache: on libgit2's preprocessed sources this compresses in
/// 0.82 of the time for 0.3 % more bytes (bench/results/protocol4.txt). zstd still shrinks
/// them further for small bodies.
pub const HASH_LOG: u32 = 14;
/// See [`HASH_LOG`].
pub const CHAIN_LOG: u32 = 14;

/// The largest window a frame may ask the decoder for (16 MiB): level 3 uses at most 2 MiB,
/// so this bounds what a hostile frame can make either side hold while decoding.
pub const WINDOW_LOG_MAX: u32 = 24;

thread_local! {
    /// One compression context per thread, made at the first body and reused for the next
    /// ones (a pump client's many `FILE` bodies, a daemon thread's replies), so its tables are
    /// allocated and cleared once, not per body.
    static COMPRESSOR: std::cell::RefCell<Option<(zstd::bulk::Compressor<'static>, i32)>> =
        const { std::cell::RefCell::new(None) };
}

thread_local! {
    /// One decompression context per thread for the bodies read whole ([`read_frame_to_vec`]):
    /// a reply's `SERR` and `DOTO` share it, so a client makes one, not one per body (making
    /// one runs `cpuid` three times, 7 µs each in a virtual machine).
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// The largest body [`read_frame_to_vec`] decodes in one call (buffer of exactly `ULEN`);
/// above this it streams as [`read_frame`] does.
pub const WHOLE_MAX: u32 = 64 << 20;

/// `data` as one zstd frame at [`LEVEL`] (with [`HASH_LOG`], [`CHAIN_LOG`]), with this
/// thread's reused context.
pub fn compress(data: &[u8]) -> io::Result<Vec<u8>> {
    compress_at(data, LEVEL)
}

/// [`compress`] at `level` (the tables' sizes stay [`HASH_LOG`] and [`CHAIN_LOG`]).
pub fn compress_at(data: &[u8], level: i32) -> io::Result<Vec<u8>> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            let mut made = zstd::bulk::Compressor::new(level)?;
            made.set_parameter(zstd::stream::raw::CParameter::HashLog(HASH_LOG))?;
            made.set_parameter(zstd::stream::raw::CParameter::ChainLog(CHAIN_LOG))?;
            *c = Some((made, level));
        }
        let (made, at) = c.as_mut().expect("made above");
        if *at != level {
            made.set_parameter(zstd::stream::raw::CParameter::CompressionLevel(level))?;
            *at = level;
        }
        made.compress(data)
    })
}

/// Writes `ULEN`, the body's header and its zstd frame.
pub fn write_frame<W: Write + ?Sized>(w: &mut W, token: Token, data: &[u8]) -> io::Result<()> {
    write_frame_at(w, token, data, LEVEL)
}

/// [`write_frame`] at compression `level`.
pub fn write_frame_at<W: Write + ?Sized>(
    w: &mut W,
    token: Token,
    data: &[u8],
    level: i32,
) -> io::Result<()> {
    let ulen = u32::try_from(data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "body exceeds 4 GiB"))?;
    let packed = if data.is_empty() {
        Vec::new()
    } else {
        compress_at(data, level)?
    };
    let clen = u32::try_from(packed.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "body exceeds 4 GiB"))?;
    let mut head = Vec::with_capacity(24);
    encode_header(&mut head, Token::ULEN, ulen);
    encode_header(&mut head, token, clen);
    w.write_all(&head)?;
    w.write_all(&packed)
}

/// [`write_frame`] with the data stored, not compressed: a zstd frame of raw blocks (magic,
/// a single-segment header with the 4-byte content size, then blocks of at most 128 KiB),
/// which any zstd decoder reads. It costs a copy: no compression context, whose creation and
/// tables cost a fresh process (a client) more than compressing a small body saves.
pub fn write_frame_stored<W: Write + ?Sized>(
    w: &mut W,
    token: Token,
    data: &[u8],
) -> io::Result<()> {
    const BLOCK: usize = 128 * 1024;
    if data.is_empty() {
        return write_frame(w, token, data);
    }
    let ulen = u32::try_from(data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "body exceeds 4 GiB"))?;
    let blocks = data.len().div_ceil(BLOCK);
    let clen = u32::try_from(4 + 1 + 4 + 3 * blocks + data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "body exceeds 4 GiB"))?;
    let mut head = Vec::with_capacity(24 + 9);
    encode_header(&mut head, Token::ULEN, ulen);
    encode_header(&mut head, token, clen);
    head.extend_from_slice(&0xFD2F_B528u32.to_le_bytes());
    // Frame header descriptor: content size in 4 bytes (flag 2), single segment.
    head.push(0b1010_0000);
    head.extend_from_slice(&ulen.to_le_bytes());
    w.write_all(&head)?;
    for (i, block) in data.chunks(BLOCK).enumerate() {
        let last = u32::from(i + 1 == blocks);
        // Block header: last flag, type 0 (raw), size (at most 128 KiB); 3 bytes, little-endian.
        let h = last | ((block.len() as u32) << 3);
        w.write_all(&h.to_le_bytes()[..3])?;
        w.write_all(block)?;
    }
    Ok(())
}

/// Reads `<token> <clen>` and the frame after a `ULEN` of `ulen` already read, writing the
/// decoded bytes to `out` as they come. `grant` is asked once, for the most the decoder may
/// hold at once (its window, at most the body). Returns the bytes written (`ulen`).
pub fn read_frame<R: Read + ?Sized, W: Write + ?Sized>(
    r: &mut R,
    token: Token,
    ulen: u32,
    limits: &Limits,
    out: &mut W,
    grant: &mut dyn FnMut(u64) -> bool,
) -> Result<u64, ProtoError> {
    let clen = frame_len(r, token, ulen, limits)?;
    let bad = |why: &'static str| ProtoError::Malformed { token, why };
    if clen == 0 {
        return if ulen == 0 {
            Ok(0)
        } else {
            Err(bad("an empty frame for a non-empty body"))
        };
    }
    if !grant(u64::from(ulen).min(1 << WINDOW_LOG_MAX)) {
        return Err(ProtoError::OverBudget { token });
    }
    let mut limited = r.take(clen.into());
    let buffered = io::BufReader::with_capacity(16 * 1024, &mut limited);
    let mut dec = zstd::stream::read::Decoder::with_buffer(buffered)
        .map_err(|e| zstd_error(token, e))?
        .single_frame();
    dec.window_log_max(WINDOW_LOG_MAX)
        .map_err(|e| zstd_error(token, e))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = match dec.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(zstd_error(token, e)),
        };
        total += n as u64;
        if total > u64::from(ulen) {
            return Err(bad("the frame decodes to more than its ULEN"));
        }
        out.write_all(&buf[..n])?;
    }
    if total != u64::from(ulen) {
        return Err(bad("the frame decodes to less than its ULEN"));
    }
    let mut rest = dec.finish();
    if !rest.fill_buf()?.is_empty() {
        return Err(bad("bytes after the zstd frame"));
    }
    drop(rest);
    if limited.limit() != 0 {
        return Err(bad("bytes after the zstd frame"));
    }
    Ok(total)
}

/// Reads `<token> <clen>` and the frame after a `ULEN` of `ulen` already read, into a vector
/// of exactly `ulen` bytes: what a reply's bodies need, as they are held whole anyway. Up to
/// [`WHOLE_MAX`] the frame is read whole and decoded in one call with this thread's reused
/// context, straight into that vector (no window buffer, no copy through a stream); above, as
/// [`read_frame`]. The same checks and errors as [`read_frame`]: both lengths capped before
/// anything is allocated, one frame that fills exactly `ulen`, no bytes left over.
pub fn read_frame_to_vec<R: Read + ?Sized>(
    r: &mut R,
    token: Token,
    ulen: u32,
    limits: &Limits,
) -> Result<Vec<u8>, ProtoError> {
    if ulen > WHOLE_MAX {
        let mut out = Vec::new();
        read_frame(r, token, ulen, limits, &mut out, &mut |_| true)?;
        return Ok(out);
    }
    let clen = frame_len(r, token, ulen, limits)?;
    let bad = |why: &'static str| ProtoError::Malformed { token, why };
    if clen == 0 {
        return if ulen == 0 {
            Ok(Vec::new())
        } else {
            Err(bad("an empty frame for a non-empty body"))
        };
    }
    // Capacity grows with what arrives, from at most 16 MiB: a peer's word alone does not
    // reserve 512 MiB.
    let mut packed = Vec::with_capacity((clen as usize).min(16 << 20));
    let got = r.take(clen.into()).read_to_end(&mut packed)?;
    if got != clen as usize {
        return Err(ProtoError::Truncated { token });
    }
    // One frame, exactly: nothing after it (a second frame would decode too).
    match zstd::zstd_safe::find_frame_compressed_size(&packed) {
        Ok(n) if n == packed.len() => {}
        Ok(_) => return Err(bad("bytes after the zstd frame")),
        Err(code) => {
            return Err(ProtoError::Zstd {
                token,
                why: zstd::zstd_safe::get_error_name(code).to_owned(),
            });
        }
    }
    let mut out = Vec::with_capacity(ulen as usize);
    let decoded = DECOMPRESSOR.with(|d| -> io::Result<usize> {
        let mut d = d.borrow_mut();
        if d.is_none() {
            let mut made = zstd::bulk::Decompressor::new()?;
            made.set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(WINDOW_LOG_MAX))?;
            *d = Some(made);
        }
        d.as_mut()
            .expect("made above")
            .decompress_to_buffer(&packed[..], &mut out)
    });
    match decoded {
        Ok(n) if n == ulen as usize => Ok(out),
        Ok(_) => Err(bad("the frame decodes to less than its ULEN")),
        // The vector holds exactly ULEN: a frame that decodes to more does not fit.
        Err(e) if e.to_string().contains("Destination buffer is too small") => {
            Err(bad("the frame decodes to more than its ULEN"))
        }
        Err(e) => Err(zstd_error(token, e)),
    }
}
/// Checks `ulen` against the caps, then reads `<token> <clen>` and checks `clen`: both
/// lengths are capped before anything is allocated.
fn frame_len<R: Read + ?Sized>(
    r: &mut R,
    token: Token,
    ulen: u32,
    limits: &Limits,
) -> Result<u32, ProtoError> {
    if u64::from(ulen) > limits.max_unpacked {
        return Err(ProtoError::TooLarge {
            token: Token::ULEN,
            len: ulen.into(),
            max: limits.max_unpacked,
        });
    }
    let clen = read_expected(r, token)?;
    if clen > limits.max_body {
        return Err(ProtoError::TooLarge {
            token,
            len: clen.into(),
            max: limits.max_body.into(),
        });
    }
    Ok(clen)
}

/// A decoder error: the link's own failures stay I/O errors (a timeout, a reset, a stream that
/// ended early), anything else is a bad frame.
fn zstd_error(token: Token, e: io::Error) -> ProtoError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => ProtoError::Truncated { token },
        io::ErrorKind::TimedOut
        | io::ErrorKind::WouldBlock
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ProtoError::Io(e),
        _ => ProtoError::Zstd {
            token,
            why: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Compression, read_body, write_body};

    fn frame(token: Token, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        write_frame(&mut v, token, data).unwrap();
        v
    }

    fn read(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, ProtoError> {
        let mut out = Vec::new();
        read_body(
            &mut &bytes[..],
            Token::DOTI,
            Compression::Zstd,
            limits,
            &mut out,
        )?;
        Ok(out)
    }

    #[test]
    fn a_stored_frame_is_read_as_any_other() {
        for n in [1usize, 100, 128 * 1024, 128 * 1024 + 1, 300_000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            let mut v = Vec::new();
            write_frame_stored(&mut v, Token::DOTI, &data).unwrap();
            assert_eq!(read(&v, &Limits::DEFAULT).unwrap(), data, "{n} bytes");
            let mut r = &v[..];
            let ulen = crate::token::read_expected(&mut r, Token::ULEN).unwrap();
            assert_eq!(
                read_frame_to_vec(&mut r, Token::DOTI, ulen, &Limits::DEFAULT).unwrap(),
                data
            );
            assert!(r.is_empty());
        }
        let mut v = Vec::new();
        write_frame_stored(&mut v, Token::DOTI, b"").unwrap();
        assert_eq!(v, frame(Token::DOTI, b""));
    }

    #[test]
    fn round_trip_and_empty() {
        let text = b"int main(void) { return 0; }\n".repeat(1000);
        let bytes = frame(Token::DOTI, &text);
        assert_eq!(&bytes[..12], format!("ULEN{:08x}", text.len()).as_bytes());
        assert_eq!(&bytes[12..16], b"DOTI");
        assert!(bytes.len() < text.len() / 10, "compressed: {}", bytes.len());
        assert_eq!(read(&bytes, &Limits::DEFAULT).unwrap(), text);
        let empty = frame(Token::DOTI, b"");
        assert_eq!(empty, b"ULEN00000000DOTI00000000");
        assert_eq!(read(&empty, &Limits::DEFAULT).unwrap(), b"");
        let mut w = Vec::new();
        write_body(&mut w, Token::DOTI, Compression::Zstd, &text).unwrap();
        assert_eq!(w, bytes);
    }

    #[test]
    fn the_reused_context_makes_independent_frames() {
        // Bodies in a row on one thread share the context, never its history: each frame
        // decodes alone, and the same body packs to the same bytes whatever came before.
        let a = b"static int a(void) { return 1; }\n".repeat(3000);
        let b = b"struct b { long x; char *y; };\n".repeat(2000);
        let first = frame(Token::DOTI, &a);
        let other = frame(Token::FILE, &b);
        let again = frame(Token::DOTI, &a);
        assert_eq!(first, again);
        assert_eq!(read(&again, &Limits::DEFAULT).unwrap(), a);
        let mut out = Vec::new();
        read_body(
            &mut &other[..],
            Token::FILE,
            Compression::Zstd,
            &Limits::DEFAULT,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, b);
    }

    /// [`read_frame_to_vec`] over a whole body (`ULEN` first).
    fn whole(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, ProtoError> {
        let mut r = bytes;
        let ulen = read_expected(&mut r, Token::ULEN)?;
        read_frame_to_vec(&mut r, Token::DOTI, ulen, limits)
    }

    #[test]
    fn whole_bodies_decode_as_streamed_ones_do() {
        let text = b"int main(void) { return 0; }\n".repeat(1000);
        let good = frame(Token::DOTI, &text);
        assert_eq!(whole(&good, &Limits::DEFAULT).unwrap(), text);
        assert_eq!(
            whole(&frame(Token::DOTI, b""), &Limits::DEFAULT).unwrap(),
            b""
        );
        // The reused context carries nothing from one body to the next.
        let other = b"struct b { long x; char *y; };\n".repeat(2000);
        assert_eq!(
            whole(&frame(Token::DOTI, &other), &Limits::DEFAULT).unwrap(),
            other
        );
        assert_eq!(whole(&good, &Limits::DEFAULT).unwrap(), text);
        bad_frames_are_errors(whole, &text);
        // A second frame (empty) after the first, inside the length: bytes left over.
        let mut two = good.clone();
        let extra = zstd::bulk::compress(b"", 1).unwrap();
        two.extend_from_slice(&extra);
        let clen = good.len() - 24 + extra.len();
        two[16..24].copy_from_slice(format!("{clen:08x}").as_bytes());
        let e = whole(&two, &Limits::DEFAULT).unwrap_err();
        assert!(matches!(e, ProtoError::Malformed { .. }), "{e}");
    }

    /// The refusals both decoders (`read`, streamed, and `whole`) owe a frame of `text` gone
    /// wrong: a `ULEN` one more or one less than the frame holds, truncation inside the
    /// frame, garbage in place of it, an empty frame for a body that is not empty, and both
    /// lengths capped before anything is read or held.
    fn bad_frames_are_errors(
        decode: fn(&[u8], &Limits) -> Result<Vec<u8>, ProtoError>,
        text: &[u8],
    ) {
        let good = frame(Token::DOTI, text);
        for ulen in [text.len() + 1, text.len() - 1] {
            let mut b = good.clone();
            b[4..12].copy_from_slice(format!("{ulen:08x}").as_bytes());
            let e = decode(&b, &Limits::DEFAULT).unwrap_err();
            assert!(matches!(e, ProtoError::Malformed { .. }), "{e}");
        }
        for cut in [25, good.len() - 1] {
            let e = decode(&good[..cut], &Limits::DEFAULT).unwrap_err();
            assert!(e.is_disconnect(), "{e}");
        }
        let mut junk = b"ULEN00000010DOTI00000010".to_vec();
        junk.extend_from_slice(&[0x55; 16]);
        let e = decode(&junk, &Limits::DEFAULT).unwrap_err();
        assert!(matches!(e, ProtoError::Zstd { .. }), "{e}");
        assert!(decode(b"ULEN00000005DOTI00000000", &Limits::DEFAULT).is_err());
        let limits = Limits {
            max_unpacked: 100,
            ..Limits::DEFAULT
        };
        let e = decode(b"ULEN00000065", &limits).unwrap_err();
        assert!(matches!(e, ProtoError::TooLarge { .. }), "{e}");
        let e = decode(b"ULEN00000001DOTIffffffff", &Limits::DEFAULT).unwrap_err();
        assert!(matches!(e, ProtoError::TooLarge { .. }), "{e}");
    }

    #[test]
    fn oversized_ulen_is_refused_before_reading() {
        let limits = Limits {
            max_unpacked: 100,
            ..Limits::DEFAULT
        };
        // Nothing after ULEN: the refusal cannot have read on.
        let e = read(b"ULEN00000065", &limits).unwrap_err();
        assert!(
            matches!(e, ProtoError::TooLarge { token, len: 101, max: 100 } if token == Token::ULEN),
            "{e}"
        );
        let e = read(b"ULEN00000001DOTIffffffff", &Limits::DEFAULT).unwrap_err();
        assert!(matches!(e, ProtoError::TooLarge { .. }), "{e}");
    }

    #[test]
    fn wrong_lengths_truncation_and_garbage_are_errors() {
        let text = b"hello hello hello hello\n".repeat(50);
        let good = frame(Token::DOTI, &text);
        bad_frames_are_errors(read, &text);
        // A byte after the frame, inside its length.
        let mut extra = good.clone();
        extra.push(0);
        let clen = good.len() - 24 + 1;
        extra[16..24].copy_from_slice(format!("{clen:08x}").as_bytes());
        assert!(read(&extra, &Limits::DEFAULT).is_err());
    }
}
