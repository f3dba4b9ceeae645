#!/usr/bin/env bash
# Prints the commit a change is measured from, for format-check.sh and
# tidy-check.sh: SLUICE_FORMAT_BASE if set, else the merge base with
# origin/main, else the last commit's parent; nothing in a clone without one.
set -euo pipefail
base="${SLUICE_FORMAT_BASE:-}"
if [ -z "$base" ]; then
  base=$(git merge-base HEAD origin/main 2>/dev/null || true)
  if [ -z "$base" ] || [ "$base" = "$(git rev-parse HEAD)" ]; then
    base=$(git rev-parse -q --verify HEAD~1 || true)
  fi
fi
echo "$base"
