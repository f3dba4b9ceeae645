#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (plus ASan and UBSan) and
# runs each for a bounded time, starting from the seed corpus in
# fuzz/corpus/. A crash, leak, timeout or abort fails the run and leaves the
# input in build-fuzz/crash-*.
# Usage: scripts/fuzz.sh [seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
jobs="${SLUICE_JOBS:-2}"

# clang 16: clang 14 cannot compile libstdc++ 12's std::expected (see CMakeLists.txt).
CXX="${SLUICE_FUZZ_CXX:-clang++-16}" cmake -S . -B build-fuzz -G Ninja -DSLUICE_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR=ON
cmake --build build-fuzz -j "$jobs"

for target in command http_request auth; do
  seeds="fuzz/corpus/${target%_request}"
  work=$(mktemp -d)
  echo "fuzz_$target: ${secs}s from $seeds"
  status=0
  ./build-fuzz/fuzz/fuzz_$target -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/crash-$target-" "$work" "$seeds" >"build-fuzz/fuzz_$target.log" 2>&1 || status=$?
  grep -E "^(Done|stat::(number_of_executed_units|new_units_added|peak_rss_mb))" "build-fuzz/fuzz_$target.log" || true
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    tail -n 60 "build-fuzz/fuzz_$target.log" >&2
    echo "fuzz_$target failed (exit $status); inputs in build-fuzz/crash-$target-*" >&2
    exit 1
  fi
done
