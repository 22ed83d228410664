//! cargo-fuzz target `pump_entries`: runs `distcc_proto::fuzz::pump_entries`, whose doc comment lists the
//! properties it checks. Corpus: testdata/fuzz/pump_entries/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::pump_entries(data));
