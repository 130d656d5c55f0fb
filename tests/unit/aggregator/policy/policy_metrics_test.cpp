// The five HPA metric types in the policy file: each parses into its MetricTarget, the schema's
// mistakes are refused with the line and field, and the documented example loads as written.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/testing/process.h"

namespace fleetscale::aggregator {
namespace {

using scaling::LabelRequirement;
using scaling::MetricSource;
using scaling::Resource;
using scaling::TargetType;

std::string workloadWith(const std::string& metrics, const std::string& minReplicas = "1") {
  return "workloads:\n  - namespace: jobs\n    name: worker\n    minReplicas: " + minReplicas +
         "\n    maxReplicas: 20\n    metrics:\n" + metrics;
}

// A ```yaml block of docs/configuration.md that starts with `start` (after `after`, when
// given), each line indented by `indent` spaces: the examples users copy, tested as written.
std::string docExample(const std::string& start, std::size_t indent,
                       const std::string& after = "") {
  std::ifstream in(testing::fixturePath("../../docs/configuration.md"));
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const auto from = after.empty() ? 0 : doc.find(after);
  const auto begin = doc.find("```yaml\n" + start, from == std::string::npos ? 0 : from);
  if (from == std::string::npos || begin == std::string::npos) return "";
  const auto body = begin + std::string("```yaml\n").size();
  std::string out;
  std::istringstream lines(doc.substr(body, doc.find("```", body) - body));
  for (std::string line; std::getline(lines, line);) out += std::string(indent, ' ') + line + "\n";
  return out;
}

TEST(PolicyMetricsTest, EveryHpaMetricTypeParses) {
  const std::string metrics = R"(      - type: ContainerResource
        containerResource: {name: memory, container: app, target: {type: AverageValue, averageValue: 256Mi}}
      - type: Pods
        pods:
          metric: {name: http_requests, selector: {matchLabels: {verb: GET}}}
          target: {type: AverageValue, averageValue: 100m}
      - type: Object
        object:
          describedObject: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: main}
          metric: {name: requests_per_second}
          target: {type: Value, value: 2k}
      - type: External
        external:
          metric:
            name: queue_messages_ready
            selector:
              matchLabels: {queue: orders}
              matchExpressions:
                - {key: region, operator: NotIn, values: [eu, us]}
                - {key: shard, operator: Exists}
          target: {type: AverageValue, averageValue: "30"}
)";
  auto config = parsePolicyConfig(workloadWith(metrics), "policy.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const auto& targets = config->workloads.at(0).policy.metrics;
  ASSERT_EQ(targets.size(), 4u);

  EXPECT_EQ(targets[0].source, MetricSource::kContainerResource);
  EXPECT_EQ(targets[0].resource, Resource::kMemory);
  EXPECT_EQ(targets[0].container, "app");
  EXPECT_EQ(targets[0].type, TargetType::kAverageValue);
  EXPECT_EQ(targets[0].averageValueMilli, 256LL * 1024 * 1024 * 1000);

  EXPECT_EQ(targets[1].source, MetricSource::kPods);
  EXPECT_EQ(targets[1].metricName, "http_requests");
  EXPECT_EQ(targets[1].selector.matchLabels.at("verb"), "GET");
  EXPECT_EQ(targets[1].averageValueMilli, 100);

  EXPECT_EQ(targets[2].source, MetricSource::kObject);
  EXPECT_EQ(targets[2].describedObject.kind, "Ingress");
  EXPECT_EQ(targets[2].describedObject.name, "main");
  EXPECT_EQ(targets[2].describedObject.apiVersion, "networking.k8s.io/v1");
  EXPECT_EQ(targets[2].type, TargetType::kValue);
  EXPECT_EQ(targets[2].valueMilli, 2'000'000);

  EXPECT_EQ(targets[3].source, MetricSource::kExternal);
  ASSERT_EQ(targets[3].selector.matchExpressions.size(), 2u);
  EXPECT_EQ(targets[3].selector.matchExpressions[0].op, LabelRequirement::Operator::kNotIn);
  EXPECT_EQ(targets[3].selector.matchExpressions[0].values, (std::vector<std::string>{"eu", "us"}));
  EXPECT_EQ(targets[3].selector.matchExpressions[1].op, LabelRequirement::Operator::kExists);
  EXPECT_EQ(targets[3].describe(),
            "external queue_messages_ready {queue=orders,region notin (eu,us),shard} average "
            "value 30");
}

TEST(PolicyMetricsTest, MinReplicasZeroNeedsAMetricFromOutsideThePods) {
  const std::string external = R"(      - type: External
        external: {metric: {name: queue}, target: {type: Value, value: "10"}}
)";
  const std::string cpu = R"(      - type: Resource
        resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
)";
  auto withExternal = parsePolicyConfig(workloadWith(cpu + external, "0"), "policy.yaml");
  ASSERT_TRUE(withExternal.ok()) << withExternal.error().message;
  EXPECT_EQ(withExternal->workloads.at(0).policy.minReplicas, 0);

  auto cpuOnly = parsePolicyConfig(workloadWith(cpu, "0"), "policy.yaml");
  ASSERT_FALSE(cpuOnly.ok());
  EXPECT_NE(cpuOnly.error().message.find(
                "policy.yaml:4: workloads[0].minReplicas: may be 0 only with an Object or "
                "External metric"),
            std::string::npos)
      << cpuOnly.error().message;
}

TEST(PolicyMetricsTest, ActivationAndCooldownForScaleToZero) {
  const std::string queue = R"(      - type: External
        external:
          metric: {name: queue}
          target: {type: AverageValue, averageValue: "30"}
          activation: "5"
)";
  auto config = parsePolicyConfig(workloadWith(queue, "0") + "    cooldown: 2m\n", "policy.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const auto& policy = config->workloads.at(0).policy;
  EXPECT_EQ(policy.metrics.at(0).activationMilli, 5'000);
  EXPECT_EQ(policy.cooldown, std::chrono::minutes(2));

  auto withoutZero = parsePolicyConfig(workloadWith(queue) + "    cooldown: 2m\n", "policy.yaml");
  ASSERT_FALSE(withoutZero.ok());
  EXPECT_NE(withoutZero.error().message.find("cooldown: only applies with minReplicas 0"),
            std::string::npos)
      << withoutZero.error().message;
}

TEST(PolicyMetricsTest, TheDocumentedScaleToZeroExampleLoads) {
  const std::string workload = docExample("- namespace: jobs\n", 2);
  ASSERT_FALSE(workload.empty());
  auto config = parsePolicyConfig("workloads:\n" + workload, "docs/configuration.md");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->workloads.at(0).policy.minReplicas, 0);
  EXPECT_EQ(config->workloads.at(0).policy.cooldown, std::chrono::minutes(2));
  EXPECT_EQ(config->workloads.at(0).policy.metrics.at(0).activationMilli, 5'000);
}

TEST(PolicyMetricsTest, SchemaMistakesNameTheLineAndField) {
  struct Case {
    std::string metrics;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"      - type: Custom\n",
       "policy.yaml:7: workloads[0].metrics[0].type: must be Resource, "
       "ContainerResource, Pods, Object or External, not 'Custom'"},
      {"      - type: Pods\n", "workloads[0].metrics[0].pods: is required with type Pods"},
      {"      - type: Pods\n        resource: {name: cpu}\n",
       "policy.yaml:8: workloads[0].metrics[0].resource: only applies with type Resource"},
      {"      - type: Pods\n        pods: {metric: {name: qps}, target: {type: Value, value: "
       "\"1\"}}\n",
       "workloads[0].metrics[0].pods.target.type: must be AverageValue"},
      {"      - type: External\n        external: {metric: {name: q}, target: {type: "
       "Utilization, averageUtilization: 50}}\n",
       "workloads[0].metrics[0].external.target.type: must be AverageValue or Value"},
      {"      - type: External\n        external: {metric: {name: q}, target: {type: Value, "
       "value: \"0\"}}\n",
       "workloads[0].metrics[0].external.target.value: must be positive"},
      {"      - type: External\n        external: {target: {type: Value, value: \"1\"}}\n",
       "workloads[0].metrics[0].external.metric: is required"},
      {"      - type: Object\n        object: {metric: {name: q}, target: {type: Value, value: "
       "\"1\"}}\n",
       "workloads[0].metrics[0].object.describedObject: is required"},
      {"      - type: Object\n        object: {describedObject: {kind: Ingress}, metric: {name: "
       "q}, target: {type: Value, value: \"1\"}}\n",
       "workloads[0].metrics[0].object.describedObject.name: is required"},
      {"      - type: ContainerResource\n        containerResource: {name: cpu, target: {type: "
       "Utilization, averageUtilization: 50}}\n",
       "workloads[0].metrics[0].containerResource.container: is required"},
      {"      - type: External\n        external:\n          metric:\n            name: q\n"
       "            selector: {matchExpressions: [{key: a, operator: In}]}\n"
       "          target: {type: Value, value: \"1\"}\n",
       "workloads[0].metrics[0].external.metric.selector.matchExpressions[0].values: must not be "
       "empty for In"},
      {"      - type: External\n        external:\n          metric:\n            name: q\n"
       "            selector: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}\n"
       "          target: {type: Value, value: \"1\"}\n",
       "values: must be empty for Exists"},
      {"      - type: External\n        external:\n          metric:\n            name: q\n"
       "            selector: {matchExpressions: [{key: a, operator: Gt, values: [\"1\"]}]}\n"
       "          target: {type: Value, value: \"1\"}\n",
       "operator: must be In, NotIn, Exists or DoesNotExist"},
      {"      - type: External\n        external: {metric: {name: q, labels: {}}, target: {type: "
       "Value, value: \"1\"}}\n",
       "workloads[0].metrics[0].external.metric.labels: unknown field"},
      {"      - type: Pods\n        pods: {metric: {name: rps}, target: {type: AverageValue, "
       "averageValue: \"10\"}}\n"
       "      - type: Pods\n        pods: {metric: {name: rps, selector: {matchLabels: {code: "
       "\"200\"}}}, target: {type: AverageValue, averageValue: \"5\"}}\n",
       "workloads[0].metrics[1].pods.metric: another Pods metric named 'rps' has a different "
       "selector"},
      {"      - type: External\n        external: {metric: {name: q}, query: \"sum(a)\", target: "
       "{type: Value, value: \"1\"}}\n"
       "      - type: External\n        external: {metric: {name: q}, query: \"sum(b)\", target: "
       "{type: Value, value: \"2\"}}\n",
       "workloads[0].metrics[1]: another External metric named 'q' runs a different query"},
  };
  for (const auto& c : cases) {
    auto config = parsePolicyConfig(workloadWith(c.metrics), "policy.yaml");
    ASSERT_FALSE(config.ok()) << c.metrics;
    EXPECT_NE(config.error().message.find(c.expected), std::string::npos)
        << "got: " << config.error().message << "\nwanted: " << c.expected;
  }
}

// docs/configuration.md's "Metric types" example is what users copy.
TEST(PolicyMetricsTest, TheDocumentedMetricTypesExampleLoads) {
  // The block's own "metrics:" line is dropped: workloadWith() writes it.
  std::string metrics = docExample("metrics:\n", 4, "### Metric types");
  ASSERT_FALSE(metrics.empty());
  metrics.erase(0, metrics.find('\n') + 1);
  auto config = parsePolicyConfig(workloadWith(metrics), "docs/configuration.md");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->workloads.at(0).policy.metrics.size(), 5u);
}

TEST(PolicyMetricsTest, TheDocumentedPodsMetricExampleLoads) {
  std::string metrics = docExample("metrics:\n", 4, "### Pods metrics");
  ASSERT_FALSE(metrics.empty());
  metrics.erase(0, metrics.find('\n') + 1);
  auto config = parsePolicyConfig(workloadWith(metrics), "docs/configuration.md");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const auto& metric = config->workloads.at(0).policy.metrics.at(0);
  EXPECT_EQ(metric.source, MetricSource::kPods);
  EXPECT_EQ(metric.metricName, "http_requests_per_second");
  EXPECT_EQ(metric.selector.describe(), "code=200");
}

TEST(PolicyMetricsTest, ThePrometheusSectionAndAQueryParse) {
  const std::string section = docExample("prometheus:\n", 0);
  const std::string metrics = docExample("- type: External\n", 6, "### Prometheus");
  ASSERT_FALSE(section.empty() || metrics.empty());
  auto config = parsePolicyConfig(section + workloadWith(metrics), "docs/configuration.md");
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_TRUE(config->prometheus);
  EXPECT_EQ(config->prometheus->url, "http://prometheus.monitoring:9090");
  EXPECT_EQ(config->prometheus->timeout, std::chrono::seconds(2));
  EXPECT_EQ(config->prometheus->staleness, std::chrono::seconds(60));
  EXPECT_EQ(config->workloads.at(0).policy.metrics.at(0).query,
            "sum by (queue) (rabbitmq_queue_messages_ready{vhost=\"/\"})");

  for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"prometheus: {url: prometheus:9090}\n", "prometheus.url: must be an http(s):// URL"},
           {"prometheus: {url: http://p, staleness: 1s, interval: 5s}\n",
            "prometheus.staleness: must be at least the interval"},
           {"prometheus: {url: http://p, timeout: 0s}\n", "prometheus.timeout: must be positive"},
           {"prometheus: {url: http://p, query: up}\n", "prometheus.query: unknown field"}}) {
    auto refused = parsePolicyConfig(yaml + "workloads: []\n", "policy.yaml");
    ASSERT_FALSE(refused.ok()) << yaml;
    EXPECT_NE(refused.error().message.find(expected), std::string::npos) << refused.error().message;
  }
}

}  // namespace
}  // namespace fleetscale::aggregator
