//! The cache key: SHA-256 over length-framed fields, so no two different inputs frame to the
//! same bytes. What goes in (and why) is listed in ARCHITECTURE.md, "Result cache".

use std::fmt;

use sha2::{Digest, Sha256};

/// Changes whenever the framing or the fields change: old entries then simply miss.
const VERSION: &[u8] = b"distcc-rs result cache key 1";

/// A 32-byte digest naming one result.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(pub [u8; 32]);

impl Key {
    /// 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        s
    }

    /// Reads [`hex`](Key::hex)'s text (lowercase only); `None` for anything else.
    pub fn from_hex(s: &[u8]) -> Option<Key> {
        if s.len() != 64 {
            return None;
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut k = [0u8; 32];
        for (i, pair) in s.chunks_exact(2).enumerate() {
            k[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(Key(k))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.hex())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

/// How the compiler gets its input: the request's kind, part of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One preprocessed source (`DOTI`).
    Plain,
    /// The server preprocesses files shipped with their names (`CDIR`, `NFIL`…).
    Pump,
}

/// Builds a key field by field. Every field is a tag, a length and the bytes.
pub struct Builder(Sha256);

impl Builder {
    /// Starts a key for a compile by the compiler of `fingerprint` (hex SHA-256 of its
    /// programs, `identity::Identity::fingerprint`) and `target`, in `mode`, running `argv`
    /// (the server's command line exactly as sent, compiler name first).
    pub fn new(fingerprint: &str, target: &str, mode: Mode, argv: &[impl AsRef<[u8]>]) -> Self {
        let mut b = Builder(Sha256::new());
        b.field(b'V', VERSION);
        b.field(b'F', fingerprint.as_bytes());
        b.field(b'T', target.as_bytes());
        b.field(
            b'M',
            match mode {
                Mode::Plain => b"plain",
                Mode::Pump => b"pump",
            },
        );
        let kept = without_output(argv);
        b.field(b'C', &(kept.len() as u64).to_le_bytes());
        for a in kept {
            b.field(b'A', a);
        }
        b
    }

    fn field(&mut self, tag: u8, bytes: &[u8]) {
        self.0.update([tag]);
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// The preprocessed source (plain mode).
    pub fn source(mut self, bytes: &[u8]) -> Self {
        self.field(b'S', bytes);
        self
    }

    /// The working directory the server is told (pump mode's `CDIR`).
    pub fn cwd(mut self, dir: &[u8]) -> Self {
        self.field(b'D', dir);
        self
    }

    /// One shipped file: its name and contents as sent (pump mode, in request order).
    pub fn file(mut self, name: &[u8], contents: &[u8]) -> Self {
        self.field(b'N', name);
        self.field(b'B', contents);
        self
    }

    /// One shipped link: its name and target.
    pub fn link(mut self, name: &[u8], target: &[u8]) -> Self {
        self.field(b'N', name);
        self.field(b'L', target);
        self
    }

    pub fn finish(self) -> Key {
        Key(self.0.finalize().into())
    }
}

/// `argv` without its output option (`-o NAME`, `-oNAME`): the server writes the object
/// under a name of its own and the name never reaches the compiler, so two compiles that
/// differ only there are the same compile. (Options whose extra outputs are named after
/// it, such as `-gsplit-dwarf`, are not cacheable: `rules`.)
fn without_output(argv: &[impl AsRef<[u8]>]) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(argv.len());
    let mut words = argv.iter().map(AsRef::as_ref);
    if let Some(first) = words.next() {
        out.push(first);
    }
    while let Some(w) = words.next() {
        if w == b"-o" {
            words.next();
        } else if !w.starts_with(b"-o") || w.starts_with(b"-obj") {
            out.push(w);
        }
    }
    out
}

/// The key of a plain-mode compile: identity, argv, preprocessed source.
pub fn plain(fingerprint: &str, target: &str, argv: &[impl AsRef<[u8]>], source: &[u8]) -> Key {
    Builder::new(fingerprint, target, Mode::Plain, argv)
        .source(source)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn hex_round_trip() {
        let k = plain(FP, "x86_64-linux-gnu", &["gcc", "-c", "a.c"], b"int x;\n");
        assert_eq!(Key::from_hex(k.hex().as_bytes()), Some(k));
        assert_eq!(Key::from_hex(k.hex().to_uppercase().as_bytes()), None);
        assert_eq!(Key::from_hex(b"00"), None);
    }

    #[test]
    fn every_field_changes_the_key() {
        let argv = ["gcc", "-O2", "-c", "a.c", "-o", "a.o"];
        let base = plain(FP, "x86_64-linux-gnu", &argv, b"int x;\n");
        assert_eq!(base, plain(FP, "x86_64-linux-gnu", &argv, b"int x;\n"));
        let other_fp = FP.replace('0', "1");
        let variants = [
            plain(&other_fp, "x86_64-linux-gnu", &argv, b"int x;\n"),
            plain(FP, "aarch64-linux-gnu", &argv, b"int x;\n"),
            plain(FP, "x86_64-linux-gnu", &argv[1..], b"int x;\n"),
            plain(
                FP,
                "x86_64-linux-gnu",
                &["gcc", "-O2 -c", "a.c", "-o", "a.o"],
                b"int x;\n",
            ),
            plain(FP, "x86_64-linux-gnu", &argv, b"int y;\n"),
            Builder::new(FP, "x86_64-linux-gnu", Mode::Pump, &argv)
                .source(b"int x;\n")
                .finish(),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
        // The output's name is not part of the compile.
        assert_eq!(
            base,
            plain(
                FP,
                "x86_64-linux-gnu",
                &["gcc", "-O2", "-c", "a.c", "-oelsewhere.o"],
                b"int x;\n"
            )
        );
        assert_eq!(
            base,
            plain(
                FP,
                "x86_64-linux-gnu",
                &["gcc", "-O2", "-c", "a.c"],
                b"int x;\n"
            )
        );
        // Framing: moving bytes between fields is a different key.
        let a = Builder::new(FP, "t", Mode::Pump, &argv)
            .file(b"ab", b"c")
            .finish();
        let b = Builder::new(FP, "t", Mode::Pump, &argv)
            .file(b"a", b"bc")
            .finish();
        let c = Builder::new(FP, "t", Mode::Pump, &argv)
            .link(b"ab", b"c")
            .finish();
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
