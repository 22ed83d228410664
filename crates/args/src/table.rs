//! The one table of compiler options distcc cares about, sorted by spelling.
//!
//! Each row says how the option takes its value and what it means for distribution. An
//! option not in the table is passed through unchanged and is assumed to take no separate
//! value, as 3.4 assumes. A test asserts the table is sorted, and every row has a one-line
//! test case in `scan.rs`.

/// How an option takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// Exactly this spelling, no value.
    Flag,
    /// This spelling as a prefix; the rest of the word (possibly empty) is the value.
    Joined,
    /// Exactly this spelling; the value is the next word.
    Separate,
    /// Either `-Xvalue` or `-X value`.
    Either,
}

/// What an option means to distcc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// `-c`: stop after compiling.
    Compile,
    /// `-S`: stop after compiling to assembler.
    Assemble,
    /// `-E`: preprocess only; always local.
    Preprocess,
    /// `-o`: the output file.
    Output,
    /// `-x`: the language of the following inputs.
    Language,
    /// `-MD`/`-MMD`: write dependencies while compiling (done by the local cpp step).
    DepsSideEffect,
    /// `-MF`: where dependencies go.
    DepsFile,
    /// `-MT`/`-MQ`: the dependency target.
    DepsTarget,
    /// `-MG`/`-MP`: modifies other `-M` options.
    DepsModifier,
    /// `-M`, `-MM` and other `-M…`: dependencies instead of compiling; local.
    DepsOnly,
    /// Affects only the preprocessor: kept for cpp, stripped for the server.
    CppOnly,
    /// Affects only the linker: stripped for the server.
    LinkOnly,
    /// `-Wa,…`: local if it asks for listings (`-a…`) or `--MD`.
    AssemblerPass,
    /// Makes the compiler write files beside the output; local.
    WritesLocalFiles,
    /// Makes the compiler read files only this machine has; local.
    ReadsLocalFiles,
    /// Depends on this machine's CPU; local.
    NativeCpu,
    /// Known and passed to the server unchanged (listed so its value is not taken for an
    /// input file).
    Plain,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt {
    pub spelling: &'static str,
    pub takes: Takes,
    pub meaning: Meaning,
}

const fn o(spelling: &'static str, takes: Takes, meaning: Meaning) -> Opt {
    Opt {
        spelling,
        takes,
        meaning,
    }
}

use Meaning::*;
use Takes::*;

/// Sorted by spelling (byte order).
pub const OPTIONS: &[Opt] = &[
    o("--coverage", Flag, WritesLocalFiles),
    o("--gcc-install-dir", Either, ReadsLocalFiles),
    o("--gcc-toolchain", Either, ReadsLocalFiles),
    o("--param", Separate, Plain),
    o("--prefix", Either, ReadsLocalFiles),
    o("--specs", Either, ReadsLocalFiles),
    o("-B", Either, ReadsLocalFiles),
    o("-D", Either, CppOnly),
    o("-E", Flag, Preprocess),
    o("-I", Either, CppOnly),
    o("-L", Either, LinkOnly),
    o("-M", Joined, DepsOnly),
    o("-MD", Flag, DepsSideEffect),
    o("-MF", Either, DepsFile),
    o("-MG", Flag, DepsModifier),
    o("-MM", Flag, DepsOnly),
    o("-MMD", Flag, DepsSideEffect),
    o("-MP", Flag, DepsModifier),
    o("-MQ", Either, DepsTarget),
    o("-MT", Either, DepsTarget),
    o("-S", Flag, Assemble),
    o("-T", Either, LinkOnly),
    o("-U", Either, CppOnly),
    o("-Wa,", Joined, AssemblerPass),
    o("-Wl,", Joined, LinkOnly),
    o("-Wp,", Joined, CppOnly),
    o("-Xassembler", Separate, Plain),
    o("-Xclang", Separate, Plain),
    o("-Xlinker", Separate, LinkOnly),
    o("-Xpreprocessor", Separate, CppOnly),
    o("-arch", Separate, Plain),
    o("-aux-info", Separate, Plain),
    o("-c", Flag, Compile),
    o("-dr", Joined, WritesLocalFiles),
    o("-dumpbase", Separate, Plain),
    o("-dumpdir", Separate, Plain),
    o("-fauto-profile", Joined, ReadsLocalFiles),
    o("-fcallgraph-info", Joined, WritesLocalFiles),
    o("-fdump-", Joined, WritesLocalFiles),
    o("-fpass-plugin=", Joined, ReadsLocalFiles),
    o("-fplugin=", Joined, ReadsLocalFiles),
    o("-fprofile-arcs", Flag, WritesLocalFiles),
    o("-fprofile-instr-use", Joined, ReadsLocalFiles),
    o("-fprofile-sample-use", Joined, ReadsLocalFiles),
    o("-fprofile-use", Joined, ReadsLocalFiles),
    o("-frepo", Flag, WritesLocalFiles),
    o("-fstack-usage", Flag, WritesLocalFiles),
    o("-ftest-coverage", Flag, WritesLocalFiles),
    o("-ftime-trace", Joined, WritesLocalFiles),
    o("-gsplit-dwarf", Flag, WritesLocalFiles),
    o("-idirafter", Either, CppOnly),
    o("-imacros", Either, CppOnly),
    o("-imultilib", Either, CppOnly),
    o("-include", Either, CppOnly),
    o("-iprefix", Either, CppOnly),
    o("-iquote", Either, CppOnly),
    o("-isysroot", Either, CppOnly),
    o("-isystem", Either, CppOnly),
    o("-iwithprefix", Either, CppOnly),
    o("-iwithprefixbefore", Either, CppOnly),
    o("-l", Either, LinkOnly),
    o("-march=native", Flag, NativeCpu),
    o("-mcpu=native", Flag, NativeCpu),
    o("-mtune=native", Flag, NativeCpu),
    o("-nostdinc", Flag, CppOnly),
    o("-nostdinc++", Flag, CppOnly),
    o("-o", Either, Output),
    o("-save-temps", Joined, WritesLocalFiles),
    o("-specs=", Joined, ReadsLocalFiles),
    o("-stdlib", Joined, CppOnly),
    o("-target", Separate, Plain),
    o("-u", Either, LinkOnly),
    o("-undef", Flag, CppOnly),
    o("-wrapper", Separate, ReadsLocalFiles),
    o("-x", Either, Language),
    o("-z", Separate, LinkOnly),
];

/// How one option word matched the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub opt: &'static Opt,
    /// The value is the next word (`-o file`), not part of this one.
    pub separate_value: bool,
}

/// Finds the row for an option word: an exact spelling first, then the longest spelling
/// that is a prefix of the word and takes a joined value.
pub fn lookup(word: &[u8]) -> Option<Match> {
    if let Ok(i) = OPTIONS.binary_search_by(|o| o.spelling.as_bytes().cmp(word)) {
        let opt = &OPTIONS[i];
        let separate_value = matches!(opt.takes, Separate | Either);
        return Some(Match {
            opt,
            separate_value,
        });
    }
    for len in (1..word.len()).rev() {
        let prefix = &word[..len];
        if let Ok(i) = OPTIONS.binary_search_by(|o| o.spelling.as_bytes().cmp(prefix)) {
            let opt = &OPTIONS[i];
            if matches!(opt.takes, Joined | Either) {
                return Some(Match {
                    opt,
                    separate_value: false,
                });
            }
        }
    }
    None
}

/// The joined value of `word` for `opt` (empty for a separate value or a flag).
pub fn joined_value<'a>(opt: &Opt, word: &'a [u8]) -> &'a [u8] {
    &word[opt.spelling.len().min(word.len())..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in OPTIONS.windows(2) {
            assert!(
                pair[0].spelling.as_bytes() < pair[1].spelling.as_bytes(),
                "{} must sort before {}",
                pair[0].spelling,
                pair[1].spelling
            );
        }
    }

    #[test]
    fn exact_beats_prefix_and_longest_prefix_wins() {
        assert_eq!(lookup(b"-MD").unwrap().opt.meaning, DepsSideEffect);
        assert_eq!(lookup(b"-MJfoo").unwrap().opt.meaning, DepsOnly);
        assert_eq!(
            lookup(b"-iwithprefixbeforefoo").unwrap().opt.spelling,
            "-iwithprefixbefore"
        );
        assert!(lookup(b"-o").unwrap().separate_value);
        assert!(!lookup(b"-ofoo.o").unwrap().separate_value);
        assert_eq!(lookup(b"-Wall"), None);
        assert_eq!(lookup(b"-cfoo"), None);
        assert_eq!(
            joined_value(lookup(b"-DX=1").unwrap().opt, b"-DX=1"),
            b"X=1"
        );
    }
}
