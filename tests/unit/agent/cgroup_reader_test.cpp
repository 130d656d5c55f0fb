#include "fleetscale/agent/cgroup_reader.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/cgroup_tree.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::agent {
namespace {

namespace fs = std::filesystem;

// Copies a fixture folder (one cgroup's files) to root + cgroupPath.
void copyFixture(const std::string& fixture, const std::string& destination) {
  fs::create_directories(destination);
  for (const auto& entry : fs::directory_iterator(testing::fixturePath(fixture))) {
    fs::copy_file(entry.path(), destination + "/" + entry.path().filename().string());
  }
}

TEST(CgroupReaderTest, ReadsV2FixtureFromARealHost) {
  testing::TempDir root;
  testing::writeFile(root.file("cgroup.controllers"), "cpu memory\n");
  copyFixture("cgroup-v2/datadog-agent", root.path() + "/pod");
  CgroupLayout layout{CgroupVersion::kV2, root.path(), "", "", ""};
  auto stats = makeCgroupReader(layout)->read("/pod");
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->cpuUsageNs, 5616647428000u);
  EXPECT_EQ(stats->cpuUserNs, 3569637760000u);
  EXPECT_EQ(stats->cpuSystemNs, 2047009667000u);
  EXPECT_EQ(stats->memoryUsageBytes, 6193152u);
  // memory.stat's inactive_file is 0 in this sample, so working set == usage.
  EXPECT_EQ(stats->memoryWorkingSetBytes, 6193152u);
  EXPECT_EQ(stats->memoryRssBytes, 3108864u);
  EXPECT_EQ(stats->oomKills, 0u) << "memory.events oom_kill (oom is 3, must not be confused)";
  EXPECT_TRUE(stats->cpuPressureSomeUs.has_value());
  EXPECT_TRUE(stats->memoryPressureSomeUs.has_value());
}

TEST(CgroupReaderTest, ReadsV1FixtureFromARealHost) {
  testing::TempDir root;
  copyFixture("cgroup-v1/datadog-agent", root.path() + "/cpu/c1");
  copyFixture("cgroup-v1/datadog-agent", root.path() + "/cpuacct/c1");
  copyFixture("cgroup-v1/datadog-agent", root.path() + "/memory/c1");
  CgroupLayout layout{CgroupVersion::kV1, "", root.path() + "/cpu", root.path() + "/cpuacct",
                      root.path() + "/memory"};
  auto stats = makeCgroupReader(layout)->read("/c1");
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  const auto usage =
      parseUint64(trim(*readFile(testing::fixturePath("cgroup-v1/datadog-agent/cpuacct.usage"))));
  ASSERT_TRUE(usage);
  EXPECT_EQ(stats->cpuUsageNs, *usage);
  EXPECT_EQ(stats->memoryUsageBytes, 354488320u);
  EXPECT_EQ(stats->memoryWorkingSetBytes, 354488320u - 4595712u) << "usage - total_inactive_file";
  EXPECT_EQ(stats->memoryRssBytes, 19058688u);
  EXPECT_EQ(stats->memoryLimitBytes, 67108864u);
  EXPECT_FALSE(stats->cpuLimitCores) << "cfs_quota_us -1 = unlimited";
  EXPECT_TRUE(stats->cpuUserNs.has_value());
}

TEST(CgroupReaderTest, WorkingSetFromWrittenTreesBothVersions) {
  testing::TempDir root;
  testing::ContainerCounters counters{2'000'000'000, 100 << 20, 30 << 20, 50 << 20};
  testing::writeV2Container(root.path() + "/v2", "/c", counters);
  testing::writeV1Container(root.path() + "/v1", "/c", counters);
  auto v2 = makeCgroupReader(CgroupLayout{CgroupVersion::kV2, root.path() + "/v2", "", "", ""})
                ->read("/c");
  auto v1 = makeCgroupReader(CgroupLayout{CgroupVersion::kV1, "", root.path() + "/v1/cpu",
                                          root.path() + "/v1/cpuacct", root.path() + "/v1/memory"})
                ->read("/c");
  ASSERT_TRUE(v2.ok() && v1.ok());
  for (const auto* stats : {&*v2, &*v1}) {
    EXPECT_EQ(stats->cpuUsageNs, 2'000'000'000u);
    EXPECT_EQ(stats->memoryWorkingSetBytes, 70u << 20);
    EXPECT_FALSE(stats->memoryLimitBytes);
  }
}

TEST(CgroupReaderTest, VanishedCgroupIsENOENT) {
  testing::TempDir root;
  testing::writeFile(root.file("cgroup.controllers"), "cpu memory\n");
  auto result =
      makeCgroupReader(CgroupLayout{CgroupVersion::kV2, root.path(), "", "", ""})->read("/gone");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ENOENT);
}

TEST(CgroupReaderTest, MissingOptionalFilesAreTolerated) {
  testing::TempDir root;
  testing::writeFile(root.file("c/cpu.stat"), "usage_usec 10\n");
  testing::writeFile(root.file("c/memory.current"), "100\n");
  testing::writeFile(root.file("c/memory.stat"), "inactive_file 40\n");
  auto stats =
      makeCgroupReader(CgroupLayout{CgroupVersion::kV2, root.path(), "", "", ""})->read("/c");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->memoryWorkingSetBytes, 60u);
  EXPECT_FALSE(stats->cpuLimitCores);
  EXPECT_FALSE(stats->oomKills);
  EXPECT_FALSE(stats->cpuPressureSomeUs);
}

TEST(CgroupReaderTest, MalformedMandatoryFilesAreErrorsNotCrashes) {
  testing::TempDir root;
  testing::writeFile(root.file("c/cpu.stat"), "usage_usec banana\n");
  testing::writeFile(root.file("c/memory.current"), "100\n");
  testing::writeFile(root.file("c/memory.stat"), "inactive_file 40\n");
  auto reader = makeCgroupReader(CgroupLayout{CgroupVersion::kV2, root.path(), "", "", ""});
  EXPECT_FALSE(reader->read("/c").ok());
  testing::writeFile(root.file("c/cpu.stat"), "usage_usec 10\n");
  testing::writeFile(root.file("c/memory.current"), "");
  EXPECT_FALSE(reader->read("/c").ok()) << "truncated memory.current";
  testing::writeFile(root.file("c/memory.current"), "100\n");
  testing::writeFile(root.file("c/memory.stat"), "anon 5\n");
  EXPECT_FALSE(reader->read("/c").ok()) << "memory.stat without inactive_file";
}

}  // namespace
}  // namespace fleetscale::agent
