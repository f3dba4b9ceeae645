#!/usr/bin/env bash
# Alternating A/B of two `sluice` binaries under one sluice-load workload:
# each run a fresh `serve` on its own data directory, ROUNDS rounds, one line
# per run: "<round> <a|b> <commands/s>".
#
#   bench/ab-serve.sh BASE_SLUICE NEW_SLUICE ROUNDS WORKLOAD [ARGS…]
#   bench/ab-serve.sh /tmp/base/build/src/app/sluice build/src/app/sluice 8 ingest -c 16 -p 16
#
# A_SERVE/B_SERVE add `serve` flags to one side, A_LOAD/B_LOAD `sluice-load`
# flags (word-split), to compare one binary with itself, e.g. auth off/on;
# A_SCHEME/B_SCHEME=https drives that side over TLS:
#   B_SERVE="--auth auth.json" B_LOAD="--token $T" bench/ab-serve.sh S S 5 batch -c 8 -b 1000
#   B_SERVE="--tls-cert c.pem --tls-key k.pem" B_SCHEME=https bench/ab-serve.sh S S 5 batch -c 8 -b 1000
set -euo pipefail
a=$1 b=$2 rounds=$3
shift 3
load="$(dirname "$0")/../build/loadtest/sluice-load"
json=$(mktemp)
for r in $(seq 1 "$rounds"); do
  for which in a b; do
    bin=$a serve_flags=${A_SERVE:-} load_flags=${A_LOAD:-} scheme=${A_SCHEME:-http}
    [ "$which" = b ] && bin=$b serve_flags=${B_SERVE:-} load_flags=${B_LOAD:-} scheme=${B_SCHEME:-http}
    d=$(mktemp -d)
    # shellcheck disable=SC2086 # the flags are meant to split
    "$bin" serve --data "$d" --listen 127.0.0.1:18080 $serve_flags >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do curl -sfk "$scheme://127.0.0.1:18080/readyz" >/dev/null && break; sleep 0.1; done
    # shellcheck disable=SC2086
    "$load" "$@" $load_flags --url "$scheme://127.0.0.1:18080" -d 5 --quiet --json "$json" >/dev/null 2>&1 || true
    echo "$r $which $(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['sections'][0]['commands_per_second']))" "$json")"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    rm -rf "$d"
  done
done
rm -f "$json"
