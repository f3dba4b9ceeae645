#!/usr/bin/env bash
# CPU spent per request by the server and by the driver, for nginx answering
# a canned 200 (if installed) and for sluice's single, pipelined and batched
# commands: where a machine's cores go, beside the throughput. No warm-up;
# the aggregates that sluice-load creates first are counted in the CPU, not
# in the requests (a few per cent).
# Usage: loadtest/cpu-budget.sh [build dir, default build] [seconds, default 6]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
SECS="${2:-6}"
LOAD="$BUILD/loadtest/sluice-load"
SLUICE="$BUILD/src/app/sluice"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime
# "name ticks" per thread, summed by thread name (sluice names each kind).
thread_ticks() {
  for t in /proc/"$1"/task/*; do echo "$(cat "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"; done |
    awk '{s[$1] += $2} END {for (n in s) print n, s[n]}' | sort
}
hz=$(getconf CLK_TCK)

# measure NAME PID URL ARGS…: one run of sluice-load against PID's server.
measure() {
  local name="$1" pid="$2" url="$3"; shift 3
  local before after ops
  before=$(cpu_ticks "$pid")
  thread_ticks "$pid" > "$OUT/threads.before"
  TIMEFORMAT='%U %S'
  { time "$LOAD" "$@" --url "$url" -d "$SECS" -w 0 --quiet > "$OUT/report" 2>&1; } 2> "$OUT/time"
  after=$(cpu_ticks "$pid")
  thread_ticks "$pid" > "$OUT/threads.after"
  # Batches count commands; everything else counts requests.
  ops=$(grep -o '[0-9]* commands,' "$OUT/report" | grep -o '[0-9]*' || true)
  [ -n "$ops" ] || ops=$(grep -o '[0-9]* requests' "$OUT/report" | head -1 | grep -o '[0-9]*')
  read -r du ds < "$OUT/time"
  awk -v n="$name" -v ops="$ops" -v s="$SECS" -v t="$((after - before))" -v hz="$hz" -v du="$du" -v ds="$ds" 'BEGIN {
    printf "%-26s %9.0f /s   server %6.2f us   driver %5.2f us   per request (or command)\n",
      n, ops / s, t / hz * 1e6 / ops, (du + ds) * 1e6 / ops }'
  # Threads that took more than 1 % of the total, by name.
  join "$OUT/threads.before" "$OUT/threads.after" |
    awk -v ops="$ops" -v hz="$hz" -v t="$((after - before))" '$3 - $2 > t / 100 {
      printf "    %-16s %6.2f us\n", $1, ($3 - $2) / hz * 1e6 / ops }'
}

echo "nproc $(nproc), $(date -u +%F), ${SECS}s per run"
if command -v nginx > /dev/null; then
  nginx -c "$PWD/loadtest/nginx-canned.conf"
  trap 'kill "$(cat /tmp/sluice-nginx-canned.pid)" 2> /dev/null || true; rm -rf "$OUT"' EXIT
  sleep 0.5
  worker=$(pgrep -f 'nginx: worker process' | head -1)
  measure "nginx canned 200" "$worker" http://127.0.0.1:8081 query --no-setup -c 64 -t 1
  measure "nginx pipelined 16" "$worker" http://127.0.0.1:8081 query --no-setup -c 64 -t 1 -p 16
  kill "$(cat /tmp/sluice-nginx-canned.pid)"
  trap 'rm -rf "$OUT"' EXIT
fi

for workload in "ingest -c 64" "ingest -c 64 -p 16" "batch -c 4 -b 1000"; do
  rm -rf "$OUT/data"
  "$SLUICE" serve --data "$OUT/data" --listen 127.0.0.1:8080 > "$OUT/server.log" 2>&1 &
  server=$!
  for _ in $(seq 50); do curl -sf http://127.0.0.1:8080/readyz > /dev/null && break; sleep 0.1; done
  # shellcheck disable=SC2086 # the workload's words are separate arguments
  measure "sluice $workload" "$server" http://127.0.0.1:8080 $workload
  kill -TERM "$server"
  wait "$server"
done
