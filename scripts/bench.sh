#!/usr/bin/env bash
# `make bench`: optimized build, then every benchmark under tests/bench. Results go to stdout
# and, as JSON, to build/release/bench-results/. Record figures in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS"
out=build/release/bench-results
mkdir -p "$out"
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
for bench in build/release/bin/*_bench; do
  name=$(basename "$bench")
  echo "== $name"
  "$bench" --benchmark_min_time=0.2 --benchmark_out="$out/$name.json" --benchmark_out_format=json
done
