// Which PromQL each Object and External metric runs, and how the answers become a workload's
// values: fresh ones as series, stale or failed ones as the reason the metric has no value.
#include "fleetscale/aggregator/sources/metric_values.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator::sources {
namespace {

using scaling::MetricSource;
using scaling::MetricTarget;
using scaling::TargetType;

const WallTime kNow = WallTime(std::chrono::seconds(1'750'000'000));

MetricTarget external(std::string name, scaling::Labels selector = {}, std::string query = "") {
  MetricTarget metric;
  metric.source = MetricSource::kExternal;
  metric.metricName = std::move(name);
  metric.selector.matchLabels = std::move(selector);
  metric.query = std::move(query);
  metric.type = TargetType::kAverageValue;
  metric.averageValueMilli = 30'000;
  return metric;
}

MetricTarget ingressRps() {
  MetricTarget metric;
  metric.source = MetricSource::kObject;
  metric.metricName = "requests_per_second";
  metric.describedObject = {"networking.k8s.io/v1", "Ingress", "main"};
  metric.type = TargetType::kValue;
  metric.valueMilli = 100'000;
  return metric;
}

WorkloadConfig worker(std::vector<MetricTarget> metrics) {
  WorkloadConfig workload;
  workload.namespaceName = "jobs";
  workload.name = "worker";
  workload.policy.metrics = std::move(metrics);
  return workload;
}

TEST(MetricValuesTest, EachMetricRunsItsQueryOrOneMadeFromItsName) {
  EXPECT_EQ(queryFor(external("queue_messages_ready"), "jobs"), "queue_messages_ready");
  EXPECT_EQ(queryFor(external("q", {}, "sum(rabbitmq_queue_messages)"), "jobs"),
            "sum(rabbitmq_queue_messages)");
  EXPECT_EQ(queryFor(ingressRps(), "shop"),
            "requests_per_second{namespace=\"shop\",ingress=\"main\"}");

  PolicyConfig policy;
  MetricTarget cpu;
  policy.workloads = {worker({cpu, external("a"), external("a", {{"queue", "x"}}), ingressRps()})};
  EXPECT_EQ(
      queriesOf(policy),
      (std::set<std::string>{"a", "requests_per_second{namespace=\"jobs\",ingress=\"main\"}"}))
      << "one query per text, none for CPU";
}

TEST(MetricValuesTest, FreshAnswersBecomeSeriesAndObjectValuesOnce) {
  const auto workload = worker({external("queue", {{"queue", "orders"}}),
                                external("queue", {{"queue", "refunds"}}), ingressRps()});
  QueryAnswers answers;
  answers["queue"] = {{{{{"queue", "orders"}}, 300, kNow}, {{{"queue", "refunds"}}, 40.5, kNow}},
                      kNow - std::chrono::seconds(3),
                      ""};
  answers["requests_per_second{namespace=\"jobs\",ingress=\"main\"}"] = {
      {{{}, 250, kNow}}, kNow, ""};
  scaling::WorkloadObservation observation;
  addMetricValues(workload, answers, std::chrono::seconds(60), kNow, observation);
  ASSERT_EQ(observation.externalMetrics.size(), 2u)
      << "two metrics on one query add its series once";
  EXPECT_EQ(observation.externalMetrics[1].valueMilli, 40'500);
  EXPECT_EQ(observation.externalMetrics[0].timestamp, kNow - std::chrono::seconds(3));
  ASSERT_EQ(observation.objectMetrics.size(), 1u);
  EXPECT_EQ(observation.objectMetrics[0].object.name, "main");
  EXPECT_EQ(observation.objectMetrics[0].valueMilli, 250'000);
  EXPECT_TRUE(observation.sourceErrors.empty());

  // Through the decision: each selector sums its own queue's series.
  scaling::WorkloadPolicy policy = workload.policy;
  policy.minReplicas = 1;
  policy.maxReplicas = 100;
  observation.currentReplicas = 2;
  scaling::ScalingHistory history;
  const auto decision = scaling::decide(policy, observation, history, kNow);
  ASSERT_EQ(decision.metrics.size(), 3u);
  ASSERT_TRUE(decision.metrics[0].proposal) << decision.metrics[0].error;
  EXPECT_EQ(decision.metrics[0].proposal->valueMilli, 300'000);
  ASSERT_TRUE(decision.metrics[1].proposal) << decision.metrics[1].error;
  EXPECT_EQ(decision.metrics[1].proposal->valueMilli, 40'500);
}

TEST(MetricValuesTest, StaleFailedOrMissingAnswersAreTheMetricsError) {
  const auto workload = worker({external("stale"), external("failing"), external("new")});
  QueryAnswers answers;
  answers["stale"] = {{{{}, 1, kNow}}, kNow - std::chrono::seconds(61), "timed out"};
  answers["failing"] = {{}, std::nullopt, "HTTP 503"};
  scaling::WorkloadObservation observation;
  addMetricValues(workload, answers, std::chrono::seconds(60), kNow, observation);
  EXPECT_TRUE(observation.externalMetrics.empty());
  EXPECT_EQ(observation.sourceErrors.at("stale"),
            "query stale: last answered 61 s ago (timed out)");
  EXPECT_EQ(observation.sourceErrors.at("failing"), "query failing: HTTP 503");
  EXPECT_EQ(observation.sourceErrors.at("new"), "query new: no answer from Prometheus yet");

  scaling::WorkloadPolicy policy = workload.policy;
  policy.maxReplicas = 10;
  observation.currentReplicas = 2;
  scaling::ScalingHistory history;
  const auto decision = scaling::decide(policy, observation, history, kNow);
  EXPECT_EQ(decision.metrics[0].error,
            "unable to get external metric stale: query stale: last answered 61 s ago (timed out)");
  EXPECT_FALSE(decision.error.empty()) << "every metric invalid: no decision";
}

}  // namespace
}  // namespace fleetscale::aggregator::sources
