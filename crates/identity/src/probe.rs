//! Probing a compiler: which programs run when it compiles a language, and their
//! fingerprint.
//!
//! The driver is asked `-dumpmachine` (the target), `-dumpfullversion` (gcc's `12.2.0`;
//! when it fails or prints nothing, `-dumpversion`, which is clang's full version) and
//! `-print-prog-name=<cc1…>` for the language's compiler proper. gcc answers with an
//! absolute path, which is hashed after the driver; clang answers with the bare name (it
//! compiles in its own process), so the clang binary after links is the only program.
//!
//! The fingerprint is SHA-256 over, for each program in that order, its length as 8 bytes
//! little-endian and then its contents. File identities are taken before the contents are
//! read, so a program replaced while it is hashed is seen as changed at the next look.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::stamp::Stamps;
use crate::{Identity, Language, MAX_VALUE, proper_name};

/// An identity and the file identities it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub identity: Identity,
    pub stamps: Stamps,
    /// The programs hashed, real paths, in order (driver first).
    pub programs: Vec<PathBuf>,
}

/// Longest a probe of the driver may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// Probes `compiler` for `language`; `name` becomes the identity's name.
pub fn probe(compiler: &Path, name: &str, language: Language) -> io::Result<Probed> {
    let mut stamps = Stamps::default();
    let driver = stamps.follow(compiler)?;
    let target = ask(compiler, "-dumpmachine")?;
    let version = match ask(compiler, "-dumpfullversion") {
        Ok(v) => v,
        Err(_) => ask(compiler, "-dumpversion")?,
    };
    let proper = ask(
        compiler,
        &format!("-print-prog-name={}", proper_name(language)),
    )?;
    let mut programs = vec![driver];
    if proper.starts_with('/') {
        programs.push(stamps.follow(Path::new(&proper))?);
    }
    let fingerprint = fingerprint(&programs)?;
    let mut name: String = name.chars().filter(|c| !c.is_control()).collect();
    if name.is_empty() {
        name.push('?');
    }
    while name.len() > MAX_VALUE {
        name.pop();
    }
    Ok(Probed {
        identity: Identity {
            target,
            version,
            fingerprint,
            name,
        },
        stamps,
        programs,
    })
}

/// Runs `compiler arg` and returns its one line of output, which must be a plain value.
fn ask(compiler: &Path, arg: &str) -> io::Result<String> {
    let out = os::process::Command::new(compiler)
        .arg(arg)
        .stdout(os::process::Output::Capture { limit: 4096 })
        .timeout(PROBE_TIMEOUT)
        .run()?;
    let bad = |why: &str| {
        io::Error::other(format!(
            "cannot identify compiler {}: `{} {arg}` {why}",
            compiler.display(),
            compiler.display()
        ))
    };
    if !out.success() {
        return Err(bad(&format!("failed (wait status {:#x})", out.status)));
    }
    let text = String::from_utf8(out.stdout).map_err(|_| bad("printed no text"))?;
    let value = text.trim();
    if value.is_empty()
        || value.len() > MAX_VALUE
        || value.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(bad(&format!("printed {value:?}")));
    }
    Ok(value.to_owned())
}

/// Hex SHA-256 over each program's length (8 bytes, little-endian) and contents.
pub fn fingerprint(programs: &[PathBuf]) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    for p in programs {
        let mut f = std::fs::File::open(p)?;
        let len = f.metadata()?.len();
        h.update(len.to_le_bytes());
        let mut seen = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            seen += n as u64;
            h.update(&buf[..n]);
        }
        if seen != len {
            return Err(io::Error::other(format!(
                "{} changed while it was read",
                p.display()
            )));
        }
    }
    Ok(h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>())
}
