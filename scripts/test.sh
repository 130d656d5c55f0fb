#!/usr/bin/env bash
# `make test`: build with -Werror and run every test (dev), rerun the unit tests under
# ASan+UBSan (asan), then fuzz every parser for a short while (fuzz).
# Usage: scripts/test.sh [dev|asan|fuzz]...   (default: all three, in that order)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-3}
stages=("$@")
((${#stages[@]})) || stages=(dev asan fuzz)

step() { printf '\n==> %s\n' "$*"; }

run_dev() {
  step "dev build (-Werror) and all tests"
  cmake --preset dev >/dev/null
  cmake --build --preset dev -j "$JOBS"
  ctest --preset dev -j "$JOBS" --timeout 300
}

run_asan() {
  step "ASan+UBSan build and unit tests"
  cmake --preset asan >/dev/null
  # Only what the unit label runs: the unit test binaries and the fuzz corpus replays. The
  # simulator's own unit tests (a test tool, not shipped) run in the dev stage only: under ASan
  # they cost a quarter of this build and CI has 25 minutes.
  local targets
  targets=$(cmake --build --preset asan --target help | grep -oE '^(unit_[a-z_]+_tests|[a-z_]+_fuzz):' | tr -d ':' |
    grep -vx unit_sim_tests | sort -u)
  # shellcheck disable=SC2086
  cmake --build --preset asan -j "$JOBS" --target $targets
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --preset asan -j "$JOBS" --timeout 300
}

run_fuzz() {
  step "libFuzzer: ${FUZZ_SECONDS}s per target"
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$JOBS"
  local scratch
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' RETURN
  for fuzzer in build/fuzz/bin/*_fuzz; do
    local name
    name=$(basename "$fuzzer")
    mkdir -p "$scratch/$name"
    # New inputs go to the scratch dir; the checked-in corpus is read-only seed material.
    "$fuzzer" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -print_final_stats=0 \
      "$scratch/$name" "tests/fuzz/corpus/$name" 2>"$scratch/$name.log" ||
      { tail -50 "$scratch/$name.log"; echo "fuzzer $name failed; crash input saved in $PWD" >&2; exit 1; }
    echo "$name: $(grep -Eo 'Done [0-9]+ runs' "$scratch/$name.log" || echo ok)"
  done
}

for stage in "${stages[@]}"; do
  case "$stage" in
    dev) run_dev ;;
    asan) run_asan ;;
    fuzz) run_fuzz ;;
    *) echo "unknown stage: $stage (dev, asan, fuzz)" >&2; exit 2 ;;
  esac
done
step "all tests passed"
