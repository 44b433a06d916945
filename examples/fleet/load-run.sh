#!/usr/bin/env bash
# Load run: wrk -> fleet-ingest -> Redis -> two fleet-worker processes, all on this machine.
#
#   examples/fleet/load-run.sh                  # 30 s, 64 connections, rounds=1
#   DURATION=60s CONNS=128 ROUNDS=16 examples/fleet/load-run.sh
#
# Needs redis-server and wrk (apt-get install redis-server wrk). Prints wrk's report, then
# how long the workers took to finish the backlog, the jobs per minute end to end, and each
# worker's summary. Everything listens on 127.0.0.1 and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-30s}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-1}
BOUND=${BOUND:-100000}
WORKERS=${WORKERS:-2}

for tool in redis-server redis-cli wrk; do
    command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install redis-server wrk" >&2; exit 1; }
done
cargo build --release -q -p corepool-fleet
bin=target/release

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port)
HTTP_PORT=$(free_port)
url="redis://127.0.0.1:$REDIS_PORT/"
log=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$log"; }
trap cleanup EXIT

redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --loglevel warning >"$log/redis" &
pids+=($!)
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.05; done

"$bin/fleet-ingest" --redis "$url" --bound "$BOUND" --listen "127.0.0.1:$HTTP_PORT" 2>"$log/ingest" &
pids+=($!)
for i in $(seq "$WORKERS"); do
    "$bin/fleet-worker" --redis "$url" --name "load-$i" 2>"$log/worker-$i" &
    pids+=($!)
done
until curl -sf "http://127.0.0.1:$HTTP_PORT/health" >/dev/null; do sleep 0.05; done

echo "== wrk -t2 -c$CONNS -d$DURATION, rounds=$ROUNDS, bound $BOUND, $WORKERS workers ($(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
start=$(date +%s.%N)
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s examples/fleet/post.lua \
    "http://127.0.0.1:$HTTP_PORT/submit?rounds=$ROUNDS"
until [ "$(redis-cli -p "$REDIS_PORT" XLEN jobs)" = 0 ]; do sleep 0.05; done
end=$(date +%s.%N)
done_jobs=$(redis-cli -p "$REDIS_PORT" XLEN jobs:results)
dead=$(redis-cli -p "$REDIS_PORT" XLEN jobs:dead)
python3 - "$start" "$end" "$done_jobs" "$dead" <<'PY'
import sys
start, end, done, dead = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
secs = end - start
print(f"== end to end: {done} jobs finished ({dead} dead-lettered) in {secs:.1f} s "
      f"from the first request to an empty stream: {done / secs * 60 / 1e3:.0f}k jobs/minute")
PY
for p in "${pids[@]:1}"; do kill -TERM "$p"; done
for p in "${pids[@]:1}"; do wait "$p" || true; done
cat "$log"/worker-* "$log/ingest" | grep -E "drained|accepted"
