#!/usr/bin/env bash
# Installs the Debian packages sluice builds with; does nothing when all are present.
# `setup.sh fuzz` installs what the libFuzzer targets need instead (scripts/fuzz.sh).
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config curl
  libcaf-dev            # actor runtime (0.17)
  libboost1.81-dev      # Beast/Asio
  libsimdjson-dev       # JSON decoding
  libconcurrentqueue-dev  # lock-free command bus
  libxxhash-dev         # record checksums (XXH3)
  libfmt-dev            # log formatting (GCC 12 has no std::format)
  libcli11-dev          # command-line flags
  libssl-dev            # SHA-256 of auth tokens, constant-time compare; TLS
  libnats-dev           # the cluster's client of NATS JetStream (SPEC §14)
  nats-server           # the cluster's servers: scripts/cluster.sh and the cluster tests
  openssl               # tests make their TLS certificates with it
  catch2                # tests (v2)
  libbenchmark-dev      # micro-benchmarks
  clang-format          # scripts/format-check.sh
  clang-tidy-16         # scripts/tidy-check.sh (14 cannot parse C++23's library)
  universal-ctags       # scripts/longest.sh: the longest functions
  chromium              # tests/browser: the dashboard in a real browser
)
# Node.js for the browser test's driver (playwright-core): Debian's, unless
# the machine has one already (npm comes with it then).
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
if [ "${1:-}" = fuzz ]; then
  # clang 16, not 14: 14 cannot compile libstdc++ 12's std::expected.
  packages=(clang-16 libclang-rt-16-dev)  # libFuzzer, ASan, UBSan runtimes
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser test's npm packages, at the versions package-lock.json pins.
if [ "${1:-}" != fuzz ] && [ ! -d "$(dirname "$0")/../tests/browser/node_modules/playwright-core" ]; then
  echo "setup: npm ci in tests/browser"
  (cd "$(dirname "$0")/../tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
fi
