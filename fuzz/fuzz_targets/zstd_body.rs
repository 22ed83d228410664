//! cargo-fuzz target `zstd_body`: runs `distcc_proto::fuzz::zstd_body`, whose doc comment lists
//! the properties it checks. Corpus: testdata/fuzz/zstd_body/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::zstd_body(data));
