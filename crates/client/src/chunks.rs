//! Cutting a preprocessed source into chunks for protocol 4's chunked source (`FLAG` bit 2,
//! docs/protocol-4.md "Chunked source"), so a daemon that has a piece already (the same
//! system or project header, expanded the same way, in another file of the build) is not sent
//! it again.
//!
//! The cuts are content-defined, so the same run of headers is cut the same way in every file
//! that includes it: a cut falls at the start of a line marker (`# <n> "file" …`, what the
//! preprocessor writes when it enters or leaves a header) whose line hashes to 0 modulo
//! [`MARKER_MODULUS`], once the chunk so far is at least [`MIN_CHUNK`] bytes. A run without
//! such markers (a `.i` written by hand, a huge macro expansion) is cut at the first newline
//! after [`MAX_CHUNK`] bytes, and hard at [`HARD_MAX`]. Each chunk is named by its xxh3-128
//! hash (`proto::chunks::hash`: 4-5 times SHA-256's speed at these sizes, see
//! docs/protocol-4.md), and the list carries this client's namespace key ([`key`]).
//!
//! Plain std, `memchr` and `xxhash-rust` (SSE2, chosen at compile time): no threads.

use std::io::{Read, Write};
use std::ops::Range;
use std::path::Path;

use proto::chunks::{ChunkRef, KEY_LEN, Key};

/// Sources shorter than this go as one ordinary body: a round trip and a list would cost
/// more than they save.
pub const THRESHOLD: usize = 32 * 1024;
/// The smallest chunk a marker may end.
pub const MIN_CHUNK: usize = 1024;
/// A chunk this long is cut at its next newline.
pub const MAX_CHUNK: usize = 64 * 1024;
/// A chunk is never longer than this (far below `proto::Limits::max_chunk_len`).
pub const HARD_MAX: usize = 256 * 1024;
/// One marker in this many ends a chunk (by the hash of its line).
pub const MARKER_MODULUS: u64 = 4;

/// Where to cut `source`: consecutive ranges covering it, each 1 to [`HARD_MAX`] bytes.
///
/// Besides the hashed markers, the main file's own stretches are chunks of their own: a cut
/// before every marker naming the main file (the first line's name: `# 0 "src/a.c"`, which
/// no other file of the build shares) and before the marker after it. The headers between
/// them are then cut the same way in every file that includes them.
pub fn cut(source: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(source.len() / 2048 + 1);
    cut_each(source, |r| out.push(r));
    out
}

/// [`cut`], handing each range to `each` as soon as it is known (while its bytes are still
/// in the cache the scan brought them into).
fn cut_each(source: &[u8], mut each: impl FnMut(Range<usize>)) {
    let mut start = 0;
    let main = main_name(source);
    let mut in_main = false;
    // `#` at a line start (the first line is the main file's marker, never a cut).
    // (Each as the position of the newline before it.)
    let mut markers = positions(source, b'#')
        .filter(|&p| p > 0 && source[p - 1] == b'\n')
        .map(|p| p - 1);
    let mut next_marker = markers.next();
    while start < source.len() {
        // The next marker line that may end this chunk.
        let mut end = None;
        while let Some(p) = next_marker {
            let at = p + 1;
            if at - start > MAX_CHUNK {
                break;
            }
            next_marker = markers.next();
            let line = &source[at..];
            let Some(quote) = marker_quote(line) else {
                continue;
            };
            let names_main = main.is_some_and(|m| {
                line[quote + 1..].starts_with(m) && line.get(quote + 1 + m.len()) == Some(&b'"')
            });
            let forced = if names_main {
                in_main = true;
                true
            } else {
                std::mem::replace(&mut in_main, false)
            };
            if (forced && at > start) || (at - start >= MIN_CHUNK && is_cut_marker(line)) {
                end = Some(at);
                break;
            }
        }
        let end = end.unwrap_or_else(|| {
            if source.len() - start <= MAX_CHUNK {
                return source.len();
            }
            let from = start + MAX_CHUNK;
            let limit = (start + HARD_MAX).min(source.len());
            positions(&source[from..limit], b'\n')
                .next()
                .map_or(limit, |i| from + i + 1)
        });
        each(start..end);
        start = end;
        // Markers passed over by a size cut are behind us now.
        while next_marker.is_some_and(|p| p < start) {
            next_marker = markers.next();
        }
    }
}

/// Where the file name's opening quote is in a line marker (`# 12 "file" 2`, as gcc and
/// clang write it) at the start of `line`; `None` for any other line. Looks no further than
/// the number: a build has thousands of markers a file.
fn marker_quote(line: &[u8]) -> Option<usize> {
    if line.len() < 4 || line[0] != b'#' || line[1] != b' ' || !line[2].is_ascii_digit() {
        return None;
    }
    let digits = line[2..].iter().take_while(|b| b.is_ascii_digit()).count();
    let at = 2 + digits;
    (line.get(at) == Some(&b' ') && line.get(at + 1) == Some(&b'"')).then_some(at + 1)
}

/// Where `line`'s newline is (or its end): a marker line is short.
fn line_end(line: &[u8]) -> usize {
    line.iter().position(|&b| b == b'\n').unwrap_or(line.len())
}

/// Every position of `byte` in `hay`. On x86-64 with SSE2 (the baseline: known at compile
/// time), without the runtime CPU probe `memchr`'s generic entry points make on first use:
/// a probe is a few `cpuid` instructions, each a virtual machine exit (~7 us here), and a
/// client is a fresh process per compile.
fn positions(hay: &[u8], byte: u8) -> Box<dyn Iterator<Item = usize> + '_> {
    #[cfg(target_arch = "x86_64")]
    if let Some(one) = memchr::arch::x86_64::sse2::memchr::One::new(byte) {
        let mut at = 0;
        return Box::new(std::iter::from_fn(move || {
            let i = at + one.find(&hay[at..])?;
            at = i + 1;
            Some(i)
        }));
    }
    Box::new(memchr::memchr_iter(byte, hay))
}

/// The main file's name: the first line's marker (`# 0 "src/a.c"`).
fn main_name(source: &[u8]) -> Option<&[u8]> {
    let quote = marker_quote(source)?;
    let end = line_end(source);
    let close = source[..end].iter().rposition(|&b| b == b'"')?;
    (close > quote).then(|| &source[quote + 1..close])
}

/// True when `line`, a line marker, hashes to a cut.
fn is_cut_marker(line: &[u8]) -> bool {
    let end = line_end(line);
    (line_hash(&line[..end]) >> 40).is_multiple_of(MARKER_MODULUS)
}

/// A hash of a marker line, eight bytes a step (a byte-wise FNV took most of `cut`'s time:
/// a file has a couple of thousand markers). Not for security: it only picks cut points.
fn line_hash(line: &[u8]) -> u64 {
    const K: u64 = 0x9fb2_1c65_1e98_df25;
    let mut h = 0x9e37_79b9_7f4a_7c15 ^ line.len() as u64;
    let mut words = line.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(K).rotate_left(29);
    }
    let rest = words.remainder();
    let mut b = [0u8; 8];
    b[..rest.len()].copy_from_slice(rest);
    h = (h ^ u64::from_le_bytes(b)).wrapping_mul(K);
    h ^ (h >> 29)
}

/// `source` cut ([`cut`]) and each piece named by its hash and length.
pub fn split(source: &[u8]) -> Vec<(Range<usize>, ChunkRef)> {
    let mut out = Vec::with_capacity(source.len() / 2048 + 1);
    // Each piece is hashed as soon as it is cut, while the scan has it in the cache: one pass
    // over the source from memory, not two.
    cut_each(source, |r| {
        let c = ChunkRef {
            hash: proto::chunks::hash(&source[r.clone()]),
            // Every range is at most `HARD_MAX` bytes.
            len: (r.end - r.start) as u32,
        };
        out.push((r, c));
    });
    out
}

/// Where the namespace key lives under `$DISTCC_DIR`.
pub const KEY_FILE: &str = "chunk-key";

/// This client's namespace key (`$DISTCC_DIR/chunk-key`, 16 random bytes, mode 0600): read
/// once a chunked compile; made once, atomically (a new file linked into place, so racing
/// first compiles agree on one key). A daemon keeps chunks per (principal, key): another
/// user behind the same address, without this file, cannot reach this client's chunks.
/// When the file can be neither read nor made, a key of this process alone (its chunks are
/// then sent every time, never wrong).
pub fn key(top: &Path) -> Key {
    let path = top.join(KEY_FILE);
    if let Some(k) = read_key(&path) {
        return k;
    }
    let fresh = random_key();
    let _ = make_key(&path, &fresh);
    read_key(&path).unwrap_or(fresh)
}

fn read_key(path: &Path) -> Option<Key> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut k = [0u8; KEY_LEN];
    f.read_exact(&mut k).ok()?;
    // A file of another length is not ours.
    (f.read(&mut [0u8; 1]).ok()? == 0).then_some(k)
}

/// Writes `key` to a file of its own and links it into place (never over a key another
/// process made first; a damaged file is replaced).
fn make_key(path: &Path, key: &Key) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{KEY_FILE}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(key).and_then(|()| f.sync_all()))
        .and_then(|()| match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if read_key(path).is_some() {
                    Ok(())
                } else {
                    std::fs::rename(&tmp, path)
                }
            }
            other => other,
        });
    let _ = std::fs::remove_file(&tmp);
    made
}

/// 16 bytes from the kernel's random source (`getrandom(2)`); failing that, from the
/// clock and process id hashed (only ever a fallback of a fallback: the key then still
/// separates this client from others at its address unless they guess it).
fn random_key() -> Key {
    let mut k = [0u8; KEY_LEN];
    let mut filled = 0;
    while filled < KEY_LEN {
        // SAFETY: the pointer and length name the unfilled rest of `k`.
        let n = unsafe { libc::getrandom(k[filled..].as_mut_ptr().cast(), KEY_LEN - filled, 0) };
        if n <= 0 {
            break;
        }
        filled += n as usize;
    }
    if filled < KEY_LEN {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let seed = format!("{now}:{}", std::process::id());
        k = xxhash_rust::xxh3::xxh3_128(seed.as_bytes()).to_be_bytes();
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(source: &[u8], cuts: &[Range<usize>]) {
        let mut at = 0;
        for r in cuts {
            assert_eq!(r.start, at);
            assert!(r.end > r.start && r.end - r.start <= HARD_MAX, "{r:?}");
            at = r.end;
        }
        assert_eq!(at, source.len());
    }

    fn preprocessed(headers: &[&str]) -> Vec<u8> {
        let mut s = b"# 0 \"main.c\"\n".to_vec();
        for (i, h) in headers.iter().enumerate() {
            s.extend_from_slice(format!("# 1 \"/usr/include/{h}.h\" 1 3 4\n").as_bytes());
            for j in 0..60 {
                s.extend_from_slice(format!("extern int {h}_{j}(int, char *);\n").as_bytes());
            }
            s.extend_from_slice(format!("# {} \"main.c\" 2\n", i + 2).as_bytes());
        }
        s
    }

    #[test]
    fn cuts_cover_the_source_and_respect_the_sizes() {
        assert!(cut(b"").is_empty());
        covers(b"x", &cut(b"x"));
        let names: Vec<String> = (0..200).map(|i| format!("h{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let s = preprocessed(&names);
        let cuts = cut(&s);
        covers(&s, &cuts);
        assert!(cuts.len() > 10, "{} cuts", cuts.len());
        // A source without markers or newlines.
        let flat = vec![b'a'; 3 * HARD_MAX + 5];
        let cuts = cut(&flat);
        covers(&flat, &cuts);
        assert_eq!(cuts.len(), 4);
        // Without markers, with newlines: cut after MAX_CHUNK at a newline.
        let lines = b"int x;\n".repeat(40_000);
        let cuts = cut(&lines);
        covers(&lines, &cuts);
        assert!(
            cuts[..cuts.len() - 1]
                .iter()
                .all(|r| r.end - r.start > MAX_CHUNK && lines[r.end - 1] == b'\n')
        );
    }

    #[test]
    fn the_key_is_made_once_private_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("distcc-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let top = dir.join("distcc");
        let k = key(&top);
        let meta = std::fs::metadata(top.join(KEY_FILE)).unwrap();
        assert_eq!(meta.len(), KEY_LEN as u64);
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(key(&top), k, "read again, not made again");
        // Another directory, another key; a damaged file is replaced.
        let other = dir.join("other");
        assert_ne!(key(&other), k);
        std::fs::write(other.join(KEY_FILE), b"short").unwrap();
        let again = key(&other);
        assert_eq!(std::fs::read(other.join(KEY_FILE)).unwrap(), again);
        // No leftover temporary files.
        assert_eq!(std::fs::read_dir(&top).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_key_that_cannot_be_kept_is_this_processs_own() {
        // `$DISTCC_DIR` below a regular file: nothing can be made there, even as root.
        let file = std::env::temp_dir().join(format!("distcc-nokey-{}", std::process::id()));
        std::fs::write(&file, b"not a directory").unwrap();
        let top = file.join("distcc");
        let (k1, k2) = (key(&top), key(&top));
        assert_ne!(k1, [0; KEY_LEN]);
        assert_ne!(k1, k2, "a fresh random key each time, not a fixed one");
        assert!(!top.exists());
        std::fs::remove_file(&file).unwrap();
    }

    #[test]
    fn the_same_headers_are_cut_the_same_way_in_another_file() {
        let names: Vec<String> = (0..100).map(|i| format!("h{i}")).collect();
        let mut a: Vec<&str> = names.iter().map(String::as_str).collect();
        let sa = preprocessed(&a);
        a.insert(0, "only_in_b");
        let sb = preprocessed(&a);
        let ha: std::collections::HashSet<_> = split(&sa).into_iter().map(|(_, c)| c).collect();
        let hb: Vec<_> = split(&sb).into_iter().map(|(_, c)| c).collect();
        let shared = hb.iter().filter(|c| ha.contains(c)).count();
        assert!(shared + 3 >= hb.len(), "{shared} of {} shared", hb.len());
    }
}
