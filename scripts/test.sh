#!/usr/bin/env bash
# `make test`: formatting, layering and clang-tidy (lint); a gcc build with -Werror and every test
# (dev), with clang-tidy running alongside the tests when both stages run; one clang ASan+UBSan
# build of the unit tests and the libFuzzer targets, running the unit tests and the corpus
# replays (asan); then each fuzzer from that same build for a short while (fuzz).
# Usage: scripts/test.sh [lint|dev|asan|fuzz]...   (default: all four, in that order)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-3}
stages=("$@")
((${#stages[@]})) || stages=(lint dev asan fuzz)

step() { printf '\n==> %s\n' "$*"; }
# Seconds per stage, printed at the end.
timings=()

run_lint() {
  step "lint: clang-format, layering, clang-tidy"
  JOBS=$JOBS scripts/lint.sh --sources-only
}

dev_build() {
  cmake --preset dev >/dev/null
  cmake --build --preset dev -j "$JOBS"
}

run_dev() {
  step "dev build (gcc, -Werror) and all tests"
  dev_build
  ctest --preset dev -j "$JOBS" --timeout 300
}

# lint then dev, as `make test` runs them: clang-tidy (lint's slow part, minutes of CPU) runs at
# nice 19 while the dev stage's tests run. Most of those tests wait on real time (simulated
# fleets, real Prometheus, etcd: about 60 s of CPU in 300 s of tests, measured), and at nice 19
# clang-tidy gets only the CPU they leave, so their timing is as without it.
run_lint_and_dev() {
  step "lint: clang-format, layering (clang-tidy follows, alongside the tests)"
  JOBS=$JOBS scripts/lint.sh --no-tidy
  step "dev build (gcc, -Werror)"
  dev_build
  step "all tests, and clang-tidy at nice 19 alongside"
  local tidy_log tidy_pid tests_ok=1 tidy_ok=1
  tidy_log=$(mktemp)
  JOBS=$JOBS nice -n 19 scripts/lint.sh --sources-only --tidy-only >"$tidy_log" 2>&1 &
  tidy_pid=$!
  ctest --preset dev -j "$JOBS" --timeout 300 || tests_ok=0
  wait "$tidy_pid" || tidy_ok=0
  step "clang-tidy (ran alongside the tests)"
  cat "$tidy_log"
  rm -f "$tidy_log"
  ((tests_ok && tidy_ok)) || { echo "lint+dev failed (above)" >&2; exit 1; }
}

# The asan build's targets: the unit test binaries and the fuzz targets. The simulator's own
# unit tests (a test tool, not shipped) run in the dev stage only: under ASan they cost a
# quarter of this build.
asan_targets() {
  cmake --build --preset asan --target help | grep -oE "^($1):" | tr -d ':' |
    grep -vx unit_sim_tests | sort -u
}

run_asan() {
  step "asan build (clang, ASan+UBSan, libFuzzer): unit tests and corpus replays"
  cmake --preset asan >/dev/null
  # shellcheck disable=SC2046
  cmake --build --preset asan -j "$JOBS" --target $(asan_targets 'unit_[a-z_]+_tests|[a-z_]+_fuzz')
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --preset asan -j "$JOBS" --timeout 300
}

run_fuzz() {
  step "libFuzzer: ${FUZZ_SECONDS}s per target (the asan build's fuzz targets)"
  cmake --preset asan >/dev/null
  local fuzzers
  fuzzers=$(asan_targets '[a-z_]+_fuzz')
  # shellcheck disable=SC2086
  cmake --build --preset asan -j "$JOBS" --target $fuzzers  # nothing to do after the asan stage
  local scratch
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' RETURN
  for name in $fuzzers; do
    mkdir -p "$scratch/$name"
    # New inputs go to the scratch dir; the checked-in corpus is read-only seed material.
    "build/asan/bin/$name" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -print_final_stats=0 \
      "$scratch/$name" "tests/fuzz/corpus/$name" 2>"$scratch/$name.log" ||
      { tail -50 "$scratch/$name.log"; echo "fuzzer $name failed; crash input saved in $PWD" >&2; exit 1; }
    echo "$name: $(grep -Eo 'Done [0-9]+ runs' "$scratch/$name.log" || echo ok)"
  done
}

# `make test`'s order, lint then dev, runs the two together (run_lint_and_dev).
if [[ "${stages[*]}" == "lint dev"* ]]; then
  stages=("lint+dev" "${stages[@]:2}")
fi

for stage in "${stages[@]}"; do
  start=$SECONDS
  case "$stage" in
    lint) run_lint ;;
    dev) run_dev ;;
    lint+dev) run_lint_and_dev ;;
    asan) run_asan ;;
    fuzz) run_fuzz ;;
    *) echo "unknown stage: $stage (lint, dev, asan, fuzz)" >&2; exit 2 ;;
  esac
  timings+=("$stage $((SECONDS - start))s")
done
printf -v summary '%s, ' "${timings[@]}"
step "all tests passed (${summary%, })"
