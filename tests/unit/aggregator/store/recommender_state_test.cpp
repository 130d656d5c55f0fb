// The right-sizing recommender's state in the SQLite store, on a real file: written, the store
// reopened, the same recommendation; coalescing, retention and the schema 3 -> 4 migration.
#include <gtest/gtest.h>

#include "fleetscale/aggregator/rightsizing/recommender.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

using rightsizing::ContainerUsage;
using rightsizing::Recommender;
using rightsizing::RightsizingPolicy;

const WorkloadKey kWeb{"shop", "Deployment", "web"};

std::unique_ptr<SqliteStore> openStore(const std::string& dir, const Clock& clock) {
  SqliteStoreOptions options;
  options.stateDir = dir;
  options.commitInterval = std::chrono::milliseconds(5);
  options.recommenderRetention = std::chrono::hours(3);
  auto store = SqliteStore::open(options, nullptr, clock);
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
  return store.ok() ? std::move(*store) : nullptr;
}

std::vector<RecommenderStateRow> rowsOf(const Recommender& recommender, std::int64_t at) {
  std::vector<RecommenderStateRow> rows;
  for (auto& stored : recommender.save()) {
    rows.push_back({stored.workload, stored.container, at, stored.state});
  }
  return rows;
}

TEST(RecommenderStateTest, TheSameRecommendationAfterTheStoreIsReopened) {
  testing::TempDir dir;
  ManualClock clock;
  Recommender recommender;
  const WallTime start = clock.wallNow();
  for (int s = 0; s < 3600; ++s) {
    ContainerUsage app;
    app.cluster = "aws";
    app.pod = s % 2 == 0 ? "web-1" : "web-2";
    app.container = "app";
    app.cpuUsageCores = 0.2 + (s % 17) / 100.0;
    app.cpuRequestCores = 0.5;
    app.memoryWorkingSetBytes = 200e6 + s * 1000.0;
    app.memoryLimitBytes = 512e6;
    app.oomKillsTotal = s < 3000 ? 0 : 1;
    ContainerUsage proxy = app;
    proxy.container = "proxy";
    proxy.cpuUsageCores = 0.01;
    proxy.memoryWorkingSetBytes = 20e6;
    proxy.oomKillsTotal = 0;
    const ContainerUsage both[] = {app, proxy};
    recommender.observeWorkload(kWeb, both, start + std::chrono::seconds(s));
  }
  const WallTime now = start + std::chrono::hours(1);
  const auto policy = [](const WorkloadKey&) { return RightsizingPolicy{}; };
  const auto before = recommender.recommendations(policy, now);
  ASSERT_EQ(before.size(), 2U);
  {
    auto store = openStore(dir.path(), clock);
    ASSERT_NE(store, nullptr);
    store->recordRecommenderState(rowsOf(recommender, toUnixMillis(now)));
    store->flush();
  }
  auto store = openStore(dir.path(), clock);
  ASSERT_NE(store, nullptr);
  const auto rows = store->loadRecommenderState();
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2U);
  EXPECT_EQ((*rows)[0].container, "app");
  EXPECT_EQ((*rows)[0].workload, kWeb);
  EXPECT_EQ((*rows)[0].updatedUnixMs, toUnixMillis(now));
  std::vector<Recommender::Stored> stored;
  for (const auto& row : *rows) stored.push_back({row.workload, row.container, row.state});
  Recommender restored;
  ASSERT_EQ(restored.restore(stored), 2U);
  const auto after = restored.recommendations(policy, now);
  ASSERT_EQ(after.size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after[i].container, before[i].container);
    EXPECT_DOUBLE_EQ(after[i].cpu.target, before[i].cpu.target);
    EXPECT_DOUBLE_EQ(after[i].cpu.lowerBound, before[i].cpu.lowerBound);
    EXPECT_DOUBLE_EQ(after[i].memory.target, before[i].memory.target);
    EXPECT_EQ(after[i].oomKills, before[i].oomKills);
    EXPECT_DOUBLE_EQ(after[i].confidence, before[i].confidence);
  }
  EXPECT_EQ(after[0].oomKills, 2U) << "each replica's kill is remembered across the restart";
}

TEST(RecommenderStateTest, RowsAreCoalescedReplacedAndPrunedWhenLongUnchanged) {
  testing::TempDir dir;
  ManualClock clock;
  auto store = openStore(dir.path(), clock);
  const std::int64_t now = toUnixMillis(clock.wallNow());
  const std::string bytes("\x01\x00\xff state", 9);  // a blob: any bytes, NUL included
  store->recordRecommenderState({{kWeb, "app", now - 1000, "old"}, {kWeb, "app", now, bytes}});
  store->recordRecommenderState({{{"shop", "Deployment", "gone"}, "app", now - 4 * 3600'000, "x"}});
  store->flush();
  auto rows = store->loadRecommenderState();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2U);
  EXPECT_EQ((*rows)[1].state, bytes);
  store->recordRecommenderState({{kWeb, "app", now, "newer"}});
  store->flush();
  ASSERT_TRUE(store->prune().ok());  // "gone" is older than the 3 h retention
  rows = store->loadRecommenderState();
  ASSERT_EQ(rows->size(), 1U);
  EXPECT_EQ((*rows)[0].state, "newer");
}

TEST(RecommenderStateTest, AVersion3DatabaseGainsTheTable) {
  testing::TempDir dir;
  ManualClock clock;
  {
    auto db = SqliteDatabase::open(dir.path() + "/aggregator.db");
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->exec("CREATE TABLE kept(x); PRAGMA user_version=3;"));
  }
  auto store = openStore(dir.path(), clock);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->loadRecommenderState()->empty());
  store->recordRecommenderState({{kWeb, "app", 1, "s"}});
  store->flush();
  EXPECT_EQ(store->loadRecommenderState()->size(), 1U);
  auto db = SqliteDatabase::open(dir.path() + "/aggregator.db");
  auto version = (*db)->prepare("PRAGMA user_version");
  ASSERT_TRUE(version.ok());
  ASSERT_TRUE(version->step().ok());
  EXPECT_EQ(version->columnInt(0), 4);
}

}  // namespace
}  // namespace fleetscale::aggregator
