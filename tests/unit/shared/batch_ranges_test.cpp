#include "fleetscale/shared/batch_ranges.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>

namespace fleetscale {
namespace {

BatchView saneBatch() {
  BatchView batch;
  batch.sequence = 1;
  batch.timestampUnixMs = 1'795'000'000'000;
  batch.intervalSeconds = 1;
  batch.node.cpuCapacityCores = 64;
  batch.node.cpuAllocatableCores = 63;
  batch.node.cpuUsageCores = 12;
  batch.node.memoryCapacityBytes = 256ull << 30;
  batch.node.memoryAllocatableBytes = 250ull << 30;
  batch.node.memoryUsageBytes = 100ull << 30;
  auto& c = batch.containers.emplace_back();
  c.id = "c1";
  c.metrics.cpuCores = 2;
  c.metrics.cpuLimitCores = 4;
  c.metrics.cpuThrottledPeriodsPerSecond = 10;
  c.metrics.cpuThrottledSecondsPerSecond = 0.5;
  c.metrics.cpuWeight = 100;
  c.metrics.memoryUsageBytes = 1ull << 30;
  c.metrics.memoryWorkingSetBytes = 1ull << 29;
  c.metrics.memoryLimitBytes = 2ull << 30;
  c.metrics.cpuUsageNsTotal = std::numeric_limits<std::uint64_t>::max();  // counters: any value
  c.metrics.oomKillsTotal = std::numeric_limits<std::uint64_t>::max();
  batch.containerCount = 1;
  return batch;
}

struct Case {
  const char* field;
  std::function<void(BatchView&)> atBound;
  std::function<void(BatchView&)> beyond;
};

// Issue 19: CPU 1e308 cores, memory 2^64-1 and interval_seconds 1e300 were accepted (a node with
// interval 1e9 never went stale). Every figure has a bound; a figure at it passes, beyond it names
// its field.
TEST(BatchRangesTest, EveryFigureHasABound) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::uint64_t max64 = std::numeric_limits<std::uint64_t>::max();
  auto container = [](BatchView& b) -> ContainerMetrics& { return b.containers[0].metrics; };
  const std::vector<Case> cases{
      {"interval_seconds", [](auto& b) { b.intervalSeconds = 3600; },
       [](auto& b) { b.intervalSeconds = 1e300; }},
      {"interval_seconds", [](auto& b) { b.intervalSeconds = 0.01; },
       [](auto& b) { b.intervalSeconds = 0.001; }},
      {"interval_seconds", [](auto& b) { b.intervalSeconds = 0; },
       [](auto& b) { b.intervalSeconds = 1e9; }},
      {"timestamp_unix_ms", [](auto& b) { b.timestampUnixMs = kMaxUnixMs; },
       [](auto& b) { b.timestampUnixMs = -1; }},
      {"node.cpu_capacity_cores", [](auto& b) { b.node.cpuCapacityCores = kMaxCores; },
       [](auto& b) { b.node.cpuCapacityCores = 1e308; }},
      {"node.cpu_usage_cores", [](auto& b) { b.node.cpuUsageCores = kAbsent; },
       [inf](auto& b) { b.node.cpuUsageCores = inf; }},
      {"node.memory_usage_bytes", [](auto& b) { b.node.memoryUsageBytes = kMaxMemoryBytes; },
       [max64](auto& b) { b.node.memoryUsageBytes = max64; }},
      {"node.memory_capacity_bytes", [](auto&) {},
       [](auto& b) { b.node.memoryCapacityBytes = kMaxMemoryBytes + 1; }},
      {"cpu_cores", [&](auto& b) { container(b).cpuCores = kMaxCores; },
       [&](auto& b) { container(b).cpuCores = 1e308; }},
      {"cpu_cores", [](auto&) {}, [&](auto& b) { container(b).cpuCores = -1; }},
      {"cpu_limit_cores", [&](auto& b) { container(b).cpuLimitCores = kMaxLimitCores; },
       [&](auto& b) { container(b).cpuLimitCores = 1e9; }},
      {"cpu_throttled_periods_per_second",
       [&](auto& b) { container(b).cpuThrottledPeriodsPerSecond = kMaxThrottledPeriodsPerSecond; },
       [&](auto& b) { container(b).cpuThrottledPeriodsPerSecond = 1e7; }},
      {"cpu_weight", [&](auto& b) { container(b).cpuWeight = kMaxCpuWeight; },
       [&](auto& b) { container(b).cpuWeight = kMaxCpuWeight + 1; }},
      {"memory_working_set_bytes",
       [&](auto& b) { container(b).memoryWorkingSetBytes = kMaxMemoryBytes; },
       [&](auto& b) { container(b).memoryWorkingSetBytes = max64; }},
      {"memory_limit_bytes",
       [&](auto& b) { container(b).memoryLimitBytes = 0x7ffffffffffff000ull; },  // v1 "unlimited"
       [&](auto& b) { container(b).memoryLimitBytes = max64; }},
      {"memory_pressure_full_total_us",
       [&](auto& b) { container(b).memoryPressureFullTotalUs = 1e15; },
       [&](auto& b) { container(b).memoryPressureFullTotalUs = 1e300; }},
  };
  ASSERT_FALSE(checkBatchRanges(saneBatch()).has_value()) << checkBatchRanges(saneBatch())->message;
  for (const auto& c : cases) {
    BatchView ok = saneBatch();
    c.atBound(ok);
    const auto passed = checkBatchRanges(ok);
    EXPECT_FALSE(passed.has_value()) << c.field << ": " << passed->message;
    BatchView bad = saneBatch();
    c.beyond(bad);
    const auto violation = checkBatchRanges(bad);
    ASSERT_TRUE(violation.has_value()) << c.field;
    EXPECT_EQ(violation->field, c.field);
    EXPECT_NE(violation->message.find(c.field), std::string::npos) << violation->message;
  }
}

TEST(BatchRangesTest, OnlyTheBatchsContainersCount) {
  BatchView batch = saneBatch();
  batch.containers.emplace_back().metrics.cpuCores = 1e308;  // a leftover beyond containerCount
  EXPECT_FALSE(checkBatchRanges(batch).has_value());
  batch.containerCount = 2;
  ASSERT_TRUE(checkBatchRanges(batch).has_value());
  EXPECT_EQ(checkBatchRanges(batch)->field, "cpu_cores");
}

TEST(BatchRangesTest, MetadataFigures) {
  ContainerMetadataView m;
  m.cpuRequestCores = 2;
  m.cpuLimitCores = 4;
  m.memoryRequestBytes = 1ull << 30;
  m.memoryLimitBytes = 2ull << 30;
  m.startTimeUnixMs = 1'795'000'000'000;
  m.podReadyTimeUnixMs = 1'795'000'001'000;
  EXPECT_FALSE(checkMetadataRanges(m).has_value());
  for (const auto& [field, mutate] :
       std::vector<std::pair<std::string, std::function<void(ContainerMetadataView&)>>>{
           {"metadata.cpu_request_cores", [](auto& v) { v.cpuRequestCores = 1e308; }},
           {"metadata.cpu_limit_cores", [](auto& v) { v.cpuLimitCores = 1e300; }},
           {"metadata.memory_request_bytes",
            [](auto& v) { v.memoryRequestBytes = std::numeric_limits<std::uint64_t>::max(); }},
           {"metadata.start_time_unix_ms",
            [](auto& v) { v.startTimeUnixMs = std::numeric_limits<std::int64_t>::min(); }},
           {"metadata.pod_ready_time_unix_ms",
            [](auto& v) { v.podReadyTimeUnixMs = kMaxUnixMs + 1; }},
       }) {
    ContainerMetadataView bad = m;
    mutate(bad);
    const auto violation = checkMetadataRanges(bad);
    ASSERT_TRUE(violation.has_value()) << field;
    EXPECT_EQ(violation->field, field);
  }
}

}  // namespace
}  // namespace fleetscale
