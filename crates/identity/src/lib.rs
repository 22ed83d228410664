//! Compiler identity (protocol 4's `CCID`, see docs/protocol-4.md): what a compiler is,
//! whatever it is called.
//!
//! An [`Identity`] names a compiler by the programs that really run when it compiles one
//! language: its target (`-dumpmachine`), its version, and a SHA-256 fingerprint of the
//! driver and of the compiler proper (`cc1`, `cc1plus`, … as the driver's
//! `-print-prog-name` finds them; for clang the clang binary after links, which compiles in
//! its own process). Two compilers are the same when fingerprint and target are equal
//! ([`Identity::matches`]); names and versions are for messages only.
//!
//! - [`Identity::for_client`]: the client's side, cached on disk by file identity (`cache`),
//!   so a compile pays a few `stat`s.
//! - [`Index`]: the daemon's side, every allow-listed compiler whatever its name, probed
//!   lazily per language and re-checked before use.
//!
//! It never decides what a daemon may run (that is `daemon::compiler`'s allow-list) and it
//! does no networking: the wire carries [`Identity::encode`]'s bytes.

mod cache;
mod index;
mod probe;
mod stamp;

#[cfg(feature = "fuzzing")]
pub mod fuzz;

use std::fmt;
use std::path::Path;

pub use args::{Language, Preprocessed};
pub use index::{Candidate, Index, Mismatch, Source};
pub use probe::Probed;
pub use stamp::Stamps;

/// Most bytes of an encoded identity (the `CCID` body); longer ones are refused unread.
pub const MAX_ENCODED: usize = 2048;
/// Most bytes of one value (a name, a target, a version).
pub const MAX_VALUE: usize = 255;
/// Most lines of an encoded identity, unknown keys included.
const MAX_LINES: usize = 16;

/// What identifies a compiler for one language.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// `-dumpmachine`, e.g. `x86_64-linux-gnu`.
    pub target: String,
    /// `-dumpfullversion` (gcc) or `-dumpversion` (clang's is its full version), e.g. `12.2.0`.
    pub version: String,
    /// Lowercase hex SHA-256 (64 digits) over the programs that run; see `probe`.
    pub fingerprint: String,
    /// What its owner calls it (`gcc`, `x86_64-linux-gnu-gcc-12`); messages only.
    pub name: String,
}

/// Why bytes are not an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    TooLong(usize),
    NotText,
    /// A line without `=`.
    BadLine(usize),
    TooManyLines,
    Duplicate(&'static str),
    Missing(&'static str),
    /// A value that is empty, too long, or holds a control character or a space (`name`
    /// may hold spaces).
    BadValue(&'static str),
    /// Not 64 lowercase hex digits.
    BadFingerprint,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooLong(n) => {
                write!(f, "compiler identity of {n} bytes (at most {MAX_ENCODED})")
            }
            ParseError::NotText => write!(f, "compiler identity is not UTF-8 text"),
            ParseError::BadLine(n) => write!(f, "compiler identity line {n} has no '='"),
            ParseError::TooManyLines => {
                write!(f, "compiler identity has more than {MAX_LINES} lines")
            }
            ParseError::Duplicate(k) => write!(f, "compiler identity repeats '{k}'"),
            ParseError::Missing(k) => write!(f, "compiler identity lacks '{k}'"),
            ParseError::BadValue(k) => write!(f, "compiler identity has a bad '{k}' value"),
            ParseError::BadFingerprint => write!(
                f,
                "compiler identity fingerprint is not 64 lowercase hex digits"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

impl Identity {
    /// `target=…\nversion=…\nfingerprint=…\nname=…\n`.
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "target={}\nversion={}\nfingerprint={}\nname={}\n",
            self.target, self.version, self.fingerprint, self.name
        )
        .into_bytes()
    }

    /// Reads [`encode`](Identity::encode)'s bytes. Bounded: at most [`MAX_ENCODED`] bytes and
    /// 16 lines; keys it does not know are skipped (a later version may add some), each known
    /// key must appear once, values are checked. Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Identity, ParseError> {
        if bytes.len() > MAX_ENCODED {
            return Err(ParseError::TooLong(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ParseError::NotText)?;
        let mut fields: [Option<&str>; 4] = [None; 4];
        const KEYS: [&str; 4] = ["target", "version", "fingerprint", "name"];
        let body = text.strip_suffix('\n').unwrap_or(text);
        for (i, line) in body.split('\n').enumerate() {
            if i >= MAX_LINES {
                return Err(ParseError::TooManyLines);
            }
            let (key, value) = line.split_once('=').ok_or(ParseError::BadLine(i + 1))?;
            let Some(k) = KEYS.iter().position(|k| *k == key) else {
                continue;
            };
            if fields[k].replace(value).is_some() {
                return Err(ParseError::Duplicate(KEYS[k]));
            }
        }
        let get = |k: usize| fields[k].ok_or(ParseError::Missing(KEYS[k]));
        let (target, version, fingerprint, name) = (get(0)?, get(1)?, get(2)?, get(3)?);
        check_value("target", target, false)?;
        check_value("version", version, false)?;
        check_value("name", name, true)?;
        if !is_fingerprint(fingerprint) {
            return Err(ParseError::BadFingerprint);
        }
        Ok(Identity {
            target: target.to_owned(),
            version: version.to_owned(),
            fingerprint: fingerprint.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The same compiler: fingerprint and target equal (names and versions may differ).
    pub fn matches(&self, other: &Identity) -> bool {
        self.fingerprint == other.fingerprint && self.target == other.target
    }

    /// The farm coordinator's name for this compiler (`LEAS ccid=`, a daemon's `ccids=`,
    /// docs/coordinator.md): `target/fingerprint`, what [`matches`](Identity::matches)
    /// compares, with no space (neither value holds one).
    pub fn farm_key(&self) -> String {
        format!("{}/{}", self.target, self.fingerprint)
    }

    /// For messages: `gcc 12.2.0 x86_64-linux-gnu sha256:1a2b3c4d`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {} sha256:{}",
            self.name,
            self.version,
            self.target,
            self.fingerprint.get(..8).unwrap_or(&self.fingerprint)
        )
    }

    /// The client's identity for `compiler` (the program it would run locally, as
    /// `client::invoke::resolve` finds it) compiling `language`, from the cache under
    /// `cache_dir` (the client passes `$DISTCC_DIR/identity`) when every program involved
    /// still has the same file identity, else probed and cached. `name` is `compiler`'s file
    /// name. A cache that cannot be written costs a probe per compile, never a failure.
    pub fn for_client(
        compiler: &Path,
        language: Language,
        cache_dir: &Path,
    ) -> std::io::Result<Identity> {
        let name = compiler
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| compiler.display().to_string());
        cache::lookup_or_probe(compiler, &name, language, Some(cache_dir)).map(|p| p.identity)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

fn check_value(key: &'static str, v: &str, spaces: bool) -> Result<(), ParseError> {
    let ok = !v.is_empty()
        && v.len() <= MAX_VALUE
        && v.chars().all(|c| !c.is_control() && (spaces || c != ' '));
    ok.then_some(()).ok_or(ParseError::BadValue(key))
}

fn is_fingerprint(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The compiler proper gcc runs for `language` (asked of the driver with
/// `-print-prog-name`): a preprocessed source is compiled by the same program.
pub fn proper_name(language: Language) -> &'static str {
    use args::Preprocessed as P;
    match language {
        Language::C | Language::Preprocessed(P::C) => "cc1",
        Language::Cxx | Language::Preprocessed(P::Cxx) => "cc1plus",
        Language::ObjC | Language::Preprocessed(P::ObjC) => "cc1obj",
        Language::ObjCxx | Language::Preprocessed(P::ObjCxx) => "cc1objplus",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Identity {
        Identity {
            target: "x86_64-linux-gnu".into(),
            version: "12.2.0".into(),
            fingerprint: "1a2b3c4d".repeat(8),
            name: "gcc".into(),
        }
    }

    #[test]
    fn encode_parse_round_trip() {
        let id = sample();
        let bytes = id.encode();
        assert_eq!(
            bytes,
            format!(
                "target=x86_64-linux-gnu\nversion=12.2.0\nfingerprint={}\nname=gcc\n",
                "1a2b3c4d".repeat(8)
            )
            .into_bytes()
        );
        assert_eq!(Identity::parse(&bytes).unwrap(), id);
        assert_eq!(id.describe(), "gcc 12.2.0 x86_64-linux-gnu sha256:1a2b3c4d");
    }

    #[test]
    fn parse_skips_unknown_keys_in_any_order() {
        let fp = "ab".repeat(32);
        let text = format!("name=my gcc\nfuture=1\nfingerprint={fp}\nversion=11\ntarget=t");
        let id = Identity::parse(text.as_bytes()).unwrap();
        assert_eq!(id.name, "my gcc");
        assert_eq!(id.fingerprint, fp);
    }

    #[test]
    fn parse_refuses_bad_input() {
        let fp = "ab".repeat(32);
        let ok = format!("target=t\nversion=1\nfingerprint={fp}\nname=n\n");
        assert!(Identity::parse(ok.as_bytes()).is_ok());
        let cases: &[(String, ParseError)] = &[
            (ok.replace("target=t\n", ""), ParseError::Missing("target")),
            (format!("{ok}name=m\n"), ParseError::Duplicate("name")),
            (ok.replace("=1\n", "1\n"), ParseError::BadLine(2)),
            (
                ok.replace(&fp, &fp.to_uppercase()),
                ParseError::BadFingerprint,
            ),
            (ok.replace(&fp, "abc"), ParseError::BadFingerprint),
            (
                ok.replace("target=t", "target=a b"),
                ParseError::BadValue("target"),
            ),
            (
                ok.replace("version=1", "version="),
                ParseError::BadValue("version"),
            ),
            (
                ok.replace("name=n", "name=n\u{1b}[2J"),
                ParseError::BadValue("name"),
            ),
            ("x=1\n".repeat(17), ParseError::TooManyLines),
            (
                "a".repeat(MAX_ENCODED + 1),
                ParseError::TooLong(MAX_ENCODED + 1),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                Identity::parse(text.as_bytes()).unwrap_err(),
                *want,
                "{text:?}"
            );
        }
        assert_eq!(Identity::parse(b"\xff=1").unwrap_err(), ParseError::NotText);
    }

    #[test]
    fn matches_is_fingerprint_and_target() {
        let a = sample();
        let mut b = a.clone();
        b.name = "x86_64-linux-gnu-gcc-12".into();
        b.version = "12".into();
        assert!(a.matches(&b));
        b.target = "aarch64-linux-gnu".into();
        assert!(!a.matches(&b));
        let mut c = a.clone();
        c.fingerprint = "00".repeat(32);
        assert!(!a.matches(&c));
    }
}
