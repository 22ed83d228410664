//! cargo-fuzz target `header`: runs `distcc_proto::fuzz::header`, whose doc comment lists the
//! properties it checks. Corpus: testdata/fuzz/header/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::header(data));
