// The Kubernetes replica-calculator cases that two tests run: scaling/
// replica_calculator_metrics_test.cpp through the calculator functions, and app/
// decide_metrics_test.cpp end to end through `decide` snapshots. Each test keeps here only what
// both run; a case only one of them can run stays in that test.
//
// Pods, Object, External and ContainerResource cases transcribed from Kubernetes'
// pkg/controller/podautoscaler/replica_calculator_test.go, the version with configurable
// tolerances (each case is named after its upstream test; cases upstream has since dropped or
// folded into TestReplicaCalcResourceScale subtests keep their older function names, with the
// subtest named too). The harness both tests mirror is upstream's runTest:
//  - pods: currentReplicas of them (more when a case lists more phases: failed pods are not in
//    currentReplicas), named test-pod-N, Running, with a Ready condition (true unless the case
//    says otherwise) whose transition time is the zero time, started at the zero time unless "hot"
//    (now) or "cool" (three minutes ago), and two containers, container1 and container2, each
//    requesting the listed CPU;
//  - Pods metrics (podMetric): one level per pod, for test-pod-0, test-pod-1, ...; the usage
//    upstream checks is the average (averageValueMilli);
//  - Object metrics: the single value levels[0]; Value targets check it as is (valueMilli),
//    AverageValue targets (objectPerPodMetric) pass currentReplicas as the status replicas and
//    check ceil(value / status replicas) (averageValueMilli);
//  - External metrics: one series per level, summed (upstream caps the sum at the int64 maximum
//    rather than let it wrap); checked as for Object;
//  - ContainerResource: levels[pod][container] in milli-cores, reported for container1, container2
//    in that order; the metric timestamp is the zero time and the window one minute;
//  - tolerance 0.1 both ways unless a case sets scaleUpTolerance (the scale-down one stays 0.1);
//    CPU initialization period 2 minutes, initial readiness delay 10 seconds (upstream's testing
//    defaults).
// All values are milli-units, as upstream's levels are. Cases marked "(not upstream)" exercise a
// branch of replica_calculator.go that upstream's tests leave out.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/aggregator/scaling/replica_calculator.h"

namespace fleetscale::aggregator::upstream_cases {

inline constexpr std::size_t kContainersPerPod = 2;
inline constexpr double kUpstreamTolerance = 0.1;  // defaultTestingTolerance
inline constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
inline constexpr std::int32_t kMaxInt32 = std::numeric_limits<std::int32_t>::max();

inline constexpr auto F = false;
inline constexpr auto T = true;
inline constexpr auto kRun = scaling::PodPhase::kRunning;
inline constexpr auto kPend = scaling::PodPhase::kPending;
inline constexpr auto kFail = scaling::PodPhase::kFailed;

enum class Start { kZero, kHot, kCool };

// What upstream's fake pod lister varies per pod; pods past a list's end take the default.
struct PodStates {
  std::vector<bool> readiness;
  std::vector<Start> startTimes;
  std::vector<scaling::PodPhase> phases;
  std::vector<bool> deleting;
};

enum class Kind { kPods, kObject, kObjectPerPod, kExternal, kExternalPerPod };

struct MetricCase {
  std::string upstream;
  std::int32_t currentReplicas = 0;
  std::int32_t expectedReplicas = 0;
  std::string expectedError;         // substring; empty = success expected
  std::vector<std::int64_t> levels;  // milli-units; no Object value or External series if empty
  std::int64_t target = 0;           // targetUsage, or perPodTargetUsage for the per-pod kinds
  std::int64_t expectedUsage = 0;
  std::optional<double> scaleUpTolerance;  // unset: kUpstreamTolerance
  PodStates pods;
  std::optional<std::size_t> podCount;         // (not upstream) overrides the harness's pod count
  std::optional<std::int32_t> statusReplicas;  // (not upstream) unset: currentReplicas
};

// A MetricCase of its own kind, for tables that mix kinds.
struct KindCase {
  Kind kind;
  MetricCase c;
};

struct ContainerCase {
  std::string upstream;
  std::string upstreamSubtest;  // the TestReplicaCalcResourceScale subtest it became, if any
  std::int32_t currentReplicas = 0;
  std::int32_t expectedReplicas = 0;
  std::string container;
  std::vector<double> requestCores;               // per pod, for each container
  std::vector<std::vector<std::int64_t>> levels;  // [pod][container], milli-cores
  std::int32_t targetUtilization = 0;
  std::int32_t expectedUtilization = 0;
  std::int64_t expectedValue = 0;  // the average usage of the container, milli-cores
  PodStates pods;
};

inline std::string podName(std::size_t i) { return "test-pod-" + std::to_string(i); }
inline std::string containerName(std::size_t j) { return "container" + std::to_string(j + 1); }

inline std::size_t harnessPodCount(std::int32_t currentReplicas, const PodStates& states) {
  return std::max(static_cast<std::size_t>(currentReplicas), states.phases.size());
}

// makePodMetricLevels: every container of pod i uses perPod[i].
inline std::vector<std::vector<std::int64_t>> makePodMetricLevels(
    const std::vector<std::int64_t>& perPod) {
  std::vector<std::vector<std::int64_t>> levels;
  for (const auto level : perPod) levels.emplace_back(kContainersPerPod, level);
  return levels;
}

// Table rows name only the fields they set (designated initializers); the rest take defaults.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

inline std::vector<MetricCase> podsCases() {
  return {
      {.upstream = "TestReplicaCalcScaleUpCM",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .levels = {20000, 10000, 30000},
       .target = 15000,
       .expectedUsage = 20000},
      // Readiness and start times do not matter to a Pods metric: only CPU waits for them.
      {.upstream = "TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale",
       .currentReplicas = 3,
       .expectedReplicas = 6,
       .levels = {50000, 10000, 30000},
       .target = 15000,
       .expectedUsage = 30000,
       .pods = {.readiness = {T, T, F}, .startTimes = {Start::kCool, Start::kCool, Start::kHot}}},
      {.upstream = "TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown",
       .currentReplicas = 3,
       .expectedReplicas = 7,
       .levels = {50000, 15000, 30000},
       .target = 15000,
       .expectedUsage = 31666,
       .pods = {.readiness = {F, T, F}, .startTimes = {Start::kHot, Start::kCool, Start::kHot}}},
      // A Pods metric despite its name; dropped upstream with the configurable tolerances.
      {.upstream = "TestReplicaCalcScaleUpCMExternal",
       .currentReplicas = 1,
       .expectedReplicas = 2,
       .levels = {8600},
       .target = 4400,
       .expectedUsage = 8600},
      {.upstream = "TestReplicaCalcScaleUpCMExternalNoLabels",
       .currentReplicas = 1,
       .expectedReplicas = 2,
       .levels = {8600},
       .target = 4400,
       .expectedUsage = 8600},
      {.upstream = "TestReplicaCalcScaleDownCM",
       .currentReplicas = 5,
       .expectedReplicas = 3,
       .levels = {12000, 12000, 12000, 12000, 12000},
       .target = 20000,
       .expectedUsage = 12000},
      {.upstream = "TestReplicaCalcToleranceCM",
       .currentReplicas = 3,
       .expectedReplicas = 3,
       .levels = {20000, 21000, 21000},
       .target = 20000,
       .expectedUsage = 20666},
      {.upstream = "TestReplicaCalcConfigurableToleranceCM",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .levels = {20000, 21000, 21000},
       .target = 20000,
       .expectedUsage = 20666,
       .scaleUpTolerance = .01},
      {.upstream = "TestPlainMetricReplicaCalcMissingMetricsNoChangeEq",
       .currentReplicas = 5,
       .expectedReplicas = 5,
       .levels = {20000, 19000, 21000},
       .target = 20000,
       .expectedUsage = 20000},
      {.upstream = "TestReplicaCalcDuringRollingUpdateWithMaxSurgeCM",
       .currentReplicas = 2,
       .expectedReplicas = 2,
       .levels = {10000, 10000},
       .target = 17000,
       .expectedUsage = 10000,
       .pods = {.phases = {kRun, kRun, kRun}}},
      {.upstream =
           "(not upstream) calcPlainMetricReplicas: a missing pod counts as 0 on a scale-up",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .levels = {30000, 30000},
       .target = 15000,
       .expectedUsage = 30000},
      {.upstream = "(not upstream) GetRawMetric: no metrics returned from custom metrics API",
       .currentReplicas = 3,
       .expectedError = "no metrics returned",
       .levels = {},
       .target = 15000},
      {.upstream = "(not upstream) calcPlainMetricReplicas: every pod pending",
       .currentReplicas = 3,
       .expectedError = "did not receive metrics for targeted pods (pods might be unready)",
       .levels = {20000, 20000, 20000},
       .target = 15000,
       .pods = {.phases = {kPend, kPend, kPend}}},
  };
}

inline std::vector<MetricCase> objectCases() {
  return {
      {.upstream = "TestReplicaCalcScaleUpCMObject",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .levels = {20000},
       .target = 15000,
       .expectedUsage = 20000},
      // Only Running and Ready pods multiply the ratio: 5 x 1, not 5 x 3.
      {.upstream = "TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods",
       .currentReplicas = 3,
       .expectedReplicas = 5,
       .levels = {50000},
       .target = 10000,
       .expectedUsage = 50000,
       .pods = {.readiness = {F, T, F}}},
      {.upstream = "TestReplicaCalcScaleDownCMObject",
       .currentReplicas = 5,
       .expectedReplicas = 3,
       .levels = {12000},
       .target = 20000,
       .expectedUsage = 12000},
      {.upstream = "TestReplicaCalcToleranceCMObject",
       .currentReplicas = 3,
       .expectedReplicas = 3,
       .levels = {20666},
       .target = 20000,
       .expectedUsage = 20666},
      {.upstream = "TestReplicaCalcConfigurableToleranceCMObject",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .levels = {20666},
       .target = 20000,
       .expectedUsage = 20666,
       .scaleUpTolerance = .01},
      {.upstream = "(not upstream) getUsageRatioReplicaCount: from 0 replicas, ceil(ratio)",
       .currentReplicas = 0,
       .expectedReplicas = 2,
       .levels = {20000},
       .target = 15000,
       .expectedUsage = 20000},
      // The pods are listed only when the ratio is outside the tolerance.
      {.upstream = "(not upstream) getUsageRatioReplicaCount: within tolerance, pods not needed",
       .currentReplicas = 3,
       .expectedReplicas = 3,
       .levels = {20000},
       .target = 20000,
       .expectedUsage = 20000,
       .podCount = 0},
      {.upstream = "(not upstream) getReadyPodsCount: no pods returned by selector",
       .currentReplicas = 3,
       .expectedError = "no pods returned by selector while calculating replica count",
       .levels = {50000},
       .target = 10000,
       .podCount = 0},
  };
}

inline std::vector<MetricCase> objectPerPodCases() {
  return {
      {.upstream = "TestReplicaCalcScaleUpCMPerPodObject",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .levels = {20000},
       .target = 5000,
       .expectedUsage = 6667},
      {.upstream = "TestReplicaCalcScaleDownPerPodCMObject",
       .currentReplicas = 5,
       .expectedReplicas = 3,
       .levels = {6000},
       .target = 2000,
       .expectedUsage = 1200},
      {.upstream = "TestReplicaCalcTolerancePerPodCMObject",
       .currentReplicas = 4,
       .expectedReplicas = 4,
       .levels = {20166},
       .target = 5000,
       .expectedUsage = 5042},
      {.upstream = "TestReplicaCalcConfigurableTolerancePerPodCMObject",
       .currentReplicas = 4,
       .expectedReplicas = 5,
       .levels = {20208},
       .target = 5000,
       .expectedUsage = 5052,
       .scaleUpTolerance = .01},
  };
}

inline std::vector<MetricCase> externalCases() {
  return {
      {.upstream = "TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods",
       .currentReplicas = 3,
       .expectedReplicas = 2,
       .levels = {8600},
       .target = 4400,
       .expectedUsage = 8600,
       .pods = {.readiness = {F, T, F}}},
      {.upstream = "TestReplicaCalcScaleDownCMExternal",
       .currentReplicas = 5,
       .expectedReplicas = 3,
       .levels = {8600},
       .target = 14334,
       .expectedUsage = 8600},
      {.upstream = "TestReplicaCalcToleranceCMExternal",
       .currentReplicas = 3,
       .expectedReplicas = 3,
       .levels = {8600},
       .target = 8888,
       .expectedUsage = 8600},
      {.upstream = "TestReplicaCalcConfigurableToleranceCMExternal",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .levels = {8900},
       .target = 8800,
       .expectedUsage = 8900,
       .scaleUpTolerance = .01},
      {.upstream = "(not upstream) GetExternalMetricReplicas: the series are summed",
       .currentReplicas = 3,
       .expectedReplicas = 6,
       .levels = {5000, 3600},
       .target = 4400,
       .expectedUsage = 8600},
      {.upstream = "(not upstream) getUsageRatioReplicaCount: from 0 replicas, ceil(ratio)",
       .currentReplicas = 0,
       .expectedReplicas = 2,
       .levels = {8600},
       .target = 4400,
       .expectedUsage = 8600},
  };
}

inline std::vector<MetricCase> externalPerPodCases() {
  return {
      {.upstream = "TestReplicaCalcScaleUpPerPodCMExternal",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .levels = {8600},
       .target = 2150,
       .expectedUsage = 2867},
      {.upstream = "TestReplicaCalcScaleDownPerPodCMExternal",
       .currentReplicas = 5,
       .expectedReplicas = 3,
       .levels = {8600},
       .target = 2867,
       .expectedUsage = 1720},
      {.upstream = "TestReplicaCalcTolerancePerPodCMExternal",
       .currentReplicas = 3,
       .expectedReplicas = 3,
       .levels = {8600},
       .target = 2900,
       .expectedUsage = 2867},
      {.upstream = "TestReplicaCalcConfigurableTolerancePerPodCMExternal",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .levels = {8600},
       .target = 2800,
       .expectedUsage = 2867,
       .scaleUpTolerance = .01},
  };
}

// Values at the int64 limit: replicas are capped at the int32 maximum and the usage upstream
// reports stays at the int64 maximum instead of overflowing.
inline std::vector<KindCase> overflowCases() {
  return {
      {Kind::kObject,
       {.upstream = "TestReplicaCalcScaleUpOverflow",
        .currentReplicas = 3,
        .expectedReplicas = kMaxInt32,
        .levels = {kMaxInt64},
        .target = 1,
        .expectedUsage = kMaxInt64}},
      {Kind::kExternal,
       {.upstream = "TestReplicaCalcExternalMetricUsageOverflow",
        .currentReplicas = 3,
        .expectedReplicas = 3,
        .levels = {kMaxInt64 / 2 + 1, kMaxInt64 / 2 + 1},
        .target = kMaxInt64,
        .expectedUsage = kMaxInt64}},
      {Kind::kExternalPerPod,
       {.upstream = "TestExternalPerPodMetricReplicaOverflow",
        .currentReplicas = 1,
        .expectedReplicas = kMaxInt32,
        .levels = {kMaxInt64},
        .target = 1,
        .expectedUsage = kMaxInt64}},
      {Kind::kExternalPerPod,
       {.upstream = "TestExternalPerPodMetricUsageOverflow",
        .currentReplicas = 1,
        .expectedReplicas = 1,
        .levels = {kMaxInt64},
        .target = kMaxInt64,
        .expectedUsage = kMaxInt64}},
  };
}

inline std::vector<ContainerCase> containerResourceCases() {
  return {
      {.upstream = "TestReplicaCalcContainerScaleUp",
       .upstreamSubtest = "TestReplicaCalcResourceScale/scale up: container metric",
       .currentReplicas = 3,
       .expectedReplicas = 5,
       .container = "container2",
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {{1000, 300}, {1000, 500}, {1000, 700}},
       .targetUtilization = 30,
       .expectedUtilization = 50,
       .expectedValue = 500},
      {.upstream = "TestReplicaCalcScaleUpContainerHotCpuLessScale",
       .upstreamSubtest = "TestReplicaCalcResourceScale/scale up: hot-CPU container scales less",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .container = "container2",
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {{0, 300}, {0, 500}, {0, 700}},
       .targetUtilization = 30,
       .expectedUtilization = 60,
       .expectedValue = 600,
       .pods = {.startTimes = {Start::kHot, Start::kCool, Start::kCool}}},
      {.upstream = "TestReplicaCalcMissingContainerMetricScaleUpIgnoresFailedPods",
       .upstreamSubtest = "TestReplicaCalcResourceScale/scale up: failed pods ignored with "
                          "missing container metric",
       .currentReplicas = 2,
       .expectedReplicas = 4,
       .container = "container2",
       .requestCores = {1.0, 1.0, 1.0, 1.0},
       .levels = {{1000, 500}, {9000, 700}, {1000}, {9000}},
       .targetUtilization = 30,
       .expectedUtilization = 60,
       .expectedValue = 600,
       .pods = {.readiness = {T, T, F, F}, .phases = {kRun, kRun, kFail, kFail}}},
      {.upstream = "TestReplicaCalcScaleUpContainerIgnoresFailedPods",
       .upstreamSubtest = "TestReplicaCalcResourceScale/scale up: container metrics with failed "
                          "pods ignored",
       .currentReplicas = 2,
       .expectedReplicas = 4,
       .container = "container2",
       .requestCores = {1.0, 1.0, 1.0, 1.0},
       .levels = {{1000, 500}, {9000, 700}},
       .targetUtilization = 30,
       .expectedUtilization = 60,
       .expectedValue = 600,
       .pods = {.readiness = {T, T, F, F}, .phases = {kRun, kRun, kFail, kFail}}},
      {.upstream = "TestReplicaCalcScaleUpContainerIgnoresDeletionPods",
       .upstreamSubtest = "TestReplicaCalcResourceScale/scale up: container metrics with pods "
                          "being deleted ignored",
       .currentReplicas = 2,
       .expectedReplicas = 4,
       .container = "container1",
       .requestCores = {1.0, 1.0, 1.0, 1.0},
       .levels = makePodMetricLevels({500, 700}),
       .targetUtilization = 30,
       .expectedUtilization = 60,
       .expectedValue = 600,
       .pods = {.readiness = {T, T, F, F},
                .phases = {kRun, kRun, kRun, kRun},
                .deleting = {F, F, T, T}}},
      {.upstream = "TestReplicaCalcContainerScaleDown",
       .upstreamSubtest = "TestReplicaCalcResourceScale/scale down: container metric",
       .currentReplicas = 5,
       .expectedReplicas = 3,
       .container = "container2",
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}},
       .targetUtilization = 50,
       .expectedUtilization = 28,
       .expectedValue = 280},
      {.upstream = "TestReplicaCalcScaleDownContainerExcludeUnreadyPods",
       .upstreamSubtest = "TestReplicaCalcResourceScale/scale down: container metric excludes "
                          "unready pods",
       .currentReplicas = 5,
       .expectedReplicas = 2,
       .container = "container2",
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}},
       .targetUtilization = 50,
       .expectedUtilization = 30,
       .expectedValue = 300,
       .pods = {.readiness = {T, T, T, F, F}}},
      {.upstream = "TestReplicaCalcScaleDownContainerExcludeUnscheduledPods",
       .upstreamSubtest = "TestReplicaCalcResourceScale/scale down: container metric excludes "
                          "unscheduled pods",
       .currentReplicas = 5,
       .expectedReplicas = 1,
       .container = "container2",
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}},
       .targetUtilization = 50,
       .expectedUtilization = 10,
       .expectedValue = 100,
       .pods = {.readiness = {T, F, F, F, F}, .phases = {kRun, kPend, kPend, kPend, kPend}}},
      {.upstream = "TestReplicaCalcScaleDownContainerIgnoreHotCpuPods",
       .upstreamSubtest = "TestReplicaCalcResourceScale/scale down: container metric ignores "
                          "hot-CPU pods",
       .currentReplicas = 5,
       .expectedReplicas = 2,
       .container = "container2",
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {{1000, 100}, {1000, 300}, {1000, 500}, {1000, 1000}, {1000, 1000}},
       .targetUtilization = 50,
       .expectedUtilization = 30,
       .expectedValue = 300,
       .pods = {.startTimes = {Start::kCool, Start::kCool, Start::kCool, Start::kHot,
                               Start::kHot}}},
      {.upstream = "TestReplicaCalcScaleDownContainerIgnoresFailedPods",
       .upstreamSubtest = "TestReplicaCalcResourceScale/scale down: container metric with failed "
                          "pods ignored",
       .currentReplicas = 5,
       .expectedReplicas = 3,
       .container = "container2",
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}},
       .targetUtilization = 50,
       .expectedUtilization = 28,
       .expectedValue = 280,
       .pods = {.readiness = {T, T, T, T, T, F, F},
                .phases = {kRun, kRun, kRun, kRun, kRun, kFail, kFail}}},
      // Regression test for kubernetes/kubernetes#83561.
      {.upstream = "TestReplicaCalcScaleDownIgnoresDeletionPods_StillRunning",
       .upstreamSubtest = "TestReplicaCalcResourceScale/scale down: still-running pods being "
                          "deleted are ignored",
       .currentReplicas = 5,
       .expectedReplicas = 3,
       .container = "container2",
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}},
       .targetUtilization = 50,
       .expectedUtilization = 28,
       .expectedValue = 280,
       .pods = {.readiness = {T, T, T, T, T, F, F},
                .phases = {kRun, kRun, kRun, kRun, kRun, kRun, kRun},
                .deleting = {F, F, F, F, F, T, T}}},
  };
}

#pragma GCC diagnostic pop

}  // namespace fleetscale::aggregator::upstream_cases
