#!/usr/bin/env bash
# Checks the formatting of the C++ files the last change touched
# (scripts/format-check.sh), then builds sluice and runs its tests twice: an
# optimized build, then one under AddressSanitizer + UndefinedBehaviorSanitizer.
# After the first, clang-tidy checks the shipped sources the change touched
# (scripts/tidy-check.sh), and scripts/longest.sh reports the longest files
# and functions (a report, not a gate).
# Warnings are errors.
# Between them, sluice is installed into a temporary prefix and
# examples/inventory is built and tested against the installed package.
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
  cmake -S . -B "$dir" -G Ninja -DSLUICE_WERROR=ON -DSLUICE_BUILD_TESTS=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "$@"
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs"
}

# The package as a user's project sees it: installed, found by
# find_package, linked by a domain of its own.
example_against_package() {
  local prefix
  prefix=$(mktemp -d)
  cmake --install build --prefix "$prefix/usr" >/dev/null
  cmake -S examples/inventory -B "$prefix/inventory" -G Ninja -DCMAKE_PREFIX_PATH="$prefix/usr" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_COMPILE_WARNING_AS_ERROR=ON
  cmake --build "$prefix/inventory" -j "$jobs"
  ctest --test-dir "$prefix/inventory" --output-on-failure --no-tests=error
  rm -rf "$prefix"
}

scripts/format-check.sh
build_and_test build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_BUILD_BENCH=ON
scripts/tidy-check.sh build
scripts/longest.sh 15 || echo "longest.sh: no report (it is not a gate)"
example_against_package
if [ -z "${SLUICE_SKIP_SANITIZE:-}" ]; then
  # Benchmarks are not built here: sanitized timings mean nothing.
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    build_and_test build-asan -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=address,undefined -DSLUICE_BUILD_BENCH=OFF
fi
if [ -z "${SLUICE_SKIP_FUZZ:-}" ]; then
  scripts/setup.sh fuzz
  scripts/fuzz.sh "${SLUICE_FUZZ_SECONDS:-60}"
fi
