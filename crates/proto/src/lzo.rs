//! LZO1X bodies as distcc 3.4 sends them: one raw block, no header, no checksum, and no
//! uncompressed length. Compression is `lzo1x_1` (the `lzo1x` crate's default level produces
//! byte-identical output); decompression grows its buffer on overrun, up to a cap, because the
//! stream does not say how large its output is.

use std::fmt;

/// Why an LZO body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LzoError {
    /// The stream is not valid LZO1X.
    Corrupt(&'static str),
    /// Decoding would produce more than `max` bytes.
    TooLarge { max: u64 },
}

impl fmt::Display for LzoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LzoError::Corrupt(why) => write!(f, "corrupt lzo1x stream ({why})"),
            LzoError::TooLarge { max } => write!(f, "lzo1x stream expands past {max} bytes"),
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
pub fn decompress(src: &[u8], max: u64) -> Result<Vec<u8>, LzoError> {
    if src.is_empty() {
        return Ok(Vec::new());
    }
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    // Typical source code compresses about 4:1; start there and double on overrun. The first
    // buffer is never larger than the cap itself, even a cap of zero: a buffer of one byte
    // there once let a one-byte output through.
    let mut cap = src.len().saturating_mul(4).max(4096).min(max);
    loop {
        let mut out = vec![0u8; cap];
        match lzokay::decompress::decompress(src, &mut out) {
            Ok(n) => {
                out.truncate(n);
                return Ok(out);
            }
            Err(lzokay::Error::OutputOverrun) => {
                if cap >= max {
                    return Err(LzoError::TooLarge { max: max as u64 });
                }
                cap = cap.saturating_mul(2).min(max);
            }
            Err(lzokay::Error::InputOverrun) => return Err(LzoError::Corrupt("input overrun")),
            Err(lzokay::Error::LookbehindOverrun) => {
                return Err(LzoError::Corrupt("match reaches before the start"));
            }
            Err(lzokay::Error::InputNotConsumed) => {
                return Err(LzoError::Corrupt("trailing bytes after end marker"));
            }
            Err(_) => return Err(LzoError::Corrupt("invalid instruction")),
        }
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
