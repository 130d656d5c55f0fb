#include "fleetscale/agent/mountinfo.h"

#include <gtest/gtest.h>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/process.h"

namespace fleetscale::agent {
namespace {

std::string fixture(const std::string& name) {
  return *readFile(testing::fixturePath("mountinfo/" + name));
}

TEST(MountInfoTest, ParsesOneLineWithOptionalFields) {
  auto entry = parseMountInfoLine(
      "35 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:15 master:3 - cgroup cgroup "
      "rw,cpu,cpuacct");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->root, "/");
  EXPECT_EQ(entry->mountPoint, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(entry->fsType, "cgroup");
  EXPECT_EQ(entry->source, "cgroup");
  EXPECT_EQ(entry->superOptions, (std::vector<std::string>{"rw", "cpu", "cpuacct"}));
}

TEST(MountInfoTest, UnescapesOctalSequences) {
  const auto entries = parseMountInfo(fixture("v2-unified.txt"));
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries[4].mountPoint, "/var/lib/kubelet/pods/with space");
  auto tab = parseMountInfoLine(R"(1 2 0:1 /a\011b /m\134n rw - tmpfs tmpfs rw)");
  ASSERT_TRUE(tab);
  EXPECT_EQ(tab->root, "/a\tb");
  EXPECT_EQ(tab->mountPoint, "/m\\n");
}

TEST(MountInfoTest, RealHostFileParsesCompletely) {
  int malformed = -1;
  const auto entries = parseMountInfo(fixture("v1-separate-controllers.txt"), &malformed);
  EXPECT_EQ(malformed, 0);
  EXPECT_GT(entries.size(), 10u);
}

TEST(MountInfoTest, SkipsAndCountsMalformedLines) {
  int malformed = 0;
  const auto entries = parseMountInfo(fixture("malformed.txt"), &malformed);
  EXPECT_EQ(malformed, 3);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].mountPoint, "/sys/fs/cgroup/memory");
}

TEST(MountInfoTest, RejectsTruncatedLines) {
  EXPECT_FALSE(parseMountInfoLine(""));
  EXPECT_FALSE(parseMountInfoLine("1 2 3 4 5 6 7 8 9"));
  EXPECT_FALSE(parseMountInfoLine("1 2 0:1 / /x rw shared:1 a b c -"));
}

}  // namespace
}  // namespace fleetscale::agent
