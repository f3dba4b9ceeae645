#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) on the C++ sources a change touches, with the
# compile commands of the build directory given (default `build`, configured
# with CMAKE_EXPORT_COMPILE_COMMANDS=ON). The change is found as in
# scripts/format-check.sh. A changed header is checked through the sources
# of its own directory that include it. Findings are errors. The shipped
# code is checked (src, actors, loadtest); tests and benchmarks
# are written for clarity, where performance-* findings are noise.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
tidy=clang-tidy-16
if [ ! -f "$dir/compile_commands.json" ]; then
  echo "tidy-check: no $dir/compile_commands.json; configure with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON" >&2
  exit 1
fi
base=$(scripts/change-base.sh)
if [ -z "$base" ]; then
  echo "tidy-check: no earlier commit to compare with; nothing checked" >&2
  exit 0
fi
mapfile -t changed < <(git diff --name-only --diff-filter=AMR "$base" -- '*.cpp' '*.h' | grep -E '^(src|actors|loadtest)/' || true)
declare -A pick=()
for f in "${changed[@]}"; do
  case "$f" in
    *.cpp) grep -q "\"file\": \"$PWD/$f\"" "$dir/compile_commands.json" && pick["$f"]=1 ;;
    *.h)
      h=$(basename "$f")
      while IFS= read -r src; do
        grep -q "\"file\": \"$PWD/$src\"" "$dir/compile_commands.json" && pick["$src"]=1
      done < <(grep -l "include \".*$h\"" "$(dirname "$f")"/*.cpp 2>/dev/null || true)
      ;;
  esac
done
if [ ${#pick[@]} -eq 0 ]; then
  echo "tidy-check: no C++ source to check changed since $(git rev-parse --short "$base")"
  exit 0
fi
echo "tidy-check: ${#pick[@]} sources changed since $(git rev-parse --short "$base")"
# clang 16 knows C++23 as 2b, and, like the fuzz build, needs libstdc++ 12's
# std::expected unhidden (CMakeLists.txt says why).
printf '%s\n' "${!pick[@]}" | sort | xargs -P "${SLUICE_JOBS:-2}" -n 4 \
  "$tidy" -p "$dir" --quiet --warnings-as-errors='*,-clang-diagnostic-macro-redefined' \
  --extra-arg=-std=gnu++2b --extra-arg=-D__cpp_concepts=202002L --extra-arg=-Wno-macro-redefined
