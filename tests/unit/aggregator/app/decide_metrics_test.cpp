// The upstream replica-calculator cases of ../upstream_metric_cases.h (Kubernetes'
// replica_calculator_test.go; that header states upstream's harness), run end to end: each case
// becomes a `decide` snapshot whose pods, metric values and policy are the ones upstream's fakes
// serve, and the metric's proposal in the decision must be the one upstream expects. The cases
// only this test runs are here, after the shared ones. The snapshot reproduces the harness thus:
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

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../upstream_metric_cases.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;
using upstream_cases::ContainerCase;
using upstream_cases::containerName;
using upstream_cases::harnessPodCount;
using upstream_cases::kContainersPerPod;
using upstream_cases::Kind;
using upstream_cases::kRun;
using upstream_cases::kUpstreamTolerance;
using upstream_cases::MetricCase;
using upstream_cases::podName;
using upstream_cases::PodStates;
using upstream_cases::Start;

constexpr const char* kNow = "2026-01-01T00:00:00Z";
constexpr const char* kCoolStart = "2025-12-31T23:57:00Z";  // three minutes before kNow
constexpr int kMaxReplicas = 100000;                        // the most a policy accepts

std::string milli(std::int64_t value) { return std::to_string(value) + "m"; }

// A PodPhase as a snapshot spells it.
const char* phaseName(scaling::PodPhase phase) {
  switch (phase) {
    case scaling::PodPhase::kPending:
      return "Pending";
    case scaling::PodPhase::kRunning:
      return "Running";
    case scaling::PodPhase::kSucceeded:
      return "Succeeded";
    case scaling::PodPhase::kFailed:
      return "Failed";
    case scaling::PodPhase::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

// A scale-up tolerance as the quantity behavior.scaleUp.tolerance takes ("0.01").
std::string quantity(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

json podJson(std::size_t i, const PodStates& states) {
  const Start start = i < states.startTimes.size() ? states.startTimes[i] : Start::kZero;
  return json{{"name", podName(i)},
              {"phase", phaseName(i < states.phases.size() ? states.phases[i] : kRun)},
              {"ready", i >= states.readiness.size() || states.readiness[i]},
              {"readySince", 0},
              {"startTime", start == Start::kHot    ? json(kNow)
                            : start == Start::kCool ? json(kCoolStart)
                                                    : json(0)},
              {"deleting", i < states.deleting.size() && states.deleting[i]},
              {"metricsTime", 0},
              {"metricsWindow", "1m"}};
}

json policyJson(json metric, int minReplicas, const std::optional<double>& scaleUpTolerance) {
  json behavior{{"scaleDown", {{"stabilizationWindowSeconds", 0}}}};
  if (scaleUpTolerance) behavior["scaleUp"] = json{{"tolerance", quantity(*scaleUpTolerance)}};
  return json{{"minReplicas", minReplicas},
              {"maxReplicas", kMaxReplicas},
              {"metrics", json::array({std::move(metric)})},
              {"behavior", std::move(behavior)}};
}

json snapshotJson(std::int32_t currentReplicas, json pods, json policy) {
  return json{{"workload", {{"namespace", "test-namespace"}, {"name", "test"}}},
              {"now", kNow},
              {"currentReplicas", currentReplicas},
              {"pods", std::move(pods)},
              {"policy", std::move(policy)},
              {"defaults",
               {{"tolerance", kUpstreamTolerance},
                {"cpuInitializationPeriod", "2m"},
                {"initialReadinessDelay", "10s"}}}};
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
  return snapshotJson(c.currentReplicas, std::move(pods),
                      policyJson(std::move(metric), 1, std::nullopt));
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
  // Not the "no pods returned by selector" case scaling/replica_calculator_metrics_test.cpp adds:
  // a snapshot holds Pods metrics only for its pods, so no pods also means no metrics.
  for (const auto& c : upstream_cases::podsCases()) run(Kind::kPods, c);
}

TEST(DecideMetricsTest, UpstreamObjectCases) {
  for (const auto& c : upstream_cases::objectCases()) run(Kind::kObject, c);
  run(Kind::kObject, {.upstream = "(not upstream) GetObjectMetric: no value for the object",
                      .currentReplicas = 3,
                      .expectedError = "unable to get metric qps",
                      .levels = {},
                      .target = 10000});
}

TEST(DecideMetricsTest, UpstreamObjectPerPodCases) {
  for (const auto& c : upstream_cases::objectPerPodCases()) run(Kind::kObjectPerPod, c);
}

TEST(DecideMetricsTest, UpstreamExternalCases) {
  for (const auto& c : upstream_cases::externalCases()) run(Kind::kExternal, c);
  run(Kind::kExternal,
      {.upstream = "(not upstream) GetExternalMetric: no series matches the selector",
       .currentReplicas = 3,
       .expectedError = "unable to get external metric qps",
       .levels = {},
       .target = 4400});
}

TEST(DecideMetricsTest, UpstreamExternalPerPodCases) {
  for (const auto& c : upstream_cases::externalPerPodCases()) run(Kind::kExternalPerPod, c);
  // horizontal.go passes the scale's status.replicas, not spec.replicas: 8600 / (2150 x 4)
  // is within the tolerance, so the proposal is the 4 pods there are.
  run(Kind::kExternalPerPod,
      {.upstream = "(not upstream) GetExternalPerPodMetricReplicas: status replicas divide",
       .currentReplicas = 5,
       .expectedReplicas = 4,
       .levels = {8600},
       .target = 2150,
       .expectedUsage = 2150,
       .statusReplicas = 4});
}

TEST(DecideMetricsTest, UpstreamOverflowCases) {
  for (const auto& [kind, c] : upstream_cases::overflowCases()) run(kind, c);
}

TEST(DecideMetricsTest, UpstreamContainerResourceCases) {
  for (const auto& c : upstream_cases::containerResourceCases()) run(c);
}

}  // namespace
}  // namespace fleetscale::aggregator
