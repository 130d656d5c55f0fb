// The workloads' `rightsizing` section of the policy file (docs/configuration.md, "Right-sizing").
#include <gtest/gtest.h>

#include "fleetscale/aggregator/policy/policy_config.h"

namespace fleetscale::aggregator {
namespace {

using rightsizing::LimitsMode;
using rightsizing::Mode;

std::string workloadWith(const std::string& rightsizing) {
  return "workloads:\n  - namespace: shop\n    name: web\n    maxReplicas: 3\n    metrics:\n"
         "      - type: Resource\n        resource: {name: cpu, target: {type: Utilization, "
         "averageUtilization: 50}}\n" +
         rightsizing;
}

TEST(RightsizingPolicyTest, RecommendsByDefaultForNamedAndUnnamedWorkloads) {
  auto config = parsePolicyConfig(workloadWith(""), "policy.yaml");
  ASSERT_TRUE(config) << config.error().message;
  const auto named = config->rightsizingFor({"shop", "Deployment", "web"});
  EXPECT_EQ(named.mode, Mode::kRecommend);
  EXPECT_TRUE(named.controlsCpu);
  EXPECT_TRUE(named.controlsMemory);
  EXPECT_EQ(named.limits, LimitsMode::kKeepRatio);
  EXPECT_EQ(config->rightsizingFor({"other", "Deployment", "x"}).mode, Mode::kRecommend);
}

TEST(RightsizingPolicyTest, ParsesHowRecommendationsAreApplied) {
  auto config = parsePolicyConfig(workloadWith(""), "policy.yaml");
  ASSERT_TRUE(config) << config.error().message;
  auto policy = config->rightsizingFor({"shop", "Deployment", "web"});
  EXPECT_DOUBLE_EQ(policy.minChangeRatio, 0.1);
  EXPECT_DOUBLE_EQ(policy.minChange.cpuCores, 0.01);
  EXPECT_DOUBLE_EQ(policy.minChange.memoryBytes, 16.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(policy.resizeBudget, 0.1);
  EXPECT_EQ(policy.fallback, rightsizing::Fallback::kNone);

  config = parsePolicyConfig(workloadWith(R"(    rightsizing:
      mode: in-place
      minChange: {ratio: 0.2, cpu: 50m}
      resizeBudget: 0.25
      fallback: recreate
)"),
                             "policy.yaml");
  ASSERT_TRUE(config) << config.error().message;
  policy = config->rightsizingFor({"shop", "Deployment", "web"});
  EXPECT_DOUBLE_EQ(policy.minChangeRatio, 0.2);
  EXPECT_DOUBLE_EQ(policy.minChange.cpuCores, 0.05);
  EXPECT_DOUBLE_EQ(policy.minChange.memoryBytes, 16.0 * 1024 * 1024);  // the default kept
  EXPECT_DOUBLE_EQ(policy.resizeBudget, 0.25);
  EXPECT_EQ(policy.fallback, rightsizing::Fallback::kRecreate);

  for (const char* bad : {"fallback: restart", "resizeBudget: 2", "minChange: {ratio: -1}",
                          "minChange: {cpu: 0}", "minChange: {disk: 1}"}) {
    EXPECT_FALSE(parsePolicyConfig(workloadWith("    rightsizing: {" + std::string(bad) + "}\n"),
                                   "policy.yaml"))
        << bad;
  }
}

TEST(RightsizingPolicyTest, ParsesEveryField) {
  auto config = parsePolicyConfig(workloadWith(R"(    rightsizing:
      mode: in-place
      minAllowed: {cpu: 50m, memory: 64Mi}
      maxAllowed: {cpu: "2", memory: 4Gi}
      controlledResources: [memory]
      limits: {cpu: 2, memory: 1}
)"),
                                  "policy.yaml");
  ASSERT_TRUE(config) << config.error().message;
  const auto policy = config->rightsizingFor({"shop", "Deployment", "web"});
  EXPECT_EQ(policy.mode, Mode::kInPlace);
  EXPECT_DOUBLE_EQ(policy.minAllowed.cpuCores, 0.05);
  EXPECT_DOUBLE_EQ(policy.minAllowed.memoryBytes, 64.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(policy.maxAllowed.cpuCores, 2);
  EXPECT_DOUBLE_EQ(policy.maxAllowed.memoryBytes, 4.0 * 1024 * 1024 * 1024);
  EXPECT_FALSE(policy.controlsCpu);
  EXPECT_TRUE(policy.controlsMemory);
  EXPECT_EQ(policy.limits, LimitsMode::kRatio);
  EXPECT_DOUBLE_EQ(policy.limitRatio.cpuCores, 2);
  EXPECT_DOUBLE_EQ(policy.limitRatio.memoryBytes, 1);

  for (const auto& [text, mode] : {std::pair{"off", Mode::kOff},
                                   {"recommend", Mode::kRecommend},
                                   {"recreate", Mode::kRecreate}}) {
    config = parsePolicyConfig(workloadWith("    rightsizing: {mode: " + std::string(text) + "}\n"),
                               "policy.yaml");
    ASSERT_TRUE(config) << text << ": " << config.error().message;
    EXPECT_EQ(config->workloads[0].rightsizing.mode, mode) << text;
  }
  config = parsePolicyConfig(workloadWith("    rightsizing: {limits: unchanged}\n"), "policy.yaml");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->workloads[0].rightsizing.limits, LimitsMode::kUnchanged);
}

TEST(RightsizingPolicyTest, ErrorsNameTheLineAndTheField) {
  struct Case {
    std::string rightsizing;
    std::string expected;
  };
  const Case cases[] = {
      {"    rightsizing: {mode: auto}\n",
       "policy.yaml:8: workloads[0].rightsizing.mode: must be off, recommend, in-place or "
       "recreate"},
      {"    rightsizing: {target: p90}\n", "workloads[0].rightsizing.target: unknown field"},
      {"    rightsizing: {minAllowed: {cpu: lots}}\n",
       "workloads[0].rightsizing.minAllowed.cpu: quantity 'lots'"},
      {"    rightsizing: {minAllowed: {cpu: 0}}\n",
       "workloads[0].rightsizing.minAllowed.cpu: must be positive"},
      {"    rightsizing: {maxAllowed: {gpu: 1}}\n",
       "workloads[0].rightsizing.maxAllowed.gpu: unknown field"},
      {"    rightsizing: {minAllowed: {memory: 2Gi}, maxAllowed: {memory: 1Gi}}\n",
       "workloads[0].rightsizing.maxAllowed.memory: must be at least minAllowed.memory"},
      {"    rightsizing: {minAllowed: {cpu: 2}, maxAllowed: {cpu: 1}}\n",
       "workloads[0].rightsizing.maxAllowed.cpu: must be at least minAllowed.cpu"},
      {"    rightsizing: {controlledResources: []}\n",
       "workloads[0].rightsizing.controlledResources: must be a non-empty list"},
      {"    rightsizing: {controlledResources: [cpu, gpu]}\n",
       "workloads[0].rightsizing.controlledResources[1]: must be cpu or memory"},
      {"    rightsizing: {controlledResources: [cpu, cpu]}\n",
       "workloads[0].rightsizing.controlledResources[1]: names cpu twice"},
      {"    rightsizing: {limits: none}\n",
       "workloads[0].rightsizing.limits: must be keep-ratio, unchanged, or a limit:request ratio"},
      {"    rightsizing: {limits: {cpu: 0.5}}\n",
       "workloads[0].rightsizing.limits.cpu: must be a number from 1 to 1000"},
  };
  for (const auto& c : cases) {
    auto config = parsePolicyConfig(workloadWith(c.rightsizing), "policy.yaml");
    ASSERT_FALSE(config.ok()) << c.rightsizing;
    EXPECT_NE(config.error().message.find(c.expected), std::string::npos)
        << "got: " << config.error().message << "\nwanted: " << c.expected;
  }
}

}  // namespace
}  // namespace fleetscale::aggregator
