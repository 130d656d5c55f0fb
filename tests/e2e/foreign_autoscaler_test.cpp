// A member cluster already runs an HPA for one of the policy's workloads: the aggregator never
// writes that workload (in any cluster) and says why in its status and an event, while it
// scales the workload next to it as usual; with --take-over-hpa it scales it through the HPA.
#include <gtest/gtest.h>

#include "e2e_fleet.h"
#include "fleetscale/sim/autoscaler_objects.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::e2e {
namespace {

using std::chrono::seconds;

// Both workloads: 2 + 2 replicas of 500m at 80% target, then twice the load at 8 s (8 needed).
const char* kScenario = R"(
name: e2e-foreign-autoscaler
seed: 31
defaults:
  nodes: 1
  node-capacity: {cpu: 16, memory: 64Gi}
  scheduling-delay: 1s
  readiness-delay: 1s
clusters:
  - {name: aws-us-east-1, cloud: aws, region: us-east-1}
  - {name: gcp-europe-west1, cloud: gcp, region: europe-west1}
workloads:
  - name: api
    namespace: web
    replicas: {aws-us-east-1: 2, gcp-europe-west1: 2}
    resources: {requests: {cpu: 500m, memory: 128Mi}, limits: {cpu: "2", memory: 256Mi}}
    capacity-per-replica: 400m
    load: {cpu: {curve: step, initial: 1600m, steps: [{at: 8s, value: 3200m}]}, memory: 400Mi}
    autoscale: {min-replicas: 2, max-replicas: 20, cpu-utilization: 80}
    foreign-autoscaler: {kind: HorizontalPodAutoscaler, clusters: [gcp-europe-west1]}
  - name: worker
    namespace: web
    replicas: {aws-us-east-1: 2, gcp-europe-west1: 2}
    resources: {requests: {cpu: 500m, memory: 128Mi}, limits: {cpu: "2", memory: 256Mi}}
    capacity-per-replica: 400m
    load: {cpu: {curve: step, initial: 1600m, steps: [{at: 8s, value: 3200m}]}, memory: 400Mi}
    autoscale: {min-replicas: 2, max-replicas: 20, cpu-utilization: 80}
)";

TEST(E2eForeignAutoscalerTest, AWorkloadAnHpaScalesIsNeverWrittenItsNeighbourIs) {
  E2eFleet fleet(kScenario, "foreign-autoscaler");
  // The worker doubles: the aggregator is scaling.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return fleet.desired("web/worker", kAws) == 4 && fleet.desired("web/worker", kGcp) == 4;
      },
      seconds(40)))
      << describeActions(fleet.simulator().timeline(), "web/worker", 0);
  // The api needs the same but is the HPA's: held, with the reason in its status.
  const auto api = fleet.workloadStatus("web/api");
  ASSERT_TRUE(api.is_object()) << fleet.status().dump();
  EXPECT_EQ(api["foreignAutoscalers"],
            nlohmann::json::array({"HorizontalPodAutoscaler web/api in gcp-europe-west1"}))
      << api.dump();
  EXPECT_NE(api.value("reason", "").find("already scales it"), std::string::npos) << api.dump();
  EXPECT_TRUE(holdsFor(
      [&] { return fleet.desired("web/api", kAws) == 2 && fleet.desired("web/api", kGcp) == 2; },
      seconds(3)));
  const sim::Timeline timeline = fleet.simulator().timeline();
  EXPECT_TRUE(actionsSince(timeline, "web/api", kAws, 0).empty())
      << describeActions(timeline, "web/api", 0);
  EXPECT_TRUE(actionsSince(timeline, "web/api", kGcp, 0).empty());
  const auto events = fleet.get("/api/v1/events?kind=foreign_autoscaler");
  ASSERT_TRUE(events.is_object()) << events.dump();
  ASSERT_EQ(events["items"].size(), 1u) << events.dump();
  EXPECT_EQ(events["items"][0]["workload"], "web/Deployment/api") << events.dump();
}

// The HPA in the member cluster, as its API server holds it (null when absent).
nlohmann::json hpaIn(E2eFleet& fleet, const std::string& cluster, const std::string& name) {
  sim::SharedFleet& shared = fleet.simulator().fleet();
  std::lock_guard lock(shared.mutex);
  const sim::ObjectStore* store =
      shared.objectStore(sim::kHorizontalPodAutoscalerResource, cluster);
  const nlohmann::json* hpa = store ? store->find("web", name) : nullptr;
  return hpa ? *hpa : nlohmann::json();
}

// --take-over-hpa: the HPA's workload follows the load like its neighbour, the HPA is pinned to
// each count (its own bounds kept in annotations), and the status says so.
TEST(E2eForeignAutoscalerTest, TakenOverTheHpaIsPinnedToEachDecision) {
  std::string scenario = kScenario;
  scenario.replace(scenario.find("name: e2e-foreign-autoscaler"),
                   std::string("name: e2e-foreign-autoscaler").size(),
                   "name: e2e-take-over-hpa\naggregator: {args: [--take-over-hpa]}");
  E2eFleet fleet(scenario, "take-over-hpa");
  ASSERT_TRUE(testing::waitFor(
      [&] { return fleet.desired("web/api", kAws) == 4 && fleet.desired("web/api", kGcp) == 4; },
      seconds(40)))
      << describeActions(fleet.simulator().timeline(), "web/api", 0);
  ASSERT_TRUE(testing::waitFor(
      [&] {
        const auto hpa = hpaIn(fleet, kGcp, "api");
        return hpa.is_object() && hpa["spec"].value("minReplicas", 0) == 4;
      },
      seconds(10)))
      << hpaIn(fleet, kGcp, "api").dump();
  const auto hpa = hpaIn(fleet, kGcp, "api");
  EXPECT_EQ(hpa["spec"]["maxReplicas"], 4) << hpa.dump();
  EXPECT_EQ(hpa["metadata"]["annotations"]["fleetscale.io/original-min-replicas"], "1");
  EXPECT_EQ(hpa["metadata"]["annotations"]["fleetscale.io/original-max-replicas"], "10");
  const auto api = fleet.workloadStatus("web/api");
  EXPECT_EQ(api["foreignAutoscalersPinned"], true) << api.dump();
  const auto events = fleet.get("/api/v1/events?kind=foreign_autoscaler");
  ASSERT_TRUE(events.is_object()) << events.dump();
  ASSERT_EQ(events["items"].size(), 1u) << events.dump();
  EXPECT_NE(events["items"][0]["message"].get<std::string>().find("takes it over"),
            std::string::npos)
      << events.dump();
}

}  // namespace
}  // namespace fleetscale::e2e
