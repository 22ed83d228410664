//! cargo-fuzz target `coord`: runs `distcc_proto::fuzz::coord`, whose doc comment lists the
//! properties it checks. Corpus: testdata/fuzz/coord/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::coord(data));
