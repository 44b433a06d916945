#!/usr/bin/env bash
# ThreadSanitizer over corepool's unit, integration and stress tests. Needs a nightly
# toolchain; not part of scripts/test-all.sh or CI. Takes 15-25 minutes on two cores, most
# of it building std and the dependencies instrumented (in target/tsan, apart from the
# normal build). Any argument is passed to every `cargo test` as a test-name filter.
#
# With the nightly's rust-src component, std is rebuilt with the sanitizer (-Zbuild-std), so
# every access TSan sees is instrumented. Without it (`rustup +nightly component add
# rust-src` cannot reach its server), the tests are built against the prebuilt,
# uninstrumented std: -Cunsafe-allow-abi-mismatch=sanitizer lets them link, and the reports
# that come from std's uninstrumented synchronisation are suppressed by
# scripts/tsan-prebuilt-std.supp (README, "ThreadSanitizer").
set -euo pipefail
cd "$(dirname "$0")/.."

target="$(rustc +nightly -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR=target/tsan
supp="$CARGO_TARGET_DIR/tsan.supp"
mkdir -p "$CARGO_TARGET_DIR"
cp scripts/tsan.supp "$supp"

if rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src'; then
    export RUSTFLAGS="-Zsanitizer=thread"
    build_std=(-Zbuild-std)
    echo "== std rebuilt with the sanitizer (-Zbuild-std)"
else
    export RUSTFLAGS="-Zsanitizer=thread -Cunsafe-allow-abi-mismatch=sanitizer"
    build_std=()
    cat scripts/tsan-prebuilt-std.supp >>"$supp"
    echo "== no rust-src for nightly: prebuilt (uninstrumented) std, its reports suppressed" >&2
fi
# Keep going after a report, so one run lists them all; the summary at the end counts them.
export TSAN_OPTIONS="suppressions=$PWD/$supp halt_on_error=0 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"

log="$CARGO_TARGET_DIR/tsan.log"
: >"$log"
run() {
    echo "== cargo test $*" | tee -a "$log"
    cargo +nightly test "${build_std[@]}" --target "$target" "$@" 2>&1 | tee -a "$log"
}

# One test at a time: several tests count the OS threads named like their pools', which a
# neighbour's pool, kept alive longer by the sanitizer's slowdown, would disturb.
# `many_small_items_are_grouped_into_far_fewer_tasks` is skipped: it checks that a stream
# sizes its groups by measured time per item, and instrumented code is 5-20x slower per
# item, so the groups come out smaller than the test allows; it has no concurrency of its
# own that the other stream tests do not have.
run -p corepool --lib --tests -- --test-threads=1 --skip many_small_items_are_grouped_into_far_fewer_tasks "$@"
# The stress tests run in release builds only (they are ignored in debug ones).
run --release -p stress-tests -- --test-threads=1 --nocapture "$@"

reports=$(grep -c '^WARNING: ThreadSanitizer' "$log" || true)
echo "== ThreadSanitizer reports: $reports (log: $log)"
[ "$reports" -eq 0 ]
