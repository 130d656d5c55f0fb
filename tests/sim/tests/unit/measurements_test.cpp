#include "fleetscale/sim/measurements.h"

#include <gtest/gtest.h>

namespace fleetscale::sim {
namespace {

// A hand-made 15 s timeline, one sample a second, one replica = one core of capacity:
//   t=3   demand 2 -> 6; cluster a asks for 4 replicas at t=4, they are ready at t=6
//   t=7   cluster b is killed; a asks for 6 at t=7.5, ready at t=9 (failover 2 s)
//   t=10  b is revived, its 2 replicas are ready again at t=12 (failback 2 s)
//   t=13  demand 6 -> 3; a asks for 3 at t=13.5, ready replicas drop at t=14
Timeline handMadeTimeline() {
  struct Row {
    double demand;
    int aDesired, aReady, bDesired, bReady;
    bool bAlive;
  };
  const Row rows[] = {
      {2, 2, 2, 2, 2, true},  {2, 2, 2, 2, 2, true},  {2, 2, 2, 2, 2, true}, {6, 2, 2, 2, 2, true},
      {6, 4, 2, 2, 2, true},  {6, 4, 2, 2, 2, true},  {6, 4, 4, 2, 2, true}, {6, 4, 4, 2, 2, false},
      {6, 6, 4, 2, 2, false}, {6, 6, 6, 2, 2, false}, {6, 6, 6, 2, 0, true}, {6, 6, 6, 2, 0, true},
      {6, 6, 6, 2, 2, true},  {3, 6, 6, 2, 2, true},  {3, 3, 3, 2, 2, true}, {3, 3, 3, 2, 2, true},
  };
  Timeline timeline;
  double t = 0;
  for (const Row& row : rows) {
    TimelineSample sample;
    sample.seconds = t++;
    WorkloadSample& web = sample.workloads["shop/web"];
    web.demandCores = row.demand;
    web.clusters["a"] = {row.aDesired, row.aDesired, row.aReady, row.aReady, true};
    web.clusters["b"] = {row.bDesired, row.bDesired, row.bReady, row.bReady, row.bAlive};
    web.readyCapacityCores = row.aReady + (row.bAlive ? row.bReady : 0);
    web.servedCores = std::min(web.demandCores, web.readyCapacityCores);
    WorkloadSample& other = sample.workloads["shop/other"];
    other.demandCores = 1;
    other.readyCapacityCores = 2;
    other.clusters["a"] = {2, 2, 2, 2, true};
    timeline.samples.push_back(std::move(sample));
  }
  timeline.actions = {{4.0, "a", "shop/web", 2, 4, "aggregator"},
                      {7.5, "a", "shop/web", 4, 6, "aggregator"},
                      {13.5, "a", "shop/web", 6, 3, "aggregator"}};
  timeline.faults = {{7.0, FaultKind::kKillCluster, "b", false},
                     {10.0, FaultKind::kReviveCluster, "b", false}};
  return timeline;
}

const WorkloadReport& find(const Report& report, const std::string& name) {
  for (const auto& w : report.workloads) {
    if (w.workload == name) return w;
  }
  throw std::runtime_error("no workload " + name);
}

TEST(MeasurementsTest, UnderProvisioningSlackAndShortfall) {
  const Report report = computeReport("hand-made", handMadeTimeline());
  EXPECT_EQ(report.samples, 16u);
  EXPECT_DOUBLE_EQ(report.durationSeconds, 15);
  const WorkloadReport& web = find(report, "shop/web");
  EXPECT_DOUBLE_EQ(web.underProvisionedSeconds, 5);  // t = 3, 4, 5, 7, 8
  EXPECT_DOUBLE_EQ(web.underProvisionedShare, 5.0 / 15);
  EXPECT_DOUBLE_EQ(web.shortfallCoreSeconds, 10);
  EXPECT_DOUBLE_EQ(web.slackCoreSeconds, 15);  // 2+2+2 + 2 + 5 + 2
  EXPECT_NEAR(web.slackShareMean, (0.5 * 3 + 0.25 + 0.625 + 0.4) / 15, 1e-12);
  EXPECT_DOUBLE_EQ(web.demandMeanCores, 72.0 / 15);
  EXPECT_DOUBLE_EQ(web.demandPeakCores, 6);
  EXPECT_DOUBLE_EQ(web.capacityMeanCores, 77.0 / 15);

  const WorkloadReport& other = find(report, "shop/other");
  EXPECT_DOUBLE_EQ(other.underProvisionedSeconds, 0);
  EXPECT_DOUBLE_EQ(other.slackShareMean, 0.5);
  EXPECT_TRUE(other.loadChanges.empty());
  EXPECT_TRUE(other.failovers.empty());  // it had no replicas in the killed cluster
  EXPECT_EQ(other.scaleActions, 0);
}

// shop/web's demand is 2, 6 and 3 cores at one core a replica; between 3 and 8 replicas the
// clairvoyant scaler has exactly the demand (no slack), but its floor of 3 replicas leaves a
// core unused for the first three seconds, and shop/other's floor of 2 leaves one throughout.
TEST(MeasurementsTest, ClairvoyantSlackIsWhatTheReplicaBoundsAndGranularityLeave) {
  MeasurementOptions options;
  options.replicaCapacityCores = {{"shop/web", 1.0}, {"shop/other", 1.0}};
  options.replicaBounds = {{"shop/web", {3, 8, 0}}, {"shop/other", {2, 4, 0}}};
  const Report report = computeReport("hand-made", handMadeTimeline(), options);
  const WorkloadReport& web = find(report, "shop/web");
  ASSERT_TRUE(web.clairvoyant.has_value());
  EXPECT_DOUBLE_EQ(web.clairvoyant->slackCoreSeconds, 3);      // t = 0, 1, 2: 3 replicas for 2
  EXPECT_DOUBLE_EQ(web.clairvoyant->capacityCoreSeconds, 75);  // 3 x 3 + 6 x 10 + 3 x 2
  // Without a window, holding changes nothing.
  EXPECT_DOUBLE_EQ(web.clairvoyantWindowed->slackCoreSeconds, 3);
  const WorkloadReport& other = find(report, "shop/other");
  EXPECT_DOUBLE_EQ(other.clairvoyant->slackCoreSeconds, 15);
  EXPECT_DOUBLE_EQ(other.clairvoyant->capacityCoreSeconds, 30);

  // 0.4 core a replica: the least demand, 2 cores, needs 5 replicas; a cap of 4 leaves a
  // shortfall and no slack all along.
  options.replicaCapacityCores["shop/web"] = 0.4;
  options.replicaBounds["shop/web"] = {1, 4, 0};
  const WorkloadReport capped =
      find(computeReport("hand-made", handMadeTimeline(), options), "shop/web");
  EXPECT_DOUBLE_EQ(capped.clairvoyant->slackCoreSeconds, 0);
  EXPECT_DOUBLE_EQ(capped.clairvoyant->capacityCoreSeconds, 1.6 * 15);
}

// The demand falls from 6 to 3 cores at t = 13: a scaler under a 2.5 s scale-down window keeps
// 6 replicas at t = 13 and 14 (t = 12 lies within 2.5 s of both), where the instant one has 3.
// A rise is followed at once.
TEST(MeasurementsTest, TheWindowedClairvoyantKeepsTheMostReplicasOfItsWindow) {
  MeasurementOptions options;
  options.replicaCapacityCores = {{"shop/web", 1.0}};
  options.replicaBounds = {{"shop/web", {1, 10, 2.5}}};
  const WorkloadReport web =
      find(computeReport("hand-made", handMadeTimeline(), options), "shop/web");
  EXPECT_DOUBLE_EQ(web.clairvoyant->slackCoreSeconds, 0);
  EXPECT_DOUBLE_EQ(web.clairvoyantWindowed->slackCoreSeconds, 3 + 3);
  EXPECT_DOUBLE_EQ(web.clairvoyantWindowed->capacityCoreSeconds, 72 - 6 + 12);
}

TEST(MeasurementsTest, NoClairvoyantFigureWithoutBounds) {
  const Report report = computeReport("hand-made", handMadeTimeline());
  EXPECT_FALSE(find(report, "shop/web").clairvoyant.has_value());
  EXPECT_FALSE(find(report, "shop/web").clairvoyantWindowed.has_value());
}

TEST(MeasurementsTest, ReactionTimesFromEachLoadChange) {
  const WorkloadReport web = find(computeReport("hand-made", handMadeTimeline()), "shop/web");
  ASSERT_EQ(web.loadChanges.size(), 2u);
  const LoadChange& rise = web.loadChanges[0];
  EXPECT_DOUBLE_EQ(rise.seconds, 3);
  EXPECT_DOUBLE_EQ(rise.fromCores, 2);
  EXPECT_DOUBLE_EQ(rise.toCores, 6);
  EXPECT_TRUE(rise.rise());
  ASSERT_TRUE(rise.firstRequestSeconds);
  EXPECT_DOUBLE_EQ(*rise.firstRequestSeconds, 1);
  ASSERT_TRUE(rise.readySeconds);
  EXPECT_DOUBLE_EQ(*rise.readySeconds, 3);
  const LoadChange& fall = web.loadChanges[1];
  EXPECT_DOUBLE_EQ(fall.seconds, 13);
  EXPECT_FALSE(fall.rise());
  ASSERT_TRUE(fall.firstRequestSeconds);
  EXPECT_DOUBLE_EQ(*fall.firstRequestSeconds, 0.5);
  ASSERT_TRUE(fall.readySeconds);
  EXPECT_DOUBLE_EQ(*fall.readySeconds, 1);
  EXPECT_EQ(web.scaleActions, 3);
  EXPECT_EQ(web.scaleActionsByCluster.at("a"), 3);
}

// A scaler that catches up in rounds (CPU limits cap what it sees), one replica = one core:
//   t=2   demand 2 -> 6;  it asks 2 -> 4 at t=3 and 4 -> 6 at t=6 (its second round)
//   t=5   demand 6 -> 9;  it asks 6 -> 9 at t=9
//   t=12  demand 9 -> 3;  it asks 9 -> 3 at t=12.5
// The request at t=6 still answers the first rise (6 replicas are what 6 cores need): the second
// rise's reaction is the request at t=9, not 1 s.
Timeline scalerInRounds() {
  const double demand[] = {2, 2, 6, 6, 6, 9, 9, 9, 9, 9, 9, 9, 3, 3, 3};
  Timeline timeline;
  for (int t = 0; t < 15; ++t) {
    TimelineSample sample;
    sample.seconds = t;
    WorkloadSample& web = sample.workloads["shop/web"];
    web.demandCores = demand[t];
    const int desired = t < 3 ? 2 : t < 6 ? 4 : t < 9 ? 6 : t < 13 ? 9 : 3;
    web.clusters["a"] = {desired, desired, desired, desired, true};
    web.readyCapacityCores = desired;
    timeline.samples.push_back(std::move(sample));
  }
  timeline.actions = {{3.0, "a", "shop/web", 2, 4, "hpa"},
                      {6.0, "a", "shop/web", 4, 6, "hpa"},
                      {9.0, "a", "shop/web", 6, 9, "hpa"},
                      {12.5, "a", "shop/web", 9, 3, "hpa"}};
  return timeline;
}

TEST(MeasurementsTest, ARequestAnEarlierChangeCalledForIsNotTheReactionToTheNext) {
  MeasurementOptions options;
  options.replicaCapacityCores["shop/web"] = 1.0;
  const WorkloadReport web = find(computeReport("rounds", scalerInRounds(), options), "shop/web");
  ASSERT_EQ(web.loadChanges.size(), 3u);
  ASSERT_TRUE(web.loadChanges[0].firstRequestSeconds);
  EXPECT_DOUBLE_EQ(*web.loadChanges[0].firstRequestSeconds, 1);  // 2 -> 4 at t=3
  ASSERT_TRUE(web.loadChanges[1].firstRequestSeconds);
  EXPECT_DOUBLE_EQ(*web.loadChanges[1].firstRequestSeconds, 4)
      << "4 -> 6 at t=6 is the first rise's second round; 6 -> 9 at t=9 answers the second";
  ASSERT_TRUE(web.loadChanges[2].firstRequestSeconds);
  EXPECT_DOUBLE_EQ(*web.loadChanges[2].firstRequestSeconds, 0.5);

  // Two rises answered after 1 and 4 s: median (nearest rank) 1 s, p90 4 s.
  EXPECT_EQ(web.riseSummary.rises, 2);
  EXPECT_EQ(web.riseSummary.answered, 2);
  EXPECT_EQ(web.riseSummary.firstRequestMedian, 1.0);
  EXPECT_EQ(web.riseSummary.firstRequestP90, 4.0);
  EXPECT_EQ(web.riseSummary.firstRequestP99, 4.0);

  // Without the capacity per replica nothing tells the rounds apart: the first request that way.
  const WorkloadReport plain = find(computeReport("rounds", scalerInRounds()), "shop/web");
  ASSERT_TRUE(plain.loadChanges[1].firstRequestSeconds);
  EXPECT_DOUBLE_EQ(*plain.loadChanges[1].firstRequestSeconds, 1);
}

TEST(MeasurementsTest, AScaleDownTheEarlierLevelAllowedIsNotTheReactionToAFall) {
  // 9 replicas for 6 cores (over-provisioned), then a fall to 3 cores at t=5: trimming to 7 is
  // not below what 6 cores needed, so only the later request down to 3 answers the fall.
  Timeline timeline;
  for (int t = 0; t < 10; ++t) {
    TimelineSample sample;
    sample.seconds = t;
    WorkloadSample& web = sample.workloads["shop/web"];
    web.demandCores = t < 5 ? 6 : 3;
    const int desired = t < 6 ? 9 : t < 8 ? 7 : 3;
    web.clusters["a"] = {desired, desired, desired, desired, true};
    web.readyCapacityCores = desired;
    timeline.samples.push_back(std::move(sample));
  }
  timeline.actions = {{6.0, "a", "shop/web", 9, 7, "x"}, {8.0, "a", "shop/web", 7, 3, "x"}};
  MeasurementOptions options;
  options.replicaCapacityCores["shop/web"] = 1.0;
  const WorkloadReport web = find(computeReport("fall", timeline, options), "shop/web");
  ASSERT_EQ(web.loadChanges.size(), 1u);
  ASSERT_TRUE(web.loadChanges[0].firstRequestSeconds);
  EXPECT_DOUBLE_EQ(*web.loadChanges[0].firstRequestSeconds, 3);
}

TEST(MeasurementsTest, ReactionCountsTheLiveClustersDesiredReplicas) {
  // The hand-made timeline with one replica = one core: the rise's request (a: 2 -> 4, b still
  // holding 2) leaves 6 live replicas, more than the 2 the old level needed; the fall's (a: 6 ->
  // 3 with b's 2) leaves 5, fewer than 6.
  MeasurementOptions options;
  options.replicaCapacityCores["shop/web"] = 1.0;
  const WorkloadReport web =
      find(computeReport("hand-made", handMadeTimeline(), options), "shop/web");
  ASSERT_EQ(web.loadChanges.size(), 2u);
  ASSERT_TRUE(web.loadChanges[0].firstRequestSeconds);
  EXPECT_DOUBLE_EQ(*web.loadChanges[0].firstRequestSeconds, 1);
  ASSERT_TRUE(web.loadChanges[1].firstRequestSeconds);
  EXPECT_DOUBLE_EQ(*web.loadChanges[1].firstRequestSeconds, 0.5);
  // With 2 cores a replica the old level (6 cores) needed 3: a's 6 -> 3 leaves 5 live replicas,
  // not fewer than 3, so nothing answers the fall.
  options.replicaCapacityCores["shop/web"] = 2.0;
  const WorkloadReport coarse =
      find(computeReport("hand-made", handMadeTimeline(), options), "shop/web");
  EXPECT_FALSE(coarse.loadChanges[1].firstRequestSeconds);
}

TEST(MeasurementsTest, SmallWigglesAreNotLoadChanges) {
  Timeline timeline;
  for (int i = 0; i < 10; ++i) {
    TimelineSample sample;
    sample.seconds = i;
    sample.workloads["w"].demandCores = 2.0 + (i % 2 ? 0.05 : -0.05);  // 5% peak to peak
    sample.workloads["w"].readyCapacityCores = 3;
    timeline.samples.push_back(sample);
  }
  EXPECT_TRUE(computeReport("wiggle", timeline).workloads[0].loadChanges.empty());
}

TEST(MeasurementsTest, FailoverAndFailbackAroundAClusterKill) {
  const WorkloadReport web = find(computeReport("hand-made", handMadeTimeline()), "shop/web");
  ASSERT_EQ(web.failovers.size(), 1u);
  const FailoverResult& f = web.failovers[0];
  EXPECT_EQ(f.cluster, "b");
  EXPECT_DOUBLE_EQ(f.killedAt, 7);
  ASSERT_TRUE(f.survivorRequestSeconds);  // a asked for 6 at t=7.5
  EXPECT_DOUBLE_EQ(*f.survivorRequestSeconds, 0.5);
  ASSERT_TRUE(f.failoverSeconds);
  EXPECT_DOUBLE_EQ(*f.failoverSeconds, 2);
  ASSERT_TRUE(f.revivedAt);
  EXPECT_DOUBLE_EQ(*f.revivedAt, 10);
  ASSERT_TRUE(f.failbackSeconds);
  EXPECT_DOUBLE_EQ(*f.failbackSeconds, 2);
}

TEST(MeasurementsTest, NoFailoverWhenCapacityNeverComesBack) {
  Timeline timeline = handMadeTimeline();
  timeline.actions.erase(timeline.actions.begin() + 1);  // nobody asks for replicas after the kill
  for (auto& sample : timeline.samples) {
    if (sample.seconds >= 8 && sample.seconds < 10) {
      auto& web = sample.workloads["shop/web"];
      web.clusters["a"].ready = 4;
      web.readyCapacityCores = 4;
    }
  }
  const WorkloadReport web = find(computeReport("t", timeline), "shop/web");
  ASSERT_EQ(web.failovers.size(), 1u);
  EXPECT_FALSE(web.failovers[0].failoverSeconds);  // not before the revival
  EXPECT_FALSE(web.failovers[0].survivorRequestSeconds);
}

TEST(MeasurementsTest, JsonAndTableCarryTheFigures) {
  const Timeline timeline = handMadeTimeline();
  const Report report = computeReport("hand-made", timeline);
  const nlohmann::json json = reportJson(report, timeline);
  EXPECT_EQ(json["scenario"], "hand-made");
  const auto& web = json["workloads"][1];
  ASSERT_EQ(web["workload"], "shop/web");
  EXPECT_DOUBLE_EQ(web["under_provisioned_seconds"].get<double>(), 5);
  EXPECT_EQ(web["load_changes"][0]["direction"], "up");
  EXPECT_DOUBLE_EQ(web["failovers"][0]["failover_seconds"].get<double>(), 2);
  EXPECT_EQ(web["series"]["t"].size(), 16u);
  EXPECT_EQ(web["series"]["clusters"]["b"]["alive"][7], false);
  EXPECT_EQ(json["scale_actions"].size(), 3u);
  EXPECT_EQ(json["faults"][0]["fault"], "kill-cluster");
  EXPECT_FALSE(json.contains("series_every_seconds"));
  EXPECT_EQ(web["rises"]["count"], 1);
  EXPECT_EQ(web["rises"]["first_request_median_seconds"], 1.0);
  EXPECT_EQ(web["rises"]["ready_p90_seconds"], 3.0);
  EXPECT_TRUE(json["workloads"][0]["rises"]["first_request_median_seconds"].is_null())
      << "shop/other has no rise";

  // A thinned series: one sample per 4 s (t = 0, 4, 8, 12), the figures unchanged.
  const nlohmann::json thin = reportJson(report, timeline, 4);
  EXPECT_EQ(thin["workloads"][1]["series"]["t"], nlohmann::json::array({0.0, 4.0, 8.0, 12.0}));
  EXPECT_EQ(thin["workloads"][1]["series"]["clusters"]["b"]["alive"].size(), 4u);
  EXPECT_EQ(thin["workloads"][1]["under_provisioned_seconds"], web["under_provisioned_seconds"]);
  EXPECT_EQ(thin["series_every_seconds"], 4.0);

  const std::string table = reportTable(report);
  EXPECT_NE(table.find("shop/web"), std::string::npos);
  EXPECT_NE(table.find("rises 1, answered 1: first request median 1.0 s, p90 1.0 s, p99 1.0 s; "
                       "ready capacity median 3.0 s, p90 3.0 s"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("5.0 s (33.3%)"), std::string::npos) << table;
  EXPECT_NE(table.find("3 (a 3)"), std::string::npos) << table;
  auto lineWith = [&](const std::string& needle) {
    const auto at = table.find(needle);
    if (at == std::string::npos) return std::string();
    const auto start = table.rfind('\n', at) + 1;
    return table.substr(start, table.find('\n', at) - start);
  };
  EXPECT_EQ(lineWith("2.00 -> 6.00 up"),
            "  3.0 s   2.00 -> 6.00 up    1.0 s                  3.0 s");
  EXPECT_EQ(lineWith("  b  "),
            "  b        7.0 s      0.5 s             2.0 s     10.0 s      2.0 s");
  EXPECT_DOUBLE_EQ(web["failovers"][0]["survivor_request_seconds"].get<double>(), 0.5);
}

}  // namespace
}  // namespace fleetscale::sim
