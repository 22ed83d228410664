#!/bin/bash
# Runs every cargo-fuzz target for SECONDS (default 60) each, one after another:
#   fuzz/run.sh [SECONDS [TARGET…]]
# New inputs go to fuzz/corpus/<target>/ (not checked in); the checked-in corpus
# testdata/fuzz/<target>/ is only read. A crash stops the run; libFuzzer leaves the input in
# fuzz/artifacts/<target>/ and the whole log is in fuzz/artifacts/<target>.log.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz passes nightly-only -Z flags
# (sanitizer, coverage); RUSTC_BOOTSTRAP=1 makes the stable compiler accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=${*:-"header request reply request_v4 reply_v4 cache_verdict zstd_body pump_entries lzo_decompress lzo_roundtrip state argv host_list identity auth"}
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
mkdir -p fuzz/artifacts
for t in $targets; do
    mkdir -p "fuzz/corpus/$t"
    echo "== $t: ${secs}s"
    # -malloc_limit_mb: a single allocation past 64 MiB is a crash (a forged length got
    # through); the bodies' own small limits keep real ones under 1 MiB.
    if ! cargo fuzz run -O "$t" "fuzz/corpus/$t" "testdata/fuzz/$t" -- \
        -max_total_time="$secs" -dict=fuzz/distcc.dict -malloc_limit_mb=64 \
        -rss_limit_mb=2048 -print_final_stats=1 >"fuzz/artifacts/$t.log" 2>&1; then
        tail -n 40 "fuzz/artifacts/$t.log"
        echo "== $t: CRASH (see fuzz/artifacts/$t.log)"
        exit 1
    fi
    grep -E '^(stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)|Done)' \
        "fuzz/artifacts/$t.log"
done
