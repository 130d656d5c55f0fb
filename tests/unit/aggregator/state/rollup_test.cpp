#include "fleetscale/aggregator/state/rollup.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator {
namespace {

using std::chrono::milliseconds;

TEST(RollupTest, StalenessIsThreeTicksOfTheAgentsInterval) {
  const WallTime seen{std::chrono::seconds(1000)};
  struct Case {
    double interval;
    milliseconds since;
    bool stale;
  };
  for (const auto& c : std::vector<Case>{{1.0, milliseconds(2999), false},
                                         {1.0, milliseconds(3000), false},
                                         {1.0, milliseconds(3001), true},
                                         {10.0, milliseconds(29000), false},
                                         {10.0, milliseconds(31000), true},
                                         {0.0, milliseconds(3500), true},  // unknown: 1 s tick
                                         {0.5, milliseconds(1600), true}}) {
    EXPECT_EQ(isStale(seen, c.interval, seen + c.since), c.stale)
        << c.interval << "s tick, " << c.since.count() << "ms";
  }
}

// A node a round behind the newest owes a batch; the batches of one round carry stamps within a
// quarter interval (at most 250 ms) of each other.
TEST(RollupTest, ANodeIsBehindTheRoundWhenItsStampIsAboutAnIntervalOlderThanTheNewest) {
  const WallTime round{std::chrono::seconds(1000)};
  struct Case {
    double interval;
    milliseconds newestAfter;
    bool behind;
  };
  for (const auto& c : std::vector<Case>{{1.0, milliseconds(0), false},
                                         {1.0, milliseconds(200), false},  // the same round
                                         {1.0, milliseconds(749), false},
                                         {1.0, milliseconds(750), true},
                                         {1.0, milliseconds(1000), true},    // the next round
                                         {10.0, milliseconds(9000), false},  // 250 ms at most
                                         {10.0, milliseconds(9750), true},
                                         {0.2, milliseconds(160), true}}) {
    EXPECT_EQ(isBehindRound(round, c.interval, round + c.newestAfter), c.behind)
        << c.interval << "s tick, newest " << c.newestAfter.count() << "ms later";
  }
}

// A batch's stamp names its round when it is near a whole interval and fresh.
TEST(RollupTest, OnlyAFreshStampNearAWholeIntervalNamesARound) {
  const WallTime whole{std::chrono::seconds(1000)};
  EXPECT_EQ(samplingRoundOf(whole, whole + milliseconds(30), 1.0), whole);
  EXPECT_EQ(samplingRoundOf(whole + milliseconds(20), whole + milliseconds(60), 1.0),
            whole + milliseconds(20))
      << "a timer that fired a little late";
  EXPECT_FALSE(samplingRoundOf(whole + milliseconds(600), whole + milliseconds(620), 1.0))
      << "an agent's first sample, taken when it started";
  EXPECT_FALSE(samplingRoundOf(whole + milliseconds(900), whole + milliseconds(920), 1.0))
      << "nor just before a round: agents sample at the boundary or after it";
  EXPECT_FALSE(samplingRoundOf(whole - std::chrono::seconds(30), whole, 1.0))
      << "a batch replayed from the spool";
  EXPECT_FALSE(samplingRoundOf(whole + std::chrono::seconds(2), whole, 1.0))
      << "a clock two seconds ahead of the aggregator's";
  EXPECT_EQ(samplingRoundOf(whole + std::chrono::seconds(5), whole + std::chrono::seconds(5), 10.0),
            std::nullopt)
      << "half way between two 10 s rounds";
}

PodSample pod(std::string cluster, std::string name, double cpu, double request, bool ready = true,
              bool stale = false) {
  PodSample p;
  p.cluster = std::move(cluster);
  p.pod = std::move(name);
  ContainerContribution c;
  c.cpuUsageCores = cpu;
  c.cpuRequestCores = request;
  c.memoryUsageBytes = 100;
  c.memoryRequestBytes = 200;
  c.ready = ready;
  p.add(c);
  p.stale = stale;
  return p;
}

TEST(RollupTest, PodSumsItsContainersAndAMissingFigureMakesTheSumMissing) {
  PodSample p;
  ContainerContribution a;
  a.cpuUsageCores = 0.25;
  a.cpuRequestCores = 0.5;
  a.memoryUsageBytes = 10;
  a.startTimeUnixMs = 2000;
  ContainerContribution b = a;
  b.cpuRequestCores = kAbsent;  // a sidecar without a request
  b.startTimeUnixMs = 1000;
  b.ready = false;
  b.restartCount = 2;
  p.add(a);
  EXPECT_EQ(p.cpuRequestCores, 0.5);
  p.add(b);
  EXPECT_EQ(p.containers, 2);
  EXPECT_EQ(p.cpuUsageCores, 0.5);
  EXPECT_FALSE(isPresent(p.cpuRequestCores)) << "HPA needs every container's request";
  EXPECT_EQ(p.memoryUsageBytes, 20);
  EXPECT_FALSE(p.ready);
  EXPECT_EQ(p.startTimeUnixMs, 1000);
  EXPECT_EQ(p.restarts, 2u);
  PodSample unknownReadiness;
  unknownReadiness.add(ContainerContribution{});
  EXPECT_TRUE(unknownReadiness.ready) << "VMs report no readiness: counted as ready";
}

TEST(RollupTest, ThrottlingSumsOverContainersAndAnAbsentFigureCountsAsNone) {
  ContainerContribution capped;
  capped.cpuUsageCores = 1.0;
  capped.cpuThrottledCores = 0.75;  // wanted 1.75 cores under a 1-core limit
  ContainerContribution unlimited;  // no limit: the agent reports no throttling figure
  unlimited.cpuUsageCores = 0.5;
  ContainerContribution sidecar;
  sidecar.cpuUsageCores = 0.1;
  sidecar.cpuThrottledCores = 0.25;
  PodSample p;
  p.add(capped);
  p.add(unlimited);
  EXPECT_DOUBLE_EQ(p.cpuThrottledCores, 0.75) << "an absent figure adds nothing";
  p.add(sidecar);
  EXPECT_DOUBLE_EQ(p.cpuThrottledCores, 1.0);
  EXPECT_DOUBLE_EQ(p.cpuUsageCores, 1.6);

  PodSample none;
  none.add(unlimited);
  EXPECT_EQ(none.cpuThrottledCores, 0.0) << "no figure at all is no throttling, not unknown";

  // A sandbox's figure counts only when the pod has nothing else to go by, like its usage.
  ContainerContribution sandbox = sidecar;
  sandbox.listed = false;
  PodSample withSpec;
  withSpec.add(sandbox);
  withSpec.add(capped);
  withSpec.finish();
  EXPECT_DOUBLE_EQ(withSpec.cpuThrottledCores, 0.75);
}

TEST(RollupTest, DemandAddsThrottlingOnlyWhereTheContainerRanAtItsLimit) {
  // Capped at half a core, two busy threads: 0.5 used, 1.5 s a second throttled.
  EXPECT_DOUBLE_EQ(estimateCpuDemandCores(0.5, 1.5, 0.5), 2.0);
  EXPECT_DOUBLE_EQ(estimateCpuDemandCores(0.46, 0.2, 0.5), 0.66) << "92% of its limit is capped";
  EXPECT_DOUBLE_EQ(estimateCpuDemandCores(0.2, 0.3, 1.0), 0.2)
      << "bursts throttled inside a period, idle otherwise: the work got done, demand = usage";
  EXPECT_DOUBLE_EQ(estimateCpuDemandCores(0.4, kAbsent, kAbsent), 0.4) << "no limit, no figure";
  EXPECT_DOUBLE_EQ(estimateCpuDemandCores(0.4, 0.6, kAbsent), 1.0)
      << "only a quota throttles: a limit the agent could not read still capped it";
  EXPECT_FALSE(isPresent(estimateCpuDemandCores(kAbsent, 0.6, 1.0))) << "no usage, no demand";

  ContainerContribution app;
  app.cpuUsageCores = 1.0;
  app.cpuThrottledCores = 0.75;
  app.cpuLimitCores = 1.0;
  ContainerContribution sidecar;  // far below its limit: its throttling is latency, not demand
  sidecar.cpuUsageCores = 0.05;
  sidecar.cpuThrottledCores = 0.1;
  sidecar.cpuLimitCores = 0.5;
  PodSample p;
  p.add(app);
  p.add(sidecar);
  EXPECT_DOUBLE_EQ(p.cpuUsageCores, 1.05);
  EXPECT_DOUBLE_EQ(p.cpuUnmetDemandCores, 0.75) << "demand 1.8";
  ContainerContribution firstTick;  // no rate yet
  firstTick.cpuLimitCores = 1.0;
  p.add(firstTick);
  EXPECT_FALSE(isPresent(p.cpuUsageCores + p.cpuUnmetDemandCores)) << "missing like the usage";

  // The workload's rollup keeps the unmet demand beside the usage (history replays read it).
  PodSample capped = pod("aws", "web-1", 1.0, 1.0);
  capped.cpuUnmetDemandCores = 0.75;
  PodSample gone = pod("aws", "web-2", 1.0, 1.0, true, /*stale=*/true);
  gone.cpuUnmetDemandCores = 5;
  const WorkloadSnapshot web = rollupWorkload(WorkloadKey{"shop", "Deployment", "web"},
                                              {capped, pod("gcp", "web-3", 0.5, 1.0), gone});
  EXPECT_DOUBLE_EQ(web.total.cpuUnmetDemandCores, 0.75) << "a stale pod counts in no rollup";
  ASSERT_EQ(web.clusters.size(), 2u);
  EXPECT_DOUBLE_EQ(web.clusters[0].cpuUnmetDemandCores, 0.75);
  EXPECT_DOUBLE_EQ(web.clusters[1].cpuUnmetDemandCores, 0);
}

struct WorkloadCase {
  std::string name;
  std::vector<PodSample> pods;
  // Expected per cluster: {cluster, seen, ready, stale, cpu, request, utilization, share}
  struct Row {
    std::string cluster;
    int seen, ready, stale;
    double cpu, request, utilization, share;
  };
  std::vector<Row> clusters;
  Row total;
};

TEST(RollupTest, WorkloadRollupsTable) {
  const std::vector<WorkloadCase> cases{
      {"one cluster",
       {pod("aws", "a", 0.5, 1.0), pod("aws", "b", 0.3, 1.0, false)},
       {{"aws", 2, 1, 0, 0.8, 2.0, 0.4, 1.0}},
       {"", 2, 1, 0, 0.8, 2.0, 0.4, 1.0}},
      {"load share follows CPU across clusters",
       {pod("aws", "a", 0.6, 1.0), pod("gcp", "b", 0.2, 1.0), pod("gcp", "c", 0.2, 1.0)},
       {{"aws", 1, 1, 0, 0.6, 1.0, 0.6, 0.6}, {"gcp", 2, 2, 0, 0.4, 2.0, 0.2, 0.4}},
       {"", 3, 3, 0, 1.0, 3.0, 1.0 / 3.0, 1.0}},
      {"stale pods are shown but not rolled up",
       {pod("aws", "a", 0.5, 1.0), pod("gcp", "b", 9.0, 1.0, true, true)},
       {{"aws", 1, 1, 0, 0.5, 1.0, 0.5, 1.0}, {"gcp", 0, 0, 1, 0.0, 0.0, kAbsent, 0.0}},
       {"", 1, 1, 1, 0.5, 1.0, 0.5, 1.0}},
      {"no CPU at all: share by replicas",
       {pod("aws", "a", 0.0, 1.0), pod("gcp", "b", 0.0, 1.0), pod("gcp", "c", 0.0, 1.0)},
       {{"aws", 1, 1, 0, 0, 1, 0, 1.0 / 3.0}, {"gcp", 2, 2, 0, 0, 2, 0, 2.0 / 3.0}},
       {"", 3, 3, 0, 0, 3, 0, 1.0}},
      {"pods without requests: usage counted, no utilization",
       {pod("aws", "a", 0.5, kAbsent), pod("aws", "b", 0.5, 2.0)},
       {{"aws", 2, 2, 0, 1.0, 2.0, 0.25, 1.0}},
       {"", 2, 2, 0, 1.0, 2.0, 0.25, 1.0}},
      {"first tick: no usage yet",
       {pod("aws", "a", kAbsent, 1.0)},
       {{"aws", 1, 1, 0, 0.0, 1.0, kAbsent, 1.0}},
       {"", 1, 1, 0, 0.0, 1.0, kAbsent, 1.0}},
  };
  auto check = [](const WorkloadRollup& got, const WorkloadCase::Row& want,
                  const std::string& what) {
    EXPECT_EQ(got.cluster, want.cluster) << what;
    EXPECT_EQ(got.replicasSeen, want.seen) << what;
    EXPECT_EQ(got.replicasReady, want.ready) << what;
    EXPECT_EQ(got.replicasStale, want.stale) << what;
    EXPECT_DOUBLE_EQ(got.cpuUsageCores, want.cpu) << what;
    EXPECT_DOUBLE_EQ(got.cpuRequestCores, want.request) << what;
    if (isPresent(want.utilization)) {
      EXPECT_DOUBLE_EQ(got.cpuUtilization, want.utilization) << what;
    } else {
      EXPECT_FALSE(isPresent(got.cpuUtilization)) << what;
    }
    EXPECT_DOUBLE_EQ(got.loadShare, want.share) << what;
  };
  for (const auto& c : cases) {
    const auto snapshot = rollupWorkload(WorkloadKey{"shop", "Deployment", "web"}, c.pods);
    ASSERT_EQ(snapshot.clusters.size(), c.clusters.size()) << c.name;
    for (std::size_t i = 0; i < c.clusters.size(); ++i) {
      check(snapshot.clusters[i], c.clusters[i], c.name + " / " + c.clusters[i].cluster);
    }
    check(snapshot.total, c.total, c.name + " / total");
    EXPECT_EQ(snapshot.pods.size(), c.pods.size()) << c.name;
  }
}

TEST(RollupTest, ClusterHealthFromNodeStaleness) {
  auto node = [](std::string cluster, bool stale, double cpu) {
    NodeContribution n;
    n.cluster = std::move(cluster);
    n.stale = stale;
    n.connected = !stale;
    n.containers = 10;
    n.totals.cpuCapacityCores = 4;
    n.totals.cpuUsageCores = cpu;
    return n;
  };
  const auto clusters =
      summarizeClusters({node("a", false, 1), node("a", false, 2), node("b", false, 1),
                         node("b", true, 3), node("c", true, 1)});
  ASSERT_EQ(clusters.size(), 3u);
  EXPECT_EQ(clusters[0].reporting, ReportingState::kHealthy);
  EXPECT_EQ(clusters[0].cpuUsageCores, 3);
  EXPECT_EQ(clusters[0].containers, 20);
  EXPECT_EQ(clusters[1].reporting, ReportingState::kDegraded);
  EXPECT_EQ(clusters[1].cpuUsageCores, 1) << "a stale node's figures are not summed";
  EXPECT_EQ(clusters[1].staleNodes, 1);
  EXPECT_EQ(clusters[1].connectedAgents, 1);
  EXPECT_EQ(clusters[2].reporting, ReportingState::kSilent);
  EXPECT_EQ(toString(clusters[2].reporting), "silent");
}

}  // namespace
}  // namespace fleetscale::aggregator
