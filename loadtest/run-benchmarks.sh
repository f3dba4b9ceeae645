#!/usr/bin/env bash
# Reproduces the end-to-end numbers of bench/RESULTS.md on this machine:
#   1. the ceiling: nginx answering a canned 200, driven by wrk and by
#      sluice-load in the same run, and by sluice-load pipelining 16 deep
#      (needs Debian's nginx and wrk);
#   2. every sluice-load workload against a fresh `sluice serve` (fsync).
# Usage: loadtest/run-benchmarks.sh [build dir, default build] [seconds, default 10]
# Reports (text and --json) go to $OUT (default /tmp/sluice-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SECS=${2:-10}
OUT=${OUT:-/tmp/sluice-bench}
LOAD="$BUILD/loadtest/sluice-load"
SLUICE="$BUILD/src/app/sluice"
mkdir -p "$OUT"
echo "nproc $(nproc), $(date -u +%F), results in $OUT"

if command -v nginx >/dev/null && command -v wrk >/dev/null; then
  nginx -c "$PWD/loadtest/nginx-canned.conf"
  trap 'kill "$(cat /tmp/sluice-nginx-canned.pid)" 2>/dev/null || true' EXIT
  sleep 0.5
  for t in 1 2; do
    echo "== nginx canned 200, 64 connections, $t thread(s)"
    wrk -t$t -c64 -d${SECS}s http://127.0.0.1:8081/v1/views/account_balance/ACC-1 | grep Requests/sec | sed 's/^/wrk: /'
    "$LOAD" query --url http://127.0.0.1:8081 --no-setup -c 64 -t $t -d "$SECS" --quiet --json "$OUT/nginx-t$t.json" \
      | grep '^queries' | sed 's/^/sluice-load: /'
  done
  # The ceiling for pipelined requests (compare with ingest -p 16).
  echo "== nginx canned 200, 64 connections, pipelined 16 deep, 1 thread"
  "$LOAD" query --url http://127.0.0.1:8081 --no-setup -c 64 -t 1 -p 16 -d "$SECS" --quiet --json "$OUT/nginx-p16.json" \
    | grep '^queries' | sed 's/^/sluice-load: /'
  kill "$(cat /tmp/sluice-nginx-canned.pid)"
  trap - EXIT
else
  echo "nginx or wrk missing: skipping the ceiling (apt-get install nginx wrk)"
fi

# Each workload on a fresh server and data directory: a server that already
# holds the aggregates of earlier runs is slower (see the engine rows).
SERVER=
stop_server() {
  if [ -n "$SERVER" ]; then kill -TERM "$SERVER"; wait "$SERVER" || true; rm -rf "$DATA"; SERVER=; fi
}
trap stop_server EXIT
run() {
  local name=$1; shift
  DATA=$(mktemp -d)
  "$SLUICE" serve --data "$DATA" --listen 127.0.0.1:8080 --durability fsync >"$OUT/$name.serve.log" 2>&1 &
  SERVER=$!
  echo "== $name: sluice-load $*"
  "$LOAD" "$@" -d "$SECS" --quiet --json "$OUT/$name.json" | tee "$OUT/$name.txt" | tail -n +3
  stop_server
}
run ingest ingest -c 64
run ingest-p16 ingest -c 64 -p 16
run batch batch -c 4 -b 1000
run query query -c 64 --mix 1:1
run subscribe subscribe -c 16 -s 16
run mixed mixed -c 32 --query-connections 16 -s 4 --mix 1:1
# e2e at half the single-command maximum measured above.
MAX=$(grep -o '"requests_per_second":[0-9.]*' "$OUT/ingest.json" | head -1 | cut -d: -f2)
run e2e e2e -c 64 -s 1 -r "$(awk -v m="$MAX" 'BEGIN { printf "%d", m / 2 }')"
run verify ingest -c 64 --zipf 0.99 --mix 1:1 --verify
