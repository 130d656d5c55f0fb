#!/usr/bin/env bash
# `make bench`: optimized build, then every benchmark under tests/bench. Results go to stdout
# and, as JSON, to build/release/bench-results/. Record figures in docs/benchmarks.md.
#
# The soak benchmark (tests/bench/soak.py: 1,000 churning agents against the release aggregator
# for 30 minutes, SIGKILL and restart every 5 minutes, exactly-once checked against the store,
# RSS and CPU per window) is long, so it runs only when asked:
#   SOAK=1 make bench      the benchmarks, then the soak (about 31 minutes more)
#   SOAK=only make bench   the soak alone (builds only the aggregator and the load generator)
#   SOAK=only SOAK_ARGS="--agents 200 --duration 3m --kill-every 45s" make bench   a short one
# SOAK_ARGS are soak.py's options (tests/bench/soak.py --help). Its result goes to
# build/release/bench-results/soak.json; an exactly-once failure fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
SOAK=${SOAK:-0}
cmake --preset release >/dev/null
out=build/release/bench-results
mkdir -p "$out"
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
if [[ "$SOAK" == only ]]; then
  cmake --build --preset release -j "$JOBS" --target fleetscale-aggregator fleetscale-loadgen
else
  cmake --build --preset release -j "$JOBS"
  for bench in build/release/bin/*_bench; do
    name=$(basename "$bench")
    echo "== $name"
    "$bench" --benchmark_min_time=0.2 --benchmark_out="$out/$name.json" --benchmark_out_format=json
  done
fi
if [[ "$SOAK" == 1 || "$SOAK" == only ]]; then
  echo "== soak"
  # shellcheck disable=SC2086 # SOAK_ARGS is a list of options
  python3 tests/bench/soak.py --out "$out/soak.json" ${SOAK_ARGS:-}
fi
