// The SQLite store on real files: writes, queries, restarts, retention.
#include "fleetscale/aggregator/store/store.h"

#include <gtest/gtest.h>

#include "fleetscale/aggregator/store/store_metrics.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

std::unique_ptr<SqliteStore> openStore(const std::string& dir, const Clock& clock,
                                       StoreMetrics* metrics = nullptr) {
  SqliteStoreOptions options;
  options.stateDir = dir;
  options.commitInterval = std::chrono::milliseconds(5);
  options.rollupRetention = std::chrono::hours(1);
  options.eventRetention = std::chrono::hours(2);
  auto store = SqliteStore::open(options, metrics, clock);
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
  return store.ok() ? std::move(*store) : nullptr;
}

EventRecord event(std::int64_t at, std::string kind, std::string cluster) {
  EventRecord e;
  e.timeUnixMs = at;
  e.kind = std::move(kind);
  e.cluster = std::move(cluster);
  e.message = "m" + std::to_string(at);
  e.details = R"({"n":1})";
  return e;
}

TEST(SqliteStoreTest, ProgressSurvivesARestartAndNeverGoesBackwards) {
  testing::TempDir dir;
  ManualClock clock;
  prometheus::Registry registry;
  StoreMetrics metrics(registry);
  {
    auto store = openStore(dir.path(), clock, &metrics);
    std::vector<AgentProgress> committed;
    std::mutex mutex;
    store->setCommitListener([&](const std::vector<AgentProgress>& progress) {
      std::lock_guard lock(mutex);
      committed.insert(committed.end(), progress.begin(), progress.end());
    });
    store->recordProgress(AgentProgress{"a1", "n1", "c1", 5, 5, 500, 1});
    store->recordProgress(AgentProgress{"a1", "n1", "c1", 6, 6, 600, 2});  // coalesced
    store->recordProgress(AgentProgress{"a2", "n2", "c1", 9, 3, 30, 3});
    store->flush();
    {
      std::lock_guard lock(mutex);
      ASSERT_FALSE(committed.empty());
      std::uint64_t a1 = 0;
      for (const auto& p : committed) {
        if (p.agentId == "a1") a1 = std::max(a1, p.lastSequence);
      }
      EXPECT_EQ(a1, 6u) << "the listener learns what is durable";
    }
    store->recordProgress(AgentProgress{"a1", "n1", "c1", 4, 4, 400, 4});  // late, older
    store->flush();
  }
  EXPECT_GE(metrics.rowsWritten("agents").Value(), 2);
  EXPECT_GT(metrics.writeSeconds().Collect().histogram.sample_count, 0u);
  auto reopened = openStore(dir.path(), clock);
  auto progress = reopened->loadProgress();
  ASSERT_TRUE(progress.ok());
  ASSERT_EQ(progress->size(), 2u);
  std::map<std::string, AgentProgress> byId;
  for (const auto& p : *progress) byId[p.agentId] = p;
  EXPECT_EQ(byId["a1"].lastSequence, 6u);
  EXPECT_EQ(byId["a1"].batchesAccepted, 6u);
  EXPECT_EQ(byId["a1"].samplesAccepted, 600u);
  EXPECT_EQ(byId["a2"].lastSequence, 9u);
}

// Issue 19: the sequence went to SQLite as a signed number and was compared there, so 2^64-1
// became -1, lost to the row's 6, while the commit listener reported it durable and the agent
// was acked for it.
TEST(SqliteStoreTest, UnsignedSequencesAndEpochsRoundTripAndOnlyStoredProgressIsDurable) {
  testing::TempDir dir;
  ManualClock clock;
  auto store = openStore(dir.path(), clock);
  std::vector<AgentProgress> committed;
  std::mutex mutex;
  store->setCommitListener([&](const std::vector<AgentProgress>& progress) {
    std::lock_guard lock(mutex);
    committed.insert(committed.end(), progress.begin(), progress.end());
  });
  store->recordProgress(AgentProgress{"big", "n1", "c1", UINT64_MAX, 7, 70, 1, UINT64_MAX - 1});
  store->recordProgress(AgentProgress{"a1", "n2", "c1", 6, 6, 60, 1, 5});
  store->flush();
  // A record older than the row (fewer batches accepted): kept out, and not reported durable.
  store->recordProgress(AgentProgress{"a1", "n2", "c1", 9, 5, 50, 2, 5});
  // A new epoch restarts the sequence, never the count: it moves the row on.
  store->recordProgress(AgentProgress{"big", "n1", "c1", 2, 9, 90, 3, 42});
  store->flush();
  {
    std::lock_guard lock(mutex);
    for (const auto& p : committed) {
      EXPECT_FALSE(p.agentId == "a1" && p.lastSequence == 9) << "never stored, never durable";
    }
  }
  auto progress = store->loadProgress();
  ASSERT_TRUE(progress.ok());
  std::map<std::string, AgentProgress> byId;
  for (const auto& p : *progress) byId[p.agentId] = p;
  EXPECT_EQ(byId["a1"].lastSequence, 6u);
  EXPECT_EQ(byId["big"].lastSequence, 2u);
  EXPECT_EQ(byId["big"].sequenceEpoch, 42u);
  store->recordProgress(AgentProgress{"huge", "n3", "c1", UINT64_MAX, 1, 1, 1, UINT64_MAX});
  store->flush();
  progress = store->loadProgress();
  ASSERT_TRUE(progress.ok());
  for (const auto& p : *progress) byId[p.agentId] = p;
  EXPECT_EQ(byId["huge"].lastSequence, UINT64_MAX) << "no truncation";
  EXPECT_EQ(byId["huge"].sequenceEpoch, UINT64_MAX);
}

TEST(SqliteStoreTest, NodesKeepTheirAgentAndRestartsAcrossARestart) {
  testing::TempDir dir;
  ManualClock clock;
  {
    auto store = openStore(dir.path(), clock);
    store->recordNode(NodeRecord{"c1", "n1", "c1/n1", 11, 1000, 1});
    store->recordNode(NodeRecord{"c1", "n1", "c1/n1", 12, 2000, 2});  // coalesced: the latest
    store->recordNode(NodeRecord{"c2", "n1", "c2/n1", UINT64_MAX, 3000, 0});
    store->flush();
  }
  auto reopened = openStore(dir.path(), clock);
  auto nodes = reopened->loadNodes();
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->size(), 2u);
  std::map<std::string, NodeRecord> byCluster;
  for (const auto& n : *nodes) byCluster[n.cluster] = n;
  EXPECT_EQ(byCluster["c1"].agentId, "c1/n1");
  EXPECT_EQ(byCluster["c1"].sequenceEpoch, 12u);
  EXPECT_EQ(byCluster["c1"].agentStartedUnixMs, 2000);
  EXPECT_EQ(byCluster["c1"].agentRestarts, 2u);
  EXPECT_EQ(byCluster["c2"].sequenceEpoch, UINT64_MAX);
}

TEST(SqliteStoreTest, ADatabaseOfSchemaVersion1IsMigratedWithItsProgress) {
  testing::TempDir dir;
  ManualClock clock;
  {
    auto db = SqliteDatabase::open(dir.path() + "/aggregator.db");
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->exec(R"sql(
      CREATE TABLE agents(agent_id TEXT PRIMARY KEY, node TEXT NOT NULL, cluster TEXT NOT NULL,
        last_sequence INTEGER NOT NULL, batches_accepted INTEGER NOT NULL,
        samples_accepted INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL);
      INSERT INTO agents VALUES('old', 'n1', 'c1', 41, 41, 410, 1234);
      PRAGMA user_version=1;)sql"));
  }
  auto store = openStore(dir.path(), clock);
  ASSERT_NE(store, nullptr);
  auto progress = store->loadProgress();
  ASSERT_TRUE(progress.ok());
  ASSERT_EQ(progress->size(), 1u);
  EXPECT_EQ((*progress)[0].lastSequence, 41u);
  EXPECT_EQ((*progress)[0].sequenceEpoch, 0u) << "before epochs: epoch 0";
  EXPECT_EQ((*progress)[0].lastSeenUnixMs, 1234);
  store->recordProgress(AgentProgress{"old", "n1", "c1", 42, 42, 420, 1300, 9});
  store->recordNode(NodeRecord{"c1", "n1", "old", 9, 1000, 0});
  store->flush();
  EXPECT_EQ(store->loadProgress()->front().sequenceEpoch, 9u);
  EXPECT_EQ(store->loadNodes()->size(), 1u);
}

// Schema 3 keeps each rollup's unmet CPU demand; rollups of a version 2 store read 0.
TEST(SqliteStoreTest, RollupsOfSchemaVersion2AreMigratedAndNewOnesKeepTheirUnmetDemand) {
  testing::TempDir dir;
  ManualClock clock;
  {
    auto db = SqliteDatabase::open(dir.path() + "/aggregator.db");
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->exec(R"sql(
      CREATE TABLE rollups(namespace TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
        cluster TEXT NOT NULL, bucket_ms INTEGER NOT NULL, replicas_seen REAL NOT NULL,
        replicas_ready REAL NOT NULL, cpu_usage_cores REAL NOT NULL,
        cpu_request_cores REAL NOT NULL, memory_usage_bytes REAL NOT NULL,
        memory_request_bytes REAL NOT NULL, cpu_utilization REAL, memory_utilization REAL,
        load_share REAL, ticks INTEGER NOT NULL,
        PRIMARY KEY(namespace, kind, name, cluster, bucket_ms)) WITHOUT ROWID;
      INSERT INTO rollups VALUES('shop', 'Deployment', 'web', 'aws', 10000, 2, 2, 1.0, 1.0,
        1e8, 2e8, 1.0, 0.5, 1.0, 10);
      PRAGMA user_version=2;)sql"));
  }
  auto store = openStore(dir.path(), clock);
  ASSERT_NE(store, nullptr);
  RollupRow newer;
  newer.bucketStartUnixMs = 20'000;
  newer.workload = WorkloadKey{"shop", "Deployment", "web"};
  newer.cluster = "aws";
  newer.cpuUsageCores = 1.0;
  newer.cpuUnmetDemandCores = 1.5;
  newer.ticks = 10;
  store->recordRollups({newer});
  store->flush();
  const auto rows = store->rollups(RollupQuery{});
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_DOUBLE_EQ((*rows)[0].cpuUsageCores, 1.0);
  EXPECT_DOUBLE_EQ((*rows)[0].cpuUnmetDemandCores, 0) << "stored before: none recorded";
  EXPECT_DOUBLE_EQ((*rows)[1].cpuUnmetDemandCores, 1.5);
}

TEST(SqliteStoreTest, EventsFilterLimitAndSince) {
  testing::TempDir dir;
  ManualClock clock;
  auto store = openStore(dir.path(), clock);
  store->recordEvent(event(1000, "agent_connected", "aws"));
  store->recordEvent(event(2000, "cluster_health", "aws"));
  store->recordEvent(event(3000, "agent_connected", "gcp"));
  store->recordEvent(event(4000, "agent_disconnected", "aws"));
  store->flush();
  auto all = store->events(EventQuery{});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].timeUnixMs, 4000) << "newest first";
  EXPECT_EQ((*all)[0].details, R"({"n":1})");
  EXPECT_EQ(store->events(EventQuery{"agent_connected", "", "", 0, 100})->size(), 2u);
  EXPECT_EQ(store->events(EventQuery{"", "aws", "", 0, 100})->size(), 3u);
  EXPECT_EQ(store->events(EventQuery{"", "", "", 2500, 100})->size(), 2u);
  EXPECT_EQ(store->events(EventQuery{"", "", "", 0, 1})->size(), 1u);
}

// Issue 19: an event that held bytes that are not UTF-8 made /api/v1/events answer 500 for the
// whole retention (720 h). Rows an older version stored are repaired when read, new ones when
// recorded, and each repair is counted.
TEST(SqliteStoreTest, TextThatIsNotUtf8IsRepairedWhenReadAndWhenWritten) {
  testing::TempDir dir;
  ManualClock clock;
  prometheus::Registry registry;
  StoreMetrics metrics(registry);
  auto store = openStore(dir.path(), clock, &metrics);
  {
    // As an older aggregator wrote them: raw bytes straight into the table.
    auto old = SqliteDatabase::open(store->path());
    ASSERT_TRUE(old.ok());
    auto insert = (*old)->prepare(
        "INSERT INTO events(ts_ms, kind, cluster, agent_id, workload, message, details) "
        "VALUES(1000, 'config_reload', ?, '', '', ?, '{}')");
    ASSERT_TRUE(insert.ok());
    ASSERT_TRUE(insert->bind(1, std::string("bad\xff")).bind(2, std::string("policy \xfe")).run());
    auto decision = (*old)->prepare(
        "INSERT INTO decisions(ts_ms, namespace, kind, name, current_replicas, desired_replicas, "
        "reason, details) VALUES(1000, ?, 'Deployment', 'web', 1, 2, 'up', '{}')");
    ASSERT_TRUE(decision.ok());
    ASSERT_TRUE(decision->bind(1, std::string("sh\xc3")).run());
  }
  auto events = store->events(EventQuery{});
  ASSERT_TRUE(events.ok()) << events.error().message;
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].cluster, "bad\xef\xbf\xbd");
  EXPECT_EQ((*events)[0].message, "policy \xef\xbf\xbd");
  EXPECT_EQ(metrics.repaired("events").Value(), 1);
  auto decisions = store->decisions(DecisionQuery{});
  ASSERT_TRUE(decisions.ok());
  ASSERT_EQ(decisions->size(), 1u);
  EXPECT_EQ((*decisions)[0].workload.namespaceName, "sh\xef\xbf\xbd");
  EXPECT_EQ(metrics.repaired("decisions").Value(), 1);

  EventRecord fresh = event(2000, "action", "c\x80");
  store->recordEvent(fresh);
  store->flush();
  EXPECT_EQ(metrics.repaired("events").Value(), 2) << "repaired when recorded";
  auto both = store->events(EventQuery{});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ((*both)[0].cluster, "c\xef\xbf\xbd");
  EXPECT_EQ(metrics.repaired("events").Value(), 3)
      << "the old row, once more; the new one is clean";
}

// Issue 19: on a full disk /readyz stayed 200 while an error was logged every 100 ms. The store
// says why its commits fail until one succeeds.
TEST(SqliteStoreTest, AStoreThatCannotCommitSaysWhyUntilItCanAgain) {
  testing::TempDir dir;
  ManualClock clock;
  prometheus::Registry registry;
  StoreMetrics metrics(registry);
  auto store = openStore(dir.path(), clock, &metrics);
  EXPECT_FALSE(store->writeError().has_value());
  auto other = SqliteDatabase::open(store->path());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(
      (*other)->exec("CREATE TRIGGER full BEFORE INSERT ON events BEGIN "
                     "SELECT RAISE(ABORT, 'database or disk is full (simulated)'); END;"));
  store->recordEvent(event(1000, "action", "aws"));
  store->flush();
  ASSERT_TRUE(store->writeError().has_value());
  EXPECT_NE(store->writeError()->find("disk is full (simulated)"), std::string::npos)
      << *store->writeError();
  EXPECT_GE(metrics.errors().Value(), 1);
  ASSERT_TRUE((*other)->exec("DROP TRIGGER full;"));
  store->recordEvent(event(2000, "action", "aws"));
  store->flush();
  EXPECT_FALSE(store->writeError().has_value()) << "a successful commit clears it";
}

TEST(SqliteStoreTest, DecisionsAndRollupsRoundTrip) {
  testing::TempDir dir;
  ManualClock clock;
  auto store = openStore(dir.path(), clock);
  DecisionRecord d;
  d.timeUnixMs = 5000;
  d.workload = WorkloadKey{"shop", "Deployment", "web"};
  d.currentReplicas = 3;
  d.desiredReplicas = 5;
  d.reason = "cpu utilization 0.9 > target 0.6";
  d.details = R"({"ratio":1.5})";
  store->recordDecision(d);
  RollupRow r;
  r.bucketStartUnixMs = 10'000;
  r.workload = d.workload;
  r.cluster = "aws";
  r.replicasSeen = 3;
  r.cpuUsageCores = 1.5;
  r.cpuUtilization = 0.5;  // memory utilization and load share stay absent
  r.ticks = 10;
  store->recordRollups({r});
  r.cpuUsageCores = 2.5;  // the same bucket again (after a restart): replaced
  store->recordRollups({r});
  store->flush();
  auto decisions = store->decisions(DecisionQuery{"shop", "web", 0, 10});
  ASSERT_TRUE(decisions.ok());
  ASSERT_EQ(decisions->size(), 1u);
  EXPECT_EQ((*decisions)[0].desiredReplicas, 5);
  EXPECT_EQ((*decisions)[0].workload.kind, "Deployment");
  EXPECT_TRUE(store->decisions(DecisionQuery{"other", "", 0, 10})->empty());
  auto rollups = store->rollups(RollupQuery{0, "shop", "web"});
  ASSERT_TRUE(rollups.ok());
  ASSERT_EQ(rollups->size(), 1u);
  EXPECT_DOUBLE_EQ((*rollups)[0].cpuUsageCores, 2.5);
  EXPECT_DOUBLE_EQ((*rollups)[0].cpuUtilization, 0.5);
  EXPECT_FALSE(isPresent((*rollups)[0].memoryUtilization));
  EXPECT_EQ((*rollups)[0].ticks, 10);
  EXPECT_TRUE(store->rollups(RollupQuery{20'000, "", ""})->empty());
}

TEST(SqliteStoreTest, RetentionPrunesOldRows) {
  testing::TempDir dir;
  ManualClock clock;  // starts at 1'700'000'000 s
  auto store = openStore(dir.path(), clock);
  const std::int64_t now = toUnixMillis(clock.wallNow());
  RollupRow old;
  old.workload = WorkloadKey{"shop", "Deployment", "web"};
  old.cluster = "aws";
  old.bucketStartUnixMs = now - 2 * 3600 * 1000;  // older than the 1 h rollup retention
  RollupRow recent = old;
  recent.bucketStartUnixMs = now - 60 * 1000;
  store->recordRollups({old, recent});
  store->recordEvent(event(now - 3 * 3600 * 1000, "agent_connected", "aws"));  // > 2 h
  store->recordEvent(event(now - 3600 * 1000, "agent_connected", "aws"));
  // A churned node's agent, gone for longer than the 2 h retention, and a live one.
  store->recordProgress(AgentProgress{"gone", "ip-1", "aws", 9, 9, 90, now - 3 * 3600 * 1000, 1});
  store->recordNode(NodeRecord{"aws", "ip-1", "gone", 1, now - 4 * 3600 * 1000, 0});
  store->recordProgress(AgentProgress{"live", "ip-2", "aws", 5, 5, 50, now - 1000, 1});
  store->recordNode(NodeRecord{"aws", "ip-2", "live", 1, now - 4 * 3600 * 1000, 0});
  store->flush();
  ASSERT_TRUE(store->prune().ok());
  EXPECT_EQ(store->rollups(RollupQuery{})->size(), 1u);
  EXPECT_EQ(store->events(EventQuery{})->size(), 1u);
  const auto progress = store->loadProgress();
  ASSERT_EQ(progress->size(), 1u);
  EXPECT_EQ((*progress)[0].agentId, "live");
  const auto nodes = store->loadNodes();
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_EQ((*nodes)[0].node, "ip-2");
}

TEST(SqliteStoreTest, RollupsBetweenTwoBucketsComeInSeriesOrder) {
  testing::TempDir dir;
  ManualClock clock;
  auto store = openStore(dir.path(), clock);
  std::vector<RollupRow> rows;
  for (const std::string name : {"api", "web"}) {
    for (std::int64_t bucket = 0; bucket < 5; ++bucket) {
      RollupRow r;
      r.workload = WorkloadKey{"shop", "Deployment", name};
      r.cluster = "aws";
      r.bucketStartUnixMs = (bucket * 2 + (name == "web" ? 1 : 0)) * 10'000;
      rows.push_back(r);
    }
  }
  store->recordRollups(rows);
  store->flush();
  EXPECT_EQ(store->rollups(RollupQuery{})->size(), 10u);
  const auto some = store->rollups(RollupQuery{30'000, "", "", 70'000});
  ASSERT_TRUE(some.ok());
  std::vector<std::pair<std::string, std::int64_t>> got;
  for (const auto& r : *some) got.emplace_back(r.workload.name, r.bucketStartUnixMs);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::int64_t>>{
                     {"api", 40'000}, {"api", 60'000}, {"web", 30'000}, {"web", 50'000}}));
}

TEST(SqliteStoreTest, RefusesANewerSchema) {
  testing::TempDir dir;
  ManualClock clock;
  { auto store = openStore(dir.path(), clock); }
  {
    auto db = SqliteDatabase::open(dir.file("aggregator.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->exec("PRAGMA user_version=99").ok());
  }
  SqliteStoreOptions options;
  options.stateDir = dir.path();
  auto store = SqliteStore::open(options, nullptr, clock);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("newer"), std::string::npos);
}

}  // namespace
}  // namespace fleetscale::aggregator
