#!/usr/bin/env bash
# Every check corepool has: format, docs, lints; unit, integration and doc tests; then the
# loom models, then the shuttle scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."

# examples/fleet's tests run a real broker; say so now rather than after the build.
if ! command -v redis-server >/dev/null 2>&1 && [ -z "${REDIS_SERVER:-}" ]; then
    echo "redis-server not found: the fleet tests need it (apt-get install redis-server," >&2
    echo "or set REDIS_SERVER to its path); .ci/run installs it" >&2
    exit 1
fi

# Cheap checks first, so a formatting or lint slip fails in seconds.
echo "== format"
cargo fmt --all --check

echo "== docs (private items too: the protocol specs' links are part of the spec)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items

echo "== lints"
cargo clippy --workspace --all-targets -- -D warnings

echo "== unit, integration and doc tests"
cargo test --workspace

echo "== stress (release; ignored in debug builds)"
cargo test --release --test stress -- --nocapture

echo "== loom models (release, debug assertions on, own target dir)"
RUSTFLAGS="--cfg corepool_loom -C debug_assertions" \
CARGO_TARGET_DIR=target/loom \
LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}" \
    cargo test -p loom-tests --release

echo "== shuttle scenarios (release, debug assertions on, own target dir)"
RUSTFLAGS="--cfg corepool_shuttle -C debug_assertions" \
CARGO_TARGET_DIR=target/shuttle \
    cargo test -p shuttle-tests --release
