//! cargo-fuzz target `state`: runs `distcc_proto::fuzz::state_record`, whose doc comment lists the
//! properties it checks. Corpus: testdata/fuzz/state/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::state_record(data));
