// The whole decision as the HPA controller's reconcile makes it: proposals per metric, the
// largest taken, invalid-metric rules, min/max, and behavior over simulated time.
#include "fleetscale/aggregator/scaling/decision.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator::scaling {
namespace {

using std::chrono::seconds;

const WallTime kStart = WallTime(std::chrono::seconds(1'750'000'000));

// `count` ready pods requesting 1 core and 1 GiB each, using `cpuMilli` and `memoryBytes`.
WorkloadObservation observe(int count, std::int64_t cpuMilli, std::int64_t memoryBytes,
                            WallTime now, bool memoryRequests = true) {
  WorkloadObservation observation;
  observation.currentReplicas = count;
  for (int i = 0; i < count; ++i) {
    PodInfo pod;
    pod.name = "web-" + std::to_string(i);
    pod.readyCondition = ReadyCondition{true, now - std::chrono::minutes(30)};
    pod.startTime = now - std::chrono::minutes(30);
    pod.cpuRequestMilli = 1000;
    if (memoryRequests) pod.memoryRequestMilli = (1LL << 30) * 1000;
    observation.pods.push_back(pod);
    observation.metrics[Resource::kCpu][pod.name] = PodMetric{cpuMilli, now, seconds(1)};
    observation.metrics[Resource::kMemory][pod.name] =
        PodMetric{memoryBytes * 1000, now, seconds(1)};
  }
  return observation;
}

WorkloadPolicy cpuPolicy(std::int32_t minReplicas, std::int32_t maxReplicas, std::int32_t target) {
  WorkloadPolicy policy;
  policy.minReplicas = minReplicas;
  policy.maxReplicas = maxReplicas;
  policy.metrics.push_back(MetricTarget::utilization(Resource::kCpu, target));
  return policy;
}

TEST(ScalingDecisionTest, LegacyScaleUpIsLimitedAndExplained) {
  ScalingHistory history;
  const auto decision = decide(cpuPolicy(1, 100, 50), observe(2, 2000, 0, kStart), history, kStart);
  ASSERT_TRUE(decision.error.empty()) << decision.error;
  EXPECT_EQ(decision.metricDesiredReplicas, 8) << "400% of a 50% target on 2 pods";
  EXPECT_EQ(decision.desiredReplicas, 4) << "max(2 x 2, 4)";
  EXPECT_TRUE(decision.scale);
  ASSERT_EQ(decision.steps.size(), 2u);
  EXPECT_EQ(decision.steps[0].rule, "metric proposal");
  EXPECT_NE(decision.steps[0].detail.find("cpu utilization 50%"), std::string::npos);
  EXPECT_EQ(decision.steps[1].rule, "limits");
  EXPECT_NE(decision.steps[1].detail.find("ScaleUpLimit"), std::string::npos);
  EXPECT_EQ(decision.reason, "scale up from 2 to 4");
}

TEST(ScalingDecisionTest, ReconcileShortcuts) {
  ScalingHistory history;
  auto disabled = observe(0, 0, 0, kStart);
  EXPECT_FALSE(decide(cpuPolicy(1, 10, 50), disabled, history, kStart).scale)
      << "0 replicas = disabled";
  auto above = decide(cpuPolicy(1, 3, 50), observe(5, 100, 0, kStart), history, kStart);
  EXPECT_EQ(above.desiredReplicas, 3);
  EXPECT_TRUE(above.scale);
  auto below = decide(cpuPolicy(4, 10, 50), observe(2, 100, 0, kStart), history, kStart);
  EXPECT_EQ(below.desiredReplicas, 4);
}

TEST(ScalingDecisionTest, LargestProposalAcrossMetricsWins) {
  ScalingHistory history;
  auto policy = cpuPolicy(1, 100, 100);
  policy.metrics.push_back(MetricTarget::averageValue(Resource::kMemory, (256LL << 20) * 1000));
  // CPU at 100% of target (no change); memory at 2x its 256 MiB average target.
  const auto decision = decide(policy, observe(3, 1000, 512LL << 20, kStart), history, kStart);
  ASSERT_EQ(decision.metrics.size(), 2u);
  EXPECT_EQ(decision.metrics[0].proposal->replicas, 3);
  EXPECT_EQ(decision.metrics[1].proposal->replicas, 6);
  EXPECT_EQ(decision.desiredReplicas, 6);
}

TEST(ScalingDecisionTest, InvalidMetricBlocksScaleDownButNotScaleUp) {
  auto policy = cpuPolicy(1, 100, 50);
  policy.metrics.push_back(MetricTarget::utilization(Resource::kMemory, 50));
  ScalingHistory history;
  // Memory has no requests: that metric is invalid. CPU wants to scale down: not allowed.
  auto down = decide(policy, observe(4, 100, 100, kStart, false), history, kStart);
  EXPECT_FALSE(down.scale);
  EXPECT_NE(down.error.find("1 invalid out of 2"), std::string::npos) << down.error;
  EXPECT_NE(down.error.find("missing request for memory"), std::string::npos) << down.error;
  // CPU wants to scale up: allowed despite the invalid metric.
  auto up = decide(policy, observe(4, 1000, 100, kStart, false), history, kStart);
  EXPECT_TRUE(up.scale);
  EXPECT_EQ(up.desiredReplicas, 8);
}

TEST(ScalingDecisionTest, NoMetricsAtAllIsAnError) {
  ScalingHistory history;
  auto observation = observe(3, 100, 0, kStart);
  observation.metrics.clear();
  const auto decision = decide(cpuPolicy(1, 10, 50), observation, history, kStart);
  EXPECT_FALSE(decision.scale);
  EXPECT_FALSE(decision.error.empty());
}

TEST(ScalingDecisionTest, DefaultBehaviorHoldsScaleDownForTheStabilizationWindow) {
  auto policy = cpuPolicy(1, 100, 50);
  policy.behavior = Behavior{};  // all defaults: down window 300 s, 100% per 15 s
  ScalingHistory history;
  // First sight at 10 replicas seeds the history with 10; load then drops to 10%.
  auto first = decide(policy, observe(10, 100, 0, kStart), history, kStart);
  EXPECT_FALSE(first.scale) << "the seeded recommendation of 10 holds the scale-down";
  ASSERT_FALSE(first.steps.empty());
  EXPECT_EQ(first.steps.back().rule, "stabilization");
  auto later =
      decide(policy, observe(10, 100, 0, kStart + seconds(200)), history, kStart + seconds(200));
  EXPECT_FALSE(later.scale);
  auto after =
      decide(policy, observe(10, 100, 0, kStart + seconds(301)), history, kStart + seconds(301));
  EXPECT_TRUE(after.scale);
  EXPECT_EQ(after.desiredReplicas, 2) << "ceil(0.2 x 10)";
}

TEST(ScalingDecisionTest, BehaviorRatePolicyUsesRecordedScaleEvents) {
  auto policy = cpuPolicy(1, 100, 50);
  ScalingRules up;
  up.policies = std::vector<ScalingPolicy>{{PolicyType::kPods, 2, 60}};
  policy.behavior = Behavior{up, std::nullopt};
  ScalingHistory history;
  auto first = decide(policy, observe(4, 1000, 0, kStart), history, kStart);
  EXPECT_EQ(first.desiredReplicas, 6) << "+2 pods per 60 s";
  recordScale(policy, history, 4, 6, kStart);
  auto second =
      decide(policy, observe(6, 1000, 0, kStart + seconds(10)), history, kStart + seconds(10));
  EXPECT_EQ(second.desiredReplicas, 6) << "the 2 pods added 10 s ago use up this period";
  EXPECT_EQ(second.steps.back().detail.substr(0, 12), "ScaleUpLimit");
  auto third =
      decide(policy, observe(6, 1000, 0, kStart + seconds(61)), history, kStart + seconds(61));
  EXPECT_EQ(third.desiredReplicas, 8);
}

TEST(ScalingDecisionTest, PerDirectionToleranceFromBehavior) {
  auto policy = cpuPolicy(1, 100, 100);
  ScalingRules up;
  up.tolerance = 0.5;
  policy.behavior = Behavior{up, std::nullopt};
  ScalingHistory history;
  EXPECT_FALSE(decide(policy, observe(4, 1400, 0, kStart), history, kStart).scale)
      << "140% within +50%";
  EXPECT_TRUE(decide(policy, observe(4, 1600, 0, kStart), history, kStart).scale);
}

}  // namespace
}  // namespace fleetscale::aggregator::scaling
