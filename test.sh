#!/usr/bin/env bash
# The whole test suite (the README's test command; .ci/run calls it).
# Installs what it needs (Debian packages through apt-get, crates through
# cargo), fetches firmware and guests from Debian's packages into
# ${OXPC_CACHE:-$HOME/.cache/oxpc}, then runs format, lint and all tests.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n=== %s ===\n' "$*"; }

step "host tools"
if [ -x roms/install-host-tools.sh ]; then
    roms/install-host-tools.sh
fi

step "firmware and guests"
if [ -x roms/fetch.sh ]; then
    roms/fetch.sh
fi

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --release -- -D warnings

step "tests"
mkdir -p target
cargo test --workspace --release -- --nocapture 2>&1 | tee target/test-output.txt
grep -E '^(host-oracle|dbt-diff|boot:|bench:)' target/test-output.txt || true

step "benchmark harness (quick mode: one workload, native + both oxpc engines)"
cargo run -p bench-harness --release -- --quick --no-install
