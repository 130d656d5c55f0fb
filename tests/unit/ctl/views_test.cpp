// fleetscalectl's `status` and `explain` views on answers shaped like the aggregator's: every
// section, the leadership lines for each election state, and what a decision that was not
// applied, changed by no rule or left replicas unplaced says.
#include "fleetscale/ctl/views.h"

#include <gtest/gtest.h>

namespace fleetscale::ctl {
namespace {

using nlohmann::json;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

constexpr const char* kStatus = R"({
  "role": "leader",
  "clusters": [
    {"name": "aws", "cloud": "aws", "region": "us-east-1", "state": "healthy",
     "since": "2026-11-28T03:00:00Z", "apiReachable": true, "draining": true, "error": ""},
    {"name": "gcp", "cloud": "gcp", "region": "europe-west1", "state": "failed",
     "since": "2026-11-28T03:01:00Z", "apiReachable": false, "draining": false,
     "error": "connection refused"}],
  "workloads": [
    {"namespace": "shop", "name": "web", "kind": "Deployment", "minReplicas": 2,
     "maxReplicas": 20, "currentReplicas": 6, "desiredReplicas": 8, "unplacedReplicas": 1,
     "reason": "scale up from 6 to 8", "error": "",
     "clusters": {"aws": {"desired": 0, "current": 2, "ready": 2},
                  "gcp": {"desired": 7, "current": 4, "ready": 3}}}],
  "drains": [{"cluster": "aws", "workloads": 1, "workloadsDone": 0, "replicasLeft": 2,
              "readyLeft": 2, "complete": false}]
})";

TEST(StatusViewTest, ShowsClustersPlacementAndDrainProgress) {
  const std::string view = statusView(json::parse(kStatus));
  EXPECT_TRUE(contains(view, "Aggregator role: leader")) << view;
  EXPECT_TRUE(contains(view, "connection refused"));
  EXPECT_TRUE(contains(view, "2-20"));
  EXPECT_TRUE(contains(view, "scale up from 6 to 8"));
  // Per cluster rows: desired, current, ready in that order.
  EXPECT_TRUE(contains(view, "gcp       7         4         3")) << view;
  EXPECT_TRUE(contains(view, "Drains:"));
  EXPECT_TRUE(contains(view, "0/1")) << "workloads moved of those placed there";
  EXPECT_TRUE(contains(view, "in progress"));
}

TEST(StatusViewTest, APausedDrainItsLastResortReplicasAndTheUnplacedReason) {
  auto status = json::parse(kStatus);
  auto& web = status["workloads"][0];
  web["clusters"]["aws"] = {{"desired", 7}, {"current", 7}, {"ready", 7}, {"lastResort", 7}};
  web["unplacedReason"] = "gcp failed";
  status["drains"][0]["paused"] = true;
  status["drains"][0]["pausedWorkloads"] = 1;
  const std::string view = statusView(status);
  EXPECT_TRUE(contains(view, "7 (last resort)")) << view;
  EXPECT_TRUE(contains(view, "paused: 1 workload(s) have no healthy destination")) << view;
  EXPECT_TRUE(contains(view, "(unplaced: gcp failed)")) << view;
  EXPECT_FALSE(contains(view, "No cluster is reachable"));
  status["noClusterReachable"] = true;
  EXPECT_TRUE(contains(statusView(status), "No cluster is reachable: every placement is held"));
}

TEST(StatusViewTest, AWorkloadErrorReplacesItsReasonAndNothingUnplacedIsADash) {
  auto status = json::parse(kStatus);
  auto& web = status["workloads"][0];
  web["error"] = "no pod has a CPU sample";
  web["unplacedReplicas"] = 0;
  status["drains"] = json::array();
  const std::string view = statusView(status);
  EXPECT_TRUE(contains(view, "no pod has a CPU sample")) << view;
  EXPECT_FALSE(contains(view, "scale up from 6 to 8")) << view;
  EXPECT_TRUE(contains(view, "8         6         -")) << "desired, current, unplaced: " << view;
  EXPECT_FALSE(contains(view, "Drains:")) << "no drain, no section";
}

TEST(StatusViewTest, AWorkloadScaledToZeroIsIdle) {
  auto status = json::parse(kStatus);
  auto& web = status["workloads"][0];
  web["minReplicas"] = 0;
  web["desiredReplicas"] = 0;
  web["currentReplicas"] = 0;
  web["reason"] = "no change: 0 replicas";
  EXPECT_TRUE(contains(statusView(status), "0 (idle)")) << statusView(status);
  web["error"] = "unable to get external metric queue: no series matches";
  EXPECT_FALSE(contains(statusView(status), "(idle)")) << "an error is not idleness";
}

TEST(StatusViewTest, LeadershipLines) {
  auto status = json::parse(kStatus);
  // No leadership block at all (an aggregator before leader election): no line.
  EXPECT_FALSE(contains(statusView(status), "Leader:"));

  status["leadership"] = {{"enabled", false}, {"role", "leader"}, {"term", 0}};
  EXPECT_TRUE(contains(statusView(status), "Leader: this aggregator (no leader election)\n"));

  status["role"] = "standby";
  status["leadership"] = {{"enabled", true},
                          {"role", "standby"},
                          {"identity", "aggregator-0"},
                          {"leader", "aggregator-1"},
                          {"term", 7},
                          {"lastRenewAgeSeconds", nullptr},
                          {"backend", "etcd http://127.0.0.1:2379 key /fleetscale/leader"},
                          {"lastError", ""}};
  const std::string standby = statusView(status);
  EXPECT_TRUE(contains(standby, "Aggregator role: standby\n")) << standby;
  EXPECT_TRUE(contains(standby,
                       "Leader: aggregator-1, term 7 (this is aggregator-0; etcd "
                       "http://127.0.0.1:2379 key /fleetscale/leader)\n"))
      << standby;
  EXPECT_FALSE(contains(standby, "Lease renewed")) << "a standby has never renewed";
  EXPECT_FALSE(contains(standby, "Last election error"));

  status["leadership"]["leader"] = "";
  status["leadership"]["lastRenewAgeSeconds"] = 1.5;
  status["leadership"]["lastError"] = "etcd: connection refused";
  const std::string electing = statusView(status);
  EXPECT_TRUE(contains(electing, "Leader: none (election in progress), term 7")) << electing;
  EXPECT_TRUE(contains(electing, "Lease renewed by this aggregator 1.5 s ago\n")) << electing;
  EXPECT_TRUE(contains(electing, "Last election error: etcd: connection refused\n")) << electing;
}

constexpr const char* kDecision = R"({
  "time_unix_ms": 1795835373681, "namespace": "shop", "kind": "Deployment", "name": "web",
  "current_replicas": 4, "desired_replicas": 6, "reason": "scale up from 4 to 6",
  "details": {
    "decisionId": "1795835373681-1", "acted": true, "dryRun": false, "leader": true, "term": 7,
    "decision": {
      "demand": [{"cluster": "aws", "pods": 4, "readyPods": 3, "cpuUsageCores": 2.4,
                  "cpuRequestCores": 2.0, "cpuShare": 1.0, "memoryUsageBytes": 1048576,
                  "memoryRequestBytes": 2097152, "memoryShare": 1.0}],
      "metrics": [{"target": {"resource": "cpu", "type": "Utilization", "averageUtilization": 80},
                   "replicas": 8, "usageRatio": 1.5, "adjustedUsageRatio": 1.125,
                   "utilizationPercent": 120, "readyPods": 3, "unreadyPods": ["web-3"],
                   "missingPods": [], "ignoredPods": [], "rule": "scale up, unready at 0%"},
                  {"target": {"resource": "memory", "type": "AverageValue",
                              "averageValueMilli": 268435456000},
                   "error": "no pod has a memory sample"}],
      "steps": [{"rule": "scaleUp policy", "before": 8, "after": 6,
                 "detail": "Pods 2 per 60s"}]},
    "clusters": [{"cluster": "aws", "health": "healthy", "draining": false, "specReplicas": 4,
                  "readyReplicas": 3}],
    "placement": {"targets": {"aws": 6}, "writes": {"aws": 6}, "unplaced": 0,
                  "notes": ["gcp is failed: its share stays elsewhere"]}}})";

TEST(ExplainViewTest, ShowsInputsProposalsRulesAndPlacement) {
  const std::string view = explainView(json::parse(kDecision));
  EXPECT_TRUE(contains(view, "shop/Deployment/web at 2026-11-28T")) << view;
  EXPECT_TRUE(contains(view, "4 -> 6 replicas"));
  EXPECT_TRUE(contains(view, "applied, leader term 7"));
  EXPECT_TRUE(contains(view, "2.400")) << "usage per cluster";
  EXPECT_TRUE(contains(view, "80% of request"));
  EXPECT_TRUE(contains(view, "120%"));
  EXPECT_TRUE(contains(view, "1.125 filled in"));
  EXPECT_TRUE(contains(view, "3/1/0/0")) << "ready/unready/missing/ignored";
  EXPECT_TRUE(contains(view, "256.0Mi per pod"));
  EXPECT_TRUE(contains(view, "error: no pod has a memory sample"));
  EXPECT_TRUE(contains(view, "Pods 2 per 60s"));
  EXPECT_TRUE(contains(view, "Note: gcp is failed"));
  EXPECT_FALSE(contains(view, "Unplaced:")) << "nothing unplaced";
}

TEST(ExplainViewTest, ADecisionNotAppliedSaysWhy) {
  auto decision = json::parse(kDecision);
  auto& details = decision["details"];
  details["acted"] = false;
  details["dryRun"] = true;
  details["leader"] = false;
  details["term"] = nullptr;  // without leader election
  details["decision"]["steps"] = json::array();
  details["placement"]["unplaced"] = 2;
  const std::string view = explainView(decision);
  EXPECT_TRUE(contains(view,
                       "Decision 1795835373681-1, not applied (dry run) (this aggregator "
                       "is not the leader)\n"))
      << view;
  EXPECT_FALSE(contains(view, "leader term"));
  EXPECT_TRUE(contains(view, "Rules applied:\n(none changed the proposal)\n")) << view;
  EXPECT_TRUE(contains(view, "Unplaced: 2 replicas fit in no cluster\n")) << view;
}

TEST(ExplainViewTest, AverageValueTargetsInCoresAndBytes) {
  auto decision = json::parse(kDecision);
  decision["details"]["decision"]["metrics"] = json::parse(R"([
    {"target": {"resource": "cpu", "type": "AverageValue", "averageValueMilli": 250},
     "replicas": 6, "usageRatio": 1.2, "adjustedUsageRatio": null, "averageValueMilli": 300,
     "readyPods": 4, "unreadyPods": [], "missingPods": ["web-9"], "ignoredPods": [],
     "rule": "within tolerance"},
    {"target": {"resource": "memory", "type": "AverageValue", "averageValueMilli": 1073741824000},
     "replicas": 5, "usageRatio": 0.5, "adjustedUsageRatio": null,
     "averageValueMilli": 536870912000, "readyPods": 4, "unreadyPods": [], "missingPods": [],
     "ignoredPods": [], "rule": "scale down"}])");
  const std::string view = explainView(decision);
  EXPECT_TRUE(contains(view, "0.250 cores per pod")) << view;
  EXPECT_TRUE(contains(view, "0.300")) << "the current average in cores";
  EXPECT_TRUE(contains(view, "1024.0Mi per pod")) << view;
  EXPECT_TRUE(contains(view, "512.0Mi")) << "the current average in bytes";
  EXPECT_TRUE(contains(view, "4/0/1/0"));
  EXPECT_FALSE(contains(view, "filled in")) << "no adjusted ratio, no note";
}

TEST(ExplainViewTest, TheForecastAndTheLearnedStartUpTimes) {
  auto decision = json::parse(kDecision);
  EXPECT_FALSE(contains(explainView(decision), "Forecast:")) << "off: no section";
  auto& details = decision["details"];
  details["forecast"] = json::parse(R"({"mode": "on", "demandCores": 3.9, "forecastCores": 4.6,
      "marginCores": 0.2, "mape": 0.07, "lookAheadSeconds": 120,
      "lookAheadSource": "learned start-up time", "replicas": 10, "raised": true, "note": ""})");
  details["clusters"][0]["startupSeconds"] = 95.4;
  const std::string view = explainView(decision);
  EXPECT_TRUE(contains(view,
                       "Forecast:\nMode on, demand now 3.900 cores, look-ahead 120 s "
                       "(learned start-up time)\n"))
      << view;
  EXPECT_TRUE(contains(view, "needs 10 replicas: raised the decision")) << view;
  EXPECT_TRUE(contains(view, "Learned start-up time: " +
                                 details["clusters"][0]["cluster"].get<std::string>() + " 95 s"))
      << view;
  details["forecast"]["forecastCores"] = nullptr;
  details["forecast"]["note"] = "learning the daily shape: a forecast needs a whole day of demand";
  EXPECT_TRUE(contains(explainView(decision), "a forecast needs a whole day")) << view;
}

}  // namespace
}  // namespace fleetscale::ctl

namespace fleetscale::ctl {
namespace {

// GET /api/v1/recommendations as the aggregator answers it (docs/api.md).
constexpr const char* kRecommendations = R"({
  "computed_unix_ms": 1700000060000,
  "items": [
    {"namespace": "shop", "kind": "Deployment", "workload": "web", "container": "app",
     "mode": "in-place", "applied": false, "replicas": 3, "confidence_days": 1.5,
     "samples": 388800, "oom_kills": 1,
     "cpu_cores": {"controlled": true, "request": 1.0, "limit": 2.0, "target": 0.25,
                   "lower_bound": 0.2, "upper_bound": 0.6, "recommended_limit": 0.5},
     "memory_bytes": {"controlled": false, "request": 268435456, "limit": null,
                      "target": 268435456, "lower_bound": null, "upper_bound": null,
                      "recommended_limit": null},
     "reason": "cpu: p90 0.217 cores over 1.5 days of samples +15%; memory: not controlled"}
  ],
  "savings": {"requested_cpu_cores": 3.0, "recommended_cpu_cores": 0.75, "cpu_cores": 2.25,
              "requested_memory_bytes": 0, "recommended_memory_bytes": 0, "memory_bytes": 0}
})";

TEST(RecommendViewTest, CurrentNextToRecommendedWithReasonsAndSavings) {
  const std::string view = recommendView(nlohmann::json::parse(kRecommendations));
  EXPECT_NE(view.find("1.000 -> 0.250"), std::string::npos) << view;
  EXPECT_NE(view.find("2.000 -> 0.500"), std::string::npos) << view;
  EXPECT_NE(view.find("256.0Mi (kept)"), std::string::npos) << view;
  EXPECT_NE(view.find("1.50 d"), std::string::npos) << view;
  EXPECT_NE(view.find("in-place (not applied yet)"), std::string::npos) << view;
  EXPECT_NE(view.find("shop/web app: cpu: p90 0.217 cores"), std::string::npos) << view;
  EXPECT_NE(view.find("2.250 cores given back"), std::string::npos) << view;
}

TEST(RecommendViewTest, WhatApplyingDidPerClusterFollowsTheReason) {
  auto recommendations = nlohmann::json::parse(kRecommendations);
  recommendations["items"][0]["applied"] = true;
  recommendations["items"][0]["apply"] = {
      {"aws", {{"result", "applied"}, {"message", "every running pod has it"}}},
      {"gcp", {{"result", "forbidden"}, {"message", "RBAC must allow patch on pods/resize"}}}};
  const std::string view = recommendView(recommendations);
  EXPECT_EQ(view.find("not applied yet"), std::string::npos) << view;
  EXPECT_NE(
      view.find("; applied: aws applied, gcp forbidden (RBAC must allow patch on pods/resize)"),
      std::string::npos)
      << view;
}

TEST(RecommendViewTest, ExplainGetsALinePerContainerOrNothing) {
  const std::string summary = recommendationSummary(nlohmann::json::parse(kRecommendations));
  EXPECT_NE(summary.find("Right-sizing"), std::string::npos) << summary;
  EXPECT_NE(summary.find("  app: cpu 1.000 -> 0.250 cores, memory 256.0Mi (kept) (confidence "
                         "1.50 d, in-place): cpu: p90"),
            std::string::npos)
      << summary;
  EXPECT_EQ(recommendationSummary(nlohmann::json::parse(R"({"items": []})")), "");
}

TEST(RecommendViewTest, AnEmptyOrForeignAnswerStillRenders) {
  const std::string view = recommendView(nlohmann::json::parse(R"({"items": [{}]})"));
  EXPECT_NE(view.find("NAMESPACE"), std::string::npos) << view;
  EXPECT_NE(view.find("0.000 cores given back"), std::string::npos) << view;
}

}  // namespace
}  // namespace fleetscale::ctl
