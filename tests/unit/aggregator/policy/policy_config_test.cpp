#include "fleetscale/aggregator/policy/policy_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "fleetscale/testing/process.h"

namespace fleetscale::aggregator {
namespace {

constexpr const char* kComplete = R"(
defaults:
  tolerance: 0.1
  cpuInitializationPeriod: 5m
  initialReadinessDelay: 30s
  downscaleStabilization: 5m
clusters:
  - name: aws-us-east-1
    cloud: aws
    region: us-east-1
    kubeconfig: /etc/fleetscale/kubeconfigs/aws.yaml
    context: fleetscale
  - name: gcp-europe-west1
    cloud: gcp
    region: europe-west1
    server: https://10.0.0.1:6443
    tokenFile: /etc/fleetscale/tokens/gcp
    caFile: /etc/fleetscale/ca/gcp.crt
  - name: home
    inCluster: true
  - name: vm-fleet
    cloud: onprem
    webhook:
      url: https://ops.example/scale
      tokenFile: /etc/fleetscale/tokens/webhook
workloads:
  - namespace: shop
    name: web
    kind: Deployment
    minReplicas: 2
    maxReplicas: 20
    clusters: [aws-us-east-1, gcp-europe-west1]
    metrics:
      - type: Resource
        resource:
          name: cpu
          target:
            type: Utilization
            averageUtilization: 70
      - type: Resource
        resource:
          name: memory
          target:
            type: AverageValue
            averageValue: 512Mi
    behavior:
      scaleUp:
        stabilizationWindowSeconds: 0
        selectPolicy: Max
        tolerance: 0.05
        policies:
          - type: Pods
            value: 4
            periodSeconds: 15
          - type: Percent
            value: 100
            periodSeconds: 15
      scaleDown:
        stabilizationWindowSeconds: 300
        selectPolicy: Min
        policies:
          - type: Percent
            value: 10
            periodSeconds: 60
  - namespace: shop
    name: db
    kind: StatefulSet
    maxReplicas: 5
    metrics:
      - type: Resource
        resource:
          name: cpu
          target:
            type: Utilization
            averageUtilization: 60
)";

TEST(PolicyConfigTest, ParsesACompleteFile) {
  auto config = parsePolicyConfig(kComplete, "policy.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_EQ(config->clusters.size(), 4u);
  EXPECT_EQ(config->clusters[0].access.kind, ClusterAccess::Kind::kKubeconfig);
  EXPECT_EQ(config->clusters[0].access.context, "fleetscale");
  EXPECT_EQ(config->clusters[1].access.kind, ClusterAccess::Kind::kServer);
  EXPECT_EQ(config->clusters[1].access.caFile, "/etc/fleetscale/ca/gcp.crt");
  EXPECT_EQ(config->clusters[2].access.kind, ClusterAccess::Kind::kInCluster);
  EXPECT_EQ(config->clusters[3].access.kind, ClusterAccess::Kind::kWebhook);
  EXPECT_EQ(config->clusters[3].access.webhookUrl, "https://ops.example/scale");

  const WorkloadConfig* web = config->findWorkload("shop", "web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->policy.minReplicas, 2);
  EXPECT_EQ(web->policy.maxReplicas, 20);
  ASSERT_EQ(web->policy.metrics.size(), 2u);
  EXPECT_EQ(web->policy.metrics[0].averageUtilization, 70);
  EXPECT_EQ(web->policy.metrics[1].averageValueMilli, (512LL << 20) * 1000);
  ASSERT_TRUE(web->policy.behavior);
  EXPECT_EQ(web->policy.behavior->scaleUp->tolerance, 0.05);
  EXPECT_EQ(web->policy.behavior->scaleUp->policies->size(), 2u);
  EXPECT_EQ(web->policy.behavior->scaleDown->selectPolicy, scaling::SelectPolicy::kMin);
  ASSERT_EQ(web->clusters.size(), 2u);
  EXPECT_EQ(web->clusters[0].name, "aws-us-east-1");
  EXPECT_EQ(web->clusters[1].name, "gcp-europe-west1");
  EXPECT_EQ(web->clusters[1].weight, 1) << "a bare name is weight 1";
  EXPECT_EQ(web->clusters[1].preference, 1) << "preference defaults to list position";
  EXPECT_EQ(web->policy.downscaleStabilizationSeconds, 300);

  const WorkloadConfig* db = config->findWorkload("shop", "db");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->kind, "StatefulSet");
  EXPECT_EQ(db->policy.minReplicas, 1) << "HPA default";
  EXPECT_FALSE(db->policy.behavior) << "no behavior = legacy normalization";
}

// Issue 14: decisions read the estimated CPU demand unless a workload (or the defaults) asks
// for the HPA's figure, usage.
TEST(PolicyConfigTest, CpuDemandIsThrottlingAwareUnlessUsageIsAsked) {
  const std::string metrics =
      "    maxReplicas: 3\n    metrics:\n      - type: Resource\n        resource: {name: cpu, "
      "target: {type: Utilization, averageUtilization: 50}}\n";
  auto config =
      parsePolicyConfig("workloads:\n  - namespace: a\n    name: plain\n" + metrics +
                            "  - namespace: a\n    name: hpa\n    demand: usage\n" + metrics,
                        "policy.yaml");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->findWorkload("a", "plain")->policy.cpuDemand,
            scaling::CpuDemand::kThrottlingAware);
  EXPECT_EQ(config->findWorkload("a", "hpa")->policy.cpuDemand, scaling::CpuDemand::kUsage);
  config = parsePolicyConfig(
      "defaults:\n  demand: usage\nworkloads:\n  - namespace: a\n    "
      "name: inherits\n" +
          metrics +
          "  - namespace: a\n    name: aware\n    demand: "
          "throttling-aware\n" +
          metrics,
      "policy.yaml");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->findWorkload("a", "inherits")->policy.cpuDemand, scaling::CpuDemand::kUsage);
  EXPECT_EQ(config->findWorkload("a", "aware")->policy.cpuDemand,
            scaling::CpuDemand::kThrottlingAware);
  config = parsePolicyConfig(
      "workloads:\n  - namespace: a\n    name: b\n    demand: psi\n" + metrics, "policy.yaml");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("workloads[0].demand: must be usage or throttling-aware"),
            std::string::npos)
      << config.error().message;
}

// Issue 14: predictive scaling is off unless asked, as a mode or a mode with a look-ahead, and
// the defaults carry to every workload.
TEST(PolicyConfigTest, PredictiveScalingIsOffUnlessAsked) {
  const std::string metrics =
      "    maxReplicas: 3\n    metrics:\n      - type: Resource\n        resource: {name: cpu, "
      "target: {type: Utilization, averageUtilization: 50}}\n";
  auto config = parsePolicyConfig(
      "defaults:\n  predictive: observe\nworkloads:\n  - namespace: a\n    name: inherits\n" +
          metrics + "  - namespace: a\n    name: plain\n    predictive: off\n" + metrics +
          "  - namespace: a\n    name: ahead\n    predictive: {mode: on, lookAhead: 10m, "
          "downscaleStabilization: 2m}\n" +
          metrics,
      "policy.yaml");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->findWorkload("a", "inherits")->policy.predictive.mode,
            scaling::PredictiveMode::kObserve);
  EXPECT_EQ(config->findWorkload("a", "plain")->policy.predictive.mode,
            scaling::PredictiveMode::kOff);
  const auto& ahead = config->findWorkload("a", "ahead")->policy.predictive;
  EXPECT_EQ(ahead.mode, scaling::PredictiveMode::kOn);
  EXPECT_EQ(ahead.lookAhead, std::chrono::minutes(10));
  EXPECT_FALSE(config->findWorkload("a", "inherits")->policy.predictive.lookAhead)
      << "learned unless set";
  EXPECT_EQ(ahead.downscaleStabilization, std::chrono::minutes(2));
  EXPECT_FALSE(config->findWorkload("a", "inherits")->policy.predictive.downscaleStabilization)
      << "the policy's window unless set";
  config = parsePolicyConfig(
      "workloads:\n  - namespace: a\n    name: b\n    predictive: always\n" + metrics,
      "policy.yaml");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("workloads[0].predictive: must be off, observe or on"),
            std::string::npos)
      << config.error().message;
  config = parsePolicyConfig(
      "workloads:\n  - namespace: a\n    name: b\n    predictive: {mode: on, lookAhead: 5h}\n" +
          metrics,
      "policy.yaml");
  ASSERT_FALSE(config) << "a look-ahead over an hour is refused";
  config = parsePolicyConfig(
      "workloads:\n  - namespace: a\n    name: b\n    predictive: {mode: on, horizon: 5m}\n" +
          metrics,
      "policy.yaml");
  ASSERT_FALSE(config) << "unknown keys are refused";
}

TEST(PolicyConfigTest, ErrorsNameTheLineAndTheField) {
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"workloads:\n  - namespace: a\n    name: b\n    maxReplicas: 3\n",
       "policy.yaml:2: workloads[0].metrics: must be a non-empty list"},
      {"workloads:\n  - namespace: a\n    name: b\n    maxReplicas: 3\n    metrics:\n      - type: "
       "Resource\n"
       "        resource:\n          name: cpu\n          target:\n            type: Utilization\n"
       "            averageUtilization: -5\n",
       "policy.yaml:11: workloads[0].metrics[0].resource.target.averageUtilization: must be "
       "between 1"},
      {"workloads:\n  - namespace: a\n    name: b\n    maxReplica: 3\n",
       "policy.yaml:4: workloads[0].maxReplica: unknown field"},
      {"clusters:\n  - name: c\n    server: https://x\n    kubeconfig: /k\n",
       "policy.yaml:2: clusters[0]: needs exactly one of"},
      {"clusters:\n  - name: c\n    server: ftp://x\n",
       "policy.yaml:3: clusters[0].server: must be an http(s):// URL"},
      {"workloads:\n  - namespace: a\n    name: b\n    minReplicas: 5\n    maxReplicas: 3\n    "
       "metrics: []\n",
       "policy.yaml:5: workloads[0].maxReplicas: must be at least minReplicas"},
      {"workloads:\n  - namespace: a\n    name: b\n    maxReplicas: 3\n    clusters: [nowhere]\n   "
       " metrics:\n"
       "      - type: Resource\n        resource: {name: cpu, target: {type: Utilization, "
       "averageUtilization: 50}}\n",
       "policy.yaml:5: workloads[0].clusters[0]: unknown cluster 'nowhere'"},
      {"workloads:\n  - namespace: a\n    name: b\n    maxReplicas: 3\n    metrics:\n      - type: "
       "Resource\n"
       "        resource: {name: cpu, target: {type: AverageValue, averageValue: lots}}\n",
       "policy.yaml:7: workloads[0].metrics[0].resource.target.averageValue: quantity 'lots'"},
      {"workloads:\n  - namespace: a\n    name: b\n    maxReplicas: 3\n    metrics:\n      - type: "
       "Resource\n"
       "        resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n    "
       "behavior:\n"
       "      scaleUp:\n        selectPolicy: Fastest\n",
       "policy.yaml:10: workloads[0].behavior.scaleUp.selectPolicy: must be Max, Min or Disabled"},
      {"workloads: [\n", "policy.yaml:"},
      {"- just\n- a list\n", "(top level): must be a mapping"},
  };
  for (const auto& c : cases) {
    auto config = parsePolicyConfig(c.yaml, "policy.yaml");
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(config.error().message.find(c.expected), std::string::npos)
        << "got: " << config.error().message << "\nwanted: " << c.expected;
  }
}

constexpr const char* kTwoClusters = R"(
clusters:
  - {name: aws, server: https://aws.example}
  - {name: gcp, server: https://gcp.example}
workloads:
  - namespace: shop
    name: web
    maxReplicas: 10
    metrics:
      - type: Resource
        resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
    clusters:
)";

TEST(PolicyConfigTest, PlacementEntriesCarryWeightsLimitsPreferenceAndCapacityOptIn) {
  const std::string yaml =
      std::string(kTwoClusters) +
      "      - {name: aws, weight: 3, minReplicas: 2, maxReplicas: 8}\n"
      "      - {name: gcp, weight: 0, preference: -1, fitToAllocatable: true}\n";
  auto config = parsePolicyConfig(yaml, "policy.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const auto& clusters = config->workloads.at(0).clusters;
  ASSERT_EQ(clusters.size(), 2u);
  EXPECT_EQ(clusters[0].weight, 3);
  EXPECT_EQ(clusters[0].minReplicas, 2);
  EXPECT_EQ(clusters[0].maxReplicas, 8);
  EXPECT_EQ(clusters[0].preference, 0);
  EXPECT_FALSE(clusters[0].fitToAllocatable);
  EXPECT_EQ(clusters[1].weight, 0) << "standby";
  EXPECT_FALSE(clusters[1].maxReplicas);
  EXPECT_EQ(clusters[1].preference, -1);
  EXPECT_TRUE(clusters[1].fitToAllocatable);
}

TEST(PolicyConfigTest, PlacementErrorsNameTheEntry) {
  struct Case {
    std::string entries;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"      - {name: aws, minReplicas: 4, maxReplicas: 2}\n",
       "policy.yaml:13: workloads[0].clusters[0].maxReplicas: must be at least minReplicas"},
      {"      - {name: aws, minReplicas: 6}\n      - {name: gcp, minReplicas: 6}\n",
       "workloads[0].clusters: the clusters' minReplicas add up to 12, more than maxReplicas 10"},
      {"      - aws\n      - {name: aws, weight: 2}\n",
       "policy.yaml:14: workloads[0].clusters[1]: cluster 'aws' listed twice"},
      {"      - {name: azure}\n",
       "policy.yaml:13: workloads[0].clusters[0]: unknown cluster 'azure'"},
      {"      - {name: aws, weight: -1}\n",
       "workloads[0].clusters[0].weight: must be a number from 0"},
      {"      - {name: aws, share: 2}\n", "workloads[0].clusters[0].share: unknown field"},
      {"      - {weight: 2}\n", "workloads[0].clusters[0].name"},
  };
  for (const auto& c : cases) {
    auto config = parsePolicyConfig(std::string(kTwoClusters) + c.entries, "policy.yaml");
    ASSERT_FALSE(config.ok()) << c.entries;
    EXPECT_NE(config.error().message.find(c.expected), std::string::npos)
        << "got: " << config.error().message << "\nwanted: " << c.expected;
  }
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The documented examples are what users copy: they must load as written.
TEST(PolicyConfigTest, TheDocumentedExamplesLoad) {
  const std::string doc = readFile(testing::fixturePath("../../docs/configuration.md"));
  // The one under "## A complete example" (other YAML blocks show Secrets, RBAC rules, ...).
  const auto begin = doc.find("```yaml\n", doc.find("## A complete example"));
  ASSERT_NE(begin, std::string::npos);
  const auto end = doc.find("```", begin + 8);
  auto fromDocs =
      parsePolicyConfig(doc.substr(begin + 8, end - begin - 8), "docs/configuration.md");
  ASSERT_TRUE(fromDocs.ok()) << fromDocs.error().message;
  const auto& placed = fromDocs->workloads.at(0).clusters;
  ASSERT_EQ(placed.size(), 3u);
  EXPECT_TRUE(placed[0].fitToAllocatable);
  EXPECT_EQ(placed[2].weight, 0);

  auto example = loadPolicyConfig(testing::fixturePath("../../systemd/policy.example.yaml"));
  EXPECT_TRUE(example.ok()) << example.error().message;
}

// Issue 19: an empty policy file on reload wiped every workload and cluster. An empty (or
// comments-only) document is refused; "workloads: []" says "scale nothing" on purpose.
TEST(PolicyConfigTest, AnEmptyFileIsRefusedAnEmptyListIsNot) {
  for (const char* yaml : {"", "\n\n", "# only a comment\n", "---\n"}) {
    auto config = parsePolicyConfig(yaml, "empty.yaml");
    ASSERT_FALSE(config.ok()) << "'" << yaml << "'";
    EXPECT_EQ(config.error().message,
              "empty.yaml: the policy is empty; to scale nothing, write 'workloads: []'");
  }
  auto none = parsePolicyConfig("workloads: []\n", "none.yaml");
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->workloads.empty());
  EXPECT_TRUE(none->clusters.empty());
}

// Issue 19: a policy with a non-UTF-8 cluster name was accepted, and /api/v1/status (and, through
// the stored event, /api/v1/events) answered 500 until the event expired. Text in a policy is
// UTF-8 without control characters, names are at most 253 bytes, the file at most 1 MiB.
TEST(PolicyConfigTest, HostileTextIsRefusedWithTheLine) {
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"clusters:\n  - name: aws\n    server: https://a\n  - name: bad\xff\n    server: "
       "https://b\n",
       "policy.yaml:4: not valid UTF-8"},
      {"clusters:\n  - name: \"bad\\udc00\"\n    server: https://b\n",
       "policy.yaml:2: "},  // a lone surrogate: yaml-cpp or the UTF-8 check refuses it
      {"clusters:\n  - name: \"two\\nlines\"\n    server: https://b\n",
       "policy.yaml:2: clusters[0].name: must not hold control characters"},
      {"clusters:\n  - name: \"csi\\x9b31m\"\n    server: https://b\n",
       "policy.yaml:2: clusters[0].name: must not hold control characters"},
      {"clusters:\n  - name: " + std::string(254, 'n') + "\n    server: https://b\n",
       "policy.yaml:2: clusters[0].name: is 254 bytes, longer than 253"},
      {"clusters:\n  - name: c\n    server: https://" + std::string(5000, 'h') + "\n",
       "policy.yaml:3: clusters[0].server: is 5008 bytes, longer than 4096"},
  };
  for (const auto& c : cases) {
    auto config = parsePolicyConfig(c.yaml, "policy.yaml");
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(config.error().message.find(c.expected), std::string::npos)
        << "got: " << config.error().message << "\nwanted: " << c.expected;
  }
  const std::string big = "clusters: []\n" + std::string(kMaxPolicyBytes, '#');
  auto tooBig = parsePolicyConfig(big, "big.yaml");
  ASSERT_FALSE(tooBig.ok());
  EXPECT_NE(tooBig.error().message.find("more than the limit of 1048576"), std::string::npos)
      << tooBig.error().message;
  auto multiByte = parsePolicyConfig(
      "clusters:\n  - name: z\xc3\xbcrich\n    region: \xe6\x9d\xb1\xe4\xba\xac\n    "
      "server: https://z\n",
      "policy.yaml");
  ASSERT_TRUE(multiByte.ok()) << multiByte.error().message;
  EXPECT_EQ(multiByte->clusters[0].name, "z\xc3\xbcrich");
}

// Issue 19: absurd policy durations were accepted. The HPA-like windows are at most an hour.
TEST(PolicyConfigTest, DurationsAreRangeChecked) {
  for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"defaults:\n  downscaleStabilization: 3000000h\nworkloads: []\n",
            "policy.yaml:2: defaults.downscaleStabilization: '3000000h' is longer than the maximum "
            "duration"},
           {"defaults:\n  cpuInitializationPeriod: 2h\nworkloads: []\n",
            "policy.yaml:2: defaults.cpuInitializationPeriod: '2h' is out of range: must be from "
            "0s to 1h"},
           {"defaults:\n  initialReadinessDelay: 100000h\nworkloads: []\n",
            "policy.yaml:2: defaults.initialReadinessDelay: '100000h' is longer than"},
       }) {
    auto config = parsePolicyConfig(yaml, "policy.yaml");
    ASSERT_FALSE(config.ok()) << yaml;
    EXPECT_NE(config.error().message.find(expected), std::string::npos)
        << "got: " << config.error().message << "\nwanted: " << expected;
  }
  auto hour = parsePolicyConfig("defaults:\n  downscaleStabilization: 1h\nworkloads: []\n", "p");
  ASSERT_TRUE(hour.ok()) << hour.error().message;
}

TEST(PolicyConfigTest, AFileOverTheLimitIsNotRead) {
  char path[] = "/tmp/fleetscale-policy-test-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string chunk(1 << 20, '#');
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(::write(fd, chunk.data(), chunk.size()), static_cast<ssize_t>(chunk.size()));
  }
  ::close(fd);
  auto config = loadPolicyConfig(path);
  ::unlink(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("larger than the limit of 1048576 bytes"),
            std::string::npos)
      << config.error().message;
}

TEST(PolicyConfigTest, MissingFileIsAnError) {
  EXPECT_FALSE(loadPolicyConfig("/nonexistent/policy.yaml").ok());
}

}  // namespace
}  // namespace fleetscale::aggregator
