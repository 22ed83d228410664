//! cargo-fuzz target `lzo_roundtrip`: runs `distcc_proto::fuzz::lzo_roundtrip`, whose doc comment lists the
//! properties it checks. Corpus: testdata/fuzz/lzo_roundtrip/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::lzo_roundtrip(data));
