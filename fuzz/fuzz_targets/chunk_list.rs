//! cargo-fuzz target `chunk_list`: runs `distcc_proto::fuzz::chunk_list`, whose doc comment lists
//! the properties it checks. Corpus: testdata/fuzz/chunk_list/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::chunk_list(data));
