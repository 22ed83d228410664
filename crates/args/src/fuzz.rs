//! Fuzz body for the command-line classifier (feature `fuzzing` only; see
//! `distcc_proto::fuzz` for the scheme). Input bytes are split at NUL into words, as argv
//! arrives from the OS; [`argv`] classifies them and checks what a distributable job must be.
//! Driving it is left to the cargo-fuzz target `argv` and the test below.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use proto::fuzz::{Target, decoded};

use crate::{Classified, classify};

/// The target `argv`, with its corpus in testdata/fuzz/argv/.
pub const TARGET: Target = Target {
    name: "argv",
    body: argv,
    // Copies of the words and the rewritten command lines.
    max_alloc: |n| 64 * n + 4096,
    fixed_len: None,
};

/// Splits fuzz input into argv words; a command line always has its compiler word.
fn words(data: &[u8]) -> Vec<OsString> {
    data.split(|&b| b == 0)
        .take(256)
        .map(|w| OsString::from_vec(w.to_vec()))
        .collect()
}

/// Classification is a pure function of the words; a distributable job names a source and
/// an output that are really on (or derived from) the command line, and both rewrites keep
/// the compiler first, never lose the source, and the server's names the output.
pub fn argv(data: &[u8]) {
    let argv = words(data);
    let verdict = classify(&argv);
    assert_eq!(classify(&argv), verdict, "classify is deterministic");
    let Classified::Distribute(job) = verdict else {
        return;
    };
    decoded();
    assert_eq!(job.argv, argv);
    assert!(
        argv[1..].contains(&job.input),
        "the source {:?} is one of the words",
        job.input
    );
    assert!(!job.output.is_empty(), "an output name");
    if job.output_given {
        assert!(
            argv.contains(&job.output)
                || argv.iter().any(|w| {
                    w.as_bytes().len() > job.output.len()
                        && w.as_bytes().ends_with(job.output.as_bytes())
                })
        );
    }
    let cpp = job.cpp_argv();
    assert_eq!(cpp[0], argv[0]);
    assert!(
        cpp.contains(&job.input),
        "the preprocessor reads the source"
    );
    assert!(
        cpp.iter().any(|w| w == "-E"),
        "the preprocessor runs with -E"
    );
    let server = job.server_argv();
    assert_eq!(server[0], argv[0]);
    assert!(
        server.contains(&job.input),
        "the server's command line names the source"
    );
    // gcc takes the last -o; it must be there in one spelling or the other.
    let separate = server
        .windows(2)
        .any(|w| w[0] == "-o" && w[1] == job.output);
    let joined = server.iter().any(|w| {
        let b = w.as_bytes();
        b.len() > 2 && b.starts_with(b"-o") && &b[2..] == job.output.as_bytes()
    });
    assert!(
        separate || joined,
        "the server's command line names the output: {server:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::TARGET;

    /// The corpus plus 3000 seeded random and mutated command lines (`cargo test`).
    #[test]
    fn fuzz_argv_over_corpus_and_random_inputs() {
        fuzzcheck::over_corpus(&TARGET, 3000, "distributable");
    }
}
