//! cargo-fuzz target `identity`: runs `distcc_identity::fuzz::identity`, whose doc comment
//! lists the properties it checks. Corpus: testdata/fuzz/identity/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_identity::fuzz::identity(data));
