// The right-sizing feed end to end in process: batches folded into a real FleetState, the state
// loop's ticks feeding the recommender, recommendations published, the state saved to a real
// SQLite store at stop and restored by the next run.
#include "fleetscale/aggregator/control/rightsizing_feed.h"

#include <gtest/gtest.h>

#include "fleetscale/aggregator/control/state_loop.h"
#include "fleetscale/testing/batch_builder.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::aggregator {
namespace {

using rightsizing::Mode;

std::vector<testing::ContainerSpec> webPods() {
  // Two replicas, each an app (0.5 cores of 1) and a sidecar (0.05 of 1): the sidecar's figures
  // are its own.
  std::vector<testing::ContainerSpec> specs;
  for (const char* pod : {"web-1", "web-2"}) {
    testing::ContainerSpec app;
    app.id = std::string(pod) + "-app";
    app.pod = pod;
    app.container = "app";
    app.cpu = 0.5;
    testing::ContainerSpec proxy = app;
    proxy.id = std::string(pod) + "-proxy";
    proxy.container = "proxy";
    proxy.cpu = 0.05;
    specs.push_back(app);
    specs.push_back(proxy);
  }
  return specs;
}

// A state loop over a real fleet state, feeding a RightsizingFeed, and one agent's node.
struct FedLoop {
  FedLoop(Store* store, const Clock& clock, const PolicyHolder& policy,
          RightsizingFeedOptions options = {})
      : feed(store, policy, options),
        loop(fleet, store, history, snapshots, clock,
             StateLoopOptions{std::chrono::milliseconds(1000), std::chrono::minutes(1)}),
        session(fleet.agentConnected(AgentIdentity{"a1", "n1", "aws", "", "", "", ""})),
        clock_(clock) {
    loop.setRightsizing(&feed);
  }
  // Folds a batch of webPods() in, as the agent's next.
  void fold() {
    testing::DecodedBatch decoded;
    testing::decodeInto(testing::makeBatch(++sequence, webPods()), decoded);
    ASSERT_EQ(fleet.applyBatch(session, decoded.view, clock_.wallNow()).outcome,
              BatchOutcome::kAccepted);
  }

  FleetState fleet;
  WorkloadHistory history{std::chrono::minutes(10)};
  SnapshotHolder snapshots;
  RightsizingFeed feed;
  StateLoop loop;
  FleetState::Session session;
  std::uint64_t sequence = 0;

 private:
  const Clock& clock_;
};

std::unique_ptr<SqliteStore> openStore(const std::string& dir, const Clock& clock) {
  SqliteStoreOptions options;
  options.stateDir = dir;
  auto store = SqliteStore::open(options, nullptr, clock);
  EXPECT_TRUE(store.ok());
  return store.ok() ? std::move(*store) : nullptr;
}

TEST(RightsizingFeedTest, StateTicksFeedItAndTheStateSurvivesARestart) {
  fleetscale::testing::TempDir dir;
  ManualClock clock;
  PolicyHolder policy;  // no file: every workload recommended
  std::vector<rightsizing::ContainerRecommendation> before;
  {
    auto store = openStore(dir.path(), clock);
    ASSERT_NE(store, nullptr);
    FedLoop fed(store.get(), clock, policy);
    ASSERT_EQ(*fed.feed.restore(), 0U);
    for (int tick = 0; tick < 30; ++tick) {
      fed.fold();
      fed.loop.tick();
      clock.advance(std::chrono::seconds(1));
    }
    // Published at the first tick and every 10 s after: the latest holds 21 ticks.
    const auto set = fed.feed.current();
    ASSERT_EQ(set->containers.size(), 2U);
    const auto& app = set->containers[0];
    const auto& proxy = set->containers[1];
    EXPECT_EQ(app.workload, (WorkloadKey{"shop", "Deployment", "web"}));
    EXPECT_EQ(app.container, "app");
    EXPECT_EQ(proxy.container, "proxy");
    EXPECT_EQ(app.mode, Mode::kRecommend);
    EXPECT_EQ(app.samples, 2U * 21U) << "one sample per replica per full tick";
    EXPECT_GE(app.cpu.target, 0.5 * 1.15);
    EXPECT_LE(app.cpu.target, 0.5 * 1.15 * 1.06);
    EXPECT_LE(proxy.cpu.target, 0.05 * 1.15 * 1.06) << "the sidecar is not blended in";
    EXPECT_DOUBLE_EQ(app.cpu.currentRequest, 1.0);
    EXPECT_DOUBLE_EQ(app.memory.currentRequest, 200 << 20);
    EXPECT_DOUBLE_EQ(app.memory.target, (100 << 20) * 1.15);
    EXPECT_EQ(set->replicas.at(app.workload), 2);
    // Two replicas each requesting 1 core per container, needing 0.58 and 0.06.
    const auto savings = fleetSavings(*set);
    EXPECT_DOUBLE_EQ(savings.requestedCpuCores, 4.0);
    EXPECT_NEAR(savings.cpuCores(), 4.0 - 2 * (app.cpu.target + proxy.cpu.target), 1e-9);
    EXPECT_GT(savings.memoryBytes(), 0);
    EXPECT_EQ(fed.feed.size().containers, 2U);
    fed.feed.publish(clock.wallNow());
    before = fed.feed.current()->containers;
    // The running loop hands the state over at stop() (next test); this one is ticked by hand.
    fed.feed.save(clock.wallNow());
    store->flush();
  }
  auto store = openStore(dir.path(), clock);
  ASSERT_NE(store, nullptr);
  RightsizingFeed restored(store.get(), policy);
  ASSERT_EQ(*restored.restore(), 2U);
  restored.publish(clock.wallNow());
  const auto after = restored.current()->containers;
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].samples, before[i].samples);
    EXPECT_DOUBLE_EQ(after[i].cpu.target, before[i].cpu.target);
    EXPECT_DOUBLE_EQ(after[i].memory.target, before[i].memory.target);
  }
}

TEST(RightsizingFeedTest, TheRunningLoopHandsTheStateToTheStoreAtStop) {
  fleetscale::testing::TempDir dir;
  ManualClock clock;
  auto store = openStore(dir.path(), clock);
  ASSERT_NE(store, nullptr);
  PolicyHolder policy;
  // Saved by the ticks only once a day: a row stamped later than the first tick is stop()'s.
  FedLoop fed(store.get(), clock, policy,
              RightsizingFeedOptions{.saveInterval = std::chrono::hours(24)});
  fed.fold();
  fed.loop.start();  // its first tick comes at once
  ASSERT_TRUE(fleetscale::testing::waitFor([&] { return fed.feed.size().containers == 2; }));
  clock.advance(std::chrono::hours(1));
  fed.loop.stop();
  store->flush();
  const auto rows = store->loadRecommenderState();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2U);
  EXPECT_EQ((*rows)[0].updatedUnixMs, toUnixMillis(clock.wallNow()));
}

// Disabled until the snapshot's ContainerFigures carry the limits, the OOM kill counter and the
// restart count (state/rollup.h; docs/rightsizing.md, "Not yet"): enable it with that change.
TEST(RightsizingFeedTest, LimitsAndOomKillsComeFromTheAgentsFigures) {
  ManualClock clock;
  PolicyHolder policy;
  FedLoop fed(nullptr, clock, policy);
  // One replica at a 512Mi memory limit and a 1-core CPU quota whose counter shows a kill.
  for (std::uint64_t kills = 0; kills < 2; ++kills) {
    testing::ContainerSpec spec;
    spec.id = "web-1-app";
    spec.pod = "web-1";
    spec.container = "app";
    auto batch = testing::makeBatch(++fed.sequence, {spec});
    auto* sample = batch.mutable_containers(0);
    sample->set_oom_kills_total(kills);
    sample->set_memory_limit_bytes(512 << 20);
    sample->set_cpu_limit_cores(2.0);
    sample->mutable_metadata()->set_memory_limit_bytes(512 << 20);
    testing::DecodedBatch decoded;
    testing::decodeInto(batch, decoded);
    ASSERT_EQ(fed.fleet.applyBatch(fed.session, decoded.view, clock.wallNow()).outcome,
              BatchOutcome::kAccepted);
    fed.loop.tick();
    clock.advance(std::chrono::seconds(1));
  }
  fed.feed.publish(clock.wallNow());
  const auto set = fed.feed.current();
  ASSERT_EQ(set->containers.size(), 1U);
  const auto& app = set->containers[0];
  EXPECT_EQ(app.oomKills, 1U) << app.reason;
  EXPECT_DOUBLE_EQ(app.memory.currentLimit, 512 << 20);
  EXPECT_NEAR(app.memory.target, (512 << 20) * 1.2, 1) << app.reason;
  EXPECT_DOUBLE_EQ(app.cpu.currentLimit, 2.0);
  EXPECT_DOUBLE_EQ(app.cpu.limit, app.cpu.target * 2) << "the 1:2 request:limit ratio kept";
}

TEST(RightsizingFeedTest, StaleLatePendingAndUnnamedContainersAreNotSamples) {
  PolicyHolder policy;
  RightsizingFeed feed(nullptr, policy);
  FleetSnapshot snapshot;
  snapshot.takenAt = WallTime{std::chrono::seconds(1'700'000'000)};
  WorkloadSnapshot web;
  web.key = {"shop", "Deployment", "web"};
  web.total.replicasSeen = 1;
  const auto pod = [](const char* name, bool stale, bool late, const char* container) {
    PodSample p;
    p.cluster = "aws";
    p.pod = name;
    p.stale = stale;
    p.late = late;
    ContainerFigures figures;
    figures.name = container;
    figures.cpuUsageCores = 0.3;
    figures.memoryUsageBytes = 1e8;
    p.byContainer.push_back(figures);
    return p;
  };
  web.pods = {pod("fresh", false, false, "app"), pod("stale", true, false, "app"),
              pod("late", false, true, "app"), pod("sandbox", false, false, "")};
  PodSample pending = pod("pending", false, false, "app");
  pending.pending = true;
  web.pods.push_back(pending);
  snapshot.workloads.push_back(web);
  feed.observe(snapshot);
  const auto set = feed.current();
  ASSERT_EQ(set->containers.size(), 1U);
  EXPECT_EQ(set->containers[0].samples, 1U);
}

TEST(RightsizingFeedTest, APolicyOfModeOffHidesAWorkloadAndReloadsApply) {
  PolicyHolder policy;
  RightsizingFeed feed(nullptr, policy);
  FleetSnapshot snapshot;
  snapshot.takenAt = WallTime{std::chrono::seconds(1'700'000'000)};
  WorkloadSnapshot web;
  web.key = {"shop", "Deployment", "web"};
  PodSample pod;
  pod.cluster = "aws";
  pod.pod = "web-1";
  ContainerFigures figures;
  figures.name = "app";
  figures.cpuUsageCores = 0.3;
  pod.byContainer.push_back(figures);
  web.pods.push_back(pod);
  snapshot.workloads.push_back(web);
  feed.observe(snapshot);
  EXPECT_EQ(feed.current()->containers.size(), 1U);
  PolicyConfig config;
  WorkloadConfig workload;
  workload.namespaceName = "shop";
  workload.name = "web";
  workload.rightsizing.mode = Mode::kOff;
  config.workloads.push_back(workload);
  policy.set(config);
  feed.publish(snapshot.takenAt);
  EXPECT_TRUE(feed.current()->containers.empty());
}

}  // namespace
}  // namespace fleetscale::aggregator
