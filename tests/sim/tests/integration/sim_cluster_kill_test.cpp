// fleetscale-sim as a process, with the real aggregator and one real agent per node, running a
// scenario that kills a cluster and revives it: the cluster's agents and API server go silent
// and come back, and the report carries the failover.
#include <gtest/gtest.h>
#include <signal.h>

#include "fleetscale/testing/http.h"
#include "fleetscale/testing/wait.h"
#include "sim_test_support.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kScenario = R"(
name: kill-and-revive
duration: 24s
tick: 50ms
sample-interval: 250ms
agents: {interval: 500ms, rediscover-interval: 1s}
defaults:
  nodes: 2
  node-capacity: {cpu: 4, memory: 8Gi}
  scheduling-delay: 500ms
  readiness-delay: 1s
clusters:
  - {name: aws-us-east-1, cloud: aws, region: us-east-1, cgroup: {driver: systemd, version: 2}}
  - {name: gcp-europe-west1, cloud: gcp, region: europe-west1, cgroup: {driver: cgroupfs, version: 1}}
workloads:
  - name: checkout
    namespace: shop
    replicas: 2
    resources: {requests: {cpu: 500m}, limits: {cpu: "1"}}
    load: {cpu: 3}
faults:
  - {at: 6s, fault: kill-cluster, cluster: gcp-europe-west1}
  - {at: 14s, fault: revive-cluster, cluster: gcp-europe-west1}
)";

// The simulator's control API, which reports what is down right now.
json state(const std::string& controlUrl) { return testing::httpGetJson(controlUrl + "/v1/state"); }

bool clusterAlive(const json& state, const std::string& name) {
  if (!state.is_object()) return false;
  for (const auto& cluster : state["clusters"]) {
    if (cluster["name"] == name) return cluster["alive"].get<bool>();
  }
  return false;
}

std::int64_t newestSeen(const std::string& aggregatorUrl, const std::string& cluster) {
  std::int64_t newest = 0;
  const json nodes = testing::httpGetJson(aggregatorUrl + "/api/v1/nodes");
  if (!nodes.is_object()) return 0;
  for (const auto& node : nodes["items"]) {
    if (node["cluster"] == cluster) newest = std::max(newest, lastSeenUnixMs(node));
  }
  return newest;
}

TEST(SimClusterKillTest, AKilledClusterGoesSilentAndComesBack) {
  testing::TempDir dir("sim-kill");
  testing::writeFile(dir.file("scenario.yaml"), kScenario);
  testing::Process sim(
      testing::binaryPath("fleetscale-sim"),
      {"run", dir.file("scenario.yaml"), "--state-dir", dir.file("state"), "--ready-file",
       dir.file("ready.json"), "--report-json", dir.file("report.json"), "--status-interval", "0"});
  json ready;
  ASSERT_TRUE(testing::waitFor(
      [&] {
        auto text = readFile(dir.file("ready.json"));
        if (text) ready = json::parse(*text, nullptr, false);
        return (text && !ready.is_discarded()) || !sim.running();
      },
      seconds(30)));
  ASSERT_TRUE(sim.running()) << sim.errors();
  const std::string control = ready["control_url"];
  const std::string aggregator = ready["aggregator"]["url"];
  const json& gcp = ready["clusters"][1];
  ASSERT_EQ(gcp["name"], "gcp-europe-west1");
  ClusterEndpoints gcpEndpoints;
  gcpEndpoints.caFile = gcp["ca_file"];
  const std::string gcpApi = gcp["api_url"];
  const std::string gcpKubelet = gcp["nodes"][0]["kubelet_url"];
  auto agentToken = readSecretFile(gcp["token_files"]["agent"]);
  ASSERT_TRUE(agentToken);

  // Both clusters report before the kill.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return newestSeen(aggregator, "gcp-europe-west1") > 0 &&
               newestSeen(aggregator, "aws-us-east-1") > 0;
      },
      seconds(10)));
  EXPECT_EQ(testsupport::httpsGet(gcpEndpoints, gcpApi + "/version", "").status, 200);

  // The kill: API server and kubelets unreachable, agents silent; aws carries on.
  ASSERT_TRUE(testing::waitFor([&] { return !clusterAlive(state(control), "gcp-europe-west1"); },
                               seconds(15), milliseconds(100)));
  EXPECT_EQ(testsupport::httpsGet(gcpEndpoints, gcpApi + "/version", "").status, 0);
  EXPECT_EQ(testsupport::httpsGet(gcpEndpoints, gcpKubelet + "/pods", *agentToken).status, 0);
  // aws keeps reporting (two more batches, time for anything gcp sent before the kill to land)...
  for (int batch = 0; batch < 2; ++batch) {
    const std::int64_t awsSeen = newestSeen(aggregator, "aws-us-east-1");
    EXPECT_TRUE(testing::waitFor([&] { return newestSeen(aggregator, "aws-us-east-1") > awsSeen; },
                                 seconds(5)));
  }
  // ...while gcp says nothing.
  const std::int64_t gcpAtKill = newestSeen(aggregator, "gcp-europe-west1");
  EXPECT_FALSE(testing::waitFor(
      [&] { return newestSeen(aggregator, "gcp-europe-west1") > gcpAtKill; }, seconds(2)))
      << "gcp-europe-west1's agents kept reporting while the cluster was dead";
  EXPECT_TRUE(clusterAlive(state(control), "aws-us-east-1"));

  // The revival: everything answers again.
  ASSERT_TRUE(testing::waitFor([&] { return clusterAlive(state(control), "gcp-europe-west1"); },
                               seconds(15), milliseconds(100)));
  EXPECT_TRUE(testing::waitFor(
      [&] { return newestSeen(aggregator, "gcp-europe-west1") > gcpAtKill; }, seconds(10)));
  EXPECT_EQ(testsupport::httpsGet(gcpEndpoints, gcpApi + "/version", "").status, 200);
  EXPECT_EQ(testsupport::httpsGet(gcpEndpoints, gcpKubelet + "/pods", *agentToken).status, 200);

  // The scenario ends on its own and reports the failover.
  ASSERT_EQ(sim.wait(seconds(30)), 0) << sim.errors();
  auto text = readFile(dir.file("report.json"));
  ASSERT_TRUE(text);
  const json report = json::parse(*text);
  const json& checkout = report["workloads"][0];
  EXPECT_EQ(checkout["workload"], "shop/checkout");
  ASSERT_EQ(checkout["failovers"].size(), 1u);
  const json& failover = checkout["failovers"][0];
  EXPECT_EQ(failover["cluster"], "gcp-europe-west1");
  EXPECT_NEAR(failover["killed_at_seconds"].get<double>(), 6, 0.5);
  EXPECT_NEAR(failover["revived_at_seconds"].get<double>(), 14, 0.5);
  // Nobody scales in this scenario: aws alone (2 x 1 core) never covers 3 cores, so no failover;
  // after the revival gcp's replicas pass their readiness delay again (failback ~1 s).
  EXPECT_TRUE(failover["failover_seconds"].is_null());
  ASSERT_TRUE(failover["failback_seconds"].is_number());
  EXPECT_NEAR(failover["failback_seconds"].get<double>(), 1.0, 0.6);
  EXPECT_GT(checkout["under_provisioned_seconds"].get<double>(), 6);
  EXPECT_EQ(report["faults"].size(), 2u);
  EXPECT_GT(report["cost"]["agents_running"].get<int>(), 0);
  EXPECT_NE(sim.output().find("Failover, shop/checkout:"), std::string::npos) << sim.output();
}

}  // namespace
}  // namespace fleetscale::sim
