// Cost of parsing the cgroup files read per container per tick.
#include <benchmark/benchmark.h>

#include "fleetscale/agent/cgroup_parsers.h"

namespace {

const std::string kMemoryStatV2 =
    "anon 3108864\nfile 1163264\nkernel_stack 16384\npagetables 45056\npercpu 0\nsock 0\nshmem 0\n"
    "file_mapped 0\nfile_dirty 0\nfile_writeback 0\nswapcached 0\nanon_thp 0\nfile_thp 0\n"
    "shmem_thp 0\ninactive_anon 3051520\nactive_anon 57344\ninactive_file 1163264\nactive_file 0\n"
    "unevictable 0\nslab_reclaimable 92696\nslab_unreclaimable 74632\nslab 167328\n";

void BM_FindInactiveFile(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(fleetscale::agent::findKeyedValue(kMemoryStatV2, "inactive_file"));
  }
}
BENCHMARK(BM_FindInactiveFile);

void BM_ParseCpuStat(benchmark::State& state) {
  const std::string cpuStat =
      "usage_usec 5616647428\nuser_usec 3569637760\nsystem_usec 2047009667\n"
      "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\n";
  for (auto _ : state) {
    benchmark::DoNotOptimize(fleetscale::agent::findKeyedValue(cpuStat, "usage_usec"));
    benchmark::DoNotOptimize(fleetscale::agent::findKeyedValue(cpuStat, "throttled_usec"));
  }
}
BENCHMARK(BM_ParseCpuStat);

}  // namespace

BENCHMARK_MAIN();
