//! cargo-fuzz target `reply`: runs `distcc_proto::fuzz::reply`, whose doc comment lists the
//! properties it checks. Corpus: testdata/fuzz/reply/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::reply(data));
