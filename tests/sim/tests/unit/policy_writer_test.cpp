// The policy the simulator writes for the aggregator is one the aggregator's own parser accepts,
// with the scenario's bounds, targets, placement weights and behavior.
#include "fleetscale/sim/policy_writer.h"

#include <gtest/gtest.h>

#include "fleetscale/aggregator/policy/policy_config.h"

namespace fleetscale::sim {
namespace {

constexpr const char* kScenario = R"(
name: policy
clusters:
  - {name: aws-us-east-1, cloud: aws, region: us-east-1}
  - {name: gcp-europe-west1, cloud: gcp, region: europe-west1}
workloads:
  - name: checkout
    namespace: shop
    replicas: {aws-us-east-1: 3, gcp-europe-west1: 2}
    resources: {requests: {cpu: 500m, memory: 256Mi}, limits: {cpu: "1"}}
    autoscale:
      min-replicas: 2
      max-replicas: 12
      cpu-utilization: 70
      memory-utilization: 90
      behavior:
        scaleDown: {stabilizationWindowSeconds: 30, policies: [{type: Pods, value: 2, periodSeconds: 10}]}
  - name: search
    namespace: shop
    kind: StatefulSet
    replicas: 2
    resources: {requests: {cpu: 250m}}
    autoscale: {max-replicas: 6, cpu-utilization: 60, weights: {gcp-europe-west1: 0}}
  - name: observed-only
    replicas: 1
    resources: {requests: {cpu: 100m}}
)";

TEST(PolicyWriterTest, TheAggregatorParsesWhatTheSimulatorWrites) {
  auto scenario = parseScenario(kScenario);
  ASSERT_TRUE(scenario) << scenario.error().message;
  const std::string yaml = aggregatorPolicyYaml(
      *scenario,
      {{"aws-us-east-1", "/state/clusters/aws-us-east-1/aggregator.kubeconfig", "aws-us-east-1"},
       {"gcp-europe-west1", "/state/clusters/gcp-europe-west1/aggregator.kubeconfig",
        "gcp-europe-west1"}});
  auto policy = aggregator::parsePolicyConfig(yaml, "policy.yaml");
  ASSERT_TRUE(policy) << policy.error().message << "\n" << yaml;

  ASSERT_EQ(policy->clusters.size(), 2u);
  EXPECT_EQ(policy->clusters[0].name, "aws-us-east-1");
  EXPECT_EQ(policy->clusters[0].cloud, "aws");
  EXPECT_EQ(policy->clusters[1].region, "europe-west1");
  EXPECT_EQ(policy->clusters[1].access.kubeconfig,
            "/state/clusters/gcp-europe-west1/aggregator.kubeconfig");
  EXPECT_EQ(policy->clusters[1].access.context, "gcp-europe-west1");

  ASSERT_EQ(policy->workloads.size(), 2u);  // observed-only has no autoscale
  const auto* checkout = policy->findWorkload("shop", "checkout");
  ASSERT_NE(checkout, nullptr);
  EXPECT_EQ(checkout->kind, "Deployment");
  EXPECT_EQ(checkout->policy.minReplicas, 2);
  EXPECT_EQ(checkout->policy.maxReplicas, 12);
  ASSERT_EQ(checkout->policy.metrics.size(), 2u);
  EXPECT_EQ(checkout->policy.metrics[0].averageUtilization, 70);
  EXPECT_EQ(checkout->policy.metrics[1].resource, aggregator::scaling::Resource::kMemory);
  // The configured placement is the one the fleet starts with: 3 to 2.
  ASSERT_EQ(checkout->clusters.size(), 2u);
  EXPECT_DOUBLE_EQ(checkout->clusters[0].weight, 3);
  EXPECT_DOUBLE_EQ(checkout->clusters[1].weight, 2);
  ASSERT_TRUE(checkout->policy.behavior.has_value());
  ASSERT_TRUE(checkout->policy.behavior->scaleDown.has_value());
  EXPECT_EQ(checkout->policy.behavior->scaleDown->stabilizationWindowSeconds, 30);
  EXPECT_FALSE(checkout->policy.behavior->scaleUp.has_value());

  const auto* search = policy->findWorkload("shop", "search");
  ASSERT_NE(search, nullptr);
  EXPECT_EQ(search->kind, "StatefulSet");
  EXPECT_EQ(search->policy.minReplicas, 1);
  EXPECT_FALSE(search->policy.behavior.has_value());
  ASSERT_EQ(search->clusters.size(), 2u);
  EXPECT_DOUBLE_EQ(search->clusters[0].weight, 2);  // from the replicas
  EXPECT_DOUBLE_EQ(search->clusters[1].weight, 0);  // standby, as the scenario says
}

TEST(PolicyWriterTest, ScenarioAutoscaleErrorsNameTheKey) {
  const std::string base = R"(
clusters: [{name: a, cloud: aws, region: r}]
workloads:
  - name: w
    resources: {requests: {cpu: 500m}}
)";
  for (const auto& [autoscale, key] : std::vector<std::pair<std::string, std::string>>{
           {"{max-replicas: 3}", "autoscale"},
           {"{cpu-utilization: 70, max-replicas: 1, min-replicas: 2}", "max-replicas"},
           {"{memory-utilization: 70}", "memory-utilization"},
           {"{cpu-utilization: 70, weights: {b: 1}}", "weights.b"},
           {"{cpu-utilization: 70, behavior: fast}", "behavior"},
           {"{cpu-utilization: 70, scale: 3}", "scale"}}) {
    auto scenario = parseScenario(base + "    autoscale: " + autoscale + "\n");
    ASSERT_FALSE(scenario) << autoscale;
    EXPECT_NE(scenario.error().message.find(key), std::string::npos)
        << autoscale << ": " << scenario.error().message;
  }
  auto thresholds = parseScenario(
      "aggregator: {failed-after: 3s, healthy-after: 5s, probe-interval: 500ms}\n" + base);
  ASSERT_TRUE(thresholds) << thresholds.error().message;
  EXPECT_EQ(thresholds->aggregator.failedAfter, "3s");
  EXPECT_EQ(thresholds->aggregator.healthyAfter, "5s");
  EXPECT_EQ(thresholds->aggregator.probeInterval, "500ms");
  EXPECT_FALSE(thresholds->autoscaled());
  EXPECT_FALSE(parseScenario("aggregator: {failed-after: soon}\n" + base));
}

// Object and External metrics: the scenario's extra metrics and its aggregator's Prometheus
// reach the policy as written, and a worker may then start from zero.
TEST(PolicyWriterTest, ExtraMetricsAndPrometheusPassThrough) {
  auto scenario = parseScenario(R"(
name: queue
aggregator:
  prometheus: {url: "http://127.0.0.1:9090", staleness: 10s}
clusters:
  - {name: aws-us-east-1, cloud: aws, region: us-east-1}
workloads:
  - name: worker
    namespace: jobs
    replicas: 0
    resources: {requests: {cpu: 100m}}
    autoscale:
      min-replicas: 0
      max-replicas: 5
      weights: {aws-us-east-1: 1}
      metrics:
        - type: External
          external:
            metric: {name: queue_messages_ready}
            target: {type: Value, value: "30"}
)");
  ASSERT_TRUE(scenario) << scenario.error().message;
  const std::string yaml = aggregatorPolicyYaml(*scenario, {{"aws-us-east-1", "/k", ""}});
  auto policy = aggregator::parsePolicyConfig(yaml, "policy.yaml");
  ASSERT_TRUE(policy) << policy.error().message << "\n" << yaml;
  ASSERT_TRUE(policy->prometheus);
  EXPECT_EQ(policy->prometheus->url, "http://127.0.0.1:9090");
  EXPECT_EQ(policy->prometheus->staleness, std::chrono::seconds(10));
  const auto* worker = policy->findWorkload("jobs", "worker");
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(worker->policy.minReplicas, 0);
  ASSERT_EQ(worker->policy.metrics.size(), 1u);
  EXPECT_EQ(worker->policy.metrics[0].source, aggregator::scaling::MetricSource::kExternal);
  EXPECT_EQ(worker->policy.metrics[0].valueMilli, 30'000);

  EXPECT_FALSE(parseScenario(R"(
name: none
clusters: [{name: a}]
workloads:
  - {name: w, resources: {requests: {cpu: 1}}, autoscale: {max-replicas: 2}}
)")) << "a workload with no target at all is refused";
}

}  // namespace
}  // namespace fleetscale::sim
