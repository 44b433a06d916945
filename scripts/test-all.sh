#!/usr/bin/env bash
# Every test corepool has: unit, integration and doc tests, then the loom models.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== unit, integration and doc tests"
cargo test --workspace

echo "== stress (release; ignored in debug builds)"
cargo test --release --test stress -- --nocapture

echo "== loom models (release, debug assertions on, own target dir)"
RUSTFLAGS="--cfg corepool_loom -C debug_assertions" \
CARGO_TARGET_DIR=target/loom \
LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}" \
    cargo test -p loom-tests --release
