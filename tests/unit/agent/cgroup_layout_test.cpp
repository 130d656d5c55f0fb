#include "fleetscale/agent/cgroup_layout.h"

#include <gtest/gtest.h>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::agent {
namespace {

std::vector<MountInfoEntry> mounts(const std::string& name) {
  return parseMountInfo(*readFile(testing::fixturePath("mountinfo/" + name)));
}

TEST(CgroupLayoutTest, V1WithSeparateControllers) {
  auto layout = layoutFromMounts(mounts("v1-separate-controllers.txt"), "/sys/fs/cgroup", "/");
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->version, CgroupVersion::kV1);
  EXPECT_EQ(layout->cpu, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(layout->cpuacct, "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(layout->memory, "/sys/fs/cgroup/memory");
  EXPECT_EQ(layout->discoveryRoot(), "/sys/fs/cgroup/memory");
}

TEST(CgroupLayoutTest, V1ComountedCpuCpuacctIsHybrid) {
  auto layout = layoutFromMounts(mounts("v1-comounted.txt"), "/sys/fs/cgroup", "/");
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->version, CgroupVersion::kV1)
      << "v1 controllers win over an empty unified mount";
  EXPECT_EQ(layout->cpu, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(layout->cpuacct, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(layout->unified, "/sys/fs/cgroup/unified");
}

TEST(CgroupLayoutTest, V2Unified) {
  auto layout = layoutFromMounts(mounts("v2-unified.txt"), "/sys/fs/cgroup", "/");
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->version, CgroupVersion::kV2);
  EXPECT_EQ(layout->unified, "/sys/fs/cgroup");
}

TEST(CgroupLayoutTest, CgroupRootAndHostRootAreApplied) {
  auto rebased = layoutFromMounts(mounts("v1-comounted.txt"), "/tmp/tree", "/");
  ASSERT_TRUE(rebased.ok());
  EXPECT_EQ(rebased->memory, "/tmp/tree/memory");
  auto underHost = layoutFromMounts(mounts("v2-unified.txt"), "/host/sys/fs/cgroup", "/host");
  ASSERT_TRUE(underHost.ok());
  EXPECT_EQ(underHost->unified, "/host/sys/fs/cgroup");
  MountInfoEntry elsewhere{"/", "/cgroup/memory", "cgroup", "cgroup", {"rw", "memory"}};
  auto odd = layoutFromMounts({elsewhere}, "/host/sys/fs/cgroup", "/host");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->memory, "/host/cgroup/memory");
}

TEST(CgroupLayoutTest, NoCgroupMountsIsAnError) {
  EXPECT_FALSE(layoutFromMounts({}, "/sys/fs/cgroup", "/").ok());
}

TEST(CgroupLayoutTest, ProbesV2AndV1Trees) {
  testing::TempDir v2;
  testing::writeFile(v2.file("cgroup.controllers"), "cpu memory\n");
  auto layout2 = probeLayout(v2.path());
  ASSERT_TRUE(layout2.ok());
  EXPECT_EQ(layout2->version, CgroupVersion::kV2);

  testing::TempDir v1;
  testing::writeFile(v1.file("cpu,cpuacct/tasks"), "");
  testing::writeFile(v1.file("memory/tasks"), "");
  auto layout1 = probeLayout(v1.path());
  ASSERT_TRUE(layout1.ok());
  EXPECT_EQ(layout1->version, CgroupVersion::kV1);
  EXPECT_EQ(layout1->cpuacct, v1.path() + "/cpu,cpuacct");
  EXPECT_EQ(layout1->memory, v1.path() + "/memory");

  testing::TempDir empty;
  EXPECT_FALSE(probeLayout(empty.path()).ok());
}

TEST(CgroupLayoutTest, DetectFallsBackToProbingWhenMountinfoPointsNowhere) {
  testing::TempDir tree;
  testing::writeFile(tree.file("cgroup.controllers"), "cpu memory\n");
  // This host's mountinfo names v1 hierarchies that do not exist under the fixture tree.
  auto layout = detectLayout(testing::fixturePath("mountinfo/v1-comounted.txt"), tree.path(), "/");
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->version, CgroupVersion::kV2);
  EXPECT_EQ(layout->unified, tree.path());
}

TEST(CgroupLayoutTest, UnderRootJoinsPaths) {
  EXPECT_EQ(underRoot("/", "/proc/stat"), "/proc/stat");
  EXPECT_EQ(underRoot("/host", "/proc/stat"), "/host/proc/stat");
  EXPECT_EQ(underRoot("/host/", "/proc/stat"), "/host/proc/stat");
}

}  // namespace
}  // namespace fleetscale::agent
