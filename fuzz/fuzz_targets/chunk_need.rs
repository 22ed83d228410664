//! cargo-fuzz target `chunk_need`: runs `distcc_proto::fuzz::chunk_need`, whose doc comment lists
//! the properties it checks. Corpus: testdata/fuzz/chunk_need/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::chunk_need(data));
