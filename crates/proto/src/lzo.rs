//! LZO1X bodies as distcc 3.4 sends them: one raw block, no header, no checksum, and no
//! uncompressed length. Compression is `lzo1x_1` (the `lzo1x` crate's default level produces
//! byte-identical output). Decompression is our own: one pass into a growing buffer, up to a
//! cap, because the stream does not say how large its output is.

use std::fmt;

/// Why an LZO body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LzoError {
    /// The stream is not valid LZO1X.
    Corrupt(&'static str),
    /// Decoding would produce more than `max` bytes.
    TooLarge { max: u64 },
    /// The caller's budget would not cover the output (see [`decompress_granted`]).
    OverBudget { at: u64 },
}

impl fmt::Display for LzoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LzoError::Corrupt(why) => write!(f, "corrupt lzo1x stream ({why})"),
            LzoError::TooLarge { max } => write!(f, "lzo1x stream expands past {max} bytes"),
            LzoError::OverBudget { at } => {
                write!(
                    f,
                    "lzo1x stream expands past the memory budget at {at} bytes"
                )
            }
        }
    }
}

impl std::error::Error for LzoError {}

/// Compresses `data` as distcc 3.4's `lzo1x_1_compress` does. Empty input stays empty: the
/// protocol sends an empty body uncompressed, with length zero.
pub fn compress(data: &[u8]) -> Vec<u8> {
    if data.is_empty() {
        return Vec::new();
    }
    lzo1x::compress(data, lzo1x::CompressLevel::default())
}

/// Decompresses one LZO1X block into at most `max` bytes. An empty block is empty output.
///
/// One pass, straight into a growing `Vec`: the stream does not say how large its output is,
/// and decoding twice (or zero-filling a guessed buffer first) cost more than the decoding
/// itself on preprocessed sources, which expand 5-8 times. Every length and distance is checked
/// before it is used, so hostile input ends in an error, never a panic or a read outside the
/// buffers; the checks accept exactly the streams that `lzo1x_decompress_safe` accepts.
pub fn decompress(src: &[u8], max: u64) -> Result<Vec<u8>, LzoError> {
    decompress_granted(src, max, &mut |_| true)
}

/// [`decompress`], asking `grant` before the output buffer grows: `grant(total)` says whether
/// the buffer may hold `total` bytes (the buffer's capacity is exactly what was granted, so a
/// caller's memory budget covers it). A refusal ends decoding with `OverBudget`.
pub fn decompress_granted(
    src: &[u8],
    max: u64,
    grant: &mut dyn FnMut(u64) -> bool,
) -> Result<Vec<u8>, LzoError> {
    if src.is_empty() {
        return Ok(Vec::new());
    }
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    // Typical preprocessed source expands about 6 times; reserving that up front (never past
    // the cap) leaves at most one or two reallocations.
    let first = src.len().saturating_mul(6).min(max).min(64 << 20);
    if !grant(first as u64) {
        return Err(LzoError::OverBudget { at: first as u64 });
    }
    let mut out = Vec::with_capacity(first);
    Decoder {
        src,
        ip: 0,
        out: &mut out,
        max,
        granted: first,
        grant,
    }
    .run()?;
    Ok(out)
}

const INPUT_OVERRUN: LzoError = LzoError::Corrupt("input overrun");

/// The decoder's cursor over one block. `state` follows liblzo: 0 after a literal run of
/// its own instruction, 1-3 after that many trailing literals of a match, 4 after a long
/// first literal run; it decides what an instruction below 16 means.
struct Decoder<'a> {
    src: &'a [u8],
    ip: usize,
    out: &'a mut Vec<u8>,
    max: usize,
    /// Bytes the caller allowed the output buffer so far (its capacity).
    granted: usize,
    grant: &'a mut dyn FnMut(u64) -> bool,
}

impl Decoder<'_> {
    fn run(&mut self) -> Result<(), LzoError> {
        if self.src.len() < 3 {
            return Err(INPUT_OVERRUN);
        }
        let mut state = 0;
        if self.src[0] > 17 {
            self.ip = 1;
            let n = usize::from(self.src[0]) - 17;
            self.literals(n)?;
            state = n.min(4);
        }
        loop {
            let t = usize::from(self.byte()?);
            let (distance, length, trailing);
            if t < 16 {
                if state == 0 {
                    let n = if t == 0 {
                        self.extended()?.saturating_add(18)
                    } else {
                        t + 3
                    };
                    self.literals(n)?;
                    state = 4;
                    continue;
                }
                trailing = t & 3;
                let far = usize::from(self.byte()?) << 2;
                if state == 4 {
                    distance = 1 + 0x800 + (t >> 2) + far;
                    length = 3;
                } else {
                    distance = 1 + (t >> 2) + far;
                    length = 2;
                }
            } else if t >= 64 {
                trailing = t & 3;
                distance = 1 + ((t >> 2) & 7) + (usize::from(self.byte()?) << 3);
                length = (t >> 5) + 1;
            } else if t >= 32 {
                length = if t & 31 == 0 {
                    self.extended()?.saturating_add(33)
                } else {
                    (t & 31) + 2
                };
                let d = self.le16()?;
                distance = 1 + (d >> 2);
                trailing = d & 3;
            } else {
                let high = (t & 8) << 11;
                length = if t & 7 == 0 {
                    self.extended()?.saturating_add(9)
                } else {
                    (t & 7) + 2
                };
                let d = self.le16()?;
                trailing = d & 3;
                if high == 0 && d >> 2 == 0 {
                    // The end marker, 0x11 0x00 0x00.
                    if length != 3 {
                        return Err(LzoError::Corrupt("malformed end marker"));
                    }
                    if self.ip < self.src.len() {
                        return Err(LzoError::Corrupt("trailing bytes after end marker"));
                    }
                    return Ok(());
                }
                distance = high + (d >> 2) + 0x4000;
            }
            self.copy_match(distance, length)?;
            self.literals(trailing)?;
            state = trailing;
        }
    }

    fn byte(&mut self) -> Result<u8, LzoError> {
        let b = *self.src.get(self.ip).ok_or(INPUT_OVERRUN)?;
        self.ip += 1;
        Ok(b)
    }

    fn le16(&mut self) -> Result<usize, LzoError> {
        let lo = usize::from(self.byte()?);
        Ok(lo | usize::from(self.byte()?) << 8)
    }

    /// A run of zero bytes (255 each) and the non-zero byte that ends it.
    fn extended(&mut self) -> Result<usize, LzoError> {
        let rest = &self.src[self.ip..];
        let zeros = rest.iter().position(|&b| b != 0).ok_or(INPUT_OVERRUN)?;
        self.ip += zeros + 1;
        Ok(zeros
            .saturating_mul(255)
            .saturating_add(usize::from(rest[zeros])))
    }

    fn room(&mut self, n: usize) -> Result<(), LzoError> {
        if n > self.max - self.out.len() {
            return Err(LzoError::TooLarge {
                max: self.max as u64,
            });
        }
        let need = self.out.len() + n;
        if need > self.granted {
            // Doubling, as a Vec would, but asked for first and reserved exactly.
            let next = need.max(self.granted.saturating_mul(2)).min(self.max);
            if !(self.grant)(next as u64) {
                return Err(LzoError::OverBudget { at: next as u64 });
            }
            self.out.reserve_exact(next - self.out.len());
            self.granted = next;
        }
        Ok(())
    }

    fn literals(&mut self, n: usize) -> Result<(), LzoError> {
        self.room(n)?;
        if n > self.src.len() - self.ip {
            return Err(INPUT_OVERRUN);
        }
        self.out.extend_from_slice(&self.src[self.ip..self.ip + n]);
        self.ip += n;
        Ok(())
    }

    fn copy_match(&mut self, distance: usize, length: usize) -> Result<(), LzoError> {
        let len = self.out.len();
        if distance > len {
            return Err(LzoError::Corrupt("match reaches before the start"));
        }
        self.room(length)?;
        let from = len - distance;
        if distance >= length {
            self.out.extend_from_within(from..from + length);
        } else {
            // Overlapping: the match repeats its last `distance` bytes. Copy in chunks that
            // double as the written part grows, which is what byte-by-byte copying yields.
            let mut left = length;
            while left > 0 {
                let chunk = left.min(self.out.len() - from);
                self.out.extend_from_within(from..from + chunk);
                left -= chunk;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_distcc_vector() {
        // Captured from distcc 3.4's minilzo: "int x;\n".
        let packed = compress(b"int x;\n");
        assert_eq!(
            packed,
            [
                0x18, 0x69, 0x6e, 0x74, 0x20, 0x78, 0x3b, 0x0a, 0x11, 0x00, 0x00
            ]
        );
        assert_eq!(decompress(&packed, 1 << 20).unwrap(), b"int x;\n");
    }

    #[test]
    fn empty_is_empty_both_ways() {
        assert!(compress(b"").is_empty());
        assert!(decompress(b"", 10).unwrap().is_empty());
    }

    #[test]
    fn round_trips_large_and_grows_buffer() {
        let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 7) as u8).collect();
        let packed = compress(&data);
        assert!(packed.len() < data.len() / 10);
        assert_eq!(decompress(&packed, u64::MAX).unwrap(), data);
    }

    #[test]
    fn cap_is_enforced() {
        let data = vec![0u8; 1 << 20];
        let packed = compress(&data);
        assert_eq!(
            decompress(&packed, 1000),
            Err(LzoError::TooLarge { max: 1000 })
        );
    }

    #[test]
    fn cap_of_zero_refuses_any_output() {
        // Found by the lzo_roundtrip fuzz body: a one-byte body decoded under a cap of zero.
        let packed = compress(b"x");
        assert_eq!(decompress(&packed, 0), Err(LzoError::TooLarge { max: 0 }));
        assert_eq!(decompress(&packed, 1).unwrap(), b"x");
        // A stream with no output at all still fits a cap of zero.
        assert_eq!(decompress(&[0x11, 0, 0], 0).unwrap(), b"");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for seed in 0..2000u32 {
            let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
            let bytes: Vec<u8> = (0..(seed % 64) as usize)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = decompress(&bytes, 1 << 16);
        }
    }
}
