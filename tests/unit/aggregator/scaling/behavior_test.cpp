// Cases transcribed from Kubernetes' pkg/controller/podautoscaler/horizontal_test.go:
// TestNormalizeDesiredReplicas, TestScalingWithRules, TestStoreScaleEvents and
// TestNormalizeDesiredReplicasWithBehavior (each case keeps its upstream name). Upstream's
// generateScalingRules(pods, podsPeriod, percent, percentPeriod, stabilizationWindow) and
// generateEventsUniformDistribution are reproduced below.
#include "fleetscale/aggregator/scaling/behavior.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator::scaling {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const WallTime kNow = WallTime(std::chrono::seconds(1'750'000'000));

std::optional<ScalingRules> generateScalingRules(std::int32_t pods, std::int32_t podsPeriod,
                                                 std::int32_t percent, std::int32_t percentPeriod,
                                                 std::int32_t stabilizationWindow) {
  ScalingRules rules;
  rules.stabilizationWindowSeconds = stabilizationWindow;
  rules.selectPolicy = SelectPolicy::kMax;
  std::vector<ScalingPolicy> policies;
  if (pods != 0) policies.push_back({PolicyType::kPods, pods, podsPeriod});
  if (percent != 0) policies.push_back({PolicyType::kPercent, percent, percentPeriod});
  rules.policies = policies;
  return rules;
}

// Events spread evenly over the period, newest last (as upstream's helper lays them out).
std::vector<ScaleEvent> generateEventsUniformDistribution(const std::vector<int>& raw,
                                                          int periodSeconds) {
  std::vector<ScaleEvent> events;
  const double segment = static_cast<double>(periodSeconds) / static_cast<double>(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const double boundary = periodSeconds - segment * static_cast<double>(i + 1) + segment / 2;
    events.push_back({raw[i],
                      kNow - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                 std::chrono::duration<double>(boundary)),
                      false});
  }
  return events;
}

TEST(ScalingBehaviorTest, UpstreamNormalizeDesiredReplicas) {
  struct Case {
    std::string name;
    std::vector<TimestampedRecommendation> recommendations;
    std::int32_t prenormalized;
    std::int32_t expectedStabilized;
    std::size_t expectedLogLength;
  };
  const std::vector<Case> cases = {
      {"empty log", {}, 5, 5, 1},
      {"stabilize", {{4, kNow - minutes(2)}, {5, kNow - minutes(1)}}, 3, 5, 3},
      {"no stabilize", {{1, kNow - minutes(2)}, {2, kNow - minutes(1)}}, 3, 3, 3},
      {"no stabilize - old recommendations",
       {{10, kNow - minutes(10)}, {9, kNow - minutes(9)}},
       3,
       3,
       2},
      {"stabilize - old recommendations",
       {{10, kNow - minutes(10)},
        {4, kNow - minutes(1)},
        {5, kNow - minutes(2)},
        {9, kNow - minutes(9)}},
       3,
       5,
       4},
  };
  for (auto c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(stabilizeRecommendation(c.recommendations, c.prenormalized, kNow, 300),
              c.expectedStabilized);
    EXPECT_EQ(c.recommendations.size(), c.expectedLogLength);
  }
}

TEST(ScalingBehaviorTest, UpstreamScalingWithRules) {
  struct Case {
    std::string name;
    std::vector<ScaleEvent> scaleUpEvents;
    std::vector<ScaleEvent> scaleDownEvents;
    std::int32_t minReplicas;
    std::int32_t maxReplicas;
    std::optional<ScalingRules> scaleUpRules;
    std::optional<ScalingRules> scaleDownRules;
    std::int32_t current;
    std::int32_t prenormalized;
    std::int32_t expected;
    std::string expectedCondition;
  };
  const auto none = std::nullopt;
  const auto events = [](std::vector<int> raw) {
    return generateEventsUniformDistribution(raw, 120);
  };
  const std::vector<Case> cases = {
      {"prenormalized desired replicas within range",
       {},
       {},
       3,
       8,
       none,
       none,
       5,
       7,
       7,
       "DesiredWithinRange"},
      {"prenormalized desired replicas < minReplicas",
       {},
       {},
       2,
       8,
       none,
       none,
       3,
       1,
       2,
       "TooFewReplicas"},
      {"prenormalized desired replicas within range when minReplicas is 0",
       {},
       {},
       0,
       10,
       none,
       none,
       1,
       0,
       0,
       "DesiredWithinRange"},
      {"maxReplicas is the limit because maxReplicas < scaleUpLimit",
       {},
       {},
       1,
       10,
       none,
       none,
       20,
       1000,
       10,
       "TooManyReplicas"},
      {"desired replica count is more than the maximum replica count",
       {},
       {},
       100,
       150,
       none,
       none,
       100,
       1000,
       150,
       "TooManyReplicas"},
      {"scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies",
       {},
       {},
       1,
       2000,
       generateScalingRules(0, 0, 1, 60, 0),
       none,
       3,
       1000,
       4,
       "ScaleUpLimit"},
      {"scaleDownLimit is the limit because scaleDownLimit > minReplicas with user defined "
       "policies",
       {},
       {},
       3,
       2000,
       none,
       generateScalingRules(20, 60, 0, 0, 0),
       1000,
       3,
       980,
       "ScaleDownLimit"},
      {"scaleUp with default behavior", {}, {}, 1, 1000, none, none, 10, 50, 20, "ScaleUpLimit"},
      {"scaleUp with pods policy larger than percent policy",
       {},
       {},
       1,
       1000,
       generateScalingRules(100, 60, 100, 60, 0),
       none,
       10,
       500,
       110,
       "ScaleUpLimit"},
      {"scaleUp with percent policy larger than pods policy",
       {},
       {},
       1,
       1000,
       generateScalingRules(2, 60, 100, 60, 0),
       none,
       10,
       500,
       20,
       "ScaleUpLimit"},
      {"scaleUp with spec MaxReplicas limitation with large pod policy",
       {},
       {},
       1,
       1000,
       generateScalingRules(100, 60, 0, 0, 0),
       none,
       10,
       50,
       50,
       "DesiredWithinRange"},
      {"scaleUp with spec MaxReplicas limitation with large percent policy",
       {},
       {},
       1,
       1000,
       generateScalingRules(10000, 60, 0, 0, 0),
       none,
       10,
       50,
       50,
       "DesiredWithinRange"},
      {"scaleUp with pod policy limitation",
       {},
       {},
       1,
       1000,
       generateScalingRules(30, 60, 0, 0, 0),
       none,
       10,
       50,
       40,
       "ScaleUpLimit"},
      {"scaleUp with percent policy limitation",
       {},
       {},
       1,
       1000,
       generateScalingRules(0, 0, 200, 60, 0),
       none,
       10,
       50,
       30,
       "ScaleUpLimit"},
      {"scaleDown with percent policy larger than pod policy",
       {},
       {},
       1,
       1000,
       none,
       generateScalingRules(20, 60, 1, 60, 300),
       100,
       2,
       80,
       "ScaleDownLimit"},
      {"scaleDown with pod policy larger than percent policy",
       {},
       {},
       1,
       1000,
       none,
       generateScalingRules(2, 60, 1, 60, 300),
       100,
       2,
       98,
       "ScaleDownLimit"},
      {"scaleDown with spec MinReplicas=nil limitation with large pod policy",
       {},
       {},
       1,
       1000,
       none,
       generateScalingRules(100, 60, 0, 0, 300),
       10,
       0,
       1,
       "TooFewReplicas"},
      {"scaleDown with spec MinReplicas limitation with large pod policy",
       {},
       {},
       1,
       1000,
       none,
       generateScalingRules(100, 60, 0, 0, 300),
       10,
       0,
       1,
       "TooFewReplicas"},
      {"scaleDown with spec MinReplicas limitation with large percent policy",
       {},
       {},
       5,
       1000,
       none,
       generateScalingRules(0, 0, 100, 60, 300),
       10,
       2,
       5,
       "TooFewReplicas"},
      {"scaleDown with pod policy limitation",
       {},
       {},
       1,
       1000,
       none,
       generateScalingRules(5, 60, 0, 0, 300),
       10,
       2,
       5,
       "ScaleDownLimit"},
      {"scaleDown with percent policy limitation",
       {},
       {},
       1,
       1000,
       none,
       generateScalingRules(0, 0, 50, 60, 300),
       10,
       5,
       5,
       "DesiredWithinRange"},
      {"scaleUp with spec MaxReplicas limitation with large pod policy and events",
       events({1, 5, 9}),
       {},
       1,
       200,
       generateScalingRules(300, 60, 0, 0, 0),
       none,
       100,
       500,
       200,
       "TooManyReplicas"},
      {"scaleUp with spec MaxReplicas limitation with large percent policy and events",
       events({1, 5, 9}),
       {},
       1,
       200,
       generateScalingRules(0, 0, 10000, 60, 0),
       none,
       100,
       500,
       200,
       "TooManyReplicas"},
      {"scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale "
       "up events",
       events({1, 5, 9}),
       {},
       1,
       1000,
       generateScalingRules(5, 120, 0, 0, 0),
       none,
       100,
       500,
       100,
       "ScaleUpLimit"},
      {"scaleUp with pod policy and previous scale up events",
       events({1, 5, 9}),
       {},
       1,
       1000,
       generateScalingRules(150, 120, 0, 0, 0),
       none,
       100,
       500,
       235,
       "ScaleUpLimit"},
      {"scaleUp with percent policy and previous scale up events",
       events({1, 5, 9}),
       {},
       1,
       1000,
       generateScalingRules(0, 0, 200, 120, 0),
       none,
       100,
       500,
       255,
       "ScaleUpLimit"},
      {"scaleUp with percent policy and previous scale up and down events", events({4}),
       events({2}), 1, 1000, generateScalingRules(0, 0, 300, 300, 0), none, 6, 24, 16,
       "ScaleUpLimit"},
      {"scaleDown with default policy and previous events",
       {},
       events({1, 5, 9}),
       1,
       1000,
       none,
       none,
       10,
       5,
       5,
       "DesiredWithinRange"},
      {"scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events",
       {},
       events({1, 5, 9}),
       1,
       1000,
       none,
       generateScalingRules(115, 120, 0, 0, 300),
       100,
       0,
       1,
       "TooFewReplicas"},
      {"scaleDown with spec MinReplicas limitation with large pod policy and previous events",
       {},
       events({1, 5, 9}),
       5,
       1000,
       none,
       generateScalingRules(130, 120, 0, 0, 300),
       100,
       0,
       5,
       "TooFewReplicas"},
      {"scaleDown with spec MinReplicas limitation with large percent policy and previous events",
       {},
       events({1, 5, 9}),
       5,
       1000,
       none,
       generateScalingRules(0, 0, 100, 120, 300),
       100,
       2,
       5,
       "TooFewReplicas"},
      {"scaleDown with pod policy limitation and previous events",
       {},
       events({1, 5, 9}),
       1,
       1000,
       none,
       generateScalingRules(5, 120, 0, 0, 300),
       100,
       2,
       100,
       "ScaleDownLimit"},
      {"scaleDown with percent policy limitation and previous events",
       {},
       events({2, 4, 6}),
       1,
       1000,
       none,
       generateScalingRules(0, 0, 50, 120, 300),
       100,
       0,
       56,
       "ScaleDownLimit"},
      {"scaleDown with percent policy and previous scale up and down events", events({2}),
       events({4}), 1, 1000, none, generateScalingRules(0, 0, 50, 180, 0), 10, 1, 6,
       "ScaleDownLimit"},
      {"scaleDown with previous events preventing further scale down",
       {},
       events({10, 10, 10}),
       1,
       1000,
       none,
       generateScalingRules(0, 0, 10, 120, 300),
       100,
       0,
       100,
       "ScaleDownLimit"},
      {"scaleDown with with previous events still allowing more scale down",
       {},
       events({10, 10, 10}),
       1,
       1000,
       none,
       generateScalingRules(0, 0, 1000, 120, 300),
       10,
       5,
       5,
       "DesiredWithinRange"},
      {"check 'outdated' flag for events for one behavior for up",
       events({8, 12, 9, 11}),
       {},
       1,
       1000,
       generateScalingRules(1000, 60, 0, 0, 0),
       none,
       100,
       200,
       200,
       "DesiredWithinRange"},
      {"check that events were not marked 'outdated' for two different policies in the behavior "
       "for up",
       events({8, 12, 9, 11}),
       {},
       1,
       1000,
       generateScalingRules(1000, 120, 100, 60, 0),
       none,
       100,
       200,
       200,
       "DesiredWithinRange"},
      {"check that events were marked 'outdated' for two different policies in the behavior for up",
       events({8, 12, 9, 11}),
       {},
       1,
       1000,
       generateScalingRules(1000, 30, 100, 60, 0),
       none,
       100,
       200,
       200,
       "DesiredWithinRange"},
      {"check 'outdated' flag for events for one behavior for down",
       {},
       events({8, 12, 9, 11}),
       1,
       1000,
       none,
       generateScalingRules(1000, 60, 0, 0, 300),
       100,
       5,
       5,
       "DesiredWithinRange"},
      {"check that events were not marked 'outdated' for two different policies in the behavior "
       "for down",
       {},
       events({8, 12, 9, 11}),
       1,
       1000,
       none,
       generateScalingRules(1000, 120, 100, 60, 300),
       100,
       5,
       5,
       "DesiredWithinRange"},
      {"check that events were marked 'outdated' for two different policies in the behavior for "
       "down",
       {},
       events({8, 12, 9, 11}),
       1,
       1000,
       none,
       generateScalingRules(1000, 30, 100, 60, 300),
       100,
       5,
       5,
       "DesiredWithinRange"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ScalingHistory history{{}, c.scaleUpEvents, c.scaleDownEvents, std::nullopt};
    const auto up = resolveScaleUpRules(c.scaleUpRules, 0.1);
    const auto down = resolveScaleDownRules(c.scaleDownRules, 300, 0.1);
    const auto limited = convertDesiredReplicasWithBehaviorRate(
        c.current, c.prenormalized, c.minReplicas, c.maxReplicas, up, down, history, kNow);
    EXPECT_EQ(limited.replicas, c.expected);
    EXPECT_EQ(limited.reason, c.expectedCondition);
  }
}

TEST(ScalingBehaviorTest, UpstreamStoreScaleEvents) {
  struct Case {
    std::string name;
    std::int32_t replicaChange;
    std::vector<ScaleEvent> previous;
    std::vector<ScaleEvent> expected;
    std::optional<ScalingRules> rules;
    std::int32_t expectedReplicasChange;
  };
  const auto ago = [](int s) { return kNow - seconds(s); };
  const std::vector<Case> cases = {
      {"empty entries with default behavior", 5, {}, {}, std::nullopt, 0},
      {"empty entries with two-policy-behavior",
       5,
       {},
       {{5, kNow, false}},
       generateScalingRules(10, 60, 100, 60, 0),
       0},
      {"one outdated entry to be kept untouched without behavior",
       5,
       {{7, ago(61), false}},
       {{7, kNow, false}},
       std::nullopt,
       0},
      {"one outdated entry to be replaced with behavior",
       5,
       {{7, ago(61), false}},
       {{5, kNow, false}},
       generateScalingRules(10, 60, 100, 60, 0),
       0},
      {"one actual entry to be not touched with behavior",
       5,
       {{7, ago(58), false}},
       {{7, kNow, false}, {5, kNow, false}},
       generateScalingRules(10, 60, 100, 60, 0),
       7},
      {"two entries, one of them to be replaced",
       5,
       {{7, ago(61), false}, {6, ago(59), false}},
       {{5, kNow, false}, {6, kNow, false}},
       generateScalingRules(10, 60, 0, 0, 0),
       6},
      {"replace one entry, use policies with different periods",
       5,
       {{8, ago(29), false}, {6, ago(59), false}, {7, ago(61), false}, {9, ago(61), false}},
       {{8, kNow, false}, {6, kNow, false}, {7, kNow, true}, {5, kNow, false}},
       generateScalingRules(10, 60, 100, 30, 0),
       14},
      {"two entries, both actual",
       5,
       {{7, ago(58), false}, {6, ago(59), false}},
       {{7, kNow, false}, {6, kNow, false}, {5, kNow, false}},
       generateScalingRules(10, 120, 100, 30, 0),
       13},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    for (const bool up : {true, false}) {
      ScalingHistory history;
      (up ? history.scaleUpEvents : history.scaleDownEvents) = c.previous;
      EXPECT_EQ(
          replicasChangePerPeriod(60, up ? history.scaleUpEvents : history.scaleDownEvents, kNow),
          c.expectedReplicasChange);
      std::optional<Behavior> behavior;
      if (c.rules)
        behavior = up ? Behavior{c.rules, std::nullopt} : Behavior{std::nullopt, c.rules};
      const auto upRules = resolveScaleUpRules(behavior ? behavior->scaleUp : std::nullopt, 0.1);
      const auto downRules =
          resolveScaleDownRules(behavior ? behavior->scaleDown : std::nullopt, 300, 0.1);
      storeScaleEvent(behavior, upRules, downRules, history, 10,
                      up ? 10 + c.replicaChange : 10 - c.replicaChange, kNow);
      const auto& got = up ? history.scaleUpEvents : history.scaleDownEvents;
      if (!behavior) {
        EXPECT_EQ(got.size(), c.previous.size()) << "without behavior nothing is stored";
        continue;
      }
      ASSERT_EQ(got.size(), c.expected.size()) << (up ? "up" : "down");
      for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].replicaChange, c.expected[i].replicaChange) << i;
        EXPECT_EQ(got[i].outdated, c.expected[i].outdated) << i;
      }
    }
  }
}

TEST(ScalingBehaviorTest, UpstreamNormalizeDesiredReplicasWithBehavior) {
  struct Case {
    std::string name;
    std::vector<TimestampedRecommendation> recommendations;
    std::int32_t current;
    std::int32_t prenormalized;
    std::int32_t expectedStabilized;
    std::vector<std::int32_t> expectedRecommendations;  // empty = not checked
    std::int32_t upWindow = 0;
    std::int32_t downWindow = 0;
  };
  const auto ago = [](std::chrono::minutes m) { return kNow - m; };
  const std::vector<Case> cases = {
      {"empty recommendations for scaling down", {}, 100, 5, 5, {5}},
      {"simple scale down stabilization",
       {{4, ago(minutes(2))}, {5, ago(minutes(1))}},
       100,
       3,
       5,
       {4, 5, 3},
       0,
       60 * 3},
      {"simple scale up stabilization",
       {{4, ago(minutes(2))}, {5, ago(minutes(1))}},
       1,
       7,
       4,
       {4, 5, 7},
       60 * 5,
       0},
      {"no scale down stabilization",
       {{1, ago(minutes(2))}, {2, ago(minutes(1))}},
       100,
       3,
       3,
       {1, 2, 3},
       60 * 5,
       0},
      {"no scale up stabilization",
       {{4, ago(minutes(2))}, {5, ago(minutes(1))}},
       1,
       3,
       3,
       {4, 5, 3},
       0,
       60 * 5},
      {"no scale down stabilization, reuse recommendation element",
       {{10, ago(minutes(10))}, {9, ago(minutes(9))}},
       100,
       3,
       3,
       {10, 3}},
      {"no scale up stabilization, reuse recommendation element",
       {{10, ago(minutes(10))}, {9, ago(minutes(9))}},
       1,
       100,
       100,
       {10, 100}},
      {"scale down stabilization, reuse one of obsolete recommendation element",
       {{10, ago(minutes(10))}, {4, ago(minutes(1))}, {5, ago(minutes(2))}, {9, ago(minutes(9))}},
       100,
       3,
       5,
       {10, 4, 5, 3},
       0,
       3 * 60},
      {"scale up stabilization, reuse one of obsolete recommendation element",
       {{10, ago(minutes(100))}, {6, ago(minutes(1))}, {5, ago(minutes(2))}, {9, ago(minutes(3))}},
       1,
       100,
       5,
       {100, 6, 5, 9},
       300,
       0},
      {"scale up and down stabilization, do not scale up when prenormalized rec goes down",
       {{2, ago(minutes(100))}, {3, ago(minutes(3))}},
       2,
       1,
       2,
       {},
       300,
       300},
      {"scale up and down stabilization, do not scale down when prenormalized rec goes up",
       {{2, ago(minutes(100))}, {1, ago(minutes(3))}},
       2,
       3,
       2,
       {},
       300,
       300},
  };
  for (auto c : cases) {
    SCOPED_TRACE(c.name);
    const auto result = stabilizeRecommendationWithBehaviors(
        c.recommendations, c.current, c.prenormalized, c.upWindow, c.downWindow, kNow);
    EXPECT_EQ(result.replicas, c.expectedStabilized);
    if (c.expectedRecommendations.empty()) continue;
    ASSERT_EQ(c.recommendations.size(), c.expectedRecommendations.size());
    for (std::size_t i = 0; i < c.recommendations.size(); ++i) {
      EXPECT_EQ(c.recommendations[i].replicas, c.expectedRecommendations[i]) << i;
    }
  }
}

// Not upstream: the legacy (no behavior) limit is max(2 x current, 4), capped by maxReplicas.
TEST(ScalingBehaviorTest, LegacyScaleUpLimit) {
  EXPECT_EQ(convertDesiredReplicasWithRules(1, 10, 1, 100).replicas, 4);
  EXPECT_EQ(convertDesiredReplicasWithRules(5, 100, 1, 100).replicas, 10);
  EXPECT_EQ(convertDesiredReplicasWithRules(5, 100, 1, 100).reason, "ScaleUpLimit");
  EXPECT_EQ(convertDesiredReplicasWithRules(5, 100, 1, 8).replicas, 8);
  EXPECT_EQ(convertDesiredReplicasWithRules(5, 100, 1, 8).reason, "TooManyReplicas");
  EXPECT_EQ(convertDesiredReplicasWithRules(5, 0, 2, 8).replicas, 2);
  EXPECT_EQ(convertDesiredReplicasWithRules(5, 6, 2, 8).reason, "DesiredWithinRange");
}

TEST(ScalingBehaviorTest, DisabledAndMinSelectPolicies) {
  ScalingRules disabled;
  disabled.selectPolicy = SelectPolicy::kDisabled;
  const auto down = resolveScaleDownRules(disabled, 300, 0.1);
  EXPECT_EQ(scaleDownLimit(10, {}, {}, down, kNow), 10);
  ScalingRules minPolicy = *generateScalingRules(4, 60, 50, 60, 0);
  minPolicy.selectPolicy = SelectPolicy::kMin;
  const auto up = resolveScaleUpRules(minPolicy, 0.1);
  EXPECT_EQ(scaleUpLimit(10, {}, {}, up, kNow), 14) << "min(10 + 4, 15)";
  const auto downMin = resolveScaleDownRules(minPolicy, 300, 0.1);
  EXPECT_EQ(scaleDownLimit(10, {}, {}, downMin, kNow), 6) << "max(10 - 4, 5)";
}

}  // namespace
}  // namespace fleetscale::aggregator::scaling
