// decide() with the HPA's other metric sources: which values each one reads from the
// observation, and the errors the HPA's metrics clients would give (a ContainerResource metric
// for a container a pod lacks, no value for an object, no series for an external metric).
#include <gtest/gtest.h>

#include <set>

#include "fleetscale/aggregator/scaling/decision.h"
#include "fleetscale/aggregator/scaling/label_selector.h"

// Targets name only the fields they set (designated initializers); the rest take defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace fleetscale::aggregator::scaling {
namespace {

const WallTime kNow = WallTime(std::chrono::seconds(1'750'000'000));

PodInfo readyPod(const std::string& name) {
  PodInfo pod;
  pod.name = name;
  pod.readyCondition = ReadyCondition{true, kNow - std::chrono::hours(1)};
  pod.startTime = kNow - std::chrono::hours(1);
  pod.cpuRequestMilli = 600;
  pod.containers = {ContainerInfo{"app", 500, std::nullopt},
                    ContainerInfo{"proxy", 100, std::nullopt}};
  return pod;
}

WorkloadObservation twoPods() {
  WorkloadObservation observation;
  observation.currentReplicas = 2;
  observation.pods = {readyPod("a"), readyPod("b")};
  const auto at = [](std::int64_t milli) {
    return PodMetric{milli, kNow, std::chrono::seconds(1)};
  };
  // The app runs hot (850m of 1000m), the proxy idles: summed, the pods look comfortable.
  observation.containerMetrics["app"][Resource::kCpu] = {{"a", at(400)}, {"b", at(450)}};
  observation.containerMetrics["proxy"][Resource::kCpu] = {{"a", at(20)}, {"b", at(30)}};
  observation.metrics[Resource::kCpu] = {{"a", at(420)}, {"b", at(480)}};
  return observation;
}

WorkloadPolicy policyWith(MetricTarget target) {
  WorkloadPolicy policy;
  policy.minReplicas = 0;
  policy.maxReplicas = 50;
  policy.metrics = {std::move(target)};
  return policy;
}

Decision decideOnce(const WorkloadPolicy& policy, const WorkloadObservation& observation) {
  ScalingHistory history;
  return decide(policy, observation, history, kNow);
}

TEST(MetricSourcesTest, ContainerResourceReadsOneContainerAgainstItsOwnRequest) {
  MetricTarget pod{.source = MetricSource::kResource, .averageUtilization = 60};
  MetricTarget app{
      .source = MetricSource::kContainerResource, .container = "app", .averageUtilization = 60};
  const auto observation = twoPods();
  // Pods: 900m of 1200m = 75% against 60%: ratio 1.25 -> 3. App alone: 85% -> 1.4167 -> 3.
  const auto whole = decideOnce(policyWith(pod), observation);
  const auto container = decideOnce(policyWith(app), observation);
  ASSERT_TRUE(whole.metrics[0].proposal && container.metrics[0].proposal)
      << whole.metrics[0].error << container.metrics[0].error;
  EXPECT_EQ(whole.metrics[0].proposal->utilizationPercent, 75);
  EXPECT_EQ(container.metrics[0].proposal->utilizationPercent, 85);
  EXPECT_EQ(container.metrics[0].proposal->replicas, 3);
  EXPECT_EQ(container.metrics[0].target.describe(), "container app cpu utilization 60%");
}

TEST(MetricSourcesTest, ContainerResourceFailsWhenAPodsSpecLacksTheContainer) {
  // A rollout adds a sidecar: the new pod has it, the old one does not.
  auto observation = twoPods();
  observation.pods[1].containers.push_back(ContainerInfo{"sidecar", 50, std::nullopt});
  observation.containerMetrics["sidecar"][Resource::kCpu] = {
      {"b", PodMetric{40, kNow, std::chrono::seconds(1)}}};
  MetricTarget sidecar{
      .source = MetricSource::kContainerResource, .container = "sidecar", .averageUtilization = 60};
  const auto decision = decideOnce(policyWith(sidecar), observation);
  ASSERT_FALSE(decision.metrics[0].proposal);
  EXPECT_EQ(decision.metrics[0].error, "container sidecar not found in Pod a");
  EXPECT_FALSE(decision.error.empty()) << "the only metric is invalid: no decision";

  observation.containerMetrics.erase("sidecar");
  EXPECT_EQ(decideOnce(policyWith(sidecar), observation).metrics[0].error,
            "no metrics returned for any pod");
}

TEST(MetricSourcesTest, APodWithoutTheContainersFiguresIsMissing) {
  auto observation = twoPods();
  observation.containerMetrics["app"][Resource::kCpu].erase("b");
  MetricTarget app{
      .source = MetricSource::kContainerResource, .container = "app", .averageUtilization = 60};
  const auto decision = decideOnce(policyWith(app), observation);
  ASSERT_TRUE(decision.metrics[0].proposal) << decision.metrics[0].error;
  EXPECT_EQ(decision.metrics[0].proposal->groups.missing, (std::set<std::string>{"b"}));
  // a alone: 400 of 500 = 80% -> ratio 1.33 up; b filled in at 0: 400 of 1000 = 40% reverses it.
  EXPECT_EQ(decision.metrics[0].proposal->replicas, 2);
}

TEST(MetricSourcesTest, PodsMetricAveragesThePodsValues) {
  auto observation = twoPods();
  const auto at = [](std::int64_t milli) {
    return PodMetric{milli, kNow, std::chrono::seconds(1)};
  };
  observation.podMetrics["qps"] = {{"a", at(30'000)}, {"b", at(50'000)}};
  MetricTarget qps{.source = MetricSource::kPods,
                   .metricName = "qps",
                   .type = TargetType::kAverageValue,
                   .averageValueMilli = 10'000};
  const auto decision = decideOnce(policyWith(qps), observation);
  ASSERT_TRUE(decision.metrics[0].proposal) << decision.metrics[0].error;
  EXPECT_EQ(decision.metrics[0].proposal->averageValueMilli, 40'000);
  EXPECT_EQ(decision.metrics[0].proposal->replicas, 8);

  MetricTarget other = qps;
  other.metricName = "latency";
  EXPECT_EQ(decideOnce(policyWith(other), observation).metrics[0].error,
            "no metrics returned for any pod");
}

TEST(MetricSourcesTest, ObjectMetricTakesTheNamedObjectsOneValue) {
  auto observation = twoPods();
  observation.objectMetrics = {
      {{"networking.k8s.io/v1", "Ingress", "main"}, "rps", {}, 3'000'000, kNow},
      {{"networking.k8s.io/v1", "Ingress", "admin"}, "rps", {}, 9'000'000, kNow}};
  MetricTarget rps{.source = MetricSource::kObject,
                   .metricName = "rps",
                   .describedObject = {"", "Ingress", "main"},
                   .type = TargetType::kValue,
                   .valueMilli = 1'000'000};
  const auto decision = decideOnce(policyWith(rps), observation);
  ASSERT_TRUE(decision.metrics[0].proposal) << decision.metrics[0].error;
  EXPECT_EQ(decision.metrics[0].proposal->valueMilli, 3'000'000);
  EXPECT_EQ(decision.metrics[0].proposal->replicas, 6) << "ratio 3 x 2 ready pods";

  rps.describedObject.name = "missing";
  EXPECT_EQ(decideOnce(policyWith(rps), observation).metrics[0].error,
            "unable to get metric rps on Ingress/missing: no value");
  observation.objectMetrics.push_back(observation.objectMetrics[0]);
  rps.describedObject.name = "main";
  EXPECT_EQ(decideOnce(policyWith(rps), observation).metrics[0].error,
            "unable to get metric rps on Ingress/main: more than one value matches");
}

TEST(MetricSourcesTest, ExternalMetricSumsTheSeriesTheSelectorMatches) {
  auto observation = twoPods();
  observation.externalMetrics = {{"queue", {{"queue", "orders"}, {"region", "eu"}}, 200'000, kNow},
                                 {"queue", {{"queue", "orders"}, {"region", "us"}}, 100'000, kNow},
                                 {"queue", {{"queue", "refunds"}}, 900'000, kNow}};
  MetricTarget queue{.source = MetricSource::kExternal,
                     .metricName = "queue",
                     .selector = LabelSelector{{{"queue", "orders"}}, {}},
                     .type = TargetType::kAverageValue,
                     .averageValueMilli = 30'000};
  const auto decision = decideOnce(policyWith(queue), observation);
  ASSERT_TRUE(decision.metrics[0].proposal) << decision.metrics[0].error;
  EXPECT_EQ(decision.metrics[0].proposal->valueMilli, 300'000);
  EXPECT_EQ(decision.metrics[0].proposal->replicas, 10);
  EXPECT_EQ(decision.metrics[0].proposal->averageValueMilli, 150'000) << "per status replica";

  queue.selector = LabelSelector{{{"queue", "payments"}}, {}};
  EXPECT_EQ(decideOnce(policyWith(queue), observation).metrics[0].error,
            "unable to get external metric queue: no series matches {queue=payments}");
}

TEST(MetricSourcesTest, AnExternalValueWakesAWorkloadAtZeroAndLetsItGoBack) {
  WorkloadObservation idle;
  idle.currentReplicas = 0;
  idle.externalMetrics = {{"queue", {}, 250'000, kNow}};
  MetricTarget queue{.source = MetricSource::kExternal,
                     .metricName = "queue",
                     .type = TargetType::kValue,
                     .valueMilli = 100'000};
  const auto woken = decideOnce(policyWith(queue), idle);
  ASSERT_TRUE(woken.error.empty()) << woken.error;
  EXPECT_EQ(woken.desiredReplicas, 3) << "ceil(2.5) from zero";

  idle.externalMetrics[0].valueMilli = 0;
  EXPECT_EQ(decideOnce(policyWith(queue), idle).desiredReplicas, 0) << "stays at zero";

  auto disabled = policyWith(queue);
  disabled.minReplicas = 1;
  idle.externalMetrics[0].valueMilli = 250'000;
  EXPECT_EQ(decideOnce(disabled, idle).desiredReplicas, 0)
      << "with minReplicas above zero, zero replicas means scaling is disabled (the HPA's rule)";
}

// KEDA's rules for scale to zero: an activation threshold wakes the workload and keeps it
// awake; idle for the cooldown, it goes to zero whatever the HPA rules would hold.
TEST(MetricSourcesTest, ActivationWakesAndCooldownPutsToSleep) {
  MetricTarget queue{.source = MetricSource::kExternal,
                     .metricName = "queue",
                     .type = TargetType::kAverageValue,
                     .averageValueMilli = 30'000,
                     .activationMilli = 5'000};
  WorkloadPolicy policy = policyWith(queue);
  policy.cooldown = std::chrono::seconds(60);
  WorkloadObservation observation;
  observation.externalMetrics = {{"queue", {}, 5'000, kNow}};
  ScalingHistory history;

  // At zero, a value at the activation is no reason to start one.
  auto decision = decide(policy, observation, history, kNow);
  EXPECT_EQ(decision.desiredReplicas, 0);
  EXPECT_EQ(decision.reason, "idle: no Object or External metric above its activation");
  EXPECT_FALSE(history.lastActive);

  // Above it: ceil(90 / 30) from zero.
  observation.externalMetrics[0].valueMilli = 90'000;
  decision = decide(policy, observation, history, kNow);
  EXPECT_EQ(decision.desiredReplicas, 3);
  EXPECT_EQ(history.lastActive, kNow);

  // The queue drains below the activation: one replica at least until the cooldown ends, even
  // where the HPA rules alone would allow zero.
  observation.currentReplicas = 3;
  observation.externalMetrics[0].valueMilli = 0;
  const WallTime later = kNow + std::chrono::seconds(30);
  decision = decide(policy, observation, history, later);
  EXPECT_GE(decision.desiredReplicas, 1) << decision.reason;
  EXPECT_EQ(history.lastActive, kNow) << "idle does not renew it";

  decision = decide(policy, observation, history, kNow + std::chrono::seconds(60));
  EXPECT_EQ(decision.desiredReplicas, 0);
  EXPECT_EQ(decision.reason, "scale down from 3 to 0: idle for the 60 s cooldown");

  // A metric without a value is not idleness: no scale to zero on missing data.
  observation.externalMetrics.clear();
  decision = decide(policy, observation, history, kNow + std::chrono::hours(1));
  EXPECT_NE(decision.desiredReplicas, 0);
}

// A Percent-only scale-up policy allows nothing more from 0 (100% of 0): waking is the
// activation rule's, outside the HPA's rate limits, as in KEDA.
TEST(MetricSourcesTest, AnActiveWorkloadWakesFromZeroWhateverTheRateLimits) {
  MetricTarget queue{.source = MetricSource::kExternal,
                     .metricName = "queue",
                     .type = TargetType::kValue,
                     .valueMilli = 10'000};
  WorkloadPolicy policy = policyWith(queue);
  ScalingRules up;
  up.policies = std::vector<ScalingPolicy>{{PolicyType::kPercent, 100, 15}};
  policy.behavior = Behavior{up, std::nullopt};
  WorkloadObservation idle;
  idle.externalMetrics = {{"queue", {}, 30'000, kNow}};
  ScalingHistory history;
  const auto decision = decide(policy, idle, history, kNow);
  EXPECT_EQ(decision.desiredReplicas, 1) << decision.reason;
  EXPECT_EQ(decision.steps.back().rule, "scale from zero");
}

TEST(MetricSourcesTest, ACooldownStartsWhenAWorkloadNeverSeenActiveIsFirstSeen) {
  MetricTarget queue{.source = MetricSource::kExternal,
                     .metricName = "queue",
                     .type = TargetType::kValue,
                     .valueMilli = 10'000};
  WorkloadPolicy policy = policyWith(queue);
  policy.cooldown = std::chrono::seconds(60);
  WorkloadObservation observation;
  observation.currentReplicas = 2;
  observation.pods = {readyPod("a"), readyPod("b")};
  observation.externalMetrics = {{"queue", {}, 0, kNow}};
  ScalingHistory history;
  EXPECT_GE(decide(policy, observation, history, kNow).desiredReplicas, 1)
      << "an aggregator that just started does not put a workload to sleep at once";
  EXPECT_EQ(history.lastActive, kNow);
  EXPECT_EQ(decide(policy, observation, history, kNow + std::chrono::seconds(61)).desiredReplicas,
            0);
}

TEST(LabelSelectorTest, MatchesAsKubernetesSelectorsDo) {
  using Op = LabelRequirement::Operator;
  const Labels labels{{"queue", "orders"}, {"region", "eu"}};
  EXPECT_TRUE(LabelSelector{}.matches(labels)) << "the empty selector matches everything";
  EXPECT_TRUE((LabelSelector{{{"queue", "orders"}}, {}}.matches(labels)));
  EXPECT_FALSE((LabelSelector{{{"queue", "refunds"}}, {}}.matches(labels)));
  EXPECT_FALSE((LabelSelector{{{"tier", "web"}}, {}}.matches(labels)));
  EXPECT_TRUE((LabelSelector{{}, {{"region", Op::kIn, {"eu", "us"}}}}.matches(labels)));
  EXPECT_FALSE((LabelSelector{{}, {{"region", Op::kNotIn, {"eu"}}}}.matches(labels)));
  EXPECT_TRUE((LabelSelector{{}, {{"tier", Op::kNotIn, {"web"}}}}.matches(labels)))
      << "an absent label is in no set";
  EXPECT_TRUE((LabelSelector{{}, {{"queue", Op::kExists, {}}}}.matches(labels)));
  EXPECT_FALSE((LabelSelector{{}, {{"queue", Op::kDoesNotExist, {}}}}.matches(labels)));
  EXPECT_EQ((LabelSelector{{{"queue", "orders"}}, {{"tier", Op::kDoesNotExist, {}}}}.describe()),
            "queue=orders,!tier");
}

}  // namespace
}  // namespace fleetscale::aggregator::scaling
