#!/usr/bin/env bash
# `make lint`, and the lint stage of `make test`: formatting (clang-format, .clang-format), the
# layering (scripts/check-includes.py) and clang-tidy (.clang-tidy: bug-finding checks and the
# naming convention) over every C++ file in git.
# clang-tidy reads the dev build's compile database: it needs the dev configuration and the
# generated protocol header, not a build (nothing is compiled). Generated code is not ours to lint:
# it is not in git, and its headers are system headers to clang-tidy.
# --sources-only (the lint stage of `make test`): clang-tidy skips the test cases, whose naming
# pass costs as much as every other file together (parsing gtest); `make lint` runs it too.
# --no-tidy: formatting and layering only (seconds); --tidy-only: clang-tidy only (minutes).
# `make test` runs the two apart, clang-tidy alongside the dev stage's tests (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
sources_only=0
quick=1
tidy=1
for arg in "$@"; do
  case "$arg" in
    --sources-only) sources_only=1 ;;
    --no-tidy) tidy=0 ;;
    --tidy-only) quick=0 ;;
    *) echo "lint.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

if ((quick)); then
  echo "==> clang-format"
  git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror

  echo "==> layering (scripts/check-includes.py)"
  python3 scripts/check-includes.py .
fi
((tidy)) || { echo "formatting and layering clean"; exit 0; }

echo "==> clang-tidy ($JOBS in parallel)"
cmake --preset dev >/dev/null
cmake --build --preset dev --target shared/generated/fleetscale/v1/fleetscale.pb.h >/dev/null
# The tracked sources the dev build compiles: not the generated protocol code, not the sources
# tests/fixtures holds to fail on purpose, not tests/bench (the release preset builds it).
sources=$(python3 -c '
import json, os
for entry in json.load(open("build/dev/compile_commands.json")):
    print(os.path.relpath(os.path.join(entry["directory"], entry["file"])))
' | sort -u | comm -12 - <(git ls-files '*.cpp' | sort))
# Test cases (*_test.cpp, e2e, fuzz targets) get the naming and a few checks, not every
# bug-finding check: most of clang-tidy 14's time goes to matching inside gtest's and the other
# libraries' headers (11.6 s against 5.2 s of CPU for scaling_loop_test.cpp), and half the files
# are tests. The code they test, the simulator and tests/support get every check.
test_checks='-*,readability-identifier-naming,misc-unused-using-decls,modernize-use-override,bugprone-use-after-move'
test_cases='(_test\.cpp$|^tests/(e2e|fuzz)/)'
tidy() {  # [clang-tidy option]... : the files on stdin, one per clang-tidy, $JOBS at a time
  xargs -r -P "$JOBS" -n 1 clang-tidy -p build/dev --quiet "$@" \
    2> >(grep -Ev '^[0-9]+ warnings? generated\.$' >&2)
}
status=0
grep -Ev "$test_cases" <<<"$sources" | tidy || status=1
if ((sources_only)); then
  echo "(test cases not tidied: make lint does)"
else
  grep -E "$test_cases" <<<"$sources" | tidy --checks="$test_checks" || status=1
fi
((status == 0)) || { echo "clang-tidy found problems (above)" >&2; exit 1; }
echo "lint clean"
