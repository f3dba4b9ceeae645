#!/usr/bin/env bash
# Checks the formatting of the C++ files the last change touched
# (scripts/format-check.sh), then builds sluice and runs its tests twice: an
# optimized build, then one under AddressSanitizer + UndefinedBehaviorSanitizer.
# Warnings are errors.
# Then the libFuzzer targets run for a bounded time (scripts/fuzz.sh).
# SLUICE_SKIP_SANITIZE=1 skips the second pass, SLUICE_SKIP_FUZZ=1 the fuzzing,
# SLUICE_FUZZ_SECONDS sets its time per target (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${SLUICE_JOBS:-2}"

build_and_test() {
  local dir="$1"; shift
  # Every option the test build needs is passed: the README's run command
  # configures the same `build` directory with tests off, and CMake keeps
  # cached options between runs.
  cmake -S . -B "$dir" -G Ninja -DSLUICE_WERROR=ON -DSLUICE_BUILD_TESTS=ON "$@"
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs"
}

scripts/format-check.sh
build_and_test build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_BUILD_BENCH=ON
if [ -z "${SLUICE_SKIP_SANITIZE:-}" ]; then
  # Benchmarks are not built here: sanitized timings mean nothing.
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    build_and_test build-asan -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=address,undefined -DSLUICE_BUILD_BENCH=OFF
fi
if [ -z "${SLUICE_SKIP_FUZZ:-}" ]; then
  scripts/setup.sh fuzz
  scripts/fuzz.sh "${SLUICE_FUZZ_SECONDS:-60}"
fi
