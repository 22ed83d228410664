//! The compiler identity a protocol 4 request carries (`CCID`, see docs/protocol-4.md).
//!
//! [`for_job`] is what `compile`/`remote` call: the program the client would run locally
//! (`LocalCompiler::program`, as `invoke::resolve` found it on `PATH`), the job's language
//! (`args::Job::language`) and `$DISTCC_DIR` (`Dirs::top`). The identity is cached under
//! `$DISTCC_DIR/identity/` by file identity, so after the first compile with a compiler it
//! costs a small file read and a few `stat`s (6 µs measured, release build). The caching,
//! probing and hashing are `distcc-identity`'s, plain std and `sha2`: the client stays lean.

use std::io;
use std::path::Path;

pub use identity::Identity;

/// Where identities are cached under `$DISTCC_DIR`.
pub const CACHE_SUBDIR: &str = "identity";

/// The identity of `program` compiling `language`, from the cache under `top`
/// (`$DISTCC_DIR`) when its files are unchanged. An error (the compiler cannot be probed)
/// means no protocol 4 job can say which compiler it needs: the caller sends none to a
/// protocol 4 host and says why in its log.
pub fn for_job(program: &Path, language: args::Language, top: &Path) -> io::Result<Identity> {
    Identity::for_client(program, language, &top.join(CACHE_SUBDIR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_job_caches_under_distcc_dir() {
        let t = os::tempdir::TempDir::new("client-ccid-").unwrap();
        let job = crate::test_job("gcc -c a.cc");
        let id = for_job(Path::new("/usr/bin/gcc"), job.language, t.path()).unwrap();
        assert_eq!(id.name, "gcc");
        // One cache file (and the lock its first lookup took).
        let cached = std::fs::read_dir(t.path().join(CACHE_SUBDIR))
            .unwrap()
            .filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .path()
                    .to_string_lossy()
                    .ends_with(".lock")
            })
            .count();
        assert_eq!(cached, 1);
        assert_eq!(
            for_job(Path::new("/usr/bin/gcc"), job.language, t.path()).unwrap(),
            id
        );
    }
}
