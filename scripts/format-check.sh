#!/usr/bin/env bash
# Checks that the C++ files a change touches are formatted as .clang-format
# says. The change is what scripts/change-base.sh measures it from (the merge
# base with origin/main, else the last commit). Untouched files are left as
# they are. `scripts/format-check.sh --fix` formats them instead.
set -euo pipefail
cd "$(dirname "$0")/.."
base=$(scripts/change-base.sh)
if [ -z "$base" ]; then
  # A shallow clone cannot tell what changed; set SLUICE_FORMAT_BASE there.
  echo "format-check: no earlier commit to compare with; nothing checked" >&2
  exit 0
fi
mapfile -t files < <(git diff --name-only --diff-filter=AMR "$base" -- '*.cpp' '*.h' | grep -v '^fuzz/corpus/' || true)
if [ ${#files[@]} -eq 0 ]; then
  echo "format-check: no C++ file changed since $(git rev-parse --short "$base")"
  exit 0
fi
if [ "${1:-}" = --fix ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
echo "format-check: ${#files[@]} files changed since $(git rev-parse --short "$base")"
clang-format --dry-run --Werror "${files[@]}"
