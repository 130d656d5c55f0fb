#include "fleetscale/aggregator/control/state_loop.h"

#include <gtest/gtest.h>

#include <thread>

#include "fleetscale/testing/batch_builder.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::aggregator {
namespace {

FleetSnapshot withClusters(std::vector<std::pair<std::string, ReportingState>> clusters) {
  FleetSnapshot snapshot;
  snapshot.takenAt = WallTime{std::chrono::seconds(1'700'000'000)};
  for (auto& [name, health] : clusters) {
    ClusterSnapshot c;
    c.name = name;
    c.reporting = health;
    c.nodes = 4;
    c.staleNodes = health == ReportingState::kHealthy ? 0 : 2;
    snapshot.clusters.push_back(c);
  }
  return snapshot;
}

TEST(StateLoopTest, HealthChangesBecomeEvents) {
  std::map<std::string, ReportingState> previous;
  auto first = clusterHealthChanges(previous, withClusters({{"aws", ReportingState::kHealthy},
                                                            {"gcp", ReportingState::kHealthy}}));
  ASSERT_EQ(first.size(), 2u) << "first sight of each cluster is recorded";
  EXPECT_EQ(first[0].message, "cluster aws unknown -> healthy (0 of 4 nodes stale)");
  EXPECT_TRUE(clusterHealthChanges(previous, withClusters({{"aws", ReportingState::kHealthy},
                                                           {"gcp", ReportingState::kHealthy}}))
                  .empty());
  auto change = clusterHealthChanges(previous, withClusters({{"aws", ReportingState::kHealthy},
                                                             {"gcp", ReportingState::kDegraded}}));
  ASSERT_EQ(change.size(), 1u);
  EXPECT_EQ(change[0].kind, kEventClusterHealth);
  EXPECT_EQ(change[0].cluster, "gcp");
  EXPECT_EQ(change[0].details, R"({"from":"healthy","nodes":4,"stale_nodes":2,"to":"degraded"})");
}

TEST(StateLoopTest, TicksPublishSnapshotsAndWriteHistoryAndEvents) {
  fleetscale::testing::TempDir dir;
  ManualClock clock;
  SqliteStoreOptions options;
  options.stateDir = dir.path();
  auto store = SqliteStore::open(options, nullptr, clock);
  ASSERT_TRUE(store.ok());
  FleetState fleet;
  WorkloadHistory history(std::chrono::minutes(10));
  SnapshotHolder snapshots;
  StateLoop loop(fleet, store->get(), history, snapshots, clock,
                 StateLoopOptions{std::chrono::milliseconds(1000), std::chrono::minutes(1)});
  const auto session = fleet.agentConnected(AgentIdentity{"a1", "n1", "aws", "", "", "", ""});
  std::uint64_t sequence = 0;
  // 25 one-second ticks with a fresh batch each: two 10 s buckets finish.
  for (int tick = 0; tick < 25; ++tick) {
    testing::DecodedBatch decoded;
    testing::decodeInto(testing::makeBatch(++sequence, {{"c1"}}), decoded);
    ASSERT_EQ(fleet.applyBatch(session, decoded.view, clock.wallNow()).outcome,
              BatchOutcome::kAccepted);
    loop.tick();
    clock.advance(std::chrono::seconds(1));
  }
  EXPECT_EQ(snapshots.get()->workloads.size(), 1u);
  EXPECT_EQ(history.size(), 2u);
  // The node goes silent: the cluster turns silent, then the node is forgotten.
  fleet.agentDisconnected(session);
  for (int tick = 0; tick < 70; ++tick) {
    loop.tick();
    clock.advance(std::chrono::seconds(1));
  }
  EXPECT_TRUE(fleet.nodes(clock.wallNow()).empty());
  loop.stop();
  (*store)->flush();
  auto events = (*store)->events(EventQuery{std::string(kEventClusterHealth), "", "", 0, 10});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_NE((*events)[0].message.find("healthy -> silent"), std::string::npos);
  auto rows = (*store)->rollups(RollupQuery{});
  ASSERT_TRUE(rows.ok());
  EXPECT_GE(rows->size(), 2u);
  EXPECT_DOUBLE_EQ((*rows)[0].cpuUsageCores, 0.5);
  EXPECT_EQ((*rows)[0].ticks, 10);
}

// Issue 14: a decision should not wait for the next fixed tick once the data that changes it has
// been folded. With a tick far away, new data brings a snapshot within the debounce; with no
// debounce, only the tick does; a stream of batches gets at most one per min interval.
TEST(StateLoopTest, NewDataBringsTheNextSnapshotForwardAtMostOncePerMinInterval) {
  using std::chrono::milliseconds;
  SystemClock clock;
  FleetState fleet;
  WorkloadHistory history(std::chrono::minutes(10));
  SnapshotHolder snapshots;
  StateLoopOptions options{std::chrono::minutes(1), std::chrono::minutes(10)};
  options.debounce = milliseconds(20);
  options.minInterval = milliseconds(200);
  StateLoop loop(fleet, nullptr, history, snapshots, clock, options);
  loop.start();
  ASSERT_TRUE(fleetscale::testing::waitFor([&] { return loop.snapshotsPublished() == 1; }))
      << "the first tick at once";
  loop.dataArrived();
  ASSERT_TRUE(fleetscale::testing::waitFor([&] { return loop.snapshotsPublished() == 2; },
                                           milliseconds(5000)))
      << "a snapshot for the new data, not a minute later";

  // Batches every 5 ms for 1 s: at most one snapshot per 200 ms (5, plus one for the edges).
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < milliseconds(1000)) {
    loop.dataArrived();
    std::this_thread::sleep_for(milliseconds(5));  // the traffic being simulated, not a wait
  }
  const auto burst = loop.snapshotsPublished() - 2;
  EXPECT_GE(burst, 2u) << "new data kept being decided on";
  EXPECT_LE(burst, 6u) << "the min interval bounds the rate";
  loop.stop();

  StateLoopOptions ticksOnly{std::chrono::minutes(1), std::chrono::minutes(10)};
  ticksOnly.debounce = milliseconds(0);
  StateLoop quiet(fleet, nullptr, history, snapshots, clock, ticksOnly);
  quiet.start();
  ASSERT_TRUE(fleetscale::testing::waitFor([&] { return quiet.snapshotsPublished() == 1; }));
  quiet.dataArrived();
  EXPECT_FALSE(fleetscale::testing::waitFor([&] { return quiet.snapshotsPublished() > 1; },
                                            milliseconds(300)))
      << "debounce 0: only the tick snapshots";
  quiet.stop();
}

// A round that is in is decided at once; one that is not (a node owes its batch) at the latest
// the debounce after its first batch. The fleet's clock is a manual one: the agents' rounds are
// set, not waited for; the debounce runs on the real steady clock.
TEST(StateLoopTest, ARoundIsDecidedAsSoonAsItIsInAndAtTheDebounceOtherwise) {
  using std::chrono::milliseconds;
  ManualClock clock;
  FleetState fleet;
  WorkloadHistory history(std::chrono::minutes(10));
  SnapshotHolder snapshots;
  StateLoopOptions options{std::chrono::minutes(1), std::chrono::minutes(10)};
  options.debounce = milliseconds(800);
  options.minInterval = milliseconds(10);
  AgentIdentity first{"a1", "n1", "aws", "aws", "r", "z", "0"};
  AgentIdentity second{"a2", "n2", "gcp", "gcp", "r", "z", "0"};
  first.clockAlignedSampling = second.clockAlignedSampling = true;
  const auto a = fleet.agentConnected(first);
  const auto b = fleet.agentConnected(second);
  // A batch of the round now is in (the agents sample every 10 s, on the clock).
  auto send = [&](const FleetState::Session& session, std::uint64_t sequence) {
    testing::DecodedBatch decoded;
    auto batch = testing::makeBatch(sequence, {{session.agentId}}, /*interval=*/10.0);
    const std::int64_t now = toUnixMillis(clock.wallNow());
    batch.set_timestamp_unix_ms(now - now % 10'000);
    testing::decodeInto(batch, decoded);
    (void)fleet.applyBatch(session, decoded.view, clock.wallNow());
  };
  send(a, 1);
  send(b, 1);
  StateLoop loop(fleet, nullptr, history, snapshots, clock, options);
  loop.start();
  ASSERT_TRUE(fleetscale::testing::waitFor([&] { return loop.snapshotsPublished() == 1; }));

  // The next round, 10 s later: n1's batch, then n2's.
  clock.advance(std::chrono::seconds(10));
  send(a, 2);
  loop.dataArrived();
  EXPECT_FALSE(fleetscale::testing::waitFor([&] { return loop.snapshotsPublished() > 1; },
                                            milliseconds(200)))
      << "n2 owes its batch: the round is not in";
  clock.advance(milliseconds(30));
  send(b, 2);
  const auto sent = std::chrono::steady_clock::now();
  loop.dataArrived();
  ASSERT_TRUE(fleetscale::testing::waitFor([&] { return loop.snapshotsPublished() == 2; }));
  EXPECT_LT(std::chrono::steady_clock::now() - sent, milliseconds(500))
      << "decided once in, not at the debounce";

  // n2 goes dark: the next round waits for it until the debounce, then is decided without it.
  clock.advance(std::chrono::seconds(10));
  const auto roundStart = std::chrono::steady_clock::now();
  send(a, 3);
  loop.dataArrived();
  ASSERT_TRUE(fleetscale::testing::waitFor([&] { return loop.snapshotsPublished() == 3; },
                                           milliseconds(5000)));
  EXPECT_GE(std::chrono::steady_clock::now() - roundStart, milliseconds(800))
      << "waited for n2 up to the debounce";
  loop.stop();
}

}  // namespace
}  // namespace fleetscale::aggregator
