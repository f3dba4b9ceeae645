#!/usr/bin/env bash
# View rebuilds measured on a running server (SPEC §10): fills a data
# directory with `sluice-load create`, then per round either rebuilds
# customer_orders on the idle server, or runs `ingest` without and during a
# rebuild. Prints the commands/s of each and the server's build log lines.
#
#   bench/rebuild.sh idle ROUNDS      # rebuild rate with nothing else running
#   bench/rebuild.sh load ROUNDS      # command rate without / during a rebuild
set -euo pipefail
mode=$1 rounds=$2
root="$(dirname "$0")/.."
bin="$root/build/src/app/sluice" load="$root/build/loadtest/sluice-load"
url=http://127.0.0.1:8099
data=$(mktemp -d) log=$(mktemp)
"$bin" serve --data "$data" --durability none --listen 127.0.0.1:8099 >"$log" 2>&1 &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null || true; rm -rf "$data" "$log"' EXIT
for _ in $(seq 1 100); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; } # e.g. the port is taken
"$load" create --url "$url" -b 999 -c 8 -d 10 -w 0 >/dev/null 2>&1 || true
rebuild() { curl -s -XPOST "$url/v1/admin/views/customer_orders/rebuild" >/dev/null; }
# --no-setup: the accounts do not exist, so every command is a 422 (the driver exits 1).
rate() { { "$load" ingest --url "$url" -c 64 -d 3 -w 0 --no-setup 2>&1 || true; } | grep "^commands:" | awk '{print $4}'; }
for r in $(seq 1 "$rounds"); do
  if [ "$mode" = idle ]; then
    rebuild
    sleep 5
  else
    base=$(rate)
    rebuild
    during=$(rate)
    echo "round $r: $base commands/s without a build, $during during it"
    sleep 8
  fi
done
kill -INT "$pid"
wait "$pid" || true
grep "has caught up" "$log" | sed 's/.*built/built/'
