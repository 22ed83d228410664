//! The source route (`DISTCC_IDENTICAL_DEBUG`): how a compile with debug information is sent
//! in plain mode so that its object equals a local build's.
//!
//! A fully preprocessed source does not give the same object: every line holding a macro
//! expansion gets other line-table columns, and `-g3` loses the macros. So the local
//! preprocessor only expands the includes (gcc's `-fdirectives-only`, clang's
//! `-frewrite-includes`), the text before the main file (built-in and command-line
//! definitions, `stdc-predef.h`) is cut, and the server compiles the rest as ordinary source
//! of its language, under the source's own name, in a protocol 3 request whose `CDIR` is this
//! directory: our daemon's `-ffile-prefix-map=<job root>=` then gives `DW_AT_comp_dir` and
//! every name the local values, and its preprocessor defines what the local one defined
//! before the main file (`-D`, `-U`, built-ins, `stdc-predef.h`). No option the compiler
//! records in `DW_AT_producer` is added (gcc would record `-fpreprocessed`'s companion
//! `-fdirectives-only`).
//!
//! Only for our daemon: 3.4's leaves its job directory in `DW_AT_comp_dir` (measured), and
//! nothing in 3.4's protocol tells the two apart, so the user says so with the variable. This
//! module decides and builds the request; `compile` sends it.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use args::Job;

use crate::pump::{Closure, Entry};

/// Which preprocessor option expands includes but not macros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Gcc,
    Clang,
}

impl Family {
    /// From the compiler actually run here (links followed: `cc` may be either).
    pub fn of(program: &Path) -> Family {
        let real = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
        let name = real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.contains("clang") {
            Family::Clang
        } else {
            Family::Gcc
        }
    }

    /// Added to the local preprocessor's command line.
    pub fn cpp_option(self) -> &'static str {
        match self {
            Family::Gcc => "-fdirectives-only",
            Family::Clang => "-frewrite-includes",
        }
    }
}

/// How a compile with debug information goes, when identical objects are asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// As 3.4: fully preprocessed here (no debug information, or not asked for).
    Classic,
    /// The source route, with the server's command line.
    Source { family: Family, argv: Vec<OsString> },
    /// No remote compile can give the same object: compile here, for this reason.
    Local(&'static str),
}

/// Decides the route of `job`, compiled here by `program`.
pub fn route(identical_debug: bool, job: &Job, program: &Path) -> Route {
    if !identical_debug || !job.debug_info() || job.is_preprocessed() {
        return Route::Classic;
    }
    let family = Family::of(program);
    if family == Family::Clang && job.dwarf_version().is_none_or(|v| v >= 5) {
        return Route::Local(
            "clang writes MD5 sums of the files it reads into DWARF 5 line tables, which a rewritten source cannot have",
        );
    }
    match job.source_argv() {
        Some(argv) => Route::Source { family, argv },
        None => Route::Local(
            "-include, -imacros, -Wp, or -Xpreprocessor: the server cannot reproduce the text before the main file",
        ),
    }
}

/// `text` from the main file's first line marker on (`# 1 "<input>"`), the built-in and
/// command-line part before it cut; `None` when there is no such marker.
pub fn main_part<'t>(text: &'t [u8], input: &[u8]) -> Option<&'t [u8]> {
    let mut marker = b"# 1 \"".to_vec();
    for &b in input {
        match b {
            b'\\' | b'"' => marker.extend_from_slice(&[b'\\', b]),
            b'\n' => marker.extend_from_slice(b"\\n"),
            _ => marker.push(b),
        }
    }
    marker.extend_from_slice(b"\"\n");
    if text.starts_with(&marker) {
        return Some(text);
    }
    let mut at = 0;
    while let Some(nl) = text[at..].iter().position(|&b| b == b'\n') {
        at += nl + 1;
        if text[at..].starts_with(&marker) {
            return Some(&text[at..]);
        }
    }
    None
}

/// `input` (relative to `cwd`) as an absolute name without `.` or `..`: where the daemon
/// places it under its job root. The server's compiler reaches it by the name as given,
/// from the job root's copy of `cwd`, which has no links, so `..` is resolved by names.
pub fn absolute_name(cwd: &Path, input: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in cwd.join(input).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The request's one file: the main part of the text, under the source's absolute name.
pub fn closure(main: &[u8], cwd: &Path, input: &Path) -> Closure {
    let name = absolute_name(cwd, input).as_os_str().as_bytes().to_vec();
    Closure {
        entries: vec![Entry::File {
            name,
            lzo: proto::lzo::compress(main),
        }],
        bytes: main.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_before_the_main_file_is_cut() {
        let t = b"# 0 \"a.c\"\n# 0 \"<built-in>\"\n#define __STDC__ 1\n# 1 \"a.c\"\nint x;\n";
        assert_eq!(main_part(t, b"a.c"), Some(&b"# 1 \"a.c\"\nint x;\n"[..]));
        let t = b"# 1 \"d\\\\\\\"q.c\"\nint x;\n";
        assert_eq!(main_part(t, b"d\\\"q.c"), Some(&t[..]));
        assert_eq!(main_part(b"# 1 \"b.c\"\n", b"a.c"), None);
        assert_eq!(main_part(b"# 1 \"a.c\" 1\n", b"a.c"), None);
    }

    #[test]
    fn names_are_absolute_without_dots() {
        let n = absolute_name(Path::new("/h/u/build"), Path::new("../src/./a.c"));
        assert_eq!(n, PathBuf::from("/h/u/src/a.c"));
        let n = absolute_name(Path::new("/h"), Path::new("/abs/a.c"));
        assert_eq!(n, PathBuf::from("/abs/a.c"));
    }

    fn job(cmd: &str) -> Job {
        let argv: Vec<OsString> = cmd.split(' ').map(OsString::from).collect();
        match args::classify(&argv) {
            args::Classified::Distribute(j) => j,
            other => panic!("{cmd}: {other:?}"),
        }
    }

    #[test]
    fn the_route_depends_on_debug_info_compiler_and_options() {
        let gcc = Path::new("/nonexistent/gcc");
        let clang = Path::new("/nonexistent/clang");
        assert_eq!(route(false, &job("gcc -g -c a.c"), gcc), Route::Classic);
        assert_eq!(route(true, &job("gcc -O2 -c a.c"), gcc), Route::Classic);
        assert_eq!(route(true, &job("gcc -g -g0 -c a.c"), gcc), Route::Classic);
        assert_eq!(route(true, &job("gcc -g -c a.i"), gcc), Route::Classic);
        assert_eq!(
            route(
                true,
                &job("gcc -g3 -DX=1 -Iinc -MD -MF a.d -c a.c -o a.o"),
                gcc
            ),
            Route::Source {
                family: Family::Gcc,
                argv: ["gcc", "-g3", "-DX=1", "-c", "a.c"]
                    .map(OsString::from)
                    .to_vec()
            }
        );
        assert!(matches!(
            route(true, &job("gcc -g -include c.h -c a.c"), gcc),
            Route::Local(_)
        ));
        assert!(matches!(
            route(true, &job("clang -g -c a.c"), clang),
            Route::Local(_)
        ));
        assert!(matches!(
            route(true, &job("clang -g -gdwarf-4 -c a.c"), clang),
            Route::Source {
                family: Family::Clang,
                ..
            }
        ));
    }
}
