//! cargo-fuzz target `auth`: runs `distcc_proto::fuzz::auth`, whose doc comment lists the
//! properties it checks. Corpus: testdata/fuzz/auth/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::auth(data));
