//! One cached result, and its file format.
//!
//! ```text
//! 0   8 bytes  magic "DCCRES1\n"
//! 8   4 bytes  wait status (i32 LE), as a daemon's STAT
//! 12  4 bytes  flags (u32 LE): bit 0 = a `.d` file is part of the result
//! 16  32 bytes lengths (u64 LE) of object, .d, stderr, stdout
//! 48  …        the four bodies in that order
//! end 32 bytes SHA-256 of everything before
//! ```
//! A file whose size is not exactly what its lengths say, whose checksum fails, or whose
//! magic or flags are unknown is [`Corrupt`]: the store removes it and reports a miss.

use std::fmt;

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"DCCRES1\n";
const HEAD: usize = 48;
const SUM: usize = 32;
const HAS_DOTD: u32 = 1;

/// A compile's whole result, replayed byte for byte on a hit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// The raw wait status (0: exit 0).
    pub status: i32,
    pub object: Vec<u8>,
    /// The dependency file, when the result includes one (pump mode, the daemon's).
    pub dotd: Option<Vec<u8>>,
    pub stderr: Vec<u8>,
    pub stdout: Vec<u8>,
}

/// Why bytes are not an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Corrupt {
    TooShort(usize),
    BadMagic,
    BadFlags(u32),
    /// The lengths say one size, the file has another (truncated or extended).
    WrongSize {
        expected: u128,
        actual: usize,
    },
    BadChecksum,
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corrupt::TooShort(n) => write!(f, "cache entry of {n} bytes is too short"),
            Corrupt::BadMagic => write!(f, "not a cache entry (bad magic)"),
            Corrupt::BadFlags(x) => write!(f, "cache entry has unknown flags {x:#x}"),
            Corrupt::WrongSize { expected, actual } => write!(
                f,
                "cache entry is {actual} bytes, its header says {expected} (truncated?)"
            ),
            Corrupt::BadChecksum => write!(f, "cache entry checksum does not match"),
        }
    }
}

impl std::error::Error for Corrupt {}

impl Entry {
    /// Bytes of results this entry replays (the size of its bodies).
    pub fn body_len(&self) -> u64 {
        (self.object.len()
            + self.dotd.as_ref().map_or(0, Vec::len)
            + self.stderr.len()
            + self.stdout.len()) as u64
    }

    pub fn encode(&self) -> Vec<u8> {
        let dotd = self.dotd.as_deref().unwrap_or(&[]);
        let bodies: [&[u8]; 4] = [&self.object, dotd, &self.stderr, &self.stdout];
        let mut out = Vec::with_capacity(HEAD + SUM + self.body_len() as usize);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.status.to_le_bytes());
        let flags = if self.dotd.is_some() { HAS_DOTD } else { 0 };
        out.extend_from_slice(&flags.to_le_bytes());
        for b in bodies {
            out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        }
        for b in bodies {
            out.extend_from_slice(b);
        }
        let sum: [u8; SUM] = Sha256::digest(&out).into();
        out.extend_from_slice(&sum);
        out
    }

    /// Reads [`encode`](Entry::encode)'s bytes; never panics, never allocates more than the
    /// bodies it was given.
    pub fn decode(bytes: &[u8]) -> Result<Entry, Corrupt> {
        if bytes.len() < HEAD + SUM {
            return Err(Corrupt::TooShort(bytes.len()));
        }
        if &bytes[..8] != MAGIC {
            return Err(Corrupt::BadMagic);
        }
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let status = u32_at(8) as i32;
        let flags = u32_at(12);
        if flags & !HAS_DOTD != 0 {
            return Err(Corrupt::BadFlags(flags));
        }
        let lens = [u64_at(16), u64_at(24), u64_at(32), u64_at(40)];
        let expected = lens.iter().map(|&n| u128::from(n)).sum::<u128>() + (HEAD + SUM) as u128;
        if expected != bytes.len() as u128 {
            return Err(Corrupt::WrongSize {
                expected,
                actual: bytes.len(),
            });
        }
        let (body, sum) = bytes.split_at(bytes.len() - SUM);
        let want: [u8; SUM] = Sha256::digest(body).into();
        if want[..] != sum[..] {
            return Err(Corrupt::BadChecksum);
        }
        // Every length fits: their sum is the file's size, checked above.
        let mut at = HEAD;
        let mut take = |n: u64| {
            let n = n as usize;
            let v = body[at..at + n].to_vec();
            at += n;
            v
        };
        let object = take(lens[0]);
        let dotd = take(lens[1]);
        let stderr = take(lens[2]);
        let stdout = take(lens[3]);
        Ok(Entry {
            status,
            object,
            dotd: (flags & HAS_DOTD != 0).then_some(dotd),
            stderr,
            stdout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        Entry {
            status: 0,
            object: b"\x7fELF object".to_vec(),
            dotd: Some(b"a.o: a.c a.h\n".to_vec()),
            stderr: b"a.c:1:1: warning: x\n".to_vec(),
            stdout: Vec::new(),
        }
    }

    #[test]
    fn round_trip() {
        for e in [
            sample(),
            Entry::default(),
            Entry {
                dotd: None,
                status: 256,
                ..sample()
            },
        ] {
            assert_eq!(Entry::decode(&e.encode()).unwrap(), e);
        }
        // An empty .d is not an absent one.
        let e = Entry {
            dotd: Some(Vec::new()),
            ..Entry::default()
        };
        assert_eq!(Entry::decode(&e.encode()).unwrap().dotd, Some(Vec::new()));
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let bytes = sample().encode();
        for n in 0..bytes.len() {
            assert!(Entry::decode(&bytes[..n]).is_err(), "truncated to {n}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(Entry::decode(&b).is_err(), "byte {i} flipped");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Entry::decode(&longer),
            Err(Corrupt::WrongSize { .. })
        ));
    }

    #[test]
    fn huge_lengths_are_refused_without_allocating() {
        let mut b = sample().encode();
        b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        b[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(Entry::decode(&b), Err(Corrupt::WrongSize { .. })));
    }
}
