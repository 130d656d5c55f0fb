// The upstream replica-calculator cases of tests/unit/aggregator/scaling/
// replica_calculator_metrics_test.cpp (Kubernetes' replica_calculator_test.go; that file's header
// states upstream's harness), run end to end: each case becomes a `decide` snapshot whose pods,
// metric values and policy are the ones upstream's fakes serve, and the metric's proposal in the
// decision must be the one upstream expects. The snapshot reproduces the harness thus:
//  - every pod has a Ready condition that changed at Unix time 0 (upstream: the zero time) and
//    metrics stamped at Unix time 0 over a one-minute window; pods start at Unix time 0 unless
//    "hot" (now) or "cool" (three minutes before now);
//  - Pods metrics are the pods' "metrics"; Object metrics one value for apps/v1 Deployment
//    some-deployment; External metrics one series per level, labelled label=value, which the
//    selector matches;
//  - ContainerResource: each pod's two containers with their requests and usage;
//  - defaults: tolerance 0.1, CPU initialization period 2m, initial readiness delay 10s; a case's
//    scale-up tolerance goes to behavior.scaleUp.tolerance;
//  - maxReplicas is the largest allowed so the proposal is never clamped before being reported,
//    and minReplicas is 0 where an Object or External metric allows it.
#include "fleetscale/aggregator/app/decide_command.h"

// Table rows name only the fields they set (designated initializers); the rest take defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

constexpr const char* kNow = "2026-01-01T00:00:00Z";
constexpr const char* kCoolStart = "2025-12-31T23:57:00Z";  // three minutes before kNow
constexpr std::size_t kContainersPerPod = 2;
constexpr int kMaxReplicas = 100000;  // the most a policy accepts
constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
constexpr std::int32_t kMaxInt32 = std::numeric_limits<std::int32_t>::max();

constexpr const char* kRun = "Running";
constexpr const char* kPend = "Pending";
constexpr const char* kFail = "Failed";
constexpr auto F = false;
constexpr auto T = true;

enum class Start { kZero, kHot, kCool };

// What upstream's fake pod lister varies per pod; pods past a list's end take the default.
struct PodStates {
  std::vector<bool> readiness;
  std::vector<Start> startTimes;
  std::vector<std::string> phases;
  std::vector<bool> deleting;
};

enum class Kind { kPods, kObject, kObjectPerPod, kExternal, kExternalPerPod };

struct MetricCase {
  std::string upstream;
  std::int32_t currentReplicas = 0;
  std::int32_t expectedReplicas = 0;
  std::string expectedError;         // substring of the metric's error; empty = success expected
  std::vector<std::int64_t> levels;  // milli-units; no Object value or External series if empty
  std::int64_t target = 0;           // targetUsage, or perPodTargetUsage for the per-pod kinds
  std::int64_t expectedUsage = 0;
  std::string scaleUpTolerance;  // behavior.scaleUp.tolerance; empty: the 0.1 default
  PodStates pods;
  std::optional<std::size_t> podCount;         // (not upstream) overrides the harness's count
  std::optional<std::int32_t> statusReplicas;  // (not upstream) the snapshot's statusReplicas
};

struct ContainerCase {
  std::string upstream;
  std::int32_t currentReplicas = 0;
  std::int32_t expectedReplicas = 0;
  std::string container;
  std::vector<double> requestCores;               // per pod, for each container
  std::vector<std::vector<std::int64_t>> levels;  // [pod][container], milli-cores
  std::int32_t targetUtilization = 0;
  std::int32_t expectedUtilization = 0;
  std::int64_t expectedValue = 0;
  PodStates pods;
};

std::string milli(std::int64_t value) { return std::to_string(value) + "m"; }
std::string containerName(std::size_t j) { return "container" + std::to_string(j + 1); }

std::size_t harnessPodCount(std::int32_t currentReplicas, const PodStates& states) {
  return std::max(static_cast<std::size_t>(currentReplicas), states.phases.size());
}

std::vector<std::vector<std::int64_t>> makePodMetricLevels(
    const std::vector<std::int64_t>& perPod) {
  std::vector<std::vector<std::int64_t>> levels;
  for (const auto level : perPod) levels.emplace_back(kContainersPerPod, level);
  return levels;
}

json podJson(std::size_t i, const PodStates& states) {
  const Start start = i < states.startTimes.size() ? states.startTimes[i] : Start::kZero;
  return json{{"name", "test-pod-" + std::to_string(i)},
              {"phase", i < states.phases.size() ? states.phases[i] : std::string(kRun)},
              {"ready", i >= states.readiness.size() || states.readiness[i]},
              {"readySince", 0},
              {"startTime", start == Start::kHot    ? json(kNow)
                            : start == Start::kCool ? json(kCoolStart)
                                                    : json(0)},
              {"deleting", i < states.deleting.size() && states.deleting[i]},
              {"metricsTime", 0},
              {"metricsWindow", "1m"}};
}

json policyJson(json metric, int minReplicas, const std::string& scaleUpTolerance) {
  json behavior{{"scaleDown", {{"stabilizationWindowSeconds", 0}}}};
  if (!scaleUpTolerance.empty()) behavior["scaleUp"] = json{{"tolerance", scaleUpTolerance}};
  return json{{"minReplicas", minReplicas},
              {"maxReplicas", kMaxReplicas},
              {"metrics", json::array({std::move(metric)})},
              {"behavior", std::move(behavior)}};
}

json snapshotJson(std::int32_t currentReplicas, json pods, json policy) {
  return json{
      {"workload", {{"namespace", "test-namespace"}, {"name", "test"}}},
      {"now", kNow},
      {"currentReplicas", currentReplicas},
      {"pods", std::move(pods)},
      {"policy", std::move(policy)},
      {"defaults",
       {{"tolerance", 0.1}, {"cpuInitializationPeriod", "2m"}, {"initialReadinessDelay", "10s"}}}};
}

json describedObject() {
  return json{{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "some-deployment"}};
}

json metricSpec(Kind kind, std::int64_t target) {
  const json averageValue{{"type", "AverageValue"}, {"averageValue", milli(target)}};
  const json value{{"type", "Value"}, {"value", milli(target)}};
  const json name{{"name", "qps"}};
  switch (kind) {
    case Kind::kPods:
      return json{{"type", "Pods"}, {"pods", {{"metric", name}, {"target", averageValue}}}};
    case Kind::kObject:
    case Kind::kObjectPerPod:
      return json{{"type", "Object"},
                  {"object",
                   {{"describedObject", describedObject()},
                    {"metric", name},
                    {"target", kind == Kind::kObject ? value : averageValue}}}};
    case Kind::kExternal:
    case Kind::kExternalPerPod:
      return json{
          {"type", "External"},
          {"external",
           {{"metric", {{"name", "qps"}, {"selector", {{"matchLabels", {{"label", "value"}}}}}}},
            {"target", kind == Kind::kExternal ? value : averageValue}}}};
  }
  return json();
}

json snapshotFor(Kind kind, const MetricCase& c) {
  json pods = json::array();
  const std::size_t count = c.podCount.value_or(harnessPodCount(c.currentReplicas, c.pods));
  for (std::size_t i = 0; i < count; ++i) {
    json pod = podJson(i, c.pods);
    if (kind == Kind::kPods && i < c.levels.size()) {
      pod["metrics"] = json{{"qps", milli(c.levels[i])}};
    }
    pods.push_back(std::move(pod));
  }
  const bool fromOutsideThePods = kind != Kind::kPods;
  json snapshot = snapshotJson(
      c.currentReplicas, std::move(pods),
      policyJson(metricSpec(kind, c.target), fromOutsideThePods ? 0 : 1, c.scaleUpTolerance));
  if (c.statusReplicas) snapshot["statusReplicas"] = *c.statusReplicas;
  json objects = json::array();
  json series = json::array();
  if ((kind == Kind::kObject || kind == Kind::kObjectPerPod) && !c.levels.empty()) {
    objects.push_back(json{
        {"describedObject", describedObject()}, {"metric", "qps"}, {"value", milli(c.levels[0])}});
  }
  if (kind == Kind::kExternal || kind == Kind::kExternalPerPod) {
    for (const auto level : c.levels) {
      series.push_back(
          json{{"metric", "qps"}, {"labels", {{"label", "value"}}}, {"value", milli(level)}});
    }
  }
  snapshot["objectMetrics"] = std::move(objects);
  snapshot["externalMetrics"] = std::move(series);
  return snapshot;
}

json snapshotFor(const ContainerCase& c) {
  json pods = json::array();
  for (std::size_t i = 0; i < harnessPodCount(c.currentReplicas, c.pods); ++i) {
    json pod = podJson(i, c.pods);
    json containers = json::array();
    for (std::size_t j = 0; j < kContainersPerPod; ++j) {
      json container{{"name", containerName(j)}};
      if (i < c.requestCores.size()) {
        container["requests"] = json{{"cpu", milli(std::llround(c.requestCores[i] * 1000))}};
      }
      // A level missing from upstream's report is a container without usage here.
      if (i < c.levels.size() && j < c.levels[i].size()) {
        container["usage"] = json{{"cpu", milli(c.levels[i][j])}};
      }
      containers.push_back(std::move(container));
    }
    pod["containers"] = std::move(containers);
    pods.push_back(std::move(pod));
  }
  json metric{
      {"type", "ContainerResource"},
      {"containerResource",
       {{"name", "cpu"},
        {"container", c.container},
        {"target", {{"type", "Utilization"}, {"averageUtilization", c.targetUtilization}}}}}};
  return snapshotJson(c.currentReplicas, std::move(pods), policyJson(std::move(metric), 1, ""));
}

struct Outcome {
  int code = 0;
  json decision;  // null when the command printed none
  std::string errors;
};

Outcome decideSnapshot(const json& snapshot) {
  testing::TempDir dir;
  const std::string path = dir.file("snapshot.json");
  testing::writeFile(path, snapshot.dump(2));
  std::ostringstream out, err;
  Outcome outcome;
  outcome.code = runDecideCommand(path, "", out, err);
  outcome.errors = err.str();
  if (!out.str().empty()) outcome.decision = json::parse(out.str())["decision"];
  return outcome;
}

// The decision's only metric, or a failure explaining why there is none.
const json* onlyMetric(const Outcome& outcome) {
  if (!outcome.decision.is_object() || !outcome.decision.contains("metrics")) return nullptr;
  const json& metrics = outcome.decision["metrics"];
  return metrics.size() == 1 ? &metrics[0] : nullptr;
}

// The usage upstream returns (and checks as expectedUsage) for each kind.
const char* usageKey(Kind kind) {
  return kind == Kind::kObject || kind == Kind::kExternal ? "valueMilli" : "averageValueMilli";
}

void run(Kind kind, const MetricCase& c) {
  SCOPED_TRACE(c.upstream);
  const Outcome outcome = decideSnapshot(snapshotFor(kind, c));
  const json* metric = onlyMetric(outcome);
  ASSERT_NE(metric, nullptr) << "exit " << outcome.code << ": " << outcome.errors
                             << outcome.decision.dump(2);
  if (!c.expectedError.empty()) {
    EXPECT_EQ(outcome.code, 1) << "the only metric is invalid: no decision";
    EXPECT_NE(metric->value("error", std::string()).find(c.expectedError), std::string::npos)
        << metric->dump(2);
    return;
  }
  EXPECT_EQ(outcome.code, 0) << outcome.decision.value("error", std::string());
  ASSERT_TRUE(metric->contains("replicas")) << metric->dump(2);
  EXPECT_EQ(metric->at("replicas"), c.expectedReplicas);
  EXPECT_EQ(metric->at(usageKey(kind)), c.expectedUsage);
}

void run(const ContainerCase& c) {
  SCOPED_TRACE(c.upstream);
  const Outcome outcome = decideSnapshot(snapshotFor(c));
  const json* metric = onlyMetric(outcome);
  ASSERT_NE(metric, nullptr) << "exit " << outcome.code << ": " << outcome.errors
                             << outcome.decision.dump(2);
  EXPECT_EQ(outcome.code, 0) << outcome.decision.value("error", std::string());
  ASSERT_TRUE(metric->contains("replicas")) << metric->dump(2);
  EXPECT_EQ(metric->at("replicas"), c.expectedReplicas);
  EXPECT_EQ(metric->at("utilizationPercent"), c.expectedUtilization);
  EXPECT_EQ(metric->at("averageValueMilli"), c.expectedValue);
}

TEST(DecideMetricsTest, UpstreamPodsCases) {
  const std::vector<MetricCase> cases = {
      {.upstream = "TestReplicaCalcScaleUpCM",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .levels = {20000, 10000, 30000},
       .target = 15000,
       .expectedUsage = 20000},
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
       .scaleUpTolerance = "0.01"},
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
      // A snapshot holds Pods metrics only for its pods, so no pods also means no metrics.
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
  for (const auto& c : cases) run(Kind::kPods, c);
}

TEST(DecideMetricsTest, UpstreamObjectCases) {
  const std::vector<MetricCase> cases = {
      {.upstream = "TestReplicaCalcScaleUpCMObject",
       .currentReplicas = 3,
       .expectedReplicas = 4,
       .levels = {20000},
       .target = 15000,
       .expectedUsage = 20000},
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
       .scaleUpTolerance = "0.01"},
      {.upstream = "(not upstream) getUsageRatioReplicaCount: from 0 replicas, ceil(ratio)",
       .currentReplicas = 0,
       .expectedReplicas = 2,
       .levels = {20000},
       .target = 15000,
       .expectedUsage = 20000},
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
      {.upstream = "(not upstream) GetObjectMetric: no value for the object",
       .currentReplicas = 3,
       .expectedError = "unable to get metric qps",
       .levels = {},
       .target = 10000},
  };
  for (const auto& c : cases) run(Kind::kObject, c);
}

TEST(DecideMetricsTest, UpstreamObjectPerPodCases) {
  const std::vector<MetricCase> cases = {
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
       .scaleUpTolerance = "0.01"},
  };
  for (const auto& c : cases) run(Kind::kObjectPerPod, c);
}

TEST(DecideMetricsTest, UpstreamExternalCases) {
  const std::vector<MetricCase> cases = {
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
       .scaleUpTolerance = "0.01"},
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
      {.upstream = "(not upstream) GetExternalMetric: no series matches the selector",
       .currentReplicas = 3,
       .expectedError = "unable to get external metric qps",
       .levels = {},
       .target = 4400},
  };
  for (const auto& c : cases) run(Kind::kExternal, c);
}

TEST(DecideMetricsTest, UpstreamExternalPerPodCases) {
  const std::vector<MetricCase> cases = {
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
       .scaleUpTolerance = "0.01"},
      // horizontal.go passes the scale's status.replicas, not spec.replicas: 8600 / (2150 x 4)
      // is within the tolerance, so the proposal is the 4 pods there are.
      {.upstream = "(not upstream) GetExternalPerPodMetricReplicas: status replicas divide",
       .currentReplicas = 5,
       .expectedReplicas = 4,
       .levels = {8600},
       .target = 2150,
       .expectedUsage = 2150,
       .statusReplicas = 4},
  };
  for (const auto& c : cases) run(Kind::kExternalPerPod, c);
}

TEST(DecideMetricsTest, UpstreamOverflowCases) {
  struct OverflowCase {
    Kind kind;
    MetricCase c;
  };
  const std::vector<OverflowCase> cases = {
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
  for (const auto& [kind, c] : cases) run(kind, c);
}

TEST(DecideMetricsTest, UpstreamContainerResourceCases) {
  const std::vector<ContainerCase> cases = {
      {.upstream = "TestReplicaCalcContainerScaleUp",
       .currentReplicas = 3,
       .expectedReplicas = 5,
       .container = "container2",
       .requestCores = {1.0, 1.0, 1.0},
       .levels = {{1000, 300}, {1000, 500}, {1000, 700}},
       .targetUtilization = 30,
       .expectedUtilization = 50,
       .expectedValue = 500},
      {.upstream = "TestReplicaCalcScaleUpContainerHotCpuLessScale",
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
       .currentReplicas = 5,
       .expectedReplicas = 3,
       .container = "container2",
       .requestCores = {1.0, 1.0, 1.0, 1.0, 1.0},
       .levels = {{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}},
       .targetUtilization = 50,
       .expectedUtilization = 28,
       .expectedValue = 280},
      {.upstream = "TestReplicaCalcScaleDownContainerExcludeUnreadyPods",
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
      {.upstream = "TestReplicaCalcScaleDownIgnoresDeletionPods_StillRunning",
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
  for (const auto& c : cases) run(c);
}

}  // namespace
}  // namespace fleetscale::aggregator
