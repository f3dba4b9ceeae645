#!/usr/bin/env bash
# Prints the longest functions and files of src/, actors/ and loadtest/ (a
# report for reviewers, not a gate: STYLE habit 1 asks files to stay under
# ~500 lines and functions under ~60 unless a comment says why). Functions
# come from Universal Ctags (their first and last lines).
# Usage: scripts/longest.sh [N]   (N rows of each, default 15)
set -eu # no pipefail: head closes the pipe early, by design
cd "$(dirname "$0")/.."
n="${1:-15}"
dirs=(src actors loadtest)

echo "longest files (lines):"
find "${dirs[@]}" -name '*.cpp' -o -name '*.h' | xargs wc -l | grep -v ' total$' | sort -rn | head -n "$n" |
  awk '{ printf "  %5d  %s\n", $1, $2 }'

echo "longest functions (lines):"
ctags -R --languages=C++ --kinds-C++=f --fields=+ne --output-format=u-ctags -f - "${dirs[@]}" 2>/dev/null |
  awk -F'\t' '{
      line = 0; end = 0
      for (i = 4; i <= NF; ++i) {
        if ($i ~ /^line:/) line = substr($i, 6)
        if ($i ~ /^end:/) end = substr($i, 5)
      }
      if (line && end) printf "%d\t%s:%d\t%s\n", end - line + 1, $2, line, $1
    }' | sort -rn | head -n "$n" | awk -F'\t' '{ printf "  %5d  %s  %s\n", $1, $2, $3 }'
