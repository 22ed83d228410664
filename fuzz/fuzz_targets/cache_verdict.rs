//! cargo-fuzz target `cache_verdict`: runs `distcc_proto::fuzz::cache_verdict`, whose doc comment lists
//! the properties it checks. Corpus: testdata/fuzz/cache_verdict/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::cache_verdict(data));
