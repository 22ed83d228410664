//! cargo-fuzz target `host_list`: runs `distcc_client::fuzz::host_list`, whose doc comment lists the
//! properties it checks. Corpus: testdata/fuzz/host_list/.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distcc_client::fuzz::host_list(data));
