// The Kubernetes replica-calculator cases of ../upstream_metric_cases.h (where upstream's harness
// is described), run through the calculator functions: podsAverageValueReplicas for Pods metrics,
// valueReplicas for Object and External Value targets, perPodValueReplicas for their AverageValue
// targets, resourceUtilizationReplicas for ContainerResource. The cases only this test runs are
// here, after the shared ones.
#include "fleetscale/aggregator/scaling/replica_calculator.h"

// Table rows name only the fields they set (designated initializers); the rest take defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../upstream_metric_cases.h"

namespace fleetscale::aggregator::scaling {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using upstream_cases::ContainerCase;
using upstream_cases::containerName;
using upstream_cases::harnessPodCount;
using upstream_cases::kContainersPerPod;
using upstream_cases::Kind;
using upstream_cases::kMaxInt64;
using upstream_cases::kUpstreamTolerance;
using upstream_cases::MetricCase;
using upstream_cases::podName;
using upstream_cases::PodStates;
using upstream_cases::Start;

const WallTime kNow = WallTime(std::chrono::seconds(1'750'000'000));
const WallTime kZeroTime{};  // Go's zero time: long before kNow

CalculatorSettings upstreamTestingSettings(const std::optional<double>& scaleUpTolerance) {
  CalculatorSettings settings;
  settings.tolerances =
      Tolerances{kUpstreamTolerance, scaleUpTolerance.value_or(kUpstreamTolerance)};
  settings.cpuInitializationPeriod = minutes(2);
  settings.delayOfInitialReadinessStatus = seconds(10);
  return settings;
}

std::vector<PodInfo> makePods(std::size_t count, const PodStates& states,
                              const std::vector<double>& requestCores = {}) {
  std::vector<PodInfo> pods;
  for (std::size_t i = 0; i < count; ++i) {
    PodInfo pod;
    pod.name = podName(i);
    pod.phase = i < states.phases.size() ? states.phases[i] : PodPhase::kRunning;
    pod.deleting = i < states.deleting.size() && states.deleting[i];
    pod.readyCondition =
        ReadyCondition{i >= states.readiness.size() || states.readiness[i], kZeroTime};
    const Start start = i < states.startTimes.size() ? states.startTimes[i] : Start::kZero;
    pod.startTime = start == Start::kHot    ? kNow
                    : start == Start::kCool ? kNow - minutes(3)
                                            : kZeroTime;
    std::optional<std::int64_t> request;
    if (i < requestCores.size()) request = std::llround(requestCores[i] * 1000);
    if (request) pod.cpuRequestMilli = static_cast<std::int64_t>(kContainersPerPod) * *request;
    for (std::size_t j = 0; j < kContainersPerPod; ++j) {
      pod.containers.push_back(ContainerInfo{containerName(j), request, std::nullopt});
    }
    pods.push_back(std::move(pod));
  }
  return pods;
}

// GetExternalMetricReplicas' and GetExternalPerPodMetricReplicas' sum of the series: capped at
// the int64 maximum instead of wrapping.
std::int64_t externalSum(const std::vector<std::int64_t>& levels) {
  std::int64_t sum = 0;
  for (const auto level : levels) {
    if (level > 0 && sum > kMaxInt64 - level) return kMaxInt64;
    sum += level;
  }
  return sum;
}

Result<ReplicaProposal> calculate(Kind kind, const MetricCase& c) {
  const auto pods =
      makePods(c.podCount.value_or(harnessPodCount(c.currentReplicas, c.pods)), c.pods);
  const CalculatorSettings settings = upstreamTestingSettings(c.scaleUpTolerance);
  // Upstream passes tc.currentReplicas as the status replicas.
  const std::int32_t statusReplicas = c.statusReplicas.value_or(c.currentReplicas);
  switch (kind) {
    case Kind::kPods: {
      PodMetrics metrics;
      for (std::size_t i = 0; i < c.levels.size(); ++i) {
        metrics[podName(i)] = PodMetric{c.levels[i], kZeroTime, minutes(1)};
      }
      return podsAverageValueReplicas(c.currentReplicas, c.target, pods, metrics, settings, kNow);
    }
    case Kind::kObject:
      return valueReplicas(c.currentReplicas, c.levels.at(0), c.target, pods, settings.tolerances);
    case Kind::kObjectPerPod:
      return perPodValueReplicas(statusReplicas, c.levels.at(0), c.target, settings.tolerances);
    case Kind::kExternal:
      return valueReplicas(c.currentReplicas, externalSum(c.levels), c.target, pods,
                           settings.tolerances);
    case Kind::kExternalPerPod:
      return perPodValueReplicas(statusReplicas, externalSum(c.levels), c.target,
                                 settings.tolerances);
  }
  return Error{"unknown kind"};
}

// The usage upstream returns (and checks as expectedUsage) for each kind.
std::int64_t usageOf(Kind kind, const ReplicaProposal& proposal) {
  return kind == Kind::kObject || kind == Kind::kExternal ? proposal.valueMilli
                                                          : proposal.averageValueMilli;
}

void run(Kind kind, const MetricCase& c) {
  SCOPED_TRACE(c.upstream);
  auto result = calculate(kind, c);
  if (!c.expectedError.empty()) {
    ASSERT_FALSE(result.ok()) << "expected an error, got " << result->replicas << " replicas";
    EXPECT_NE(result.error().message.find(c.expectedError), std::string::npos)
        << result.error().message;
    return;
  }
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->replicas, c.expectedReplicas);
  EXPECT_EQ(usageOf(kind, *result), c.expectedUsage);
}

void run(const ContainerCase& c) {
  SCOPED_TRACE(c.upstreamSubtest.empty() ? c.upstream
                                         : c.upstream + " (" + c.upstreamSubtest + ")");
  const auto pods = makePods(harnessPodCount(c.currentReplicas, c.pods), c.pods, c.requestCores);
  // The metrics client keeps the named container's usage of each pod reporting it; a pod whose
  // report lacks the container is left out (missing), as getContainerMetrics does.
  PodMetrics metrics;
  for (std::size_t i = 0; i < c.levels.size(); ++i) {
    for (std::size_t j = 0; j < c.levels[i].size(); ++j) {
      if (containerName(j) == c.container) {
        metrics[podName(i)] = PodMetric{c.levels[i][j], kZeroTime, minutes(1)};
      }
    }
  }
  auto result = resourceUtilizationReplicas(c.currentReplicas, c.targetUtilization, Resource::kCpu,
                                            pods, metrics, upstreamTestingSettings(std::nullopt),
                                            kNow, c.container);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->replicas, c.expectedReplicas);
  EXPECT_EQ(result->utilizationPercent, c.expectedUtilization);
  EXPECT_EQ(result->averageValueMilli, c.expectedValue);
}

TEST(ReplicaCalculatorMetricsTest, UpstreamPodsCases) {
  for (const auto& c : upstream_cases::podsCases()) run(Kind::kPods, c);
  // Only here: app/decide_metrics_test.cpp's snapshots hold Pods metrics only for their pods, so
  // no pods there also means no metrics.
  run(Kind::kPods,
      {.upstream = "(not upstream) calcPlainMetricReplicas: no pods returned by selector",
       .currentReplicas = 3,
       .expectedError = "no pods returned by selector while calculating replica count",
       .levels = {20000},
       .target = 15000,
       .podCount = 0});
}

TEST(ReplicaCalculatorMetricsTest, UpstreamObjectCases) {
  for (const auto& c : upstream_cases::objectCases()) run(Kind::kObject, c);
  run(Kind::kObject,
      {.upstream = "(not upstream) getUsageRatioReplicaCount: from 0 replicas, a zero value stays",
       .currentReplicas = 0,
       .expectedReplicas = 0,
       .levels = {0},
       .target = 15000,
       .expectedUsage = 0});
}

TEST(ReplicaCalculatorMetricsTest, UpstreamObjectPerPodCases) {
  for (const auto& c : upstream_cases::objectPerPodCases()) run(Kind::kObjectPerPod, c);
}

TEST(ReplicaCalculatorMetricsTest, UpstreamExternalCases) {
  for (const auto& c : upstream_cases::externalCases()) run(Kind::kExternal, c);
}

TEST(ReplicaCalculatorMetricsTest, UpstreamExternalPerPodCases) {
  for (const auto& c : upstream_cases::externalPerPodCases()) run(Kind::kExternalPerPod, c);
}

TEST(ReplicaCalculatorMetricsTest, UpstreamOverflowCases) {
  for (const auto& [kind, c] : upstream_cases::overflowCases()) run(kind, c);
}

TEST(ReplicaCalculatorMetricsTest, UpstreamContainerResourceCases) {
  for (const auto& c : upstream_cases::containerResourceCases()) run(c);
}

// calculatePodRequestsFromContainers' errors (TestCalculateRequests,
// TestCalculatePodRequestsFromContainers_NonExistentContainer), reached through
// GetResourceReplicas: a pod with a metric keeps the calculation going to the requests.
TEST(ReplicaCalculatorMetricsTest, UpstreamContainerRequestErrors) {
  const auto pod = [](std::string name, std::vector<ContainerInfo> containers) {
    PodInfo p;
    p.name = std::move(name);
    p.readyCondition = ReadyCondition{true, kZeroTime};
    p.startTime = kZeroTime;
    p.containers = std::move(containers);
    return p;
  };
  const auto expectError = [](const std::string& upstream, const std::vector<PodInfo>& pods,
                              const std::string& container, const std::string& expectedError) {
    SCOPED_TRACE(upstream);
    const PodMetrics metrics{{pods.front().name, PodMetric{50, kZeroTime, minutes(1)}}};
    auto result =
        resourceUtilizationReplicas(1, 50, Resource::kCpu, pods, metrics,
                                    upstreamTestingSettings(std::nullopt), kNow, container);
    ASSERT_FALSE(result.ok()) << "expected an error, got " << result->replicas << " replicas";
    EXPECT_NE(result.error().message.find(expectedError), std::string::npos)
        << result.error().message;
  };
  // Upstream fails the whole metric rather than count the pod as requesting nothing.
  expectError(
      "TestCalculatePodRequestsFromContainers_NonExistentContainer",
      {pod("other-pod", {{"container1", 100, std::nullopt}, {"container2", 100, std::nullopt}}),
       pod("test-pod", {{"container1", 100, std::nullopt}})},
      "container2", "container container2 not found in Pod test-pod");
  // Upstream's text goes on "of Pod test-pod".
  expectError("TestCalculateRequests (a named container without a request)",
              {pod("test-pod",
                   {{"container1", std::nullopt, std::nullopt}, {"container2", 50, std::nullopt}})},
              "container1", "missing request for cpu in container container1");
}

}  // namespace
}  // namespace fleetscale::aggregator::scaling
