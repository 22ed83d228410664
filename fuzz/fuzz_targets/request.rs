//! cargo-fuzz target `request`: runs `distcc_proto::fuzz::request`, whose doc comment lists the
//! properties it checks. Corpus: testdata/fuzz/request/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::request(data));
