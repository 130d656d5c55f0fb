#include "fleetscale/shared/file_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "fleetscale/testing/temp_dir.h"

namespace fleetscale {
namespace {

TEST(FileChangeWatchTest, SeesReplacedRewrittenRemovedAndSwappedFiles) {
  testing::TempDir dir;
  testing::writeFile(dir.file("a"), "one\n");
  testing::writeFile(dir.file("b"), "two\n");
  FileChangeWatch watch({dir.file("a"), "", dir.file("b")});
  EXPECT_FALSE(watch.changed()) << "the state at construction is the baseline";

  testing::writeFile(dir.file("a"), "one\n");  // renamed into place: a new inode, same text
  EXPECT_TRUE(watch.changed());
  EXPECT_FALSE(watch.changed()) << "each change is reported once";

  std::FILE* file = std::fopen(dir.file("b").c_str(), "a");
  ASSERT_NE(file, nullptr);
  std::fputs("more\n", file);  // rewritten in place: another size
  std::fclose(file);
  EXPECT_TRUE(watch.changed());

  ASSERT_EQ(std::remove(dir.file("b").c_str()), 0);
  EXPECT_TRUE(watch.changed()) << "a file that went away";
  testing::writeFile(dir.file("b"), "back\n");
  EXPECT_TRUE(watch.changed()) << "and came back";

  // A Kubernetes Secret volume: the path is a symlink whose target is swapped.
  testing::writeFile(dir.file("v1/token"), "t1\n");
  testing::writeFile(dir.file("v2/token"), "t2\n");
  ASSERT_EQ(::symlink(dir.file("v1/token").c_str(), dir.file("token").c_str()), 0);
  FileChangeWatch secret({dir.file("token")});
  ASSERT_EQ(::symlink(dir.file("v2/token").c_str(), dir.file("token.new").c_str()), 0);
  ASSERT_EQ(std::rename(dir.file("token.new").c_str(), dir.file("token").c_str()), 0);
  EXPECT_TRUE(secret.changed());
}

TEST(FileChangeWatchTest, NoPathsNeverChange) {
  FileChangeWatch none({"", ""});
  EXPECT_FALSE(none.changed());
}

}  // namespace
}  // namespace fleetscale
