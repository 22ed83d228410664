//! The C corpus that ../shared/corpus/fetch.sh unpacks, for both test binaries (`it` and
//! `interop` include this file): where libgit2 is, found once per process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where ../shared/corpus/fetch.sh unpacked libgit2, or None (a failure under CI).
pub fn libgit2_source() -> Option<PathBuf> {
    static SOURCE: OnceLock<Option<PathBuf>> = OnceLock::new();
    SOURCE
        .get_or_init(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/fetch.sh");
            let found = Command::new("bash")
                .arg(&script)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .find_map(|l| l.strip_prefix("libgit2=").map(PathBuf::from))
                })
                .filter(|p| p.join("CMakeLists.txt").is_file());
            if found.is_none() {
                assert!(
                    !crate::support::ci(),
                    "CI=true and {} did not provide libgit2",
                    script.display()
                );
                eprintln!("skipping: {} did not provide libgit2", script.display());
            }
            found
        })
        .clone()
}
