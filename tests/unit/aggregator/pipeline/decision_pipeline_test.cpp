// The decision pipeline as a table of single calls (observation, clusters, memory in; decision,
// placement and writes out), then the cases that need several calls with the same memory.
#include "fleetscale/aggregator/pipeline/decision_pipeline.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator {
namespace {

using scaling::Allocation;
using scaling::HealthState;

const WallTime kNow = WallTime{} + std::chrono::hours(24 * 365 * 50);

// `pods` ready pods of `cluster`, each requesting 0.5 core and using `cpuCores` (no metrics
// when negative), running for an hour.
struct Load {
  std::string cluster;
  int pods = 0;
  double cpuCores = 0;
};

scaling::WorkloadObservation observe(const std::vector<Load>& loads) {
  scaling::WorkloadObservation observation;
  for (const auto& load : loads) {
    for (int i = 0; i < load.pods; ++i) {
      scaling::PodInfo pod;
      pod.name = load.cluster + "/web-" + std::to_string(i);
      pod.cluster = load.cluster;
      pod.startTime = kNow - std::chrono::hours(1);
      pod.readyCondition = scaling::ReadyCondition{true, kNow - std::chrono::hours(1)};
      pod.cpuRequestMilli = 500;
      if (load.cpuCores >= 0) {
        observation.metrics[scaling::Resource::kCpu][pod.name] = scaling::PodMetric{
            static_cast<std::int64_t>(load.cpuCores * 1000), kNow, std::chrono::seconds(1)};
      }
      observation.pods.push_back(pod);
    }
  }
  return observation;
}

scaling::WorkloadPolicy cpuAt50Percent() {
  scaling::WorkloadPolicy policy;
  policy.minReplicas = 1;
  policy.maxReplicas = 20;
  policy.metrics.push_back(scaling::MetricTarget::utilization(scaling::Resource::kCpu, 50));
  return policy;
}

// Placed over aws (preferred) and gcp at equal weight.
WorkloadInput web(const std::vector<Load>& loads, std::map<std::string, std::int32_t> spec) {
  WorkloadInput input;
  input.policy = cpuAt50Percent();
  input.placements = {{"aws", 1, 0, std::nullopt, 0, false}, {"gcp", 1, 0, std::nullopt, 1, false}};
  input.observation = observe(loads);
  input.specReplicas = std::move(spec);
  return input;
}

PipelineContext context(std::map<std::string, ClusterConditions> clusters = {}) {
  PipelineContext out;
  out.now = kNow;
  out.clusters = std::move(clusters);
  return out;
}

ClusterConditions failed() { return {HealthState::kFailed, false, {}}; }
ClusterConditions draining() { return {HealthState::kHealthy, true, {}}; }

WorkloadMemory sized(std::int32_t fleetReplicas) {
  WorkloadMemory memory;
  memory.fleetReplicas = fleetReplicas;
  return memory;
}

struct Case {
  std::string name;
  PipelineContext context;
  WorkloadInput input;
  WorkloadMemory memory;
  bool skipped = false;
  std::int32_t current = 0;
  std::int32_t desired = 0;
  Allocation writes;  // what the caller is to write
  std::int32_t unplaced = 0;
  std::string reason;  // a part of the decision's reason
};

std::vector<Case> cases() {
  std::vector<Case> out;
  // 2 + 2 pods at 100% of their request against a 50% target: the fleet needs 8.
  out.push_back({"scale up",
                 context(),
                 web({{"aws", 2, 0.5}, {"gcp", 2, 0.5}}, {{"aws", 2}, {"gcp", 2}}),
                 {},
                 false,
                 4,
                 8,
                 {{"aws", 4}, {"gcp", 4}},
                 0,
                 "scale up from 4 to 8"});
  out.push_back({"hold at target",
                 context(),
                 web({{"aws", 2, 0.25}, {"gcp", 2, 0.25}}, {{"aws", 2}, {"gcp", 2}}),
                 {},
                 false,
                 4,
                 4,
                 {},
                 0,
                 "no change: 4 replicas"});
  // No metrics: no decision, but gcp failed and its share still moves to aws.
  out.push_back({"no decision keeps the total, failover still moves",
                 context({{"gcp", failed()}}),
                 web({{"aws", 2, -1}, {"gcp", 2, -1}}, {{"aws", 2}, {"gcp", 2}}),
                 sized(4),
                 false,
                 4,
                 4,
                 {{"aws", 4}},
                 0,
                 "no decision"});
  // gcp failed: its pods' heavy load is gone with it; aws's two pods at target hold the 4.
  out.push_back({"pods in failed clusters neither serve nor count",
                 context({{"gcp", failed()}}),
                 web({{"aws", 2, 0.25}, {"gcp", 2, 5.0}}, {{"aws", 2}, {"gcp", 2}}),
                 sized(4),
                 false,
                 4,
                 4,
                 {{"aws", 4}},
                 0,
                 "no change"});
  Case capped{"unplaced replicas",
              context(),
              web({{"aws", 2, 0.5}, {"gcp", 2, 0.5}}, {{"aws", 2}, {"gcp", 2}}),
              {},
              false,
              4,
              8,
              {{"aws", 3}, {"gcp", 3}},
              2,
              "scale up"};
  capped.input.placements = {{"aws", 1, 0, 3, 0, false}, {"gcp", 1, 0, 3, 1, false}};
  out.push_back(capped);
  // aws's nodes: 1.5 cores allocatable, 1.0 requested by its pods: one more 0.5-core pod fits.
  Case fit{"fit to allocatable",
           context({{"aws", {HealthState::kHealthy, false, {1.5, 0, 1.0, 0}}}}),
           web({{"aws", 2, 0.5}, {"gcp", 2, 0.5}}, {{"aws", 2}, {"gcp", 2}}),
           {},
           false,
           4,
           8,
           {{"aws", 3}, {"gcp", 5}},
           0,
           "scale up"};
  fit.input.placements[0].fitToAllocatable = true;
  fit.input.perPod.cpuCores = 0.5;
  out.push_back(fit);
  // gcp grows first; aws gives up nothing until gcp's new replicas are ready.
  out.push_back({"drain grows the others first",
                 context({{"aws", draining()}}),
                 web({{"aws", 2, 0.25}, {"gcp", 2, 0.25}}, {{"aws", 2}, {"gcp", 2}}),
                 sized(4),
                 false,
                 4,
                 4,
                 {{"gcp", 4}},
                 0,
                 "no change"});
  PipelineContext dryRun = context();
  dryRun.dryRun = true;
  out.push_back({"dry run writes nothing",
                 dryRun,
                 web({{"aws", 2, 0.5}, {"gcp", 2, 0.5}}, {{"aws", 2}, {"gcp", 2}}),
                 {},
                 false,
                 4,
                 8,
                 {},
                 0,
                 "scale up"});
  PipelineContext standby = context();
  standby.leader = false;
  standby.elected = true;
  out.push_back({"a standby writes nothing",
                 standby,
                 web({{"aws", 2, 0.5}, {"gcp", 2, 0.5}}, {{"aws", 2}, {"gcp", 2}}),
                 {},
                 false,
                 4,
                 8,
                 {},
                 0,
                 "scale up"});
  // Before any scale read, the pods the agents see stand for the spec.
  out.push_back({"no read yet: the pods seen",
                 context(),
                 web({{"aws", 2, 0.25}, {"gcp", 1, 0.25}}, {}),
                 {},
                 false,
                 3,
                 3,
                 {},
                 0,
                 "no change"});
  out.push_back({"nothing known yet", context(), web({}, {}), {}, true, 0, 0, {}, 0, ""});
  return out;
}

TEST(DecisionPipelineTest, Table) {
  for (auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const PipelineResult result = runPipeline(c.context, c.input, c.memory);
    EXPECT_EQ(result.skipped, c.skipped);
    EXPECT_EQ(result.currentReplicas, c.current);
    EXPECT_EQ(result.desiredReplicas, c.desired);
    EXPECT_EQ(result.writes, c.writes);
    EXPECT_EQ(result.plan.unplaced, c.unplaced);
    EXPECT_NE(result.decision.reason.find(c.reason), std::string::npos) << result.decision.reason;
    EXPECT_EQ(result.act, !c.skipped && c.context.leader && !c.context.dryRun);
    if (c.skipped) {
      EXPECT_EQ(result.skipReason, "waiting for the first scale read or agent report");
      EXPECT_FALSE(c.memory.fleetReplicas.has_value()) << "the memory is left as it was";
      EXPECT_FALSE(c.memory.observingSince.has_value());
    } else {
      EXPECT_EQ(c.memory.fleetReplicas, c.desired) << "the new fleet size is remembered";
      EXPECT_EQ(result.clusters.size(), 2u);
    }
  }
}

TEST(DecisionPipelineTest, DryRunAndStandbyStillPlan) {
  for (const bool dryRun : {true, false}) {
    PipelineContext passive = context();
    passive.dryRun = dryRun;
    passive.leader = dryRun;
    WorkloadMemory memory;
    const auto result = runPipeline(
        passive, web({{"aws", 2, 0.5}, {"gcp", 2, 0.5}}, {{"aws", 2}, {"gcp", 2}}), memory);
    EXPECT_EQ(result.plan.writes, (Allocation{{"aws", 4}, {"gcp", 4}})) << "what it would write";
    EXPECT_TRUE(result.writes.empty());
    EXPECT_EQ(memory.lastSpec, (Allocation{{"aws", 2}, {"gcp", 2}})) << "nothing was written";
  }
}

// A standby records the scale the leader makes of the same decision, so its rate limits match
// the leader's when it takes over; a dry run records none.
TEST(DecisionPipelineTest, AStandbyRecordsTheScaleADryRunDoesNot) {
  for (const bool dryRun : {false, true}) {
    PipelineContext passive = context();
    passive.dryRun = dryRun;
    passive.leader = false;
    WorkloadInput input = web({{"aws", 2, 0.5}, {"gcp", 2, 0.5}}, {{"aws", 2}, {"gcp", 2}});
    input.policy.behavior = scaling::Behavior{};
    WorkloadMemory memory;
    ASSERT_TRUE(runPipeline(passive, input, memory).decision.scale);
    EXPECT_EQ(memory.history.scaleUpEvents.size(), dryRun ? 0u : 1u) << "dry run " << dryRun;
  }
}

// Elected a moment ago, with an hour-old history: the window holds nothing of the last 300 s,
// so the new leader keeps the count rather than scale down on one tick of data.
TEST(DecisionPipelineTest, ANewLeaderHoldsScaleDownUntilItHasWatchedTheWindow) {
  const WorkloadInput quiet = web({{"aws", 2, 0.025}, {"gcp", 2, 0.025}}, {{"aws", 2}, {"gcp", 2}});
  auto remembered = [] {
    WorkloadMemory memory = sized(4);
    memory.history.recommendations.push_back({4, kNow - std::chrono::hours(1)});
    return memory;
  };
  PipelineContext elected = context();
  elected.elected = true;
  WorkloadMemory memory = remembered();
  auto result = runPipeline(elected, quiet, memory);
  EXPECT_EQ(result.desiredReplicas, 4);
  EXPECT_TRUE(result.writes.empty());
  ASSERT_FALSE(result.decision.steps.empty());
  EXPECT_EQ(result.decision.steps.back().rule, "takeover");
  EXPECT_NE(result.decision.reason.find("after becoming leader"), std::string::npos);
  EXPECT_EQ(memory.observingSince, kNow);
  // Once it has watched the workload for the whole window, the HPA's rules alone decide.
  elected.now = kNow + std::chrono::seconds(301);
  result = runPipeline(elected, quiet, memory);
  EXPECT_LT(result.desiredReplicas, 4);
  // Without leader election (one aggregator, restarted) there is no hold.
  memory = remembered();
  result = runPipeline(context(), quiet, memory);
  EXPECT_EQ(result.desiredReplicas, 1);
  EXPECT_EQ(result.writes, (Allocation{{"aws", 1}, {"gcp", 0}}));
}

TEST(DecisionPipelineTest, ADrainFinishesAsReplicasBecomeReadyElsewhere) {
  const PipelineContext drainAws = context({{"aws", draining()}});
  WorkloadMemory memory = sized(4);
  auto result = runPipeline(
      drainAws, web({{"aws", 2, 0.25}, {"gcp", 2, 0.25}}, {{"aws", 2}, {"gcp", 2}}), memory);
  EXPECT_EQ(result.writes, (Allocation{{"gcp", 4}}));
  ASSERT_EQ(result.plan.notes.size(), 1u);
  EXPECT_NE(result.plan.notes[0].find("aws keeps 2"), std::string::npos);
  result = runPipeline(drainAws,
                       web({{"aws", 2, 0.25}, {"gcp", 4, 0.25}}, {{"aws", 2}, {"gcp", 4}}), memory);
  EXPECT_EQ(result.writes, (Allocation{{"aws", 0}}));
  EXPECT_EQ(result.plan.targets, (Allocation{{"aws", 0}, {"gcp", 4}}));
}

// What was written stands for a cluster's spec until its API has been read.
TEST(DecisionPipelineTest, TheLastWriteStandsForAClusterNotReadYet) {
  WorkloadMemory memory;
  (void)runPipeline(context(), web({{"aws", 2, 0.5}, {"gcp", 2, 0.5}}, {{"aws", 2}, {"gcp", 2}}),
                    memory);
  EXPECT_EQ(memory.lastSpec, (Allocation{{"aws", 4}, {"gcp", 4}}));
  const auto result =
      runPipeline(context(), web({{"aws", 2, 0.25}, {"gcp", 2, 0.25}}, {{"aws", 4}}), memory);
  ASSERT_EQ(result.clusters.size(), 2u);
  EXPECT_EQ(result.clusters[1].specReplicas, 4) << "gcp: the write, not the 2 pods seen";
}

TEST(DecisionPipelineTest, PlacementDefaultsToEveryClusterOfThePolicyInOrder) {
  PolicyConfig policy;
  policy.clusters.resize(2);
  policy.clusters[0].name = "gcp";
  policy.clusters[1].name = "aws";
  WorkloadConfig workload;
  const auto all = placementsOf(workload, policy);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "gcp");
  EXPECT_EQ(all[1].preference, 1);
  EXPECT_EQ(all[1].weight, 1);
  workload.clusters = {{"aws", 2, 1, std::nullopt, 0, false}};
  EXPECT_EQ(placementsOf(workload, policy).size(), 1u) << "as configured";
}

// Predictive scaling on with `downscaleStabilization: 1m`: once the model forecasts, the
// scale-down stabilization window is a minute, not five; the forecast's floor holds what a
// coming rise needs. Here the model has
// learned a flat 1 core a day (4 replicas at 50% of 0.5 core), the load falls from 8 replicas'
// worth to 2, and 90 s later the reactive rules call for 2.
TEST(DecisionPipelineTest, AForecastShortensTheScaleDownStabilizationToItsOwnWindow) {
  auto run = [](scaling::PredictiveMode mode) {
    WorkloadMemory memory = sized(8);
    const auto nowMinute =
        std::chrono::duration_cast<std::chrono::minutes>(kNow.time_since_epoch()).count();
    for (auto m = nowMinute - 1500; m < nowMinute; ++m)
      memory.predictive.forecaster.addMinute(m, 1.0);
    auto busy = web({{"aws", 4, 0.25}, {"gcp", 4, 0.25}}, {{"aws", 4}, {"gcp", 4}});
    busy.policy.predictive.mode = mode;
    busy.policy.predictive.lookAhead = std::chrono::minutes(1);
    busy.policy.predictive.downscaleStabilization = std::chrono::minutes(1);
    EXPECT_EQ(runPipeline(context(), busy, memory).desiredReplicas, 8);
    auto quiet = web({{"aws", 4, 0.0625}, {"gcp", 4, 0.0625}}, {{"aws", 4}, {"gcp", 4}});
    quiet.policy.predictive = busy.policy.predictive;
    PipelineContext later = context();
    later.now = kNow + std::chrono::seconds(90);
    return runPipeline(later, quiet, memory);
  };
  EXPECT_EQ(run(scaling::PredictiveMode::kOff).desiredReplicas, 8)
      << "the HPA's 5 minutes hold the 8";
  EXPECT_EQ(run(scaling::PredictiveMode::kObserve).desiredReplicas, 8)
      << "observing changes nothing";
  const PipelineResult on = run(scaling::PredictiveMode::kOn);
  ASSERT_TRUE(on.forecast && on.forecast->replicas);
  EXPECT_LT(*on.forecast->replicas, 8);
  EXPECT_GT(*on.forecast->replicas, 2);
  EXPECT_EQ(on.desiredReplicas, *on.forecast->replicas)
      << "a minute's window, then down to the forecast's floor, not to the reactive 2";
}

}  // namespace
}  // namespace fleetscale::aggregator
