#include "fleetscale/agent/node_stats.h"

#include <gtest/gtest.h>

namespace fleetscale::agent {
namespace {

TEST(NodeStatsTest, ProcStat) {
  const auto stat = parseProcStat(
      "cpu  100 5 50 1000 20 1 2 3 7 0\ncpu0 50 2 25 500 10 0 1 1 0 0\n"
      "cpu1 50 3 25 500 10 1 1 2 7 0\nintr 12345\nctxt 999\n");
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->cpuCount, 2);
  EXPECT_EQ(stat->totalTicks, 100u + 5 + 50 + 1000 + 20 + 1 + 2 + 3) << "guest excluded";
  EXPECT_EQ(stat->idleTicks, 1020u);
  EXPECT_FALSE(parseProcStat("intr 1\n").ok());
  EXPECT_FALSE(parseProcStat("cpu 1 2 x 4\n").ok());
}

TEST(NodeStatsTest, MemInfo) {
  const auto info =
      parseMemInfo("MemTotal:       16384 kB\nMemFree: 100 kB\nMemAvailable:    8192 kB\n");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->totalBytes, 16384u * 1024);
  EXPECT_EQ(info->availableBytes, 8192u * 1024);
  EXPECT_FALSE(parseMemInfo("MemTotal: 1 kB\n").ok());
}

}  // namespace
}  // namespace fleetscale::agent
