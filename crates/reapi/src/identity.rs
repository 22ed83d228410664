//! The compiler identity an Action pins: protocol 4's (`distcc-identity`, the `CCID` our
//! client sends a protocol 4 daemon, docs/protocol-4.md), so the engine and the worker's
//! distccd match compilers exactly as a plain host does.
//!
//! - The submitting side gets the client's encoded identity in [`CCID_VAR`] (the client
//!   computed it for the job's compiler and language, cached by file identity) and puts its
//!   fingerprint and target in the platform ([`FINGERPRINT_KEY`], [`TARGET_KEY`]) and the
//!   whole identity in the Command's environment: both are part of the Action digest, so a
//!   compiler upgraded under the same name is another Action (an Action Cache miss).
//! - A worker offers, as several values of the same keys, the identities of every compiler
//!   it was given for each language ([`offered`]); BuildGrid gives a job to a bot whose
//!   property set holds the job's.
//!
//! What it leaves to others: probing and hashing (`distcc-identity`), and the final check
//! before a compiler runs (the worker's distccd, which gets the identity in protocol 4).

use std::path::{Path, PathBuf};

use identity::{Candidate, Identity, Index, Language};

/// The platform property holding the compiler's fingerprint (SHA-256 of what runs).
pub const FINGERPRINT_KEY: &str = "distcc-fingerprint";
/// The platform property holding the compiler's target (`-dumpmachine`).
pub const TARGET_KEY: &str = "distcc-target";
/// The variable that carries the encoded identity: from the client to `distcc-reapi submit`,
/// and in the Command's environment from there to the worker.
pub const CCID_VAR: &str = "DISTCC_CCID";

/// The platform properties pinning `id`.
pub fn platform(id: &Identity) -> Vec<(String, String)> {
    vec![
        (FINGERPRINT_KEY.to_owned(), id.fingerprint.clone()),
        (TARGET_KEY.to_owned(), id.target.clone()),
    ]
}

/// Every distinct identity (by fingerprint and target) of `compilers` (names looked up on
/// `PATH`, or paths) for each language they may compile, in order; and what could not be
/// identified, for the log.
pub fn offered(compilers: &[String]) -> (Vec<Identity>, Vec<String>) {
    let mut problems = Vec::new();
    let mut candidates = Vec::new();
    for c in compilers {
        match find_program(c) {
            Some(path) => candidates.push(Candidate {
                name: c.clone(),
                path,
            }),
            None => problems.push(format!("{c}: not found on PATH")),
        }
    }
    let index = Index::build(candidates);
    let mut ids: Vec<Identity> = Vec::new();
    let mut identified = vec![false; compilers.len()];
    for lang in [Language::C, Language::Cxx, Language::ObjC, Language::ObjCxx] {
        for (path, id) in index.identities(lang) {
            if let Ok(id) = id {
                for (i, c) in compilers.iter().enumerate() {
                    identified[i] |= find_program(c).as_deref() == Some(path.as_path());
                }
                if !ids.iter().any(|o| o.matches(&id)) {
                    ids.push(id);
                }
            }
        }
    }
    for (i, c) in compilers.iter().enumerate() {
        if !identified[i] && find_program(c).is_some() {
            problems.push(format!("{c}: cannot tell its identity"));
        }
    }
    (ids, problems)
}

/// `name` on `PATH` (or `name` itself when it holds a `/`).
fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_pins_fingerprint_and_target() {
        let id = Identity {
            target: "x86_64-linux-gnu".into(),
            version: "12.2.0".into(),
            fingerprint: "a".repeat(64),
            name: "gcc".into(),
        };
        assert_eq!(
            platform(&id),
            vec![
                (FINGERPRINT_KEY.into(), "a".repeat(64)),
                (TARGET_KEY.into(), "x86_64-linux-gnu".into())
            ]
        );
    }

    #[test]
    fn a_missing_compiler_is_reported_not_offered() {
        let (ids, problems) = offered(&["no-such-compiler-here".into()]);
        assert!(ids.is_empty());
        assert_eq!(problems.len(), 1);
    }
}
