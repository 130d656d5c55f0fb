#include "fleetscale/shared/sqlite.h"

#include <gtest/gtest.h>

#include "fleetscale/testing/temp_dir.h"

namespace fleetscale {
namespace {

TEST(SqliteTest, WalModeRoundTripAndPersistence) {
  testing::TempDir dir;
  const std::string path = dir.file("db.sqlite");
  {
    auto db = SqliteDatabase::open(path);
    ASSERT_TRUE(db.ok()) << db.error().message;
    ASSERT_TRUE(
        (*db)
            ->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB)")
            .ok());
    ASSERT_TRUE((*db)->begin().ok());
    auto insert = (*db)->prepare("INSERT INTO t(name, score, data) VALUES(?, ?, ?)");
    ASSERT_TRUE(insert.ok());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(insert->bind(1, "row" + std::to_string(i))
                      .bind(2, i * 0.5)
                      .bindBlob(3, std::string("\0x", 2))
                      .run()
                      .ok());
    }
    ASSERT_TRUE((*db)->commit().ok());
    auto mode = (*db)->prepare("PRAGMA journal_mode");
    ASSERT_TRUE(mode->step().value());
    EXPECT_EQ(mode->columnText(0), "wal");
  }
  auto reopened = SqliteDatabase::open(path);
  ASSERT_TRUE(reopened.ok());
  auto select = (*reopened)->prepare("SELECT name, score, data FROM t ORDER BY id");
  std::vector<std::string> names;
  while (select->step().value()) {
    names.push_back(select->columnText(0));
    EXPECT_EQ(select->columnBlob(2), std::string("\0x", 2));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"row0", "row1", "row2"}));
}

TEST(SqliteTest, ErrorsAreValues) {
  testing::TempDir dir;
  auto db = SqliteDatabase::open(dir.file("db.sqlite"));
  ASSERT_TRUE(db.ok());
  EXPECT_FALSE((*db)->exec("NOT SQL").ok());
  EXPECT_FALSE((*db)->prepare("SELECT * FROM missing").ok());
  EXPECT_FALSE(SqliteDatabase::open(dir.file("no/such/dir/db.sqlite")).ok());
}

}  // namespace
}  // namespace fleetscale
