#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, then format, lint, and
# every test of every crate, including the interop tests against Debian's distcc 3.4.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --all-targets --no-fail-fast
