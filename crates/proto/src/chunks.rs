//! Protocol 4's chunked source (`FLAG` bit 2, docs/protocol-4.md "Chunked source"): the
//! client's chunk list (`CHNK <n>`, the client's 16-byte namespace key, then n entries of a
//! 16-byte xxh3-128 hash ([`hash`]) and a 4-byte big-endian length) and the daemon's answer (`NEED <n>`, then a bitmap of n bits, least
//! significant bit first: a set bit is a chunk the daemon lacks). The missing chunks then go
//! as one ordinary protocol 4 `DOTI` body, their concatenation in list order.
//!
//! Only the formats live here: where to cut a source is the client's (`client::chunks`),
//! which chunks a daemon has, and the check that each received chunk is its hash, the
//! daemon's (`daemon::chunks`). Every count and length is checked against [`Limits`] before
//! anything is reserved.

use std::io::Read;

use crate::error::ProtoError;
use crate::limits::Limits;
use crate::token::{Token, encode_header, read_expected};

/// `CHNK`: the chunk list of a chunked source.
pub const CHNK: Token = Token(*b"CHNK");
/// `NEED`: which chunks of the list the daemon lacks.
pub const NEED: Token = Token(*b"NEED");
/// The length of a chunk's hash (xxh3-128, [`hash`]).
pub const HASH_LEN: usize = 16;
/// The length of the client's namespace key, which follows `CHNK <n>`.
pub const KEY_LEN: usize = 16;
/// Bytes of one list entry: the hash and a 4-byte big-endian length.
pub const ENTRY_LEN: usize = HASH_LEN + 4;

/// One chunk as the list names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkRef {
    /// xxh3-128 of the chunk's bytes ([`hash`]).
    pub hash: [u8; HASH_LEN],
    /// Its length, at least 1 and at most [`Limits::max_chunk_len`].
    pub len: u32,
}

/// A client's namespace key: 16 random bytes it keeps in `$DISTCC_DIR`. The daemon keeps
/// chunks per (principal, key), see docs/protocol-4.md "Chunked source".
pub type Key = [u8; KEY_LEN];

/// A chunk's name: xxh3-128 of its bytes, big-endian (the canonical XXH128 form). Not
/// collision resistant against a crafted input; the store is namespaced so that such a
/// collision harms only its maker (docs/protocol-4.md "Chunked source").
pub fn hash(data: &[u8]) -> [u8; HASH_LEN] {
    xxhash_rust::xxh3::xxh3_128(data).to_be_bytes()
}

/// Appends `CHNK <n>`, the namespace key and the entries.
pub fn encode_list(buf: &mut Vec<u8>, key: &Key, list: &[ChunkRef]) {
    // Callers cut sources far below 2^32 chunks (the list is capped at `max_chunks`).
    let n = u32::try_from(list.len()).expect("fewer than 2^32 chunks");
    buf.reserve(12 + KEY_LEN + list.len() * ENTRY_LEN);
    encode_header(buf, CHNK, n);
    buf.extend_from_slice(key);
    for c in list {
        buf.extend_from_slice(&c.hash);
        buf.extend_from_slice(&c.len.to_be_bytes());
    }
}

/// Reads a chunk list (its namespace key and entries): at least one and at most `max_chunks` entries, each 1 to
/// `max_chunk_len` bytes long, together at most `max_unpacked` (the cap of a `DOTI`'s
/// `ULEN`). The entries are read one by one, so a forged count costs nothing until its bytes
/// really arrive.
pub fn read_list<R: Read + ?Sized>(
    r: &mut R,
    limits: &Limits,
) -> Result<(Key, Vec<ChunkRef>), ProtoError> {
    let n = read_expected(r, CHNK)?;
    read_list_after_header(r, n, limits)
}

/// [`read_list`] after its `CHNK <n>` header was read (the daemon reads one header and
/// finds either a list or, for a small source, an ordinary `ULEN` body).
pub fn read_list_after_header<R: Read + ?Sized>(
    r: &mut R,
    n: u32,
    limits: &Limits,
) -> Result<(Key, Vec<ChunkRef>), ProtoError> {
    if n == 0 {
        return Err(ProtoError::Malformed {
            token: CHNK,
            why: "an empty chunk list",
        });
    }
    if n > limits.max_chunks {
        return Err(ProtoError::TooLarge {
            token: CHNK,
            len: n.into(),
            max: limits.max_chunks.into(),
        });
    }
    let mut key = [0u8; KEY_LEN];
    read_full(r, &mut key, CHNK)?;
    let mut list = Vec::with_capacity((n as usize).min(4096));
    let mut total: u64 = 0;
    let mut entry = [0u8; ENTRY_LEN];
    for _ in 0..n {
        read_full(r, &mut entry, CHNK)?;
        let mut hash = [0u8; HASH_LEN];
        hash.copy_from_slice(&entry[..HASH_LEN]);
        let len = u32::from_be_bytes([
            entry[HASH_LEN],
            entry[HASH_LEN + 1],
            entry[HASH_LEN + 2],
            entry[HASH_LEN + 3],
        ]);
        if len == 0 {
            return Err(ProtoError::Malformed {
                token: CHNK,
                why: "an empty chunk",
            });
        }
        if len > limits.max_chunk_len {
            return Err(ProtoError::TooLarge {
                token: CHNK,
                len: len.into(),
                max: limits.max_chunk_len.into(),
            });
        }
        total += u64::from(len);
        if total > limits.max_unpacked {
            return Err(ProtoError::TooLarge {
                token: CHNK,
                len: total,
                max: limits.max_unpacked,
            });
        }
        list.push(ChunkRef { hash, len });
    }
    Ok((key, list))
}

/// Which chunks of a list of `n` the daemon lacks: bit i of the bitmap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    n: u32,
    bits: Vec<u8>,
}

impl Need {
    /// Nothing needed yet, for a list of `n` chunks.
    pub fn none(n: u32) -> Need {
        Need {
            n,
            bits: vec![0; (n as usize).div_ceil(8)],
        }
    }

    /// Marks chunk `i` as missing.
    pub fn set(&mut self, i: usize) {
        assert!(i < self.n as usize, "chunk {i} of {}", self.n);
        self.bits[i / 8] |= 1 << (i % 8);
    }

    pub fn get(&self, i: usize) -> bool {
        i < self.n as usize && self.bits[i / 8] & (1 << (i % 8)) != 0
    }

    /// How many chunks the list had.
    pub fn len(&self) -> usize {
        self.n as usize
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// How many chunks are missing.
    pub fn count(&self) -> usize {
        self.bits.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// Appends `NEED <n>` and the bitmap.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        encode_header(buf, NEED, self.n);
        buf.extend_from_slice(&self.bits);
    }
}

/// Reads the daemon's answer to a list of `n` chunks: `NEED n` and exactly `ceil(n/8)`
/// bytes, with no bit set past the n-th.
pub fn read_need<R: Read + ?Sized>(r: &mut R, n: u32) -> Result<Need, ProtoError> {
    let got = read_expected(r, NEED)?;
    read_need_after_header(r, n, got)
}

fn read_need_after_header<R: Read + ?Sized>(
    r: &mut R,
    n: u32,
    got: u32,
) -> Result<Need, ProtoError> {
    if got != n {
        return Err(ProtoError::Malformed {
            token: NEED,
            why: "not the chunk count of the list",
        });
    }
    let mut need = Need::none(n);
    read_full(r, &mut need.bits, NEED)?;
    if !n.is_multiple_of(8)
        && let Some(last) = need.bits.last()
        && last >> (n % 8) != 0
    {
        return Err(ProtoError::Malformed {
            token: NEED,
            why: "a bit set past the last chunk",
        });
    }
    Ok(need)
}

/// The daemon's answer to a chunk list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeedOr {
    /// Send these chunks.
    Need(Need),
    /// A whole protocol 4 answer in its place: a refusal (or, from a daemon that answers
    /// without reading further, a reply).
    Answer(crate::message::Answer),
}

/// Reads `NEED` for a list of `n` chunks, or a protocol 4 answer (`DONE 4` …) in its place.
pub fn read_need_or_answer<R: Read + ?Sized>(
    r: &mut R,
    n: u32,
    limits: &Limits,
) -> Result<NeedOr, ProtoError> {
    let h = crate::token::read_header(r)?.ok_or(ProtoError::Eof { expected: NEED })?;
    match h.token {
        NEED => read_need_after_header(r, n, h.value).map(NeedOr::Need),
        Token::DONE => {
            crate::message::read_answer_after_done(r, crate::message::Version::V4, h.value, limits)
                .map(|(a, _)| NeedOr::Answer(a))
        }
        got => Err(ProtoError::UnexpectedToken {
            expected: NEED,
            got,
        }),
    }
}

fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8], token: Token) -> Result<(), ProtoError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ProtoError::Truncated { token },
        _ => ProtoError::Io(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(n: usize) -> Vec<ChunkRef> {
        (0..n)
            .map(|i| ChunkRef {
                hash: [i as u8; HASH_LEN],
                len: 1000 + i as u32,
            })
            .collect()
    }

    #[test]
    fn a_list_round_trips_and_its_caps_hold() {
        let mut buf = Vec::new();
        encode_list(&mut buf, &[7; KEY_LEN], &list(3));
        assert!(buf.starts_with(b"CHNK00000003\x07\x07"));
        assert_eq!(buf.len(), 12 + KEY_LEN + 3 * ENTRY_LEN);
        assert_eq!(
            read_list(&mut &buf[..], &Limits::DEFAULT).unwrap(),
            ([7; KEY_LEN], list(3))
        );
        // Cut short, too many, too long, empty: errors, never a panic or a large allocation.
        assert!(matches!(
            read_list(&mut &buf[..buf.len() - 1], &Limits::DEFAULT),
            Err(ProtoError::Truncated { .. })
        ));
        let few = Limits {
            max_chunks: 2,
            ..Limits::DEFAULT
        };
        assert!(matches!(
            read_list(&mut &buf[..], &few),
            Err(ProtoError::TooLarge { .. })
        ));
        let short = Limits {
            max_chunk_len: 1001,
            ..Limits::DEFAULT
        };
        assert!(matches!(
            read_list(&mut &buf[..], &short),
            Err(ProtoError::TooLarge { .. })
        ));
        let small = Limits {
            max_unpacked: 2000,
            ..Limits::DEFAULT
        };
        assert!(read_list(&mut &buf[..], &small).is_err());
        assert!(read_list(&mut &b"CHNK00000000"[..], &Limits::DEFAULT).is_err());
        let mut zero = Vec::new();
        encode_list(
            &mut zero,
            &[0; KEY_LEN],
            &[ChunkRef {
                hash: [0; HASH_LEN],
                len: 0,
            }],
        );
        assert!(read_list(&mut &zero[..], &Limits::DEFAULT).is_err());
        // A forged huge count with nothing behind it, or only a key.
        assert!(read_list(&mut &b"CHNK0000ffff"[..], &Limits::DEFAULT).is_err());
        let mut key_only = b"CHNK00000001".to_vec();
        key_only.extend_from_slice(&[1; KEY_LEN]);
        assert!(matches!(
            read_list(&mut &key_only[..], &Limits::DEFAULT),
            Err(ProtoError::Truncated { .. })
        ));
    }

    #[test]
    fn the_hash_is_xxh3_128_big_endian() {
        // XXH3_128bits("") = 99aa06d3014798d86001c324468d497f (xxHash's own test vector).
        assert_eq!(
            hash(b""),
            [
                0x99, 0xaa, 0x06, 0xd3, 0x01, 0x47, 0x98, 0xd8, 0x60, 0x01, 0xc3, 0x24, 0x46, 0x8d,
                0x49, 0x7f
            ]
        );
        assert_ne!(hash(b"a"), hash(b"b"));
    }

    #[test]
    fn a_need_bitmap_round_trips_and_is_checked() {
        let mut need = Need::none(10);
        need.set(0);
        need.set(9);
        let mut buf = Vec::new();
        need.encode(&mut buf);
        assert_eq!(buf, b"NEED0000000a\x01\x02");
        let got = read_need(&mut &buf[..], 10).unwrap();
        assert_eq!(got, need);
        assert_eq!(got.count(), 2);
        assert!(got.get(0) && got.get(9) && !got.get(5) && !got.get(10));
        assert!(read_need(&mut &buf[..], 11).is_err(), "another count");
        assert!(
            read_need(&mut &buf[..buf.len() - 1], 10).is_err(),
            "cut short"
        );
        assert!(
            read_need(&mut &b"NEED0000000a\x01\x04"[..], 10).is_err(),
            "a bit past the end"
        );
        let mut all = Vec::new();
        Need::none(16).encode(&mut all);
        assert_eq!(read_need(&mut &all[..], 16).unwrap().count(), 0);
    }
}
