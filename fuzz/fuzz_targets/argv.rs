//! cargo-fuzz target `argv`: runs `distcc_args::fuzz::argv`, whose doc comment lists the
//! properties it checks. Corpus: testdata/fuzz/argv/ (NUL-separated words).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_args::fuzz::argv(data));
