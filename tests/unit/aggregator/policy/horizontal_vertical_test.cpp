// Horizontal and vertical scaling on one workload (docs/rightsizing.md, "Horizontal and vertical
// together"): right-sizing that applies never moves a request a horizontal Utilization metric
// reads.
#include "fleetscale/aggregator/policy/horizontal_vertical.h"

#include <gtest/gtest.h>

#include "fleetscale/aggregator/policy/policy_config.h"

namespace fleetscale::aggregator {
namespace {

using rightsizing::Mode;
using scaling::MetricTarget;
using scaling::Resource;

scaling::WorkloadPolicy scalingOn(std::vector<MetricTarget> metrics) {
  scaling::WorkloadPolicy policy;
  policy.maxReplicas = 10;
  policy.metrics = std::move(metrics);
  return policy;
}

rightsizing::RightsizingPolicy applying(Mode mode) {
  rightsizing::RightsizingPolicy policy;
  policy.mode = mode;
  return policy;
}

TEST(HorizontalVerticalTest, ApplyingRightsizingLeavesTheUtilizationResourceAlone) {
  for (const Mode mode : {Mode::kInPlace, Mode::kRecreate}) {
    const auto combined = combineHorizontalVertical(
        scalingOn({MetricTarget::utilization(Resource::kCpu, 80)}), applying(mode));
    ASSERT_TRUE(combined) << combined.error().message;
    EXPECT_FALSE(combined->controlsCpu);
    EXPECT_TRUE(combined->controlsMemory);
  }
  const auto onMemory = combineHorizontalVertical(
      scalingOn({MetricTarget::utilization(Resource::kMemory, 70)}), applying(Mode::kInPlace));
  ASSERT_TRUE(onMemory) << onMemory.error().message;
  EXPECT_TRUE(onMemory->controlsCpu);
  EXPECT_FALSE(onMemory->controlsMemory);
}

TEST(HorizontalVerticalTest, AbsoluteTargetsAndRecommendationsKeepEveryResource) {
  // An AverageValue target is cores per replica, whatever the request: nothing to protect.
  auto combined = combineHorizontalVertical(
      scalingOn({MetricTarget::averageValue(Resource::kCpu, 400)}), applying(Mode::kInPlace));
  ASSERT_TRUE(combined) << combined.error().message;
  EXPECT_TRUE(combined->controlsCpu);
  EXPECT_TRUE(combined->controlsMemory);
  // A recommendation moves no request.
  for (const Mode mode : {Mode::kOff, Mode::kRecommend}) {
    combined =
        combineHorizontalVertical(scalingOn({MetricTarget::utilization(Resource::kCpu, 80),
                                             MetricTarget::utilization(Resource::kMemory, 80)}),
                                  applying(mode));
    ASSERT_TRUE(combined) << combined.error().message;
    EXPECT_TRUE(combined->controlsCpu);
    EXPECT_TRUE(combined->controlsMemory);
  }
}

TEST(HorizontalVerticalTest, RefusesWhatWouldFight) {
  auto listed = applying(Mode::kInPlace);
  listed.controlledResourcesListed = true;  // controlledResources: [cpu, memory]
  auto combined =
      combineHorizontalVertical(scalingOn({MetricTarget::utilization(Resource::kCpu, 80)}), listed);
  ASSERT_FALSE(combined);
  EXPECT_NE(combined.error().message.find("controlledResources names cpu"), std::string::npos)
      << combined.error().message;
  EXPECT_NE(combined.error().message.find("AverageValue"), std::string::npos);

  combined =
      combineHorizontalVertical(scalingOn({MetricTarget::utilization(Resource::kCpu, 80),
                                           MetricTarget::utilization(Resource::kMemory, 80)}),
                                applying(Mode::kRecreate));
  ASSERT_FALSE(combined);
  EXPECT_NE(combined.error().message.find("no resource left"), std::string::npos)
      << combined.error().message;
}

TEST(HorizontalVerticalTest, ThePolicyFileSaysWhereAndWhy) {
  const std::string head =
      "workloads:\n  - namespace: shop\n    name: web\n    maxReplicas: 3\n    metrics:\n"
      "      - type: Resource\n        resource: {name: cpu, target: {type: Utilization, "
      "averageUtilization: 50}}\n";
  auto config = parsePolicyConfig(head + "    rightsizing: {mode: in-place}\n", "policy.yaml");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_FALSE(config->workloads[0].rightsizing.controlsCpu);
  EXPECT_TRUE(config->workloads[0].rightsizing.controlsMemory);

  config = parsePolicyConfig(
      head + "    rightsizing: {mode: in-place, controlledResources: [cpu, memory]}\n",
      "policy.yaml");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("workloads[0].rightsizing"), std::string::npos)
      << config.error().message;
  EXPECT_NE(config.error().message.find("cpu utilization"), std::string::npos)
      << config.error().message;
}

}  // namespace
}  // namespace fleetscale::aggregator
