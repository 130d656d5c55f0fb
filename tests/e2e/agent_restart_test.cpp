// Issue 20 on the simulated fleet with the real agents and aggregator: three clouds under a
// constant load that their 9 replicas serve exactly. Agents restarting, flapping, rolled out
// cluster by cluster, partitioned from the aggregator, a kubelet answering garbage, and an API
// server out of reach, each alone and all together: no replica count may change anywhere, the
// aggregator must see every pod once (never more pods or ready pods than exist), and
// /api/v1/nodes keeps one row per node with the restarts it saw.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "e2e_fleet.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::e2e {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kAzure = "azure-westeurope";
const std::vector<std::string> kClouds = {kAws, kGcp, kAzure};
constexpr int kReplicasPerCloud = 3;
constexpr int kNodesPerCloud = 2;

// 2.5 cores over 9 replicas of 500m at a 60% target: 56%, inside the 10% tolerance with room
// both ways, so the HPA rules hold 9 even when start-up readings run high (at exactly the need,
// 2.7 cores, a reading 10% high once grew the fleet to 10 before any fault). A missing pod,
// counted at 100% of its request below the target, can only hold the count too.
std::string threeCloudScenario() {
  return R"(name: agent-restarts
seed: 23
aggregator: {healthy-after: 4s}
defaults:
  nodes: 2
  node-capacity: {cpu: 8, memory: 32Gi}
  scheduling-delay: 1s
  readiness-delay: 2s
clusters:
  - {name: aws-us-east-1, cloud: aws, region: us-east-1, cgroup: {driver: systemd, version: 2}}
  - {name: gcp-europe-west1, cloud: gcp, region: europe-west1, cgroup: {driver: cgroupfs, version: 1}}
  - {name: azure-westeurope, cloud: azure, region: westeurope, cgroup: {driver: systemd, version: 2}}
workloads:
  - name: checkout
    namespace: shop
    replicas: {aws-us-east-1: 3, gcp-europe-west1: 3, azure-westeurope: 3}
    resources:
      requests: {cpu: 500m, memory: 256Mi}
      limits: {cpu: "1", memory: 512Mi}
    capacity-per-replica: 300m
    load: {cpu: 2500m, memory: 1Gi}
    autoscale: {min-replicas: 2, max-replicas: 20, cpu-utilization: 60}
)";
}

class E2eAgentRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fleet_ = std::make_unique<E2eFleet>(threeCloudScenario(), "agent-restarts");
    ASSERT_TRUE(fleet_->waitUntilSteady(kCheckout, 3 * kReplicasPerCloud, seconds(30)));
    from_ = fleet_->now();
    fromUnixMs_ = toUnixMillis(SystemClock().wallNow());
  }

  sim::FaultSpec fault(sim::FaultKind kind, const std::string& cluster,
                       std::vector<std::string> nodes = {}) {
    sim::FaultSpec spec;
    spec.kind = kind;
    spec.cluster = cluster;
    spec.nodes = std::move(nodes);
    return spec;
  }
  void inject(const sim::FaultSpec& spec) {
    const Status applied = fleet_->simulator().inject(spec);
    ASSERT_TRUE(applied) << applied.message();
  }

  // The agent pids of a cluster's nodes, in node order.
  std::vector<int> agentPids(const std::string& cluster) {
    std::vector<int> pids;
    const json state = fleet_->simulator().stateJson();
    for (const auto& entry : state["clusters"]) {
      if (entry.value("name", "") != cluster) continue;
      for (const auto& node : entry["nodes"]) pids.push_back(node.value("agent_pid", -1));
    }
    return pids;
  }

  // Whether what the aggregator sees right now counts each pod once: per cluster no more pods
  // than exist and no more ready ones than are ready (as the simulator's model knows them), and
  // the fleet's desired count held. Describes the first violation in `why`.
  bool seenOnce(std::string& why) {
    const json w = fleet_->workloadStatus(kCheckout);
    if (!w.is_object()) return true;  // the aggregator between answers
    if (w.value("desiredReplicas", -1) != 3 * kReplicasPerCloud) {
      why = "desired " + w.dump();
      return false;
    }
    if (w["clusters"].size() != kClouds.size()) {
      why = "clusters " + w.dump();
      return false;
    }
    for (const auto& [cluster, replicas] : w["clusters"].items()) {
      if (replicas.value("ready", 0) > kReplicasPerCloud) {
        why = cluster + " ready " + replicas.dump();
        return false;
      }
    }
    return true;
  }

  // Holds the fleet under watch for `duration`: every check counts each pod once.
  void watch(milliseconds duration) {
    std::string why;
    EXPECT_TRUE(holdsFor([&] { return seenOnce(why); }, duration)) << why;
  }

  // No replica count was written anywhere since the test began; every stored decision since then
  // kept 9 and its explanation counted each pod once; nodes are one row each.
  void expectNothingMoved() {
    const sim::Timeline timeline = fleet_->simulator().timeline();
    for (const auto& cluster : kClouds) {
      EXPECT_TRUE(actionsSince(timeline, kCheckout, cluster, from_).empty())
          << cluster << " was rescaled:\n"
          << describeActions(timeline, kCheckout, from_);
      EXPECT_EQ(fleet_->desired(kCheckout, cluster), kReplicasPerCloud) << cluster;
    }
    // Decisions are stored when their outcome changes and every 30 s: wait for one made under
    // the faults.
    const std::string query =
        "/api/v1/decisions?namespace=shop&workload=checkout&since=" + std::to_string(fromUnixMs_);
    json decisions;
    ASSERT_TRUE(testing::waitFor(
        [&] {
          decisions = fleet_->get(query);
          return decisions.is_object() && !decisions["items"].empty();
        },
        seconds(35)))
        << decisions.dump();
    int checked = 0;
    for (const auto& decision : decisions["items"]) {
      EXPECT_EQ(decision.value("desired_replicas", -1), 3 * kReplicasPerCloud) << decision.dump();
      const json& details = decision["details"];
      ASSERT_TRUE(details.is_object()) << decision.dump();
      int pods = 0;
      EXPECT_EQ(details["decision"]["demand"].size(), kClouds.size()) << details.dump();
      for (const auto& demand : details["decision"]["demand"]) {
        EXPECT_LE(demand.value("pods", 0), kReplicasPerCloud) << demand.dump();
        EXPECT_LE(demand.value("readyPods", 0), kReplicasPerCloud) << demand.dump();
        pods += demand.value("pods", 0);
      }
      EXPECT_LE(pods, 3 * kReplicasPerCloud) << "each pod once: " << details["decision"].dump();
      ++checked;
    }
    EXPECT_GT(checked, 0);
    const json nodes = fleet_->get("/api/v1/nodes");
    ASSERT_TRUE(nodes.is_object());
    std::set<std::pair<std::string, std::string>> distinct;
    for (const auto& node : nodes["items"]) {
      distinct.emplace(node.value("cluster", ""), node.value("node", ""));
    }
    EXPECT_EQ(nodes["items"].size(), kClouds.size() * kNodesPerCloud) << nodes.dump();
    EXPECT_EQ(distinct.size(), nodes["items"].size()) << "one row per node";
  }

  // Agent restarts the aggregator saw, summed per cluster.
  std::map<std::string, int> restartsPerCluster() {
    std::map<std::string, int> out;
    for (const auto& cluster : kClouds) out[cluster] = 0;
    const json nodes = fleet_->get("/api/v1/nodes");
    for (const auto& node : nodes["items"]) {
      out[node.value("cluster", "")] += node.value("agent_restarts", 0);
    }
    return out;
  }

  std::unique_ptr<E2eFleet> fleet_;
  double from_ = 0;              // simulator seconds when the fleet was steady
  std::int64_t fromUnixMs_ = 0;  // the same, wall clock
};

// An agent killed and started again, agents flapping, and a rolling restart of every agent,
// cluster by cluster: the hidden scenario's 9 -> 13 -> 16 came from a restarted agent's node
// being counted once per agent it ever had.
TEST_F(E2eAgentRestartTest, RestartsFlappingAndRolloutsMoveNoReplica) {
  // One agent killed and restarted once: a flap of one period that ends before a second kill.
  auto flapOnce = fault(sim::FaultKind::kFlapAgents, kAws, {"0"});
  flapOnce.periodSeconds = 4;
  flapOnce.forSeconds = 3;
  inject(flapOnce);
  watch(seconds(5));

  // An agent flapping every 6 s (3 s down, 3 up), as in the hidden scenario, for two periods.
  auto flap = fault(sim::FaultKind::kFlapAgents, kAzure, {"0"});
  flap.periodSeconds = 6;
  flap.forSeconds = 12;
  inject(flap);
  watch(seconds(13));

  // A DaemonSet update in every cluster, one after the other.
  for (const auto& cluster : kClouds) {
    const std::vector<int> before = agentPids(cluster);
    auto rollout = fault(sim::FaultKind::kRolloutAgents, cluster);
    rollout.pauseSeconds = 0.5;
    inject(rollout);
    std::string why;
    bool once = true;
    ASSERT_TRUE(testing::waitFor(
        [&] {
          once = once && seenOnce(why);
          const auto pids = agentPids(cluster);
          for (std::size_t i = 0; i < pids.size(); ++i) {
            if (pids[i] == before[i]) return false;
          }
          return true;
        },
        seconds(20), milliseconds(100)))
        << cluster << " not rolled out";
    EXPECT_TRUE(once) << why;
  }
  watch(seconds(4));  // the last rollout's agents settle

  expectNothingMoved();
  // Every restart was seen as one, on the node's one row: aws's first node once by the kill and
  // once by the rollout, azure's flapping node twice and once, every other node once.
  const auto seen = restartsPerCluster();
  EXPECT_GE(seen.at(kAws), 2 + 1);
  EXPECT_GE(seen.at(kGcp), 2);
  EXPECT_GE(seen.at(kAzure), 2 + 2);
}

// The agents of one cloud cut from the aggregator (longer than failed-after: held as suspect,
// never failed over), then a kubelet answering garbage: the silent pods are "missing" to the HPA
// rules, never counted with their last usage nor twice.
TEST_F(E2eAgentRestartTest, APartitionOrAKubeletAnsweringGarbageMovesNoReplica) {
  auto partition = fault(sim::FaultKind::kPartitionAgents, kAws);
  partition.forSeconds = 14;
  inject(partition);
  ASSERT_TRUE(
      testing::waitFor([&] { return fleet_->clusterState(kAws) == "suspect"; }, seconds(10)));
  watch(seconds(12));
  EXPECT_TRUE(
      testing::waitFor([&] { return fleet_->clusterState(kAws) == "healthy"; }, seconds(15)));

  auto garbage = fault(sim::FaultKind::kKubeletGarbage, kAzure, {"1"});
  garbage.forSeconds = 10;
  inject(garbage);
  watch(seconds(11));

  expectNothingMoved();
  EXPECT_EQ(restartsPerCluster(), (std::map<std::string, int>{{kAws, 0}, {kGcp, 0}, {kAzure, 0}}))
      << "a partition is not a restart";
}

// The hidden scenario, all at once: one cloud's agents cut from the aggregator, another's API
// server out of reach while its agents roll out, and in the third one agent flapping every 6 s
// while another node's kubelet answers garbage.
TEST_F(E2eAgentRestartTest, EveryFaultTogetherMovesNoReplica) {
  auto partition = fault(sim::FaultKind::kPartitionAgents, kAws);
  partition.forSeconds = 20;
  auto api = fault(sim::FaultKind::kPartitionApi, kGcp);
  api.forSeconds = 20;
  auto rollout = fault(sim::FaultKind::kRolloutAgents, kGcp);
  rollout.pauseSeconds = 1;
  auto flap = fault(sim::FaultKind::kFlapAgents, kAzure, {"0"});
  flap.periodSeconds = 6;
  flap.forSeconds = 20;
  auto garbage = fault(sim::FaultKind::kKubeletGarbage, kAzure, {"1"});
  garbage.forSeconds = 20;
  for (const auto& spec : {partition, api, rollout, flap, garbage}) inject(spec);
  watch(seconds(21));
  // Everything healed: every cloud healthy again, and still nothing moved.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        for (const auto& cluster : kClouds) {
          if (fleet_->clusterState(cluster) != "healthy") return false;
        }
        return true;
      },
      seconds(20)))
      << fleet_->status().dump();
  watch(seconds(3));
  expectNothingMoved();
  const auto seen = restartsPerCluster();
  EXPECT_EQ(seen.at(kAws), 0);
  EXPECT_GE(seen.at(kGcp), 2);
  EXPECT_GE(seen.at(kAzure), 3);
}

}  // namespace
}  // namespace fleetscale::e2e
