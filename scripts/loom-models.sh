#!/usr/bin/env bash
# The loom models (loom-tests/): one release build with debug assertions in its own target
# dir, then the test binaries two at a time, the most expensive first, so the long
# single-threaded models do not run one after another. Each binary's output is printed
# whole, in the order they finish; the exit code is non-zero if any binary failed.
#
#   ./scripts/loom-models.sh            # every model at LOOM_MAX_PREEMPTIONS (default 2)
#   LOOM_JOBS=1 ./scripts/loom-models.sh  # one binary at a time
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTFLAGS="--cfg corepool_loom -C debug_assertions"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
jobs="${LOOM_JOBS:-2}"

start=$SECONDS
# The binaries' paths, from cargo's own report of what it built.
mapfile -t binaries < <(
    cargo test -p loom-tests --release --no-run --message-format=json-render-diagnostics |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p'
)
echo "loom build: $((SECONDS - start)) s, ${#binaries[@]} test binaries"
if [ "${#binaries[@]}" -eq 0 ]; then
    echo "no loom test binaries were built" >&2
    exit 1
fi

# Most expensive first (minutes, then about a minute, then seconds); any binary not named
# here runs after these.
order=(sleep_wake controls handoff admission stream join_handle shutdown join_latch cancel heartbeat)
queue=()
for name in "${order[@]}"; do
    for b in "${binaries[@]}"; do
        case "$(basename "$b")" in "$name"-*) queue+=("$b") ;; esac
    done
done
for b in "${binaries[@]}"; do
    case " ${queue[*]} " in *" $b "*) ;; *) queue+=("$b") ;; esac
done

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
failed=0
running=()

# Starts binary number $1 of the queue; its output and exit code go to $logs/$1.*.
launch() {
    local i=$1 b=${queue[$1]}
    (
        cd loom-tests
        t0=$SECONDS
        rc=0
        "$b" >"$logs/$i.out" 2>&1 || rc=$?
        echo "loom: $(basename "$b" | sed 's/-[0-9a-f]*$//'): $((SECONDS - t0)) s" >>"$logs/$i.out"
        echo "$rc" >"$logs/$i.rc"
    ) &
    running+=("$i")
}

# Prints every finished binary's output and notes its failure, if any.
reap() {
    local still=() i rc
    for i in "${running[@]}"; do
        if [ -f "$logs/$i.rc" ]; then
            cat "$logs/$i.out"
            rc="$(cat "$logs/$i.rc")"
            if [ "$rc" -ne 0 ]; then
                echo "loom: $(basename "${queue[$i]}") FAILED (exit $rc)"
                failed=1
            fi
        else
            still+=("$i")
        fi
    done
    running=("${still[@]}")
}

next=0
while [ "$next" -lt "${#queue[@]}" ] || [ "${#running[@]}" -gt 0 ]; do
    if [ "$next" -lt "${#queue[@]}" ] && [ "${#running[@]}" -lt "$jobs" ]; then
        launch "$next"
        next=$((next + 1))
        continue
    fi
    sleep 1
    reap
done
wait
echo "loom models: $((SECONDS - start)) s in all"
exit "$failed"
