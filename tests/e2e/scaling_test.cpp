// A load step on one workload: the real aggregator raises its Deployment from 2 to what the HPA
// formula gives for the new demand, explains why in its stored decision, and the simulator
// measures the time from the step to the replica request at the API server (target: <= 3 s).
#include <gtest/gtest.h>

#include <cmath>

#include "e2e_fleet.h"
#include "fleetscale/testing/fleet_processes.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr double kRequestCores = 0.5;
constexpr double kTargetUtilization = 0.8;
constexpr double kDemandAfterStep = 2.2;
constexpr double kStepAt = 12;  // simulator seconds: after the aggregator has settled

// The step scenario: 600m over 2 replicas (60%, the minimum of 2 holds), then 2.2 cores. The
// limit (2 cores) is above what a replica gets, so the usage the agents measure is the demand.
// `behavior` lifts the legacy scale-up limit (max(2 x current, 4)) so one decision can jump.
// The two nodes' agents speak different stream protocols (issue 17: a rollout of agents that
// speak version 2), which must not change a decision.
const char* kScenario = R"(
name: e2e-load-step
seed: 21
agents: {protocol: mixed}
clusters:
  - name: aws-us-east-1
    cloud: aws
    region: us-east-1
    nodes: 2
    node-capacity: {cpu: 8, memory: 32Gi}
    scheduling-delay: 1s
    readiness-delay: 1s
workloads:
  - name: api
    namespace: web
    replicas: 2
    resources:
      requests: {cpu: 500m, memory: 256Mi}
      limits: {cpu: "2", memory: 512Mi}
    capacity-per-replica: 400m
    load:
      cpu: {curve: step, initial: 600m, steps: [{at: 12s, value: 2200m}]}
      memory: 300Mi
    autoscale:
      min-replicas: 2
      max-replicas: 10
      cpu-utilization: 80
      behavior:
        scaleUp:
          stabilizationWindowSeconds: 0
          policies: [{type: Percent, value: 900, periodSeconds: 15}]
)";

TEST(E2eScalingTest, LoadStepRaisesTheDeploymentToTheHpaCountWithinThreeSeconds) {
  // HPA: desired = ceil(current x utilization / target), utilization = usage / requests over
  // the pods: ceil(2 x (2.2 / 2 / 0.5) / 0.8) = ceil(5.5) = 6.
  const int expected =
      static_cast<int>(std::ceil(2 * (kDemandAfterStep / 2 / kRequestCores) / kTargetUtilization));
  ASSERT_EQ(expected, 6);
  E2eFleet fleet(kScenario, "load-step");
  ASSERT_TRUE(fleet.waitUntilSteady("web/api", 2, seconds(15)));
  ASSERT_LT(fleet.now(), kStepAt) << "the aggregator settled after the step; the machine is too "
                                     "slow for this test's timing";

  ASSERT_TRUE(testing::waitFor(
      [&] {
        return fleet.desired("web/api", kAws) == expected &&
               fleet.ready("web/api", kAws) == expected;
      },
      seconds(30)))
      << "spec " << fleet.desired("web/api", kAws) << ", ready " << fleet.ready("web/api", kAws);
  // It stays there: at 6 replicas the utilization (73%) is inside the tolerance band.
  EXPECT_TRUE(holdsFor([&] { return fleet.desired("web/api", kAws) == expected; }, seconds(3)));

  const sim::Timeline timeline = fleet.simulator().timeline();
  const auto actions = actionsSince(timeline, "web/api", kAws, 0);
  ASSERT_FALSE(actions.empty());
  EXPECT_GE(actions.front().seconds, kStepAt) << "scaled before the load changed";
  EXPECT_EQ(actions.front().from, 2);
  for (const auto& action : actions) {
    EXPECT_EQ(action.user, "system:serviceaccount:fleetscale:fleetscale-aggregator");
    EXPECT_LE(action.to, expected) << "overshoot at t=" << action.seconds;
  }

  // The simulator's measurement: step -> first replica request at the API server.
  const sim::Report report = fleet.simulator().report();
  ASSERT_EQ(report.workloads.size(), 1u);
  const sim::LoadChange* step = nullptr;
  for (const auto& change : report.workloads[0].loadChanges) {
    if (change.rise() && change.toCores > 2) step = &change;
  }
  ASSERT_NE(step, nullptr);
  ASSERT_TRUE(step->firstRequestSeconds.has_value());
  EXPECT_LE(*step->firstRequestSeconds, 3.0);
  ASSERT_TRUE(step->readySeconds.has_value());
  RecordProperty("reaction_seconds", std::to_string(*step->firstRequestSeconds));
  RecordProperty("ready_seconds", std::to_string(*step->readySeconds));

  // The stored decision that asked for 6 explains it: the inputs, the metric's proposal and
  // the rule that made it.
  const json decisions = fleet.get("/api/v1/decisions?namespace=web&workload=api&limit=100");
  ASSERT_TRUE(decisions.is_object()) << decisions.dump();
  const json* scaleUp = nullptr;
  for (const auto& decision : decisions["items"]) {
    if (decision.value("desired_replicas", 0) == expected &&
        decision.value("current_replicas", 0) < expected) {
      scaleUp = &decision;
    }
  }
  ASSERT_NE(scaleUp, nullptr) << decisions.dump(2);
  const json& details = (*scaleUp)["details"];
  EXPECT_NE(scaleUp->value("reason", "").find("scale up from"), std::string::npos)
      << scaleUp->dump(2);
  const json& metric = details["decision"]["metrics"][0];
  EXPECT_EQ(metric.value("replicas", 0), expected) << details.dump(2);
  EXPECT_GT(metric.value("usageRatio", 0.0), 1.1) << details.dump(2);
  bool proposalStep = false;
  for (const auto& rule : details["decision"]["steps"]) {
    proposalStep |= rule.value("rule", "") == "metric proposal" &&
                    rule.value("detail", "").find("usage ratio") != std::string::npos;
  }
  EXPECT_TRUE(proposalStep) << details.dump(2);
  EXPECT_EQ(details["placement"]["targets"].value(kAws, 0), expected) << details.dump(2);

  // Both protocols carried the fleet's samples.
  const std::string metrics = fleet.aggregatorUrl() + "/metrics";
  for (const char* version : {"1", "2"}) {
    const auto bytes = testing::scrape(
        metrics, std::string("fleetscale_ingest_bytes_total{protocol=\"") + version + "\"}");
    ASSERT_TRUE(bytes.has_value()) << "protocol " << version;
    EXPECT_GT(*bytes, 0) << "protocol " << version;
  }
}

// Issue 14: the same step under a CPU limit equal to the request (500m) and to 3.9 cores. Usage
// stops at the limit, so the HPA's figure (100% of the request) climbs in rounds of pod starts;
// the agents' throttled time shows the demand, and the fleet reaches ceil(2 x (1.95 / 0.5) / 0.8)
// = 10 in one round: every write before the first new replica is ready.
TEST(E2eScalingTest, ACappedStepReachesItsSizeInOneRoundOfPodStarts) {
  std::string scenario = kScenario;
  const auto replace = [&](const std::string& from, const std::string& to) {
    scenario.replace(scenario.find(from), from.size(), to);
  };
  replace("limits: {cpu: \"2\"", "limits: {cpu: 500m");
  replace("value: 2200m}", "value: 3900m}");
  replace("max-replicas: 10", "max-replicas: 20\n      demand: throttling-aware");
  constexpr int kExpected = 10;
  E2eFleet fleet(scenario, "capped-step");
  ASSERT_TRUE(fleet.waitUntilSteady("web/api", 2, seconds(15)));
  ASSERT_LT(fleet.now(), kStepAt) << "the aggregator settled after the step; the machine is too "
                                     "slow for this test's timing";
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return fleet.desired("web/api", kAws) == kExpected &&
               fleet.ready("web/api", kAws) == kExpected;
      },
      seconds(30)))
      << "spec " << fleet.desired("web/api", kAws) << ", ready " << fleet.ready("web/api", kAws);
  EXPECT_TRUE(holdsFor([&] { return fleet.desired("web/api", kAws) == kExpected; }, seconds(3)));

  const sim::Timeline timeline = fleet.simulator().timeline();
  const auto actions = actionsSince(timeline, "web/api", kAws, 0);
  ASSERT_FALSE(actions.empty());
  // A sample straddling the step may ask for part of it first; the rest follows on the next
  // sample, long before the first new pod (1 s scheduling + 1 s readiness) is ready.
  EXPECT_LE(actions.back().seconds - actions.front().seconds, 1.5)
      << "a second round: the last write came after the first new replicas were ready";
  for (const auto& action : actions) EXPECT_LE(action.to, kExpected) << "overshoot";
  const sim::Report report = fleet.simulator().report();
  const sim::LoadChange* step = nullptr;
  for (const auto& change : report.workloads[0].loadChanges) {
    if (change.rise() && change.toCores > 3) step = &change;
  }
  ASSERT_NE(step, nullptr);
  ASSERT_TRUE(step->firstRequestSeconds.has_value());
  ASSERT_TRUE(step->readySeconds.has_value());
  RecordProperty("reaction_seconds", std::to_string(*step->firstRequestSeconds));
  RecordProperty("ready_seconds", std::to_string(*step->readySeconds));
  // Request, then 1 s scheduling and 1 s readiness, seen by the agents' next discovery.
  EXPECT_LE(*step->readySeconds, *step->firstRequestSeconds + 5.0);
}

// Issue 14: replicas that are pulling their image (Pending on their node, no container yet) are
// seen through the agents' kubelet pod lists and counted apart from the replicas that run. (The
// decisions count them as the HPA does, as unready pods: workload_observation_test.cpp.)
TEST(E2eScalingTest, PendingReplicasAreSeenAndCountedAsTheHpaCountsThem) {
  std::string scenario = kScenario;
  const auto replace = [&](const std::string& from, const std::string& to) {
    scenario.replace(scenario.find(from), from.size(), to);
  };
  replace("scheduling-delay: 1s", "scheduling-delay: 6s");
  replace("workloads:", "agents: {args: [\"--metadata-interval=500ms\"]}\nworkloads:");
  E2eFleet fleet(scenario, "pending-replicas");
  ASSERT_TRUE(fleet.waitUntilSteady("web/api", 2, seconds(15)));

  json pending;
  ASSERT_TRUE(testing::waitFor(
      [&] {
        const json workload = fleet.get("/api/v1/workloads/web/api");
        if (!workload.is_object() || workload.value("replicas_pending", 0) < 1) return false;
        pending = workload;
        return true;
      },
      seconds(30)))
      << fleet.get("/api/v1/workloads/web/api").dump(2);
  EXPECT_EQ(pending.value("replicas", 0), 2) << "pending pods are not counted as replicas seen";
  int listedPending = 0;
  for (const auto& pod : pending["pods"]) {
    if (!pod.value("pending", false)) continue;
    ++listedPending;
    EXPECT_EQ(pod.value("containers", -1), 0) << pod.dump();
    EXPECT_FALSE(pod.value("ready", true)) << pod.dump();
    EXPECT_DOUBLE_EQ(pod.value("cpu_request_cores", 0.0), kRequestCores) << pod.dump();
  }
  EXPECT_EQ(listedPending, pending.value("replicas_pending", 0)) << pending.dump(2);

  // Once they run they are replicas like the others.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        const json workload = fleet.get("/api/v1/workloads/web/api");
        return workload.is_object() && workload.value("replicas_pending", -1) == 0 &&
               workload.value("replicas", 0) == fleet.desired("web/api", kAws) &&
               fleet.desired("web/api", kAws) > 2;
      },
      seconds(30)))
      << fleet.get("/api/v1/workloads/web/api").dump(2);
  for (const auto& action : actionsSince(fleet.simulator().timeline(), "web/api", kAws, 0)) {
    EXPECT_LE(action.to, 6) << "overshoot at t=" << action.seconds;
  }
}

}  // namespace
}  // namespace fleetscale::e2e
