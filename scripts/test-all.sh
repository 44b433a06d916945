#!/usr/bin/env bash
# Every check corepool has: format, docs, lints; unit, integration and doc tests; the stress
# test; the loom models; the shuttle scenarios. The loom models build and run in the
# background from the start, beside the other steps: their longest model keeps one core busy
# for minutes, which on a 2-core machine leaves the other for the rest. Their output is
# printed, whole, at the end, and a failure there fails the script as any other step's does.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

# examples/fleet's tests run a real broker; say so now rather than after the build.
if ! command -v redis-server >/dev/null 2>&1 && [ -z "${REDIS_SERVER:-}" ]; then
    echo "redis-server not found: the fleet tests need it (apt-get install redis-server," >&2
    echo "or set REDIS_SERVER to its path); .ci/run installs it" >&2
    exit 1
fi

# Cheap checks first, so a formatting or lint slip fails in seconds.
echo "== format"
cargo fmt --all --check

echo "== loom models: started in the background (scripts/loom-models.sh), reported at the end"
loom_log="$(mktemp)"
set -m # the models get a process group of their own, to stop them all if a step fails
./scripts/loom-models.sh >"$loom_log" 2>&1 &
loom_pid=$!
set +m
stop_loom() {
    if kill -0 "$loom_pid" 2>/dev/null; then
        kill -- "-$loom_pid" 2>/dev/null || true
    fi
    rm -f "$loom_log"
}
trap stop_loom EXIT

echo "== docs (private items too: the protocol specs' links are part of the spec); $((SECONDS - start)) s so far"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items

echo "== lints; $((SECONDS - start)) s so far"
cargo clippy --workspace --all-targets -- -D warnings

echo "== unit, integration and doc tests; $((SECONDS - start)) s so far"
cargo test --workspace

echo "== stress (release, its own package; ignored in debug builds); $((SECONDS - start)) s so far"
cargo test --release -p stress-tests -- --nocapture

echo "== shuttle scenarios (release, debug assertions on, own target dir); $((SECONDS - start)) s so far"
RUSTFLAGS="--cfg corepool_shuttle -C debug_assertions" \
CARGO_TARGET_DIR=target/shuttle \
    cargo test -p shuttle-tests --release

echo "== loom models (release, debug assertions on, own target dir; $((SECONDS - start)) s so far)"
loom_rc=0
wait "$loom_pid" || loom_rc=$?
cat "$loom_log"
echo "== all checks: $((SECONDS - start)) s"
exit "$loom_rc"
