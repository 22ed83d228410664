//! The C corpus that ../shared/corpus/fetch.sh unpacks, for both test binaries (`it` and
//! `interop` include this file): where libgit2 and Lua are, found once per process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// fetch.sh's `NAME=DIR` lines, run once; empty when it failed.
fn fetched() -> &'static [(String, PathBuf)] {
    static LINES: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    LINES.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/fetch.sh");
        Command::new("bash")
            .arg(&script)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.to_owned(), PathBuf::from(v)))
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Where fetch.sh unpacked `name`, checked by a file it must hold; None (a failure under CI).
fn source(name: &str, must_hold: &str) -> Option<PathBuf> {
    let found = fetched()
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, p)| p.clone())
        .filter(|p| p.join(must_hold).is_file());
    if found.is_none() {
        assert!(
            !crate::support::ci(),
            "CI=true and ../shared/corpus/fetch.sh did not provide {name}"
        );
        eprintln!("skipping: ../shared/corpus/fetch.sh did not provide {name}");
    }
    found
}

/// libgit2's source tree, or None (a failure under CI).
pub fn libgit2_source() -> Option<PathBuf> {
    source("libgit2", "CMakeLists.txt")
}

/// Lua's source directory (`*.c`, `*.h`, no build files), or None (a failure under CI).
pub fn lua_source() -> Option<PathBuf> {
    source("lua", "lapi.c")
}
