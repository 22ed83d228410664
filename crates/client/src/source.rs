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

use std::ffi::{OsStr, OsString};
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

    /// Added to the server's command line: the file the server compiles holds the expanded
    /// text, so an excerpt under a relayed message would quote the wrong lines. (Relayed
    /// only under `DISTCC_FALLBACK=0`/`DISTCC_SKIP_LOCAL_RETRY`; otherwise the messages are a
    /// local compile's.) Neither compiler records it in `DW_AT_producer` (measured).
    pub fn no_source_excerpts(self) -> &'static str {
        match self {
            Family::Gcc => "-fno-diagnostics-show-caret",
            Family::Clang => "-fno-caret-diagnostics",
        }
    }

    /// The local preprocessor's command line for the source route: `cpp_argv` and this
    /// family's option. gcc refuses `-fdirectives-only` with `-Wunused-macros`, so that
    /// goes; the server's preprocessor (which expands the macros) warns instead, and such a
    /// message is the local compile's anyway (`compile::messages_need_local_compile`).
    pub fn cpp_argv(self, mut cpp_argv: Vec<OsString>) -> Vec<OsString> {
        if self == Family::Gcc {
            cpp_argv.retain(|a| a != "-Wunused-macros");
        }
        cpp_argv.push(self.cpp_option().into());
        cpp_argv
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
    let traditional = job.argv[1..]
        .iter()
        .any(|a| a == "-traditional" || a == "-traditional-cpp");
    if family == Family::Gcc && traditional {
        return Route::Local("gcc's -fdirectives-only is incompatible with -traditional");
    }
    match job.source_argv() {
        Some(mut argv) => {
            argv.push(family.no_source_excerpts().into());
            Route::Source { family, argv }
        }
        None => Route::Local(
            "-include, -imacros, -Wp, or -Xpreprocessor: the server cannot reproduce the text before the main file",
        ),
    }
}

/// `text` from the main file's first line marker on (`# 1 "<input>"`), the built-in and
/// command-line part before it cut; `None` when there is no such marker.
pub fn main_part<'t>(text: &'t [u8], input: &[u8]) -> Option<&'t [u8]> {
    let mut marker = b"# 1 ".to_vec();
    marker.extend_from_slice(&quoted(input));
    marker.push(b'\n');
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

/// True when `object` names a daemon's job directory (`…/distccd_XXXXXX/…`, 3.4's and ours
/// alike) that this build's own names do not: 3.4's daemon maps no root away, so its
/// `DW_AT_comp_dir` keeps it. Our daemon's objects never hold it (its `-ffile-prefix-map`);
/// a request that reached 3.4's despite `DISTCC_IDENTICAL_DEBUG` is caught here.
pub fn names_a_job_root(object: &[u8], cwd: &Path, input: &[u8]) -> bool {
    const ROOT: &[u8] = b"/distccd_";
    let holds = |b: &[u8]| b.windows(ROOT.len()).any(|w| w == ROOT);
    holds(object) && !holds(cwd.as_os_str().as_bytes()) && !holds(input)
}

/// A line marker's quoted name, as the preprocessor writes it.
fn quoted(name: &[u8]) -> Vec<u8> {
    let mut q = vec![b'"'];
    for &b in name {
        match b {
            b'\\' | b'"' => q.extend_from_slice(&[b'\\', b]),
            b'\n' => q.extend_from_slice(b"\\n"),
            _ => q.push(b),
        }
    }
    q.push(b'"');
    q
}

/// Where `quoted` starts in `line` when the line is a marker naming it: blanks (gcc indents
/// a marker as the line it replaces was indented), `# `, a line number, a space, the name,
/// then flags or the end.
fn marker_name_at(line: &[u8], quoted: &[u8]) -> Option<usize> {
    let blanks = line
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    let rest = line[blanks..].strip_prefix(b"# ")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let at = blanks + 2 + digits + 1;
    let ok = digits > 0
        && rest.get(digits) == Some(&b' ')
        && line[at..].starts_with(quoted)
        && matches!(line.get(at + quoted.len()), None | Some(b' ' | b'\n'));
    ok.then_some(at)
}

/// The server's command line and the request's file for one job: `argv` (from `Route`),
/// the local preprocessor's `text`, this directory and the source as named.
///
/// An absolute source needs more: the server's compiler finds the file under its job root,
/// so its own name for the main file would be the rooted one while the text's line markers
/// name the local one, and gcc counts them as two files (measured: other `.debug_macro`
/// file numbers with `-g3`). So the source is named relative to this directory, from the
/// root up (`../` once per component, then the absolute name), in the command line and in
/// the markers alike, and `-ffile-prefix-map=<ups>=/` (first, so the user's maps win; gcc
/// does not record it in `DW_AT_producer`) gives the debug information and `__FILE__` the
/// absolute name back; each absolute map the user gave is repeated for the relative
/// spelling. `Err` says why no such request can be made (then the job compiles here).
pub fn request(
    argv: &[OsString],
    text: &[u8],
    cwd: &Path,
    input: &OsStr,
) -> Result<(Vec<Vec<u8>>, Closure), &'static str> {
    let name = input.as_bytes();
    let main = main_part(text, name)
        .ok_or("the preprocessor's text has no line marker for the main file")?;
    let mut out: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    if name.first() != Some(&b'/') {
        return Ok((out, closure(main, cwd, Path::new(input))));
    }
    let depth = cwd
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    let plain_path = Path::new(input)
        .components()
        .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if depth == 0 || !plain_path || name.ends_with(b"/") {
        return Err("an absolute source name with `.` or `..`, or a build in /");
    }
    let ups = b"../".repeat(depth);
    let mut rel = ups.clone();
    rel.extend_from_slice(&name[1..]);
    let mut marker_ups = vec![b'"'];
    marker_ups.extend_from_slice(&ups);
    if main
        .windows(marker_ups.len())
        .any(|w| w == marker_ups.as_slice())
    {
        return Err("the text already names files relative to the root");
    }
    // Markers naming the main file: `# N "<name>"` and `# N "<name>" 2`.
    let (from, to) = (quoted(name), quoted(&rel));
    let mut rewritten = Vec::with_capacity(main.len() + 64);
    for line in main.split_inclusive(|&b| b == b'\n') {
        match marker_name_at(line, &from) {
            Some(at) => {
                rewritten.extend_from_slice(&line[..at]);
                rewritten.extend_from_slice(&to);
                rewritten.extend_from_slice(&line[at + from.len()..]);
            }
            None => rewritten.extend_from_slice(line),
        }
    }
    let mut i = 1;
    while i < out.len() {
        if out[i] == name {
            out[i] = rel.clone();
        } else if let Some(opt) = [
            &b"-fdebug-prefix-map="[..],
            b"-ffile-prefix-map=",
            b"-fmacro-prefix-map=",
        ]
        .into_iter()
        .find(|o| out[i].starts_with(o))
            && out[i].get(opt.len()) == Some(&b'/')
        {
            let mut copy = opt.to_vec();
            copy.extend_from_slice(&ups);
            copy.extend_from_slice(&out[i][opt.len() + 1..]);
            out.insert(i + 1, copy);
            i += 1;
        }
        i += 1;
    }
    let mut map = b"-ffile-prefix-map=".to_vec();
    map.extend_from_slice(&ups);
    map.extend_from_slice(b"=/");
    out.insert(1, map);
    Ok((out, closure(&rewritten, cwd, Path::new(input))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_job as job;

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
    fn gcc_drops_what_directives_only_refuses() {
        let v = Family::Gcc.cpp_argv(os(&["gcc", "-Wunused-macros", "-E", "a.c"]));
        assert_eq!(v, os(&["gcc", "-E", "a.c", "-fdirectives-only"]));
        let v = Family::Clang.cpp_argv(os(&["clang", "-Wunused-macros", "-E", "a.c"]));
        assert_eq!(
            v,
            os(&[
                "clang",
                "-Wunused-macros",
                "-E",
                "a.c",
                "-frewrite-includes"
            ])
        );
        assert!(matches!(
            route(
                true,
                &job("gcc -g -traditional-cpp -c a.c"),
                Path::new("/x/gcc")
            ),
            Route::Local(_)
        ));
    }

    #[test]
    fn a_job_root_in_an_object_is_noticed_unless_the_build_names_one_too() {
        let obj = b"\x7fELF../tmp/distccd_AbC123/home/u/p\0";
        assert!(names_a_job_root(obj, Path::new("/home/u/p"), b"a.c"));
        assert!(!names_a_job_root(
            b"\x7fELF/home/u/p\0",
            Path::new("/home/u/p"),
            b"a.c"
        ));
        assert!(!names_a_job_root(
            obj,
            Path::new("/tmp/distccd_x/p"),
            b"a.c"
        ));
    }

    #[test]
    fn names_are_absolute_without_dots() {
        let n = absolute_name(Path::new("/h/u/build"), Path::new("../src/./a.c"));
        assert_eq!(n, PathBuf::from("/h/u/src/a.c"));
        let n = absolute_name(Path::new("/h"), Path::new("/abs/a.c"));
        assert_eq!(n, PathBuf::from("/abs/a.c"));
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn show(v: &[Vec<u8>]) -> String {
        v.iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn body(c: &Closure) -> (Vec<u8>, Vec<u8>) {
        match &c.entries[..] {
            [Entry::File { name, lzo }] => (
                name.clone(),
                proto::lzo::decompress(lzo, 1 << 20).expect("our own lzo"),
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_relative_source_goes_as_named() {
        let text = b"# 0 \"<built-in>\"\n#define X 1\n# 1 \"src/a.c\"\nint x;\n";
        let (argv, c) = request(
            &os(&["gcc", "-g", "-c", "src/a.c"]),
            text,
            Path::new("/h/p"),
            OsStr::new("src/a.c"),
        )
        .unwrap();
        assert_eq!(show(&argv), "gcc -g -c src/a.c");
        assert_eq!(
            body(&c),
            (
                b"/h/p/src/a.c".to_vec(),
                b"# 1 \"src/a.c\"\nint x;\n".to_vec()
            )
        );
    }

    #[test]
    fn an_absolute_source_is_named_from_the_root_up_and_mapped_back() {
        let text = b"# 0 \"/s/a.c\"\n# 1 \"/s/a.c\"\n# 1 \"/s/a.h\" 1\nint y;\n# 2 \"/s/a.c\" 2\n  # 7 \"/s/a.c\"\nint x; /* \"/s/a.c\" */\n";
        let (argv, c) = request(
            &os(&["gcc", "-fdebug-prefix-map=/s=/src", "-g", "-c", "/s/a.c"]),
            text,
            Path::new("/h/p"),
            OsStr::new("/s/a.c"),
        )
        .unwrap();
        assert_eq!(
            show(&argv),
            "gcc -ffile-prefix-map=../../=/ -fdebug-prefix-map=/s=/src \
             -fdebug-prefix-map=../../s=/src -g -c ../../s/a.c"
        );
        assert_eq!(
            body(&c),
            (
                b"/s/a.c".to_vec(),
                b"# 1 \"../../s/a.c\"\n# 1 \"/s/a.h\" 1\nint y;\n# 2 \"../../s/a.c\" 2\n  # 7 \"../../s/a.c\"\nint x; /* \"/s/a.c\" */\n".to_vec()
            )
        );
        let odd = |input: &str, cwd: &str| {
            let t = format!("# 1 \"{input}\"\n");
            request(
                &os(&["gcc", input]),
                t.as_bytes(),
                Path::new(cwd),
                OsStr::new(input),
            )
        };
        assert!(odd("/s/../a.c", "/h").is_err());
        assert!(odd("/s/a.c", "/").is_err());
        assert!(odd("/s/a.c", "/h").is_ok());
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
                argv: [
                    "gcc",
                    "-g3",
                    "-DX=1",
                    "-c",
                    "a.c",
                    "-fno-diagnostics-show-caret"
                ]
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
