//! cargo-fuzz target `lzo_decompress`: runs `distcc_proto::fuzz::lzo_decompress`, whose doc comment lists the
//! properties it checks. Corpus: testdata/fuzz/lzo_decompress/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::lzo_decompress(data));
