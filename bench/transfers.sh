#!/usr/bin/env bash
# Transfers end to end (SPEC §13) on a fresh fsync server, each round
# followed by plain NDJSON batches on the same server for comparison: a
# transfer is six commands (the request and five steps of the process).
#
#   bench/transfers.sh ROUNDS [sluice-load transfers options…]
set -euo pipefail
rounds=$1
shift
root="$(dirname "$0")/.."
bin="$root/build/src/app/sluice" load="$root/build/loadtest/sluice-load"
url=http://127.0.0.1:8098
data=$(mktemp -d) log=$(mktemp)
"$bin" serve --data "$data" --durability fsync --listen 127.0.0.1:8098 >"$log" 2>&1 &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data" "$log"' EXIT
for _ in $(seq 1 100); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; } # e.g. the port is taken
for r in $(seq 1 "$rounds"); do
  out=$("$load" transfers --url "$url" -c 4 -b 500 -a 10000 -d 10 --quiet "$@")
  ended=$(grep '^ended:' <<<"$out" | awk '{print $4}' | tr -d /s)
  p99=$(grep '^  e2e' <<<"$out" | sed 's/.*p99 \([0-9.]* [mu]*s\).*p99.9.*/\1/')
  batch=$("$load" batch --url "$url" -c 8 -b 1000 -d 5 --quiet | grep '^batches:' | awk '{print $11}')
  echo "round $r: $ended transfers/s ended, ack -> ended p99 $p99; batch $batch commands/s"
done
