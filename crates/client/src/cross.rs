//! 3.4's cross-compiler rename, made safe: `cc`/`c++` become the `gcc`/`g++`/`clang`/`clang++`
//! they link to, `gcc` becomes `<triple>-gcc`, and clang gets `-target <triple>`, so a server
//! of another architecture builds for this one.
//!
//! 3.4 renames to any `<triple>-gcc` found on the client's `PATH`, which servers often have
//! not allow-listed, so the job is silently refused. Here a new name is used only when it is
//! also in this machine's allow-list directory (`/usr/lib/distcc`), the list Debian's
//! `update-distcc-symlinks` builds the same way on every machine. Only the server's command
//! line is renamed; local runs use the compiler the user named.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The GNU triple 3.4 would have been configured with, without the `-pc` vendor.
pub fn native_triple() -> Option<String> {
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        Some(format!("{}-linux-gnu", std::env::consts::ARCH))
    } else {
        None
    }
}

/// Where the allow-list lives.
pub const ALLOW_DIR: &str = "/usr/lib/distcc";

/// Renames `argv[0]` and may add `-target` for the server.
pub fn rewrite(argv: &mut Vec<OsString>, path: Option<&OsStr>, allow_dir: &Path) {
    let Some(triple) = native_triple() else {
        return;
    };
    let Some(first) = argv.first() else { return };
    let mut name = first.as_bytes().to_vec();
    if (name == b"cc" || name == b"c++")
        && let Some(real) = generic_target(first, path)
    {
        name = real.as_bytes().to_vec();
    }
    let is = |base: &[u8]| name == base || name.starts_with(&[base, b"-"].concat());
    if is(b"gcc") || is(b"g++") {
        let mut fq = triple.as_bytes().to_vec();
        fq.push(b'-');
        fq.extend_from_slice(&name);
        let fq_os = OsStr::from_bytes(&fq);
        if allow_dir.join(fq_os).exists() && crate::invoke::resolve(fq_os, path, None).is_some() {
            name = fq;
        }
    } else if (is(b"clang") || is(b"clang++")) && !argv.iter().any(|a| a == "-target") {
        argv.push("-target".into());
        argv.push(triple.into());
    }
    argv[0] = OsStr::from_bytes(&name).to_owned();
}

/// What `cc`/`c++` on `PATH` links to, if it is gcc, g++, clang or clang++ (following at most
/// a few links, as through Debian's /etc/alternatives).
fn generic_target(name: &OsStr, path: Option<&OsStr>) -> Option<OsString> {
    let (mut p, _) = crate::invoke::resolve(name, path, None)?;
    let cxx = name == "c++";
    for _ in 0..8 {
        let target = std::fs::read_link(&p).ok()?;
        let base = target.file_name()?.to_owned();
        let wanted: &[&str] = if cxx {
            &["g++", "clang++"]
        } else {
            &["gcc", "clang"]
        };
        if wanted.iter().any(|w| base == *w) {
            return Some(base);
        }
        p = if target.is_absolute() {
            target
        } else {
            p.parent()?.join(target)
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clang_gets_a_target_once() {
        let Some(triple) = native_triple() else {
            return;
        };
        let mut v: Vec<OsString> = vec!["clang".into(), "-c".into()];
        rewrite(&mut v, None, Path::new("/nonexistent"));
        assert_eq!(v, ["clang", "-c", "-target", triple.as_str()]);
        let mut v: Vec<OsString> = vec!["clang++".into(), "-target".into(), "x".into()];
        rewrite(&mut v, None, Path::new("/nonexistent"));
        assert_eq!(v, ["clang++", "-target", "x"]);
    }

    #[test]
    fn gcc_is_renamed_only_to_allow_listed_names() {
        let mut v: Vec<OsString> = vec!["gcc".into()];
        rewrite(
            &mut v,
            Some(OsStr::new("/usr/bin")),
            Path::new("/nonexistent"),
        );
        assert_eq!(v, ["gcc"]);
    }
}
