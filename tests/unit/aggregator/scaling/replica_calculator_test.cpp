// Cases transcribed from Kubernetes' pkg/controller/podautoscaler/replica_calculator_test.go
// (the upstream test each case comes from is named in the case). The harness mirrors upstream's:
// every pod has two containers, each with the listed request and usage; pods are Running and
// Ready unless a case says otherwise; the Ready condition's transition time and the metric
// timestamp are the zero time; metric windows are one minute; "hot" pods started now and
// "cool" pods three minutes ago; the CPU initialization period is 2 minutes and the initial
// readiness delay 10 seconds (upstream's testing defaults). Container-scoped metrics
// (ContainerResource) and custom/external metrics are out of fleetscale's scope and omitted.
#include "fleetscale/aggregator/scaling/replica_calculator.h"

// Table rows name only the fields they set (designated initializers); the rest take defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <gtest/gtest.h>

#include <cmath>

namespace fleetscale::aggregator::scaling {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const WallTime kNow = WallTime(std::chrono::seconds(1'750'000'000));
const WallTime kZeroTime{};  // Go's zero time: long before kNow
constexpr int kContainersPerPod = 2;

enum class Start { kNever, kHot, kCool };

struct CalcCase {
  std::string upstream;
  std::int32_t currentReplicas = 0;
  std::int32_t expectedReplicas = 0;
  std::string expectedError;                // substring; empty = success expected
  std::vector<double> requestCores;         // per pod, per container
  std::vector<std::int64_t> levels;         // per pod, per container (milli-cores)
  std::vector<std::string> metricPodNames;  // override the pod names metrics are reported for
  std::int32_t targetUtilization = 0;
  std::int32_t expectedUtilization = 0;
  std::int64_t expectedValue = 0;
  std::vector<bool> readiness;
  std::vector<Start> startTimes;
  std::vector<PodPhase> phases;
  std::vector<bool> deleting;
};

CalculatorSettings upstreamTestingSettings() {
  CalculatorSettings settings;
  settings.tolerances = Tolerances{0.1, 0.1};
  settings.cpuInitializationPeriod = minutes(2);
  settings.delayOfInitialReadinessStatus = seconds(10);
  return settings;
}

std::vector<PodInfo> makePods(const CalcCase& c) {
  std::size_t count = static_cast<std::size_t>(c.currentReplicas);
  if (c.phases.size() > count) count = c.phases.size();  // failed pods are not in currentReplicas
  std::vector<PodInfo> pods;
  for (std::size_t i = 0; i < count; ++i) {
    PodInfo pod;
    pod.name = "test-pod-" + std::to_string(i);
    pod.phase = i < c.phases.size() ? c.phases[i] : PodPhase::kRunning;
    pod.deleting = i < c.deleting.size() && c.deleting[i];
    pod.readyCondition = ReadyCondition{i < c.readiness.size() ? c.readiness[i] : true, kZeroTime};
    const Start start = i < c.startTimes.size() ? c.startTimes[i] : Start::kNever;
    pod.startTime = start == Start::kHot    ? kNow
                    : start == Start::kCool ? kNow - minutes(3)
                                            : kZeroTime;
    if (i < c.requestCores.size()) {
      pod.cpuRequestMilli = kContainersPerPod * std::llround(c.requestCores[i] * 1000);
    }
    pods.push_back(pod);
  }
  return pods;
}

PodMetrics makeMetrics(const CalcCase& c) {
  PodMetrics metrics;
  for (std::size_t i = 0; i < c.levels.size(); ++i) {
    const std::string name =
        i < c.metricPodNames.size() ? c.metricPodNames[i] : "test-pod-" + std::to_string(i);
    metrics[name] = PodMetric{kContainersPerPod * c.levels[i], kZeroTime, minutes(1)};
  }
  return metrics;
}

void run(const CalcCase& c) {
  SCOPED_TRACE(c.upstream);
  auto result =
      resourceUtilizationReplicas(c.currentReplicas, c.targetUtilization, Resource::kCpu,
                                  makePods(c), makeMetrics(c), upstreamTestingSettings(), kNow);
  if (!c.expectedError.empty()) {
    ASSERT_FALSE(result.ok()) << "expected an error";
    EXPECT_NE(result.error().message.find(c.expectedError), std::string::npos)
        << result.error().message;
    return;
  }
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->replicas, c.expectedReplicas);
  EXPECT_EQ(result->utilizationPercent, c.expectedUtilization);
  EXPECT_EQ(result->averageValueMilli, c.expectedValue);
}

constexpr auto F = false;
constexpr auto T = true;
constexpr auto kRun = PodPhase::kRunning;
constexpr auto kPend = PodPhase::kPending;
constexpr auto kFail = PodPhase::kFailed;

TEST(ReplicaCalculatorTest, UpstreamResourceCases) {
  const std::vector<CalcCase> cases = {
      {.upstream = "TestReplicaCalcDisjointResourcesMetrics",
       .currentReplicas = 1,
       .expectedError = "no metrics returned matched known pods",
       .requestCores = {1.0},
       .levels = {100},
       .metricPodNames = {"an-older-pod-name"},
       .targetUtilization = 100},
      {.upstream = "TestReplicaCalcScaleUp",
       .currentReplicas = 3,
       .expectedReplicas = 5,
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {300, 500, 700},
       .targetUtilization = 30,
       .expectedUtilization = 50,
       .expectedValue = kContainersPerPod * 500},
      {.upstream = "TestReplicaCalcScaleUpUnreadyLessScale",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {300, 500, 700},
       .targetUtilization = 30,
       .expectedUtilization = 60,
       .expectedValue = kContainersPerPod * 600,
       .readiness = {F, T, T}},
      {.upstream = "TestReplicaCalcScaleUpHotCpuLessScale",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {300, 500, 700},
       .targetUtilization = 30,
       .expectedUtilization = 60,
       .expectedValue = kContainersPerPod * 600,
       .startTimes = {Start::kHot, Start::kCool, Start::kCool}},
      {.upstream = "TestReplicaCalcScaleUpUnreadyNoScale",
       .currentReplicas = 3,
       .expectedReplicas = 3,
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {400, 500, 700},
       .targetUtilization = 30,
       .expectedUtilization = 40,
       .expectedValue = kContainersPerPod * 400,
       .readiness = {T, F, F}},
      {.upstream = "TestReplicaCalcScaleHotCpuNoScale",
       .currentReplicas = 3,
       .expectedReplicas = 3,
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {400, 500, 700},
       .targetUtilization = 30,
       .expectedUtilization = 40,
       .expectedValue = kContainersPerPod * 400,
       .readiness = {T, F, F},
       .startTimes = {Start::kCool, Start::kHot, Start::kHot}},
      {.upstream = "TestReplicaCalcScaleUpIgnoresFailedPods",
       .currentReplicas = 2,
       .expectedReplicas = 4,
       .requestCores = {1.0, 1.0, 1.0, 1.0},
       .levels = {500, 700},
       .targetUtilization = 30,
       .expectedUtilization = 60,
       .expectedValue = kContainersPerPod * 600,
       .readiness = {T, T, F, F},
       .phases = {kRun, kRun, kFail, kFail}},
      {.upstream = "TestReplicaCalcScaleUpIgnoresDeletionPods",
       .currentReplicas = 2,
       .expectedReplicas = 4,
       .requestCores = {1.0, 1.0, 1.0, 1.0},
       .levels = {500, 700},
       .targetUtilization = 30,
       .expectedUtilization = 60,
       .expectedValue = kContainersPerPod * 600,
       .readiness = {T, T, F, F},
       .phases = {kRun, kRun, kRun, kRun},
       .deleting = {F, F, T, T}},
      {.upstream = "TestReplicaCalcScaleDown",
       .currentReplicas = 5,
       .expectedReplicas = 3,
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {100, 300, 500, 250, 250},
       .targetUtilization = 50,
       .expectedUtilization = 28,
       .expectedValue = kContainersPerPod * 280},
      {.upstream = "TestReplicaCalcScaleDownExcludeUnreadyPods",
       .currentReplicas = 5,
       .expectedReplicas = 2,
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {100, 300, 500, 250, 250},
       .targetUtilization = 50,
       .expectedUtilization = 30,
       .expectedValue = kContainersPerPod * 300,
       .readiness = {T, T, T, F, F}},
      {.upstream = "TestReplicaCalcScaleDownExcludeUnscheduledPods",
       .currentReplicas = 5,
       .expectedReplicas = 1,
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {100},
       .targetUtilization = 50,
       .expectedUtilization = 10,
       .expectedValue = kContainersPerPod * 100,
       .readiness = {T, F, F, F, F},
       .phases = {kRun, kPend, kPend, kPend, kPend}},
      {.upstream = "TestReplicaCalcScaleDownIgnoreHotCpuPods",
       .currentReplicas = 5,
       .expectedReplicas = 2,
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {100, 300, 500, 250, 250},
       .targetUtilization = 50,
       .expectedUtilization = 30,
       .expectedValue = kContainersPerPod * 300,
       .startTimes = {Start::kCool, Start::kCool, Start::kCool, Start::kHot, Start::kHot}},
      {.upstream = "TestReplicaCalcScaleDownIgnoresFailedPods",
       .currentReplicas = 5,
       .expectedReplicas = 3,
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {100, 300, 500, 250, 250},
       .targetUtilization = 50,
       .expectedUtilization = 28,
       .expectedValue = kContainersPerPod * 280,
       .readiness = {T, T, T, T, T, F, F},
       .phases = {kRun, kRun, kRun, kRun, kRun, kFail, kFail}},
      {.upstream = "TestReplicaCalcScaleDownIgnoresDeletionPods",
       .currentReplicas = 5,
       .expectedReplicas = 3,
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {100, 300, 500, 250, 250},
       .targetUtilization = 50,
       .expectedUtilization = 28,
       .expectedValue = kContainersPerPod * 280,
       .readiness = {T, T, T, T, T, F, F},
       .phases = {kRun, kRun, kRun, kRun, kRun, kRun, kRun},
       .deleting = {F, F, F, F, F, T, T}},
      {.upstream = "TestReplicaCalcTolerance",
       .currentReplicas = 3,
       .expectedReplicas = 3,
       .requestCores = {0.9, 1.0, 1.1},
       .levels = {1010, 1030, 1020},
       .targetUtilization = 100,
       .expectedUtilization = 102,
       .expectedValue = kContainersPerPod * 1020},
      {.upstream = "TestReplicaCalcSuperfluousMetrics",
       .currentReplicas = 4,
       .expectedReplicas = 24,
       .requestCores = {1.0, 1.0, 1.0, 1.0},
       .levels = {4000, 9500, 3000, 7000, 3200, 2000},
       .targetUtilization = 100,
       .expectedUtilization = 587,
       .expectedValue = kContainersPerPod * 5875},
      {.upstream = "TestReplicaCalcMissingMetrics",
       .currentReplicas = 4,
       .expectedReplicas = 3,
       .requestCores = {1.0, 1.0, 1.0, 1.0},
       .levels = {400, 95},
       .targetUtilization = 100,
       .expectedUtilization = 24,
       .expectedValue = 495},
      {.upstream = "TestReplicaCalcEmptyMetrics (upstream errors in the metrics client)",
       .currentReplicas = 4,
       .expectedError = "no metrics",
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {},
       .targetUtilization = 100},
      {.upstream = "TestReplicaCalcEmptyCPURequest",
       .currentReplicas = 1,
       .expectedError = "missing request for",
       .requestCores = {},
       .levels = {200},
       .targetUtilization = 100},
      {.upstream = "TestReplicaCalcMissingMetricsNoChangeEq",
       .currentReplicas = 2,
       .expectedReplicas = 2,
       .requestCores = {1.0, 1.0},
       .levels = {1000},
       .targetUtilization = 100,
       .expectedUtilization = 100,
       .expectedValue = kContainersPerPod * 1000},
      {.upstream = "TestReplicaCalcMissingMetricsNoChangeGt",
       .currentReplicas = 2,
       .expectedReplicas = 2,
       .requestCores = {1.0, 1.0},
       .levels = {1900},
       .targetUtilization = 100,
       .expectedUtilization = 190,
       .expectedValue = kContainersPerPod * 1900},
      {.upstream = "TestReplicaCalcMissingMetricsNoChangeLt",
       .currentReplicas = 2,
       .expectedReplicas = 2,
       .requestCores = {1.0, 1.0},
       .levels = {600},
       .targetUtilization = 100,
       .expectedUtilization = 60,
       .expectedValue = kContainersPerPod * 600},
      {.upstream = "TestReplicaCalcMissingMetricsUnreadyChange",
       .currentReplicas = 3,
       .expectedReplicas = 3,
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {100, 450},
       .targetUtilization = 50,
       .expectedUtilization = 45,
       .expectedValue = kContainersPerPod * 450,
       .readiness = {F, T, T}},
      {.upstream = "TestReplicaCalcMissingMetricsHotCpuNoChange",
       .currentReplicas = 3,
       .expectedReplicas = 3,
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {100, 450},
       .targetUtilization = 50,
       .expectedUtilization = 45,
       .expectedValue = kContainersPerPod * 450,
       .startTimes = {Start::kHot, Start::kCool, Start::kCool}},
      {.upstream = "TestReplicaCalcMissingMetricsUnreadyScaleUp",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {100, 2000},
       .targetUtilization = 50,
       .expectedUtilization = 200,
       .expectedValue = kContainersPerPod * 2000,
       .readiness = {F, T, T}},
      {.upstream = "TestReplicaCalcMissingMetricsHotCpuScaleUp",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {100, 2000},
       .targetUtilization = 50,
       .expectedUtilization = 200,
       .expectedValue = kContainersPerPod * 2000,
       .readiness = {F, T, T},
       .startTimes = {Start::kHot, Start::kCool, Start::kCool}},
      {.upstream = "TestReplicaCalcMissingMetricsUnreadyScaleDown",
       .currentReplicas = 4,
       .expectedReplicas = 3,
       .requestCores = {1.0, 1.0, 1.0, 1.0},
       .levels = {100, 100, 100},
       .targetUtilization = 50,
       .expectedUtilization = 10,
       .expectedValue = kContainersPerPod * 100,
       .readiness = {F, T, T, T}},
      {.upstream = "TestReplicaCalcMissingMetricsScaleDownTargetOver100",
       .currentReplicas = 4,
       .expectedReplicas = 2,
       .requestCores = {1.0, 1.0, 2.0, 2.0},
       .levels = {200, 100, 100},
       .targetUtilization = 300,
       .expectedUtilization = 6,
       .expectedValue = kContainersPerPod * 100,
       .readiness = {F, T, T, T}},
      {.upstream = "TestReplicaCalcDuringRollingUpdateWithMaxSurge",
       .currentReplicas = 2,
       .expectedReplicas = 2,
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {100, 100},
       .targetUtilization = 50,
       .expectedUtilization = 10,
       .expectedValue = kContainersPerPod * 100,
       .phases = {kRun, kRun, kRun}},
  };
  for (const auto& c : cases) run(c);
}

// TestReplicaCalcComputedToleranceAlgImplementation: a target just past the tolerance scales
// down; one just inside it does not.
TEST(ReplicaCalculatorTest, UpstreamComputedToleranceAlgImplementation) {
  const std::int32_t startPods = 10;
  const std::int64_t totalUsed = startPods * 150;
  const auto totalRequested = static_cast<std::int32_t>(2 * totalUsed);
  const double requestedToUsed =
      static_cast<double>(totalRequested / static_cast<std::int32_t>(totalUsed));
  const std::int32_t perPodRequested = totalRequested / startPods;

  double target = std::abs(1 / (requestedToUsed * (1 - 0.1))) + .01;
  const double resourcesUsedRatio =
      static_cast<double>(totalUsed) / (static_cast<double>(totalRequested) * target);
  CalcCase c;
  c.upstream = "TestReplicaCalcComputedToleranceAlgImplementation";
  c.currentReplicas = startPods;
  c.expectedReplicas = static_cast<std::int32_t>(std::ceil(resourcesUsedRatio * startPods));
  c.levels = std::vector<std::int64_t>(10, totalUsed / 10);
  for (int delta : {100, -100, 10, -10, 2, -2, 1, -1, 0, 0}) {
    c.requestCores.push_back((perPodRequested + delta) / 1000.0);
  }
  c.targetUtilization = static_cast<std::int32_t>(target * 100);
  c.expectedUtilization = static_cast<std::int32_t>(totalUsed * 100 / totalRequested);
  c.expectedValue = kContainersPerPod * totalUsed / 10;
  run(c);

  target = std::abs(1 / (requestedToUsed * (1 - 0.1))) + .004;
  c.targetUtilization = static_cast<std::int32_t>(target * 100);
  c.expectedReplicas = startPods;
  run(c);
}

struct GroupCase {
  std::string name;
  PodInfo pod;
  std::optional<PodMetric> metric;
  Resource resource;
  int ready;
  std::string expect;  // "unready", "missing", "ignored" or "" (counted as ready)
};

// TestGroupPods.
TEST(ReplicaCalculatorTest, UpstreamGroupPods) {
  auto pod = [](PodPhase phase, std::optional<WallTime> start, std::optional<ReadyCondition> ready,
                bool deleting = false) {
    PodInfo p;
    p.name = "pod";
    p.phase = phase;
    p.startTime = start;
    p.readyCondition = ready;
    p.deleting = deleting;
    return p;
  };
  const auto ok = PodPhase::kSucceeded;
  const std::vector<GroupCase> cases = {
      {"count in a ready pod - memory", pod(ok, std::nullopt, std::nullopt),
       PodMetric{1, kNow, minutes(1)}, Resource::kMemory, 1, ""},
      {"unready a pod without ready condition - CPU", pod(ok, kNow, std::nullopt), PodMetric{1},
       Resource::kCpu, 0, "unready"},
      {"count in a ready pod with fresh metrics during initialization period - CPU",
       pod(ok, kNow - minutes(1), ReadyCondition{true, kNow - seconds(30)}),
       PodMetric{1, kNow, seconds(30)}, Resource::kCpu, 1, ""},
      {"unready a ready pod without fresh metrics during initialization period - CPU",
       pod(ok, kNow - minutes(1), ReadyCondition{true, kNow - seconds(30)}),
       PodMetric{1, kNow, seconds(60)}, Resource::kCpu, 0, "unready"},
      {"unready an unready pod during initialization period - CPU",
       pod(ok, kNow - minutes(10), ReadyCondition{false, kNow - minutes(9) - seconds(54)}),
       PodMetric{1}, Resource::kCpu, 0, "unready"},
      {"count in a ready pod without fresh metrics after initialization period - CPU",
       pod(ok, kNow - minutes(3), ReadyCondition{true, kNow - minutes(3)}),
       PodMetric{1, kNow - minutes(2), minutes(1)}, Resource::kCpu, 1, ""},
      {"count in an unready pod that was ready after initialization period - CPU",
       pod(ok, kNow - minutes(10), ReadyCondition{false, kNow - minutes(9)}), PodMetric{1},
       Resource::kCpu, 1, ""},
      {"unready pod that has never been ready after initialization period - CPU",
       pod(ok, kNow - minutes(10), ReadyCondition{false, kNow - minutes(9) - seconds(50)}),
       PodMetric{1}, Resource::kCpu, 1, ""},
      {"a missing pod", pod(ok, kNow - minutes(3), std::nullopt), std::nullopt, Resource::kCpu, 0,
       "missing"},
      {"pending pods are unreadied", pod(PodPhase::kPending, std::nullopt, std::nullopt),
       std::nullopt, Resource::kCpu, 0, "unready"},
      {"ignore pods with deletion timestamps",
       pod(PodPhase::kPending, std::nullopt, std::nullopt, true), PodMetric{1}, Resource::kCpu, 0,
       "ignored"},
      {"ignore pods in a failed state", pod(PodPhase::kFailed, std::nullopt, std::nullopt),
       PodMetric{1}, Resource::kCpu, 0, "ignored"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    PodMetrics metrics;
    if (c.metric) metrics["pod"] = *c.metric;
    const auto groups = groupPods({c.pod}, metrics, c.resource, upstreamTestingSettings(), kNow);
    EXPECT_EQ(groups.readyPodCount, c.ready);
    EXPECT_EQ(groups.unready.count("pod"), c.expect == "unready" ? 1u : 0u);
    EXPECT_EQ(groups.missing.count("pod"), c.expect == "missing" ? 1u : 0u);
    EXPECT_EQ(groups.ignored.count("pod"), c.expect == "ignored" ? 1u : 0u);
  }
}

// Upstream's "several pods" TestGroupPods case: ready, unready (no condition, just started) and
// missing together.
TEST(ReplicaCalculatorTest, UpstreamGroupPodsSeveral) {
  PodInfo lucretius{"lucretius", "", PodPhase::kSucceeded, false, std::nullopt, kNow, {}, {}};
  PodInfo niccolo{"niccolo",
                  "",
                  PodPhase::kSucceeded,
                  false,
                  ReadyCondition{true, kNow - minutes(3)},
                  kNow - minutes(3),
                  {},
                  {}};
  PodInfo epicurus{"epicurus", "", PodPhase::kSucceeded, false, std::nullopt, kNow - minutes(3),
                   {},         {}};
  PodMetrics metrics{{"lucretius", PodMetric{1}}, {"niccolo", PodMetric{1}}};
  const auto groups = groupPods({lucretius, niccolo, epicurus}, metrics, Resource::kCpu,
                                upstreamTestingSettings(), kNow);
  EXPECT_EQ(groups.readyPodCount, 1);
  EXPECT_EQ(groups.unready, std::set<std::string>{"lucretius"});
  EXPECT_EQ(groups.missing, std::set<std::string>{"epicurus"});
  EXPECT_TRUE(groups.ignored.empty());
}

// Not upstream: memory ignores readiness, and AverageValue targets use the plain-metric rules.
TEST(ReplicaCalculatorTest, MemoryAverageValue) {
  std::vector<PodInfo> pods;
  PodMetrics metrics;
  for (int i = 0; i < 3; ++i) {
    PodInfo pod;
    pod.name = "p" + std::to_string(i);
    pod.readyCondition =
        ReadyCondition{i != 0, kZeroTime};  // p0 not ready: still counted for memory
    pod.startTime = kNow - minutes(1);
    pods.push_back(pod);
    metrics[pod.name] = PodMetric{(300LL << 20) * 1000, kNow, seconds(1)};  // 300 MiB each
  }
  auto result = resourceAverageValueReplicas(3, (200LL << 20) * 1000, Resource::kMemory, pods,
                                             metrics, upstreamTestingSettings(), kNow);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->groups.readyPodCount, 3);
  EXPECT_EQ(result->replicas, 5) << "ceil(1.5 x 3)";
  EXPECT_EQ(result->averageValueMilli, (300LL << 20) * 1000);
}

TEST(ReplicaCalculatorTest, PerDirectionTolerances) {
  Tolerances tolerances{0.05, 0.5};
  EXPECT_TRUE(tolerances.isWithin(1.4));
  EXPECT_FALSE(tolerances.isWithin(1.6));
  EXPECT_TRUE(tolerances.isWithin(0.96));
  EXPECT_FALSE(tolerances.isWithin(0.94));
}

}  // namespace
}  // namespace fleetscale::aggregator::scaling
