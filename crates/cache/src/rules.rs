//! What may not be cached. Each rule returns a short reason that the client's stats count
//! (`distcc --show-stats`, "not cacheable").
//!
//! - Options whose outputs no reply carries back (a hit could not recreate them) or that read
//!   files the key does not cover (profiles): [`argv`].
//! - A text that uses `__DATE__`, `__TIME__` or `__TIMESTAMP__`: [`text`]. In plain mode the
//!   local preprocessor has expanded them, so the key holds the expansion and a hit would
//!   still be exact; such an entry is dead weight (a time never repeats) and the issue asks
//!   for them not to be stored. In pump mode the server expands them, and the rule is
//!   needed for correctness, over every shipped file.

/// Why a command line (the client's, before any rewrite) may not be cached, if it may not.
pub fn argv(argv: &[impl AsRef<[u8]>]) -> Option<&'static str> {
    for a in argv.iter().skip(1) {
        let a = a.as_ref();
        let starts = |p: &[u8]| a.starts_with(p);
        let why =
            if starts(b"-fprofile-") || starts(b"-fauto-profile") || a == b"-fbranch-probabilities"
            {
                "profile options (-fprofile-*)"
            } else if a == b"--coverage" || a == b"-ftest-coverage" {
                "coverage notes (-ftest-coverage, --coverage)"
            } else if starts(b"-save-temps") {
                "-save-temps"
            } else if starts(b"-fdump-") || starts(b"-fopt-info") || starts(b"-fcallgraph-info") {
                "compiler dumps (-fdump-*, -fopt-info, -fcallgraph-info)"
            } else if a == b"-fstack-usage" {
                "-fstack-usage"
            } else if starts(b"-gsplit-dwarf") {
                "split DWARF (-gsplit-dwarf)"
            } else if starts(b"-Wa,") && a.windows(3).any(|w| w == b",-a") {
                "an assembler listing (-Wa,-a)"
            } else if a == b"-aux-info"
                || starts(b"-foptimization-record-file")
                || starts(b"-fsave-optimization-record")
            {
                "extra outputs (-aux-info, optimization records)"
            } else {
                continue;
            };
        return Some(why);
    }
    None
}

/// The reason for not caching a compile whose input `bytes` use `__DATE__`, `__TIME__` or
/// `__TIMESTAMP__`, if they do (any occurrence counts: a comment costs a miss, never a
/// wrong hit).
pub fn text(bytes: &[u8]) -> Option<&'static str> {
    let mut rest = bytes;
    while let Some(i) = rest.windows(2).position(|w| w == b"__") {
        let after = &rest[i + 2..];
        if after.starts_with(b"DATE__")
            || after.starts_with(b"TIME__")
            || after.starts_with(b"TIMESTAMP__")
        {
            return Some("__DATE__, __TIME__ or __TIMESTAMP__ in the source");
        }
        rest = &rest[i + 1..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_with_outputs_we_do_not_carry() {
        for bad in [
            "-fprofile-arcs",
            "-fprofile-generate",
            "-fprofile-use=x.gcda",
            "--coverage",
            "-ftest-coverage",
            "-save-temps=obj",
            "-fdump-tree-all",
            "-fstack-usage",
            "-gsplit-dwarf",
            "-Wa,-adhln=x.lst",
            "-Wa,--64,-ahl",
            "-aux-info",
        ] {
            assert!(argv(&["gcc", "-c", bad, "a.c"]).is_some(), "{bad}");
        }
        assert_eq!(
            argv(&["gcc", "-O2", "-g", "-frandom-seed=1", "-c", "a.c"]),
            None
        );
        // The compiler's name is not an option.
        assert_eq!(argv(&["-fprofile-gcc", "-c", "a.c"]), None);
    }

    #[test]
    fn time_macros() {
        assert!(text(b"const char *d = __DATE__;").is_some());
        assert!(text(b"x __TIME__").is_some());
        assert!(text(b"__TIMESTAMP__").is_some());
        assert!(text(b"___DATE__").is_some());
        assert_eq!(text(b"__DATE_ __TIME _DATE__ __FILE__ __"), None);
        assert_eq!(text(b""), None);
    }
}
