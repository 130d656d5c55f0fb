// How a simulated cluster reacts to scaling through its API: new pods after the scheduling and
// readiness delays, with cgroups the agent finds and /pods entries on their kubelets; Pending
// when no node has room; cgroups and entries gone on scale-down; every change in the timeline.
#include <gtest/gtest.h>

#include "fleetscale/agent/cgroup_layout.h"
#include "fleetscale/agent/container_discovery.h"
#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/testing/wait.h"
#include "sim_test_support.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using namespace testsupport;

TEST(SimScalingTest, PodsFollowTheReplicasAsFarAsCapacityAllows) {
  Scenario scenario;
  scenario.name = "scaling";
  ClusterSpec spec = cluster("aws-us-east-1", "aws", CgroupDriver::kSystemd, 2, 2);
  spec.capacity.cpuCores = 1;  // with kube-proxy's 0.1, one 0.5-core replica fits per node
  spec.allocatable = spec.capacity;
  spec.schedulingDelaySeconds = 1;
  spec.readinessDelaySeconds = 1;
  scenario.clusters = {spec};
  scenario.workloads = {workload("checkout", {{"aws-us-east-1", 1}}, 1)};
  SystemClock clock;
  testing::TempDir state("sim-scaling");
  FleetSimulator simulator(scenario, options(state.path()), clock);
  ASSERT_TRUE(simulator.start());
  const ClusterEndpoints& aws = simulator.endpoints()[0];
  const std::string controller = token(aws, "controller");

  auto scaleTo = [&](int replicas) {
    TlsClientOptions tls;
    tls.caFile = aws.caFile;
    CurlHttpClient client(tls);
    HttpClientRequest request;
    request.method = "PATCH";
    request.url = aws.apiUrl + "/apis/apps/v1/namespaces/shop/deployments/checkout/scale";
    request.headers = {{"Authorization", "Bearer " + controller},
                       {"Content-Type", "application/merge-patch+json"}};
    request.body = json{{"spec", {{"replicas", replicas}}}}.dump();
    auto response = client.send(request);
    return response ? response->status : 0L;
  };
  auto kubeletPods = [&](std::size_t node) {
    std::vector<json> pods;
    const json list =
        json::parse(httpsGet(aws, aws.nodes[node].kubeletUrl + "/pods", token(aws, "agent")).body,
                    nullptr, false);
    if (list.is_discarded()) return pods;
    for (const auto& pod : list["items"]) {
      if (pod["metadata"]["labels"].value("app", "") == "checkout") pods.push_back(pod);
    }
    return pods;
  };
  auto readyOnKubelets = [&] {
    int ready = 0;
    for (std::size_t node = 0; node < 2; ++node) {
      for (const auto& pod : kubeletPods(node)) {
        ready += pod["status"]["containerStatuses"][0]["ready"].get<bool>() ? 1 : 0;
      }
    }
    return ready;
  };
  auto containersInTrees = [&] {
    std::size_t found = 0;
    for (const auto& node : aws.nodes) {
      auto layout = agent::probeLayout(node.hostRoot + "/sys/fs/cgroup");
      if (layout) found += agent::discoverContainers(layout->discoveryRoot(), {}).size();
    }
    return found;
  };
  ASSERT_EQ(readyOnKubelets(), 1);
  EXPECT_EQ(containersInTrees(), 6u);  // (checkout + 2 kube-proxy) x (app + pause)

  // Ask for 3: one more fits, the third stays Pending.
  ASSERT_EQ(scaleTo(3), 200);
  ASSERT_TRUE(testing::waitFor([&] { return readyOnKubelets() == 2; }, seconds(10)));
  EXPECT_EQ(containersInTrees(), 8u);
  const json pods = json::parse(
      httpsGet(aws, aws.apiUrl + "/api/v1/namespaces/shop/pods", token(aws, "admin")).body);
  int pending = 0;
  for (const auto& pod : pods["items"]) {
    if (pod["status"]["phase"] != "Pending") continue;
    ++pending;
    EXPECT_FALSE(pod["spec"].contains("nodeName"));
    EXPECT_EQ(pod["status"]["conditions"][0]["reason"], "Unschedulable");
  }
  EXPECT_EQ(pending, 1);

  // Down to 1: the Pending pod goes first, then one running pod with its cgroups.
  ASSERT_EQ(scaleTo(1), 200);
  ASSERT_TRUE(testing::waitFor([&] { return containersInTrees() == 6u; }, seconds(10)));
  EXPECT_EQ(kubeletPods(0).size() + kubeletPods(1).size(), 1u);

  const Timeline timeline = simulator.timeline();
  ASSERT_EQ(timeline.actions.size(), 2u);
  EXPECT_EQ(timeline.actions[0].from, 1);
  EXPECT_EQ(timeline.actions[0].to, 3);
  EXPECT_EQ(timeline.actions[1].to, 1);
  EXPECT_EQ(timeline.actions[0].user, "system:serviceaccount:fleetscale:fleetscale-aggregator");
  simulator.stop();
}

}  // namespace
}  // namespace fleetscale::sim
