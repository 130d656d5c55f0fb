#include "fleetscale/agent/cgroup_parsers.h"

#include <gtest/gtest.h>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/process.h"

namespace fleetscale::agent {
namespace {

std::string fixture(const std::string& relative) {
  auto text = readFile(testing::fixturePath(relative));
  EXPECT_TRUE(text.ok()) << relative;
  return text.ok() ? *text : "";
}

TEST(CgroupParsersTest, SingleValues) {
  EXPECT_EQ(*parseSingleValue(fixture("cgroup-v2/datadog-agent/memory.current")), 6193152u);
  EXPECT_EQ(*parseSingleValue("42"), 42u) << "no trailing newline";
  EXPECT_FALSE(parseSingleValue("").ok());
  EXPECT_FALSE(parseSingleValue("12 34\n").ok());
  EXPECT_FALSE(parseSingleValue("max\n").ok());
  EXPECT_EQ(*parseSignedValue(fixture("cgroup-v1/datadog-agent/cpu.cfs_quota_us")), -1);
}

TEST(CgroupParsersTest, KeyedFilesV2) {
  const std::string cpuStat = fixture("cgroup-v2/datadog-agent/cpu.stat");
  EXPECT_EQ(findKeyedValue(cpuStat, "usage_usec"), 5616647428u);
  EXPECT_EQ(findKeyedValue(cpuStat, "user_usec"), 3569637760u);
  EXPECT_EQ(findKeyedValue(cpuStat, "system_usec"), 2047009667u);
  EXPECT_FALSE(findKeyedValue(cpuStat, "usage"));
  EXPECT_TRUE(isWellFormedKeyed(cpuStat));
  const std::string burst = fixture("cgroup-v2/opencontainers-cgroups/cpu.stat");
  EXPECT_TRUE(findKeyedValue(burst, "nr_bursts").has_value()) << "kernel >= 5.14 keys";
}

TEST(CgroupParsersTest, KeyedFilesV1) {
  const std::string memoryStat = fixture("cgroup-v1/datadog-agent/memory.stat");
  EXPECT_EQ(findKeyedValue(memoryStat, "total_inactive_file"), 4595712u);
  EXPECT_EQ(findKeyedValue(memoryStat, "total_rss"), 19058688u);
  EXPECT_EQ(findKeyedValue(memoryStat, "rss"), 19058688u) << "'rss' must not match 'rss_huge'";
  EXPECT_EQ(findKeyedValue("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n", "oom_kill"), 7u);
}

TEST(CgroupParsersTest, OnePassLookupOfSeveralKeys) {
  const std::string memoryStat = fixture("cgroup-v2/datadog-agent-kernel-6.8/memory.stat");
  static constexpr std::string_view kKeys[] = {"inactive_file", "anon", "file", "missing"};
  std::optional<std::uint64_t> values[4];
  findKeyedValues(memoryStat, kKeys, values);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(values[i], findKeyedValue(memoryStat, kKeys[i])) << kKeys[i];
  }
  EXPECT_EQ(values[0], 1626112u);
  EXPECT_FALSE(values[3]);
  // First occurrence wins, even when malformed; blanks and a missing final newline are fine.
  static constexpr std::string_view kTwo[] = {"a", "b"};
  std::optional<std::uint64_t> two[2] = {std::uint64_t{99}, std::uint64_t{99}};
  findKeyedValues("a x\na 5\nb\t 7 \r", kTwo, two);
  EXPECT_FALSE(two[0]);
  EXPECT_EQ(two[1], 7u);
}

TEST(CgroupParsersTest, MalformedKeyedFiles) {
  EXPECT_FALSE(findKeyedValue("usage_usec abc\n", "usage_usec"));
  EXPECT_FALSE(findKeyedValue("usage_usec\n", "usage_usec"));
  EXPECT_FALSE(findKeyedValue("", "usage_usec"));
  EXPECT_FALSE(isWellFormedKeyed("a 1\nb\n"));
  EXPECT_EQ(findKeyedValue("usage_usec 12", "usage_usec"), 12u) << "truncated final newline";
}

TEST(CgroupParsersTest, CpuMax) {
  auto limited = parseCpuMax(fixture("cgroup-v2/cadvisor-test1/cpu.max"));
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->quotaUs, 20000u);
  EXPECT_EQ(limited->periodUs, 100010u) << "cadvisor's fixture uses an unusual period";
  EXPECT_DOUBLE_EQ(*limited->limitCores(), 20000.0 / 100010.0);
  EXPECT_DOUBLE_EQ(*parseCpuMax("50000 100000\n")->limitCores(), 0.5);
  auto unlimited = parseCpuMax(fixture("cgroup-v2/cadvisor-test2/cpu.max"));
  ASSERT_TRUE(unlimited.ok());
  EXPECT_FALSE(unlimited->limitCores());
  auto bare = parseCpuMax("max\n");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->quotaUs);
  EXPECT_FALSE(parseCpuMax("").ok());
  EXPECT_FALSE(parseCpuMax("10 0").ok());
  EXPECT_FALSE(parseCpuMax("a b").ok());
  EXPECT_FALSE(parseCpuMax("1 2 3").ok());
}

TEST(CgroupParsersTest, MemoryLimits) {
  auto v2 = parseMemoryMax(fixture("cgroup-v2/cadvisor-test2/memory.max"));
  ASSERT_TRUE(v2.ok());
  EXPECT_FALSE(v2->has_value()) << "max = no limit";
  auto v2Limited = parseMemoryMax("536870912\n");
  ASSERT_TRUE(v2Limited.ok());
  EXPECT_EQ(**v2Limited, 536870912u);
  auto v1Unlimited =
      parseV1MemoryLimit(fixture("cgroup-v1/datadog-agent/memory.memsw.limit_in_bytes"));
  ASSERT_TRUE(v1Unlimited.ok());
  EXPECT_FALSE(v1Unlimited->has_value()) << "9223372036854771712 = no limit";
  auto v1Limited = parseV1MemoryLimit(fixture("cgroup-v1/datadog-agent/memory.limit_in_bytes"));
  ASSERT_TRUE(v1Limited.ok());
  EXPECT_EQ(**v1Limited, 67108864u);
  EXPECT_FALSE(parseMemoryMax("lots").ok());
}

TEST(CgroupParsersTest, Pressure) {
  auto cpu = parsePressure(fixture("cgroup-v2/opencontainers-cgroups/cpu.pressure"));
  ASSERT_TRUE(cpu.ok());
  EXPECT_TRUE(cpu->someTotalUs.has_value());
  EXPECT_TRUE(cpu->fullTotalUs.has_value());
  auto someOnly = parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=123\n");
  ASSERT_TRUE(someOnly.ok());
  EXPECT_EQ(someOnly->someTotalUs, 123u);
  EXPECT_FALSE(someOnly->fullTotalUs);
  EXPECT_FALSE(parsePressure("some avg10=0.00\n").ok());
  EXPECT_FALSE(parsePressure("").ok());
  EXPECT_FALSE(parsePressure("other total=1\n").ok());
}

TEST(CgroupParsersTest, WorkingSetIsUsageMinusInactiveFileFlooredAtZero) {
  EXPECT_EQ(workingSet(1000, 300), 700u);
  EXPECT_EQ(workingSet(300, 1000), 0u);
  EXPECT_EQ(workingSet(0, 0), 0u);
}

TEST(CgroupParsersTest, SharesToWeight) {
  EXPECT_EQ(sharesToWeight(2), 1u);
  EXPECT_EQ(sharesToWeight(262144), 10000u);
  EXPECT_EQ(sharesToWeight(1024), 39u);
}

}  // namespace
}  // namespace fleetscale::agent
