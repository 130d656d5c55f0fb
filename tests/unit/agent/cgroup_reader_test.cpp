#include "fleetscale/agent/cgroup_reader.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "fleetscale/agent/cgroup_parsers.h"
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

CgroupLayout v2Layout(const std::string& root) {
  return CgroupLayout{CgroupVersion::kV2, root, "", "", ""};
}

// Rewrites a file in place (same inode), as the kernel's files behave for a kept descriptor.
void overwriteInPlace(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

TEST(CgroupReaderTest, ReadsV2FixtureFromARealHost) {
  testing::TempDir root;
  testing::writeFile(root.file("cgroup.controllers"), "cpu memory\n");
  copyFixture("cgroup-v2/datadog-agent", root.path() + "/pod");
  auto reader = makeCgroupReader(v2Layout(root.path()));
  auto stats = readCgroupOnce(*reader, "/pod");
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->counters.cpuUsageNs, 5616647428000u);
  EXPECT_EQ(stats->counters.cpuUserNs, 3569637760000u);
  EXPECT_EQ(stats->counters.cpuSystemNs, 2047009667000u);
  EXPECT_EQ(stats->counters.memoryUsageBytes, 6193152u);
  // memory.stat's inactive_file is 0 in this sample, so working set == usage.
  EXPECT_EQ(stats->workingSetBytes(), 6193152u);
  EXPECT_EQ(stats->memory.rssBytes, 3108864u);
  EXPECT_EQ(stats->counters.oomKills, 0u)
      << "memory.events oom_kill (oom is 3, must not be confused)";
  EXPECT_TRUE(stats->counters.cpuPressureSomeUs.has_value());
  EXPECT_TRUE(stats->counters.memoryPressureSomeUs.has_value());
  EXPECT_TRUE(stats->limits.cpuWeight.has_value());
}

TEST(CgroupReaderTest, ReadsV1FixtureFromARealHost) {
  testing::TempDir root;
  copyFixture("cgroup-v1/datadog-agent", root.path() + "/cpu/c1");
  copyFixture("cgroup-v1/datadog-agent", root.path() + "/cpuacct/c1");
  copyFixture("cgroup-v1/datadog-agent", root.path() + "/memory/c1");
  CgroupLayout layout{CgroupVersion::kV1, "", root.path() + "/cpu", root.path() + "/cpuacct",
                      root.path() + "/memory"};
  auto reader = makeCgroupReader(layout);
  auto stats = readCgroupOnce(*reader, "/c1");
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  const auto usage =
      parseUint64(trim(*readFile(testing::fixturePath("cgroup-v1/datadog-agent/cpuacct.usage"))));
  ASSERT_TRUE(usage);
  EXPECT_EQ(stats->counters.cpuUsageNs, *usage);
  EXPECT_EQ(stats->counters.memoryUsageBytes, 354488320u);
  EXPECT_EQ(stats->workingSetBytes(), 354488320u - 4595712u) << "usage - total_inactive_file";
  EXPECT_EQ(stats->memory.rssBytes, 19058688u);
  EXPECT_EQ(stats->limits.memoryLimitBytes, 67108864u);
  EXPECT_FALSE(stats->limits.cpuLimitCores) << "cfs_quota_us -1 = unlimited";
  EXPECT_EQ(stats->limits.cpuWeight, sharesToWeight(200)) << "cpu.shares 200 as a weight";
  EXPECT_TRUE(stats->counters.cpuUserNs.has_value());
  EXPECT_TRUE(stats->counters.cpuThrottledNs.has_value());
}

TEST(CgroupReaderTest, WorkingSetFromWrittenTreesBothVersions) {
  testing::TempDir root;
  testing::ContainerCounters counters{2'000'000'000, 100 << 20, 30 << 20, 50 << 20};
  testing::writeV2Container(root.path() + "/v2", "/c", counters);
  testing::writeV1Container(root.path() + "/v1", "/c", counters);
  auto v2Reader = makeCgroupReader(v2Layout(root.path() + "/v2"));
  auto v1Reader =
      makeCgroupReader(CgroupLayout{CgroupVersion::kV1, "", root.path() + "/v1/cpu",
                                    root.path() + "/v1/cpuacct", root.path() + "/v1/memory"});
  auto v2 = readCgroupOnce(*v2Reader, "/c");
  auto v1 = readCgroupOnce(*v1Reader, "/c");
  ASSERT_TRUE(v2.ok() && v1.ok());
  for (const auto* stats : {&*v2, &*v1}) {
    EXPECT_EQ(stats->counters.cpuUsageNs, 2'000'000'000u);
    EXPECT_EQ(stats->workingSetBytes(), 70u << 20);
    EXPECT_FALSE(stats->limits.memoryLimitBytes) << "max / the v1 unlimited value: no limit";
  }
}

TEST(CgroupReaderTest, VanishedCgroupIsENOENT) {
  testing::TempDir root;
  testing::writeV2Container(root.path(), "/c", {1, 2, 0, 0});
  auto reader = makeCgroupReader(v2Layout(root.path()));
  auto gone = reader->open("/gone");
  auto result = gone->readCounters();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ENOENT);

  auto handle = reader->open("/c");
  ASSERT_TRUE(handle->readCounters().ok());
  fs::remove_all(root.path() + "/c");
  auto vanished = handle->readCounters();
  ASSERT_FALSE(vanished.ok());
  EXPECT_EQ(vanished.error().code, ENOENT) << vanished.error().message;
}

TEST(CgroupReaderTest, FixtureTreesAreReopenedSoReplacedFilesAreSeen) {
  testing::TempDir root;
  EXPECT_EQ(fileAccessFor(root.path()), FileAccess::kReopen) << "a tmp dir is not cgroupfs";
  EXPECT_EQ(fileAccessFor("/proc"), FileAccess::kKeepOpen);
  testing::writeV2Container(root.path(), "/c", {1'000'000'000, 100, 0, 0});
  auto reader = makeCgroupReader(v2Layout(root.path()));
  ASSERT_EQ(reader->access(), FileAccess::kReopen);
  auto handle = reader->open("/c");
  ASSERT_EQ(handle->readCounters()->cpuUsageNs, 1'000'000'000u);
  testing::writeV2Container(root.path(), "/c", {3'000'000'000, 100, 0, 0});  // rename-replaced
  EXPECT_EQ(handle->readCounters()->cpuUsageNs, 3'000'000'000u);
  EXPECT_EQ(reader->keptDescriptors(), 0u);
}

TEST(CgroupReaderTest, KeptDescriptorsAreReReadWithPreadAndReleasedWithTheHandle) {
  testing::TempDir root;
  testing::writeV2Container(root.path(), "/c", {1'000'000'000, 100, 0, 0});
  ReaderOptions options;
  options.access = FileAccess::kKeepOpen;
  auto reader = makeCgroupReader(v2Layout(root.path()), options);
  {
    auto handle = reader->open("/c");
    EXPECT_EQ(reader->keptDescriptors(), 0u) << "files are opened on first read";
    ASSERT_EQ(handle->readCounters()->cpuUsageNs, 1'000'000'000u);
    // cpu.stat, memory.current, memory.events; the fixture has no PSI files.
    EXPECT_EQ(reader->keptDescriptors(), 3u);
    ASSERT_TRUE(handle->readMemoryStat().ok());
    (void)handle->readLimits();
    EXPECT_EQ(reader->keptDescriptors(), 7u) << "+ memory.stat, cpu.max, cpu.weight, memory.max";
    // Same inode, new content, as the kernel regenerates a control file on every read.
    overwriteInPlace(root.path() + "/c/cpu.stat", "usage_usec 2500000\n");
    EXPECT_EQ(handle->readCounters()->cpuUsageNs, 2'500'000'000u);
    EXPECT_EQ(reader->keptDescriptors(), 7u) << "absent PSI files are not retried";
  }
  EXPECT_EQ(reader->keptDescriptors(), 0u);
}

TEST(CgroupReaderTest, DescriptorBudgetFallsBackToReopening) {
  testing::TempDir root;
  testing::writeV2Container(root.path(), "/a", {1'000, 100, 0, 0});
  testing::writeV2Container(root.path(), "/b", {2'000, 100, 0, 0});
  ReaderOptions options;
  options.access = FileAccess::kKeepOpen;
  options.maxKeptDescriptors = 4;
  auto reader = makeCgroupReader(v2Layout(root.path()), options);
  auto a = reader->open("/a");
  auto b = reader->open("/b");
  for (int tick = 0; tick < 3; ++tick) {
    ASSERT_TRUE(a->readCounters().ok());
    ASSERT_EQ(b->readCounters()->cpuUsageNs, 2'000u);
  }
  EXPECT_EQ(reader->keptDescriptors(), 4u);
}

TEST(CgroupReaderTest, MissingOptionalFilesAreTolerated) {
  testing::TempDir root;
  testing::writeFile(root.file("c/cpu.stat"), "usage_usec 10\n");
  testing::writeFile(root.file("c/memory.current"), "100\n");
  testing::writeFile(root.file("c/memory.stat"), "inactive_file 40\n");
  auto reader = makeCgroupReader(v2Layout(root.path()));
  auto stats = readCgroupOnce(*reader, "/c");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->workingSetBytes(), 60u);
  EXPECT_FALSE(stats->limits.cpuLimitCores);
  EXPECT_FALSE(stats->counters.oomKills);
  EXPECT_FALSE(stats->counters.cpuPressureSomeUs);
  EXPECT_FALSE(stats->counters.cpuThrottledPeriods);
}

TEST(CgroupReaderTest, MalformedAndTruncatedFilesAreErrorsNotCrashes) {
  testing::TempDir root;
  testing::writeFile(root.file("c/cpu.stat"), "usage_usec banana\n");
  testing::writeFile(root.file("c/memory.current"), "100\n");
  testing::writeFile(root.file("c/memory.stat"), "inactive_file 40\n");
  auto reader = makeCgroupReader(v2Layout(root.path()));
  auto handle = reader->open("/c");
  EXPECT_FALSE(handle->readCounters().ok());
  testing::writeFile(root.file("c/cpu.stat"), "usage_u");
  EXPECT_FALSE(handle->readCounters().ok()) << "cpu.stat cut off inside the first key";
  testing::writeFile(root.file("c/cpu.stat"), "usage_usec 10\n");
  testing::writeFile(root.file("c/memory.current"), "");
  EXPECT_FALSE(handle->readCounters().ok()) << "empty memory.current";
  testing::writeFile(root.file("c/memory.current"), "100\n");
  ASSERT_TRUE(handle->readCounters().ok());
  testing::writeFile(root.file("c/memory.stat"), "anon 5\n");
  EXPECT_FALSE(handle->readMemoryStat().ok()) << "memory.stat without inactive_file";
  testing::writeFile(root.file("c/memory.stat"), "anon 5\ninactive_fi");
  EXPECT_FALSE(handle->readMemoryStat().ok()) << "memory.stat cut off";
  // Bad limits are absent, not errors.
  testing::writeFile(root.file("c/cpu.max"), "lots 100000\n");
  testing::writeFile(root.file("c/memory.max"), "-1\n");
  const CgroupLimits limits = handle->readLimits();
  EXPECT_FALSE(limits.cpuLimitCores);
  EXPECT_FALSE(limits.memoryLimitBytes);
}

TEST(CgroupReaderTest, LargeFilesAreReadWhole) {
  testing::TempDir root;
  std::string stat = "usage_usec 7\n";
  for (int i = 0; i < 3000; ++i) stat += "padding_key_" + std::to_string(i) + " 1\n";
  stat += "throttled_usec 9\n";  // beyond the first 16 KiB
  testing::writeFile(root.file("c/cpu.stat"), stat);
  testing::writeFile(root.file("c/memory.current"), "1\n");
  auto reader = makeCgroupReader(v2Layout(root.path()));
  auto counters = reader->open("/c")->readCounters();
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ(counters->cpuThrottledNs, 9000u);
}

}  // namespace
}  // namespace fleetscale::agent
