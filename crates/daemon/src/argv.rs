//! The server's view of a compiler command line: is it a single compile we will run, and how
//! must it be rewritten to use the job's own files (as distcc 3.4's `dcc_scan_args`,
//! `dcc_set_input`, `dcc_set_output` and, for pump, `tweak_arguments_for_server` do).
//!
//! The client has already classified the command; the server checks again because the bytes
//! come from the network, and refuses with a reason instead of 3.4's silent close. Compiler
//! knowledge beyond that (which flags take values) is the `args` crate's, on the client.
//! This module touches no files.

use std::fmt;

/// Why a command line will not be run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgRefusal {
    /// No `-c` or `-S`: a link or other non-compile.
    NotACompile,
    NoInput,
    TwoInputs,
    TwoOutputs,
    /// `-o` at the end with nothing after it.
    DanglingOutput,
    /// `-o -`: stdout output.
    OutputToStdout,
    /// A flag that loads code or config into the compiler, or chooses the programs it runs
    /// (`-fplugin=`, `-specs=`, `-B`, `-wrapper`, `@file`, `-Xclang -load`, …).
    Unsafe(String),
    /// A flag that would make the compiler write a file outside the job's directory
    /// (`-MF /tmp/x`, `-aux-info ../y`, `-fdump-tree-all=/z`, …).
    WritesOutside(String),
    /// A flag that 3.4 always runs locally (`-E`, `-M`, `-x…`, profiling, …).
    LocalOnly(String),
    /// An autoconf test (`conftest.c`), which 3.4 keeps local.
    Conftest,
    /// `-MT` as the last argument.
    DanglingMt,
    /// An option this server does not know the meaning of (see `optlist`).
    Unknown(String),
    /// An option that passes on another (`-Wa,`, `-Xclang`, `-fcompare-debug=`…) which this
    /// server does not accept: the option, and what it passes on.
    Nested(String, String),
}

impl fmt::Display for ArgRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgRefusal::NotACompile => {
                f.write_str("not a compile (no -c or -S): link lines are refused")
            }
            ArgRefusal::NoInput => f.write_str("no input file on the command line"),
            ArgRefusal::TwoInputs => f.write_str("more than one input file"),
            ArgRefusal::TwoOutputs => f.write_str("more than one output file"),
            ArgRefusal::DanglingOutput => f.write_str("-o without a file name"),
            ArgRefusal::OutputToStdout => f.write_str("output to stdout (-o -) is refused"),
            ArgRefusal::Unsafe(a) => write!(
                f,
                "option '{a}' is refused: it loads code or configuration into the compiler"
            ),
            ArgRefusal::WritesOutside(a) => write!(
                f,
                "option '{a}' is refused: it writes a file outside the job directory"
            ),
            ArgRefusal::LocalOnly(a) => write!(f, "option '{a}' must run on the client"),
            ArgRefusal::Conftest => f.write_str("autoconf tests are compiled on the client"),
            ArgRefusal::DanglingMt => f.write_str("-MT without a target"),
            ArgRefusal::Unknown(a) => write!(
                f,
                "option '{a}' is refused: it is not on this server's list of options it knows"
            ),
            ArgRefusal::Nested(a, inner) => write!(
                f,
                "option '{a}' is refused: it passes on '{inner}', which this server does not accept"
            ),
        }
    }
}

/// Where the input and output are in a checked command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub input_index: usize,
    /// Index of the `-o` argument (its value follows), or of `-oFILE`; `None` when absent.
    pub output_index: Option<usize>,
    /// The output name the client expects (explicit, or derived from the input as gcc does).
    pub output: Vec<u8>,
    pub seen_s: bool,
}

/// True for a file name whose extension 3.4 treats as a compilable source.
pub fn is_source(a: &[u8]) -> bool {
    matches!(
        extension(a),
        Some(
            b"i" | b"ii"
                | b"c"
                | b"cc"
                | b"cpp"
                | b"cxx"
                | b"cp"
                | b"c++"
                | b"C"
                | b"m"
                | b"mm"
                | b"mi"
                | b"mii"
                | b"M"
        )
    )
}

fn extension(a: &[u8]) -> Option<&[u8]> {
    let dot = a.iter().rposition(|b| *b == b'.')?;
    let ext = &a[dot + 1..];
    (!ext.is_empty()).then_some(ext)
}

/// The extension a preprocessed copy of `input` gets, so the compiler treats it as such.
pub fn preprocessed_extension(input: &[u8]) -> &'static str {
    match extension(input) {
        Some(b"i" | b"c") => ".i",
        Some(b"cc" | b"cpp" | b"cxx" | b"cp" | b"c++" | b"C" | b"ii") => ".ii",
        Some(b"m" | b"mi") => ".mi",
        Some(b"mm" | b"M" | b"mii") => ".mii",
        _ => ".tmp",
    }
}

fn basename(a: &[u8]) -> &[u8] {
    match a.iter().rposition(|b| *b == b'/') {
        Some(p) if p + 1 < a.len() => &a[p + 1..],
        _ => a,
    }
}

/// Checks `argv` (compiler first) the way 3.4's server does, and refuses what loads code.
pub fn scan(argv: &[Vec<u8>]) -> Result<Scan, ArgRefusal> {
    scan_as(argv, false)
}

/// [`scan`] for a plain (`pump == false`) or pump request. A pump request keeps the client's
/// `-MF` (3.4's client sends its whole command line), which [`rewrite_pump`] replaces with the
/// job's own dependency file, so there it is not a write outside the job directory.
pub fn scan_as(argv: &[Vec<u8>], pump: bool) -> Result<Scan, ArgRefusal> {
    let mut seen_c = false;
    let mut seen_s = false;
    let mut input = None;
    let mut output: Option<(usize, Vec<u8>)> = None;
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i][..];
        let shown = || String::from_utf8_lossy(a).into_owned();
        if a.first() == Some(&b'@') {
            // A response file: gcc and clang splice in whatever it holds, unseen by this check.
            return Err(ArgRefusal::Unsafe(shown()));
        }
        if a.first() == Some(&b'-') {
            if runs_other_programs(a)
                || (a == b"-Xclang" && argv.get(i + 1).is_some_and(|v| loads_clang_plugin(v)))
            {
                return Err(ArgRefusal::Unsafe(shown()));
            }
            let replaced = pump && a.starts_with(b"-MF");
            if let Some(bad) = writes_outside(a, argv.get(i + 1).map(|v| &v[..]))
                && !replaced
            {
                return Err(ArgRefusal::WritesOutside(
                    String::from_utf8_lossy(bad).into_owned(),
                ));
            }
            if a == b"-E"
                || a == b"-march=native"
                || a == b"-mtune=native"
                || a == b"-fprofile-arcs"
                || a == b"-ftest-coverage"
                || a == b"--coverage"
                || a == b"-frepo"
                || a.starts_with(b"-x")
                || a.starts_with(b"-dr")
                || (a.starts_with(b"-Wa,") && (contains(a, b",-a") || contains(a, b"--MD")))
            {
                return Err(ArgRefusal::LocalOnly(shown()));
            }
            // Only options whose meaning is known run here (and what they pass on).
            let with_value = crate::optlist::check(a, argv.get(i + 1).map(|v| &v[..]))?
                == crate::optlist::Accepted::WithValue;
            match a {
                b"-MD" | b"-MMD" | b"-MG" | b"-MP" => {}
                b"-MF" | b"-MT" | b"-MQ" => i += 1,
                _ if a.starts_with(b"-MF") || a.starts_with(b"-MT") || a.starts_with(b"-MQ") => {}
                _ if a.get(1) == Some(&b'M') => return Err(ArgRefusal::LocalOnly(shown())),
                b"-S" => seen_s = true,
                b"-c" => seen_c = true,
                b"-o" => {
                    let Some(v) = argv.get(i + 1) else {
                        return Err(ArgRefusal::DanglingOutput);
                    };
                    if output.is_some() {
                        return Err(ArgRefusal::TwoOutputs);
                    }
                    output = Some((i, v.clone()));
                    i += 1;
                }
                _ if a.starts_with(b"-o") => {
                    if output.is_some() {
                        return Err(ArgRefusal::TwoOutputs);
                    }
                    output = Some((i, a[2..].to_vec()));
                }
                // Its value is not an input file, nor an option.
                _ if with_value => i += 1,
                _ => {}
            }
        } else if is_source(a) {
            if input.is_some() {
                return Err(ArgRefusal::TwoInputs);
            }
            input = Some(i);
        } else if a.ends_with(b".o") {
            // 3.4 takes a stray `x.o` as the output; a second one means a link.
            if output.is_some() {
                return Err(ArgRefusal::TwoOutputs);
            }
            output = Some((usize::MAX, a.to_vec()));
        }
        i += 1;
    }
    if !seen_c && !seen_s {
        return Err(ArgRefusal::NotACompile);
    }
    let input_index = input.ok_or(ArgRefusal::NoInput)?;
    let base = basename(&argv[input_index]);
    if base.starts_with(b"conftest.") || base.starts_with(b"tmp.conftest.") {
        return Err(ArgRefusal::Conftest);
    }
    let (output_index, output) = match output {
        Some((idx, o)) => ((idx != usize::MAX).then_some(idx), o),
        None => {
            let mut o = base.to_vec();
            let dot = o.iter().rposition(|b| *b == b'.').unwrap_or(o.len());
            o.truncate(dot);
            o.extend_from_slice(if seen_s { b".s" } else { b".o" });
            (None, o)
        }
    };
    if output == b"-" {
        return Err(ArgRefusal::OutputToStdout);
    }
    Ok(Scan {
        input_index,
        output_index,
        output,
        seen_s,
    })
}

/// Options that load code or configuration into the compiler, or change which programs it
/// runs (`cc1`, `as`, …): a request must never choose what the daemon executes.
pub(crate) fn runs_other_programs(a: &[u8]) -> bool {
    const EXACT: &[&[u8]] = &[
        b"-fplugin",
        b"-specs",
        b"--specs",
        b"-wrapper",
        b"--prefix",
        b"--gcc-toolchain",
        b"--gcc-install-dir",
    ];
    const PREFIX: &[&[u8]] = &[
        b"-fplugin=",
        b"-fpass-plugin=",
        b"-specs=",
        b"--specs=",
        // -B<dir> and -B <dir>: where gcc and clang look for cc1, as and ld.
        b"-B",
        b"--prefix=",
        b"--gcc-toolchain=",
        b"--gcc-install-dir=",
        // clang's driver internals (-ccc-install-dir, -ccc-gcc-name, …).
        b"-ccc-",
    ];
    EXACT.contains(&a) || PREFIX.iter().any(|p| a.starts_with(p))
}

/// The word (option or its value) that would make the compiler write a file outside the
/// job's directory, if `a` (followed by `next`) names such a file. The compiler runs inside
/// the job directory, so relative names without `..` stay in it; the server's own outputs
/// (`-o`, and pump's `-MF`) are replaced after this check.
fn writes_outside<'a>(a: &'a [u8], next: Option<&'a [u8]>) -> Option<&'a [u8]> {
    fn escapes(path: &[u8]) -> bool {
        path.first() == Some(&b'/') || path.split(|b| *b == b'/').any(|c| c == b"..")
    }
    // Options whose next word is a file (or directory) the compiler writes.
    const SEPARATE: &[&[u8]] = &[b"-MF", b"-aux-info", b"-dumpdir", b"-dumpbase"];
    if SEPARATE.contains(&a) {
        return next.filter(|v| escapes(v));
    }
    if let Some(path) = a.strip_prefix(b"-MF") {
        return escapes(path).then_some(a);
    }
    // Dump and report options that take `=FILE`.
    const JOINED: &[&[u8]] = &[
        b"-fdump-",
        b"-fopt-info",
        b"-foptimization-record-file=",
        b"-ftime-trace",
        b"-fcallgraph-info",
        b"-fstack-usage",
    ];
    if JOINED.iter().any(|p| a.starts_with(p))
        && let Some(eq) = a.iter().position(|b| *b == b'=')
    {
        return escapes(&a[eq + 1..]).then_some(a);
    }
    // `-Wp,-MD,FILE`, `-Wp,-MMD,FILE`, `-Wp,-MF,FILE`: a dependency file written by cpp.
    if let Some(rest) = a.strip_prefix(b"-Wp,") {
        let parts: Vec<&[u8]> = rest.split(|b| *b == b',').collect();
        for w in parts.windows(2) {
            if matches!(w[0], b"-MD" | b"-MMD" | b"-MF") && escapes(w[1]) {
                return Some(a);
            }
        }
    }
    None
}

/// `-Xclang` values that load a plugin into clang's front end.
fn loads_clang_plugin(v: &[u8]) -> bool {
    [&b"-load"[..], b"-plugin", b"-add-plugin", b"-fpass-plugin"]
        .iter()
        .any(|p| v.starts_with(p))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Points the output at `out`: replaces `-o X`/`-oX`, or appends `-o out`.
fn set_output(argv: &mut Vec<Vec<u8>>, scan: &Scan, out: &[u8]) {
    match scan.output_index {
        Some(i) if argv[i] == b"-o" => argv[i + 1] = out.to_vec(),
        Some(i) => {
            let mut a = b"-o".to_vec();
            a.extend_from_slice(out);
            argv[i] = a;
        }
        None => {
            // A stray `x.o` output (no -o) is dropped so it is not taken as a link input.
            argv.retain(|a| !(a.first() != Some(&b'-') && a.ends_with(b".o")));
            argv.push(b"-o".to_vec());
            argv.push(out.to_vec());
        }
    }
}

/// Plain (v1/v2) rewrite: the received preprocessed source in place of the input, the job's
/// output file in place of `-o`.
pub fn rewrite_plain(argv: &[Vec<u8>], scan: &Scan, input: &[u8], out: &[u8]) -> Vec<Vec<u8>> {
    let mut v = argv.to_vec();
    v[scan.input_index] = input.to_vec();
    set_output(&mut v, scan, out);
    v
}

/// False when an option makes the compiler read its input more than once: gcc's
/// `-fcompare-debug` compiles it twice. The input may then not come through a pipe.
pub fn reads_input_once(argv: &[Vec<u8>]) -> bool {
    !argv
        .iter()
        .any(|a| a.starts_with(b"-fcompare-debug") || a.starts_with(b"-fno-compare-debug"))
}

/// Options whose path argument is rebased under the job root when absolute.
const INCLUDE_OPTIONS: &[&str] = &[
    "-I",
    "-idirafter",
    "-imacros",
    "-include",
    "-iprefix",
    "-iquote",
    "-isystem",
    "-iwithprefix",
    "-iwithprefixbefore",
];

const PREFIX_MAP_OPTIONS: &[&str] = &[
    "-fdebug-prefix-map=",
    "-ffile-prefix-map=",
    "-fmacro-prefix-map=",
    "-fprofile-prefix-map=",
];

/// The result of the pump (v3) rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PumpArgv {
    pub argv: Vec<Vec<u8>>,
    /// The target the `.d` file must name: `-MT`'s value, else the client's output.
    pub dotd_target: Vec<u8>,
}

/// Pump (v3) rewrite, as 3.4: output to `out`; `-MT X` removed and remembered; the client's
/// `-MF` removed; `-MMD` added unless `-MD`/`-MMD` is present, then `-MF deps`; absolute include paths and
/// the input rebased under `root`; each absolute prefix map kept and followed by a rebased copy; and
/// `-ffile-prefix-map=<root>=` first (ours, not 3.4's), so debug information and `__FILE__` name
/// the client's paths.
pub fn rewrite_pump(
    argv: &[Vec<u8>],
    scan: &Scan,
    root: &[u8],
    out: &[u8],
    deps: &[u8],
) -> Result<PumpArgv, ArgRefusal> {
    let mut v = argv.to_vec();
    set_output(&mut v, scan, out);
    let mut dotd_target = scan.output.clone();
    if let Some(i) = v.iter().position(|a| a == b"-MT") {
        let t = v.get(i + 1).ok_or(ArgRefusal::DanglingMt)?.clone();
        dotd_target = t;
        v.drain(i..i + 2);
    }
    // The client's dependency file name means nothing here (and could point anywhere): the
    // job's own replaces it.
    let mut j = 0;
    while j < v.len() {
        if v[j] == b"-MF" {
            v.drain(j..(j + 2).min(v.len()));
        } else if v[j].starts_with(b"-MF") {
            v.remove(j);
        } else {
            j += 1;
        }
    }
    if !v.iter().any(|a| a == b"-MD" || a == b"-MMD") {
        v.push(b"-MMD".to_vec());
    }
    v.push(b"-MF".to_vec());
    v.push(deps.to_vec());
    let rebase = |p: &[u8]| -> Vec<u8> {
        let trimmed = &p[p.iter().take_while(|b| **b == b'/').count()..];
        let mut r = root.to_vec();
        r.push(b'/');
        r.extend_from_slice(trimmed);
        r
    };
    let mut i = 0;
    while i < v.len() {
        if let Some(opt) = INCLUDE_OPTIONS
            .iter()
            .find(|o| v[i].starts_with(o.as_bytes()))
        {
            if v[i] == opt.as_bytes() {
                i += 1;
                if let Some(next) = v.get(i)
                    && next.first() == Some(&b'/')
                {
                    v[i] = rebase(next);
                }
            } else if v[i].get(opt.len()) == Some(&b'/') {
                let mut a = opt.as_bytes().to_vec();
                a.extend_from_slice(&rebase(&v[i][opt.len()..]));
                v[i] = a;
            }
        } else if let Some(opt) = PREFIX_MAP_OPTIONS
            .iter()
            .find(|o| v[i].starts_with(o.as_bytes()))
            && v[i].get(opt.len()) == Some(&b'/')
        {
            // The rebased copy goes after the user's own map, so gcc (last match wins) maps
            // names under the root by it, and system headers, which stay outside the root,
            // still by the original.
            let mut a = opt.as_bytes().to_vec();
            a.extend_from_slice(root);
            a.extend_from_slice(&v[i][opt.len()..]);
            v.insert(i + 1, a);
            i += 1;
        }
        i += 1;
    }
    // Names under the job root lose it in debug information and `__FILE__`, so an object is
    // the same as one built in the client's directory: `DW_AT_comp_dir`, the line table's
    // directories and header names. First, so that every map the user gave wins over it.
    // gcc does not record prefix maps in `DW_AT_producer`.
    let mut map = b"-ffile-prefix-map=".to_vec();
    map.extend_from_slice(root);
    map.push(b'=');
    v.insert(1, map);
    if let Some(i) = v
        .iter()
        .position(|a| is_source(a) && a.first() == Some(&b'/'))
    {
        v[i] = rebase(&v[i]);
    }
    Ok(PumpArgv {
        argv: v,
        dotd_target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn av(s: &str) -> Vec<Vec<u8>> {
        s.split(' ').map(|a| a.as_bytes().to_vec()).collect()
    }

    fn show(v: &[Vec<u8>]) -> String {
        v.iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn plain_rewrite_replaces_input_and_output() {
        let a = av("gcc -O2 -c foo.c -o obj/foo.o");
        let s = scan(&a).unwrap();
        assert_eq!(s.output, b"obj/foo.o");
        assert_eq!(
            show(&rewrite_plain(&a, &s, b"/j/in.i", b"/j/out.o")),
            "gcc -O2 -c /j/in.i -o /j/out.o"
        );
        let a = av("gcc -c foo.c -oobj/foo.o");
        let s = scan(&a).unwrap();
        assert_eq!(
            show(&rewrite_plain(&a, &s, b"/j/in.i", b"/j/out.o")),
            "gcc -c /j/in.i -o/j/out.o"
        );
    }

    #[test]
    fn missing_output_is_derived_like_gcc() {
        let a = av("gcc -c dir/foo.c");
        let s = scan(&a).unwrap();
        assert_eq!(s.output, b"foo.o");
        assert_eq!(
            show(&rewrite_plain(&a, &s, b"/j/in.i", b"/j/out.o")),
            "gcc -c /j/in.i -o /j/out.o"
        );
        let s = scan(&av("gcc -S foo.cc")).unwrap();
        assert_eq!(s.output, b"foo.s");
    }

    #[test]
    fn refusals() {
        assert_eq!(
            scan(&av("gcc foo.c -o foo")).unwrap_err(),
            ArgRefusal::NotACompile
        );
        assert_eq!(
            scan(&av("gcc a.o b.o -o x")).unwrap_err(),
            ArgRefusal::TwoOutputs
        );
        assert_eq!(
            scan(&av("gcc -c a.c b.c")).unwrap_err(),
            ArgRefusal::TwoInputs
        );
        assert_eq!(scan(&av("gcc -c")).unwrap_err(), ArgRefusal::NoInput);
        assert_eq!(
            scan(&av("gcc -c a.c -o")).unwrap_err(),
            ArgRefusal::DanglingOutput
        );
        assert_eq!(
            scan(&av("gcc -c a.c -o -")).unwrap_err(),
            ArgRefusal::OutputToStdout
        );
        assert_eq!(
            scan(&av("gcc -c a.c -fplugin=/tmp/x.so")).unwrap_err(),
            ArgRefusal::Unsafe("-fplugin=/tmp/x.so".into())
        );
        assert_eq!(
            scan(&av("gcc -c a.c -specs=/tmp/s")).unwrap_err(),
            ArgRefusal::Unsafe("-specs=/tmp/s".into())
        );
        for bad in [
            "-B/tmp/evil/",
            "-B",
            "-wrapper",
            "@/tmp/rsp",
            "--specs=/tmp/s",
            "--prefix=/tmp/evil/",
            "-fpass-plugin=/tmp/p.so",
            "--gcc-toolchain=/tmp/evil",
            "-ccc-install-dir",
            "-Xclang",
        ] {
            let line = format!("gcc -c a.c {bad} -load");
            assert_eq!(
                scan(&av(&line)).unwrap_err(),
                ArgRefusal::Unsafe(bad.into()),
                "{line}"
            );
        }
        for (line, bad) in [
            ("gcc -c a.c -MD -MF /tmp/evil.d", "/tmp/evil.d"),
            ("gcc -c a.c -MD -MF ../../evil.d", "../../evil.d"),
            ("gcc -c a.c -MD -MF/tmp/evil.d", "-MF/tmp/evil.d"),
            ("gcc -c a.c -aux-info /tmp/protos", "/tmp/protos"),
            ("gcc -c a.c -dumpdir /tmp/", "/tmp/"),
            ("gcc -c a.c -dumpbase ../x", "../x"),
            (
                "gcc -c a.c -fdump-tree-all=/tmp/dump",
                "-fdump-tree-all=/tmp/dump",
            ),
            (
                "gcc -c a.c -fopt-info-vec=/tmp/opt",
                "-fopt-info-vec=/tmp/opt",
            ),
            (
                "clang -c a.c -foptimization-record-file=/tmp/r",
                "-foptimization-record-file=/tmp/r",
            ),
            ("gcc -c a.c -Wp,-MD,/tmp/evil.d", "-Wp,-MD,/tmp/evil.d"),
            ("gcc -c a.c -Wp,-MMD,../evil.d", "-Wp,-MMD,../evil.d"),
        ] {
            assert_eq!(
                scan(&av(line)).unwrap_err(),
                ArgRefusal::WritesOutside(bad.into()),
                "{line}"
            );
        }
        // Files named inside the job directory are the compiler's business.
        for ok in [
            "gcc -c a.c -MD -MF a.d",
            "gcc -c a.c -Wp,-MD,dep/a.d",
            "gcc -c a.c -fdump-tree-all",
            "gcc -c a.c -fopt-info-vec=opt.txt",
            "gcc -c a.c -dumpdir sub/",
        ] {
            assert!(scan(&av(ok)).is_ok(), "{ok}");
        }
        // -Xclang is fine when it does not load a plugin.
        assert!(scan(&av("clang -c a.c -Xclang -fcolor-diagnostics")).is_ok());
        assert_eq!(
            scan(&av("gcc -c a.c -E")).unwrap_err(),
            ArgRefusal::LocalOnly("-E".into())
        );
        assert_eq!(
            scan(&av("gcc -c a.c -M")).unwrap_err(),
            ArgRefusal::LocalOnly("-M".into())
        );
        assert_eq!(
            scan(&av("gcc -c -xc a.c")).unwrap_err(),
            ArgRefusal::LocalOnly("-xc".into())
        );
        assert_eq!(
            scan(&av("gcc -c conftest.c")).unwrap_err(),
            ArgRefusal::Conftest
        );
        assert!(scan(&av("gcc -c a.c -MD -MF a.d -MT a.o")).is_ok());
    }

    #[test]
    fn preprocessed_extensions() {
        assert_eq!(preprocessed_extension(b"a.c"), ".i");
        assert_eq!(preprocessed_extension(b"a.cpp"), ".ii");
        assert_eq!(preprocessed_extension(b"a.C"), ".ii");
        assert_eq!(preprocessed_extension(b"a.ii"), ".ii");
        assert_eq!(preprocessed_extension(b"a.mm"), ".mii");
    }

    #[test]
    fn pump_rewrite_matches_3_4() {
        let a = av(
            "gcc -I/inc -I rel -isystem /sys -iquote/q -ffile-prefix-map=/src=. -MT tgt -c /src/a.c -o a.o",
        );
        let s = scan(&a).unwrap();
        let p = rewrite_pump(&a, &s, b"/job/root", b"/job/out.o", b"/job/deps.d").unwrap();
        assert_eq!(
            show(&p.argv),
            "gcc -ffile-prefix-map=/job/root= -I/job/root/inc -I rel -isystem /job/root/sys \
             -iquote/job/root/q -ffile-prefix-map=/src=. -ffile-prefix-map=/job/root/src=. \
             -c /job/root/src/a.c -o /job/out.o -MMD -MF /job/deps.d"
        );
        assert_eq!(p.dotd_target, b"tgt");
        let a = av("gcc -MD -c a.c");
        let s = scan(&a).unwrap();
        let p = rewrite_pump(&a, &s, b"/r", b"/o.o", b"/d.d").unwrap();
        assert_eq!(
            show(&p.argv),
            "gcc -ffile-prefix-map=/r= -MD -c a.c -o /o.o -MF /d.d"
        );
        assert_eq!(p.dotd_target, b"a.o");
    }

    #[test]
    fn a_pump_request_may_name_any_dependency_file_because_ours_replaces_it() {
        let a = av("gcc -MD -MF /home/u/b/a.d -MF../x.d -c a.c -o a.o");
        assert!(matches!(scan(&a), Err(ArgRefusal::WritesOutside(_))));
        let s = scan_as(&a, true).unwrap();
        let p = rewrite_pump(&a, &s, b"/r", b"/o.o", b"/d.d").unwrap();
        assert_eq!(
            show(&p.argv),
            "gcc -ffile-prefix-map=/r= -MD -c a.c -o /o.o -MF /d.d"
        );
        // Other writes outside stay refused in pump mode too.
        let a = av("gcc -MD -aux-info /etc/x -c a.c");
        assert!(matches!(
            scan_as(&a, true),
            Err(ArgRefusal::WritesOutside(_))
        ));
    }

    #[test]
    fn compare_debug_reads_the_input_twice() {
        assert!(reads_input_once(&av("gcc -O2 -g -c a.c -o a.o")));
        assert!(!reads_input_once(&av("gcc -fcompare-debug -c a.c")));
        assert!(!reads_input_once(&av(
            "gcc -fcompare-debug=-gtoggle -c a.c"
        )));
        assert!(!reads_input_once(&av("gcc -fcompare-debug-second -c a.c")));
    }
}
