//! How distcc was invoked, and which compiler that means.
//!
//! - explicit: `distcc gcc -c x.c` (the compiler is the first word after distcc);
//! - implicit: `distcc -c x.c` or `distcc x.c` (the compiler is `cc`, as in 3.4);
//! - masquerade: a symlink named `gcc` pointing at distcc, in a directory early on `PATH`.
//!
//! Whatever the mode, the compiler to run here is found on `PATH` skipping every entry that
//! resolves to this very binary, so a masquerade directory never makes distcc run itself.
//! The recursion guard is 3.4's: `_DISTCC_SAFEGUARD` counts distcc processes above this one;
//! every child gets it incremented, and a distcc that finds it set refuses to go on (exit
//! 111) unless it is a masquerade link that can skip itself, which then compiles locally.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What the command line asks distcc to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Compile (or run) this compiler command line; the first word is the compiler as named.
    Compile {
        argv: Vec<OsString>,
        masquerade: bool,
    },
    Help,
    Version,
    ShowHosts,
    Concurrency,
    /// `distcc` alone.
    MissingOperand,
    /// `--scan-includes COMPILER ARGS…`: print what pump mode would send for this compile
    /// (`argv` as for `Compile`, `cc` when no compiler is named).
    ScanIncludes {
        argv: Vec<OsString>,
    },
}

fn is_source_or_object(word: &OsStr) -> bool {
    let b = word.as_bytes();
    let ext = match b.iter().rposition(|&c| c == b'.') {
        Some(d) => &b[d + 1..],
        None => return false,
    };
    matches!(
        ext,
        b"c" | b"cc"
            | b"cpp"
            | b"cxx"
            | b"cp"
            | b"c++"
            | b"C"
            | b"i"
            | b"ii"
            | b"m"
            | b"mm"
            | b"mi"
            | b"mii"
            | b"M"
            | b"o"
    )
}

/// Interprets `argv` (argv[0] included). Pure.
pub fn parse(argv: &[OsString]) -> Request {
    let name = argv
        .first()
        .map(|a| Path::new(a).file_name().unwrap_or(a.as_os_str()).to_owned())
        .unwrap_or_default();
    if !name.as_bytes().windows(6).any(|w| w == b"distcc") {
        let mut v = argv.to_vec();
        if let Some(first) = v.first_mut() {
            *first = name;
        }
        return Request::Compile {
            argv: v,
            masquerade: true,
        };
    }
    let Some(first) = argv.get(1) else {
        return Request::MissingOperand;
    };
    match first.as_bytes() {
        b"--help" => return Request::Help,
        b"--version" => return Request::Version,
        b"--show-hosts" => return Request::ShowHosts,
        b"-j" => return Request::Concurrency,
        b"--scan-includes" => {
            // The rest is read as a command line of its own, as 3.4 shifts argv.
            let mut shifted = vec![argv[0].clone()];
            shifted.extend_from_slice(&argv[2..]);
            return match parse(&shifted) {
                Request::Compile { argv, .. } => Request::ScanIncludes { argv },
                _ => Request::MissingOperand,
            };
        }
        _ => {}
    }
    let rest = &argv[1..];
    if first.as_bytes().starts_with(b"-") || is_source_or_object(first) {
        let mut v = vec![OsString::from("cc")];
        v.extend_from_slice(rest);
        return Request::Compile {
            argv: v,
            masquerade: false,
        };
    }
    Request::Compile {
        argv: rest.to_vec(),
        masquerade: false,
    }
}

/// Finds `name` on `path`, skipping every entry that is this binary (`self_exe`, already
/// canonical). Returns the program and whether an entry was skipped. A name with a slash
/// is used as given.
pub fn resolve(
    name: &OsStr,
    path: Option<&OsStr>,
    self_exe: Option<&Path>,
) -> Option<(PathBuf, bool)> {
    if name.as_bytes().contains(&b'/') {
        return Some((PathBuf::from(name), false));
    }
    let mut skipped = false;
    for dir in std::env::split_paths(path?) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(name);
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if !meta.is_file() || !is_executable(&meta) {
            continue;
        }
        if let (Some(me), Ok(real)) = (self_exe, std::fs::canonicalize(&candidate))
            && real == me
        {
            skipped = true;
            continue;
        }
        return Some((candidate, skipped));
    }
    None
}

fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

/// `PATH` without the directories whose `name` entry is this binary, so that a compiler
/// that runs `gcc` by name (or a wrapper) does not come back to distcc.
pub fn path_without_self(name: &OsStr, path: &OsStr, self_exe: &Path) -> OsString {
    let kept: Vec<PathBuf> = std::env::split_paths(path)
        .filter(|dir| std::fs::canonicalize(dir.join(name)).map_or(true, |real| real != self_exe))
        .collect();
    std::env::join_paths(kept).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn modes() {
        assert_eq!(
            parse(&v("distcc gcc -c x.c")),
            Request::Compile {
                argv: v("gcc -c x.c"),
                masquerade: false
            }
        );
        assert_eq!(
            parse(&v("/usr/bin/distcc -c x.c")),
            Request::Compile {
                argv: v("cc -c x.c"),
                masquerade: false
            }
        );
        assert_eq!(
            parse(&v("distcc x.c -c")),
            Request::Compile {
                argv: v("cc x.c -c"),
                masquerade: false
            }
        );
        assert_eq!(
            parse(&v("/masq/g++ -c x.cc")),
            Request::Compile {
                argv: v("g++ -c x.cc"),
                masquerade: true
            }
        );
        assert_eq!(parse(&v("distcc")), Request::MissingOperand);
        assert_eq!(parse(&v("distcc --help")), Request::Help);
        assert_eq!(parse(&v("distcc --version")), Request::Version);
        assert_eq!(parse(&v("distcc --show-hosts")), Request::ShowHosts);
        assert_eq!(parse(&v("distcc -j")), Request::Concurrency);
    }
}
