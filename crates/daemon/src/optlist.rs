//! The server's allow-list of compiler options: an option runs here only if this module knows
//! what it means, and an option that carries other options (`-Wa,`, `-Wp,`, `-Xassembler`,
//! `-Xpreprocessor`, `-Xclang`, `-mllvm`, `-fcompare-debug=`) has what it carries checked
//! too. Everything else is refused with its name, in band, and the client compiles locally.
//!
//! This is defence in depth, and the reason a client is given: containment does not depend
//! on it (every job runs in a sandbox, see `os::sandbox`), because a list of options is only
//! ever as good as its author's knowledge of gcc's and clang's spellings. `argv` still does
//! the finer checks (programs chosen, files written outside the job, options 3.4 keeps
//! local) after this one.
//!
//! The families accepted are the ones a build sends: optimisation, debug, warning, language,
//! code generation (`-f…`, `-m…`), preprocessor definitions and search paths, dependency
//! options, and link-only options that a compile ignores. Long `--` spellings are accepted
//! only where they have no short twin that the rest of the checks would see (`--param`,
//! `--target=`, `--sysroot=`): `--output=` and friends are refused rather than taught.

use crate::argv::ArgRefusal;

/// What an accepted option word is followed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Nothing of its own.
    Alone,
    /// The next word is its value (`-include x`, `-Xclang -foo`, `--param n=v`).
    WithValue,
}

/// Options whose value is the next word.
const SEPARATE: &[&[u8]] = &[
    b"--param",
    b"-D",
    b"-I",
    b"-L",
    b"-MF",
    b"-MQ",
    b"-MT",
    b"-U",
    b"-Xassembler",
    b"-Xclang",
    b"-Xlinker",
    b"-Xpreprocessor",
    b"-arch",
    b"-aux-info",
    b"-dumpbase",
    b"-dumpbase-ext",
    b"-dumpdir",
    b"-idirafter",
    b"-imacros",
    b"-imultiarch",
    b"-imultilib",
    b"-include",
    b"-iprefix",
    b"-iquote",
    b"-isysroot",
    b"-isystem",
    b"-iwithprefix",
    b"-iwithprefixbefore",
    b"-l",
    b"-mllvm",
    b"-o",
    b"-target",
    b"-u",
    b"-x",
    b"-z",
];

/// Exact spellings with no value.
const FLAGS: &[&[u8]] = &[
    b"-C",
    b"-CC",
    b"-E",
    b"-H",
    b"-M",
    b"-MM",
    b"-O",
    b"-P",
    b"-Qn",
    b"-Qunused-arguments",
    b"-Qy",
    b"-S",
    b"-ansi",
    b"-c",
    b"-g",
    b"-no-pie",
    b"-nodefaultlibs",
    b"-nostartfiles",
    b"-nostdinc",
    b"-nostdinc++",
    b"-nostdlib",
    b"-nostdlib++",
    b"-p",
    b"-pedantic",
    b"-pedantic-errors",
    b"-pg",
    b"-pie",
    b"-pipe",
    b"-pthread",
    b"-rdynamic",
    b"-s",
    b"-save-temps",
    b"-shared",
    b"-static",
    b"-static-libgcc",
    b"-static-libstdc++",
    b"-static-pie",
    b"-trigraphs",
    b"-undef",
    b"-v",
    b"-w",
    b"-W",
];

/// Prefixes whose rest is the option's own value (`-O2`, `-std=c11`, `-DX=1`, `-Wall`).
const JOINED: &[&[u8]] = &[
    b"--param=",
    b"--sysroot=",
    b"--target=",
    b"-D",
    b"-I",
    b"-L",
    b"-M",
    b"-O",
    b"-U",
    b"-W",
    b"-d",
    b"-f",
    b"-g",
    b"-i",
    b"-l",
    b"-m",
    b"-o",
    b"-save-temps=",
    b"-std=",
    b"-stdlib=",
    b"-x",
];

/// `-f` options refused here: they read files only the client has, or write beside the
/// object where the client never looks (so the job is the client's to run).
const F_LOCAL: &[&[u8]] = &[
    b"-fauto-profile",
    b"-fprofile-use",
    b"-fprofile-list=",
    b"-fprofile-instr-use",
    b"-fprofile-sample-use",
    b"-fsanitize-blacklist=",
    b"-fsanitize-ignorelist=",
    b"-fsanitize-coverage-allowlist=",
    b"-fsanitize-coverage-ignorelist=",
    b"-fxray-always-instrument=",
    b"-fxray-never-instrument=",
    b"-fxray-attr-list=",
    b"-fcrash-diagnostics-dir=",
    b"-fmodules-cache-path=",
    b"-fmodule-file=",
    b"-fmodule-map-file=",
    b"-fprebuilt-module-path=",
];

/// Assembler options (`-Wa,X`, `-Xassembler X`) known to be harmless.
const AS_OK: &[&[u8]] = &[
    b"--32",
    b"--64",
    b"--compress-debug-sections",
    b"--execstack",
    b"--fatal-warnings",
    b"--gdwarf",
    b"--gstabs",
    b"--no-warn",
    b"--nocompress-debug-sections",
    b"--noexecstack",
    b"--warn",
    b"--x32",
    b"-g",
    b"-m",
    b"-n",
    b"-O",
    b"-W",
];

/// Preprocessor options (`-Wp,X`, `-Xpreprocessor X`) known to be harmless, and which of them
/// take the next item as their value.
const CPP_OK: &[&[u8]] = &[
    b"-C",
    b"-D",
    b"-H",
    b"-I",
    b"-M",
    b"-P",
    b"-U",
    b"-W",
    b"-d",
    b"-f",
    b"-i",
    b"-nostdinc",
    b"-std=",
    b"-undef",
    b"-w",
];
const CPP_VALUE: &[&[u8]] = &[
    b"-D",
    b"-I",
    b"-MF",
    b"-MQ",
    b"-MT",
    b"-MD",
    b"-MMD",
    b"-U",
    b"-idirafter",
    b"-imacros",
    b"-include",
    b"-iquote",
    b"-isystem",
];

/// Words in a `-Xclang` or `-mllvm` value that name files, directories, plugins or dumps:
/// such a value is refused.
const BACKEND_DENY: &[&str] = &[
    "plugin", "load", "file", "output", "dump", "path", "dir", "print", "stats", "trace",
];

fn shown(a: &[u8]) -> String {
    String::from_utf8_lossy(a).into_owned()
}

/// An absolute path or one that climbs out (`..`): a value that may not name a file here.
fn escapes(path: &[u8]) -> bool {
    path.first() == Some(&b'/') || path.split(|b| *b == b'/').any(|c| c == b"..")
}

/// Checks the option word `a` (a word that starts with `-`), whose next word is `next`.
pub fn check(a: &[u8], next: Option<&[u8]>) -> Result<Accepted, ArgRefusal> {
    if a.starts_with(b"-fcompare-debug") || a.starts_with(b"-fno-compare-debug") {
        return compare_debug(a);
    }
    if let Some(list) = a.strip_prefix(b"-Wa,") {
        for item in list.split(|b| *b == b',') {
            assembler_item(a, item)?;
        }
        return Ok(Accepted::Alone);
    }
    if let Some(list) = a.strip_prefix(b"-Wp,") {
        let items: Vec<&[u8]> = list.split(|b| *b == b',').collect();
        let mut k = 0;
        while k < items.len() {
            if preprocessor_item(a, items[k])? {
                k += 1;
                if let Some(v) = items.get(k) {
                    value_item(a, v)?;
                }
            }
            k += 1;
        }
        return Ok(Accepted::Alone);
    }
    if a.starts_with(b"-Wl,") {
        // Linker options: a compile (-c, -S) never runs the linker.
        return Ok(Accepted::Alone);
    }
    if SEPARATE.contains(&a) {
        let Some(v) = next else {
            // `argv` explains a dangling output or dependency option in its own words.
            if matches!(a, b"-o" | b"-MF" | b"-MT" | b"-MQ") {
                return Ok(Accepted::Alone);
            }
            return Err(ArgRefusal::Unknown(format!(
                "{} without its value",
                shown(a)
            )));
        };
        let dash = v.first() == Some(&b'-');
        match a {
            b"-Xassembler" if dash => assembler_item(a, v)?,
            b"-Xpreprocessor" if dash => {
                preprocessor_item(a, v)?;
            }
            b"-Xassembler" | b"-Xpreprocessor" => value_item(a, v)?,
            b"-Xclang" | b"-mllvm" => backend_item(a, v)?,
            _ => {}
        }
        return Ok(Accepted::WithValue);
    }
    if FLAGS.contains(&a) {
        return Ok(Accepted::Alone);
    }
    if a.starts_with(b"--")
        && !a.starts_with(b"--param=")
        && !a.starts_with(b"--target=")
        && !a.starts_with(b"--sysroot=")
    {
        return Err(ArgRefusal::Unknown(format!(
            "{} (a long spelling; this server accepts the short form)",
            shown(a)
        )));
    }
    if a.starts_with(b"-f") && F_LOCAL.iter().any(|p| a.starts_with(p)) {
        return Err(ArgRefusal::LocalOnly(shown(a)));
    }
    if a.starts_with(b"-Xarch") || a.starts_with(b"-Xopenmp") || a.starts_with(b"-Xcuda") {
        return Err(ArgRefusal::Unknown(shown(a)));
    }
    if JOINED.iter().any(|p| a.starts_with(p) && a.len() > p.len()) {
        return Ok(Accepted::Alone);
    }
    Err(ArgRefusal::Unknown(shown(a)))
}

/// `-fcompare-debug=OPTS`: gcc runs a second compile with OPTS as driver options, so each
/// is checked as a top-level option would be (none may take a value of its own).
fn compare_debug(a: &[u8]) -> Result<Accepted, ArgRefusal> {
    if a == b"-fcompare-debug" || a == b"-fno-compare-debug" {
        return Ok(Accepted::Alone);
    }
    let Some(opts) = a.strip_prefix(b"-fcompare-debug=") else {
        // `-fcompare-debug-second` and the like are gcc's own internals.
        return Err(ArgRefusal::Unknown(shown(a)));
    };
    for w in opts
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
    {
        let bad = || ArgRefusal::Nested(shown(a), shown(w));
        if w.first() != Some(&b'-') || w.starts_with(b"-fcompare-debug") {
            return Err(bad());
        }
        match check(w, None) {
            Ok(Accepted::Alone) if !crate::argv::runs_other_programs(w) => {}
            _ => return Err(bad()),
        }
    }
    Ok(Accepted::Alone)
}

fn assembler_item(whole: &[u8], item: &[u8]) -> Result<(), ArgRefusal> {
    if item.starts_with(b"-a") || item.starts_with(b"--MD") {
        return Err(ArgRefusal::LocalOnly(shown(whole)));
    }
    if AS_OK.iter().any(|p| item.starts_with(p)) && !item.starts_with(b"-o") {
        return Ok(());
    }
    // -I dirs for `.include`: relative ones only (the job's own tree).
    if let Some(dir) = item.strip_prefix(b"-I")
        && !dir.is_empty()
        && !escapes(dir)
    {
        return Ok(());
    }
    Err(ArgRefusal::Nested(shown(whole), shown(item)))
}

/// Checks one preprocessor option; true when the next item is its value.
fn preprocessor_item(whole: &[u8], item: &[u8]) -> Result<bool, ArgRefusal> {
    if item.starts_with(b"-M") && item.len() > 2 && !CPP_VALUE.contains(&item) {
        // -MP, -MG, -MMD… joined forms; -MFfile must stay inside.
        if let Some(f) = item.strip_prefix(b"-MF")
            && escapes(f)
        {
            return Err(ArgRefusal::WritesOutside(shown(whole)));
        }
        return Ok(false);
    }
    if CPP_VALUE.contains(&item) {
        return Ok(true);
    }
    if item.first() == Some(&b'-') && CPP_OK.iter().any(|p| item.starts_with(p)) {
        if item.starts_with(b"-fplugin") || item.starts_with(b"-iplugindir") {
            return Err(ArgRefusal::Unsafe(shown(whole)));
        }
        return Ok(false);
    }
    Err(ArgRefusal::Nested(shown(whole), shown(item)))
}

/// A value passed on through `-Wp,` or `-X…`: a name inside the job, never elsewhere.
fn value_item(whole: &[u8], v: &[u8]) -> Result<(), ArgRefusal> {
    if escapes(v) {
        return Err(ArgRefusal::WritesOutside(format!(
            "{} {}",
            shown(whole),
            shown(v)
        )));
    }
    Ok(())
}

/// `-Xclang X` and `-mllvm X`: options of the compiler proper, accepted when they name no
/// file, directory, plugin or dump.
fn backend_item(whole: &[u8], v: &[u8]) -> Result<(), ArgRefusal> {
    let lower = String::from_utf8_lossy(v).to_ascii_lowercase();
    let named = BACKEND_DENY.iter().any(|w| lower.contains(w));
    if named || v.contains(&b'/') || (v.first() != Some(&b'-') && whole == b"-mllvm") {
        return Err(ArgRefusal::Nested(shown(whole), shown(v)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(a: &str) -> bool {
        check(a.as_bytes(), Some(b"x")).is_ok()
    }

    #[test]
    fn ordinary_command_lines_pass() {
        for a in [
            "-c",
            "-S",
            "-O2",
            "-Os",
            "-g",
            "-g3",
            "-ggdb",
            "-gsplit-dwarf",
            "-Wall",
            "-Wextra",
            "-Werror=format",
            "-Wno-unused",
            "-w",
            "-std=gnu11",
            "-std=c++17",
            "-fPIC",
            "-fno-strict-aliasing",
            "-fstack-protector-strong",
            "-fdiagnostics-color=always",
            "-fdebug-prefix-map=/a=/b",
            "-march=x86-64-v2",
            "-mtune=generic",
            "-m64",
            "-DNDEBUG",
            "-DX=1",
            "-UX",
            "-Iinclude",
            "-isystem/usr/include",
            "-pthread",
            "-pipe",
            "-MD",
            "-MMD",
            "-MP",
            "-MF",
            "-MT",
            "-o",
            "-include",
            "--param",
            "--param=max-inline-insns-single=100",
            "-Wl,-O1",
            "-Wl,--as-needed",
            "-Wa,--noexecstack",
            "-Wp,-D_FORTIFY_SOURCE=2",
            "-Wp,-MD,x.d",
            "-target",
            "--target=x86_64-linux-gnu",
            "-Qunused-arguments",
            "-fcolor-diagnostics",
            "-fcompare-debug",
            "-fcompare-debug=-gtoggle",
            "-save-temps",
            "-lm",
            "-static",
            "-x",
            "-v",
            "-pedantic",
        ] {
            assert!(ok(a), "{a} is refused");
        }
        assert!(check(b"-Xclang", Some(b"-fno-pch-timestamp")).is_ok());
        assert!(check(b"-mllvm", Some(b"-inline-threshold=100")).is_ok());
        assert!(check(b"-Xassembler", Some(b"--noexecstack")).is_ok());
        assert!(check(b"-Xpreprocessor", Some(b"-DX")).is_ok());
    }

    #[test]
    fn unknown_long_and_nested_spellings_are_refused() {
        for a in [
            "--output=/tmp/x",
            "--output",
            "--dumpdir",
            "--dumpbase=/x",
            "--include=/etc/passwd",
            "--for-assembler=-a=/tmp/l",
            "-fcompare-debug=-wrapper /bin/sh,-c,touch /tmp/p",
            "-fcompare-debug=-B/tmp",
            "-fcompare-debug=-fplugin=/x.so",
            "-fcompare-debug-second",
            "-Wa,@/etc/passwd",
            "-Wa,-o,/tmp/x",
            "-Wa,-I/etc",
            "-Wa,-alh=/tmp/listing",
            "-Wp,-fplugin=/x.so",
            "-Wp,-MD,/tmp/x.d",
            "-Wp,-MF,../x.d",
            "-Wp,-o,/tmp/x",
            "-fprofile-use=/etc/x",
            "-fsanitize-ignorelist=/etc/passwd",
            "-fcrash-diagnostics-dir=/tmp",
            "-Xarch_x86_64",
            "-serialize-diagnostics",
            "-ccc-print-phases",
            "-###",
        ] {
            assert!(check(a.as_bytes(), Some(b"x")).is_err(), "{a} is accepted");
        }
        for (a, v) in [
            ("-Xclang", "-load"),
            ("-Xclang", "-plugin"),
            ("-Xclang", "-dependency-file"),
            ("-mllvm", "-info-output-file=/tmp/x"),
            ("-mllvm", "-stats-json"),
            ("-Xassembler", "-o"),
            ("-Xassembler", "/tmp/x"),
            ("-Xpreprocessor", "-fplugin=/x.so"),
            ("-Xpreprocessor", "/etc/passwd"),
        ] {
            assert!(
                check(a.as_bytes(), Some(v.as_bytes())).is_err(),
                "{a} {v} is accepted"
            );
        }
        assert!(check(b"-include", None).is_err());
    }
}
