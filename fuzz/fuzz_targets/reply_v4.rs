//! cargo-fuzz target `reply_v4`: runs `distcc_proto::fuzz::reply_v4`, whose doc comment lists
//! the properties it checks. Corpus: testdata/fuzz/reply_v4/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_proto::fuzz::reply_v4(data));
