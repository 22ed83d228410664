//! The result cache (issue 16): compile each thing once.
//!
//! - [`key`]: the digest of everything that decides a compile's result: the exact bytes the
//!   compiler reads (the preprocessed source in plain mode, every shipped file's name and
//!   contents in pump mode), the command line the server runs, and the compiler's identity
//!   (protocol 4's fingerprint and target). Both sides compute it with the same code from
//!   the same wire bytes, so a daemon stores under keys it computed itself.
//! - [`rules`]: what may not be cached, each with a reason the stats count.
//! - [`entry`]: one result (exit status, object, `.d`, stderr, stdout) in a checksummed
//!   format: a damaged or truncated file is a miss, never a bad object.
//! - [`store`]: entries on disk under one directory, written atomically (temp + rename),
//!   bounded in size (least recently used out first), safe for many processes at once.
//!
//! Plain `std`, `sha2` and `os`: the per-compile client links it. It does no networking and
//! decides no policy (when to look, what to store): the client's `cache` module and the
//! daemon do.

pub mod entry;
pub mod key;
pub mod rules;
pub mod store;

pub use entry::Entry;
pub use key::Key;
pub use store::{Found, Store, Usage};

/// `123`, `64K`, `500M`, `2G`, `1T` (powers of 1024; a trailing `B`/`iB` is allowed).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s
        .strip_suffix("iB")
        .or_else(|| s.strip_suffix('B'))
        .unwrap_or(s);
    let (num, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        b't' | b'T' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    let n: f64 = num.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then(|| (n * (1u64 << shift) as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("64K"), Some(64 << 10));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("500MiB"), Some(500 << 20));
        assert_eq!(parse_size("2t"), Some(2 << 40));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("-1M"), None);
        assert_eq!(parse_size(""), None);
    }
}
