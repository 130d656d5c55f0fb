// Faults on a running fleet with the real agents and aggregator: partitions in both directions,
// flapping agents, a kubelet returning garbage, and API faults injected through the control API.
#include <gtest/gtest.h>

#include <set>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/testing/wait.h"
#include "sim_test_support.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using namespace testsupport;

class SimFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Scenario scenario;
    scenario.name = "faults";
    scenario.agents.interval = "300ms";
    scenario.agents.rediscoverInterval = "1s";
    // Two nodes in aws, for the rollout's one-at-a-time.
    scenario.clusters = {cluster("aws-us-east-1", "aws", CgroupDriver::kSystemd, 2, 2),
                         cluster("gcp-europe-west1", "gcp", CgroupDriver::kCgroupfs, 1)};
    scenario.workloads = {workload("checkout", {{"aws-us-east-1", 1}, {"gcp-europe-west1", 1}}, 1)};
    simulator_ =
        std::make_unique<FleetSimulator>(scenario, options(state_.path(), true, true), clock_);
    ASSERT_TRUE(simulator_->start());
    aws_ = simulator_->findEndpoints("aws-us-east-1");
    ASSERT_TRUE(testing::waitFor([&] { return newestSeen(*simulator_, "aws-us-east-1") > 0; },
                                 seconds(10)));
    ASSERT_TRUE(testing::waitFor([&] { return newestSeen(*simulator_, "gcp-europe-west1") > 0; },
                                 seconds(10)));
  }
  void TearDown() override {
    if (simulator_) simulator_->stop();
  }

  FaultSpec fault(FaultKind kind) {
    FaultSpec f;
    f.kind = kind;
    f.cluster = "aws-us-east-1";
    return f;
  }

  // True when the cluster's agents report again after `since`.
  bool reports(const std::string& cluster, std::int64_t since, milliseconds within) {
    return testing::waitFor([&] { return newestSeen(*simulator_, cluster) > since; }, within);
  }

  // Waits until the healthy cluster reported twice, so anything in flight has landed.
  void settle() {
    for (int i = 0; i < 2; ++i) {
      const auto seen = newestSeen(*simulator_, "gcp-europe-west1");
      ASSERT_TRUE(reports("gcp-europe-west1", seen, seconds(5)));
    }
  }

  SystemClock clock_;
  testing::TempDir state_{"sim-faults"};
  std::unique_ptr<FleetSimulator> simulator_;
  const ClusterEndpoints* aws_ = nullptr;
};

TEST_F(SimFaultsTest, APartitionedApiLeavesTheAgentsReporting) {
  ASSERT_TRUE(simulator_->inject(fault(FaultKind::kPartitionApi)));
  EXPECT_EQ(httpsGet(*aws_, aws_->apiUrl + "/version", "").status, 0);
  EXPECT_EQ(httpsGet(*aws_, aws_->nodes[0].kubeletUrl + "/pods", token(*aws_, "agent")).status,
            200);
  EXPECT_TRUE(reports("aws-us-east-1", newestSeen(*simulator_, "aws-us-east-1"), seconds(5)));
  ASSERT_TRUE(simulator_->inject(fault(FaultKind::kHeal)));
  EXPECT_EQ(httpsGet(*aws_, aws_->apiUrl + "/version", "").status, 200);
}

TEST_F(SimFaultsTest, PartitionedAgentsGoSilentWhileTheApiWorks) {
  ASSERT_TRUE(simulator_->inject(fault(FaultKind::kPartitionAgents)));
  settle();
  const auto silentSince = newestSeen(*simulator_, "aws-us-east-1");
  EXPECT_FALSE(reports("aws-us-east-1", silentSince, seconds(2)));
  EXPECT_EQ(httpsGet(*aws_, aws_->apiUrl + "/version", "").status, 200);
  const json state = simulator_->stateJson();
  EXPECT_TRUE(state["clusters"][0]["agents_partitioned"].get<bool>());
  // The agents lived through it and report again once the link is back.
  ASSERT_TRUE(simulator_->inject(fault(FaultKind::kHeal)));
  EXPECT_TRUE(reports("aws-us-east-1", silentSince, seconds(10)));
}

TEST_F(SimFaultsTest, FlappingAgentsComeAndGo) {
  FaultSpec flap = fault(FaultKind::kFlapAgents);
  flap.periodSeconds = 0.6;
  flap.forSeconds = 3;
  ASSERT_TRUE(simulator_->inject(flap));
  std::set<int> pids;
  // Watch the agent's pid until the flapping ends.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        const json node = simulator_->stateJson()["clusters"][0]["nodes"][0];
        pids.insert(node["agent_pid"].get<int>());
        return !node["agent_flapping"].get<bool>();
      },
      seconds(6), milliseconds(50)));
  EXPECT_GE(pids.size(), 3u) << "the agent should have been restarted a few times";
  const json node = simulator_->stateJson()["clusters"][0]["nodes"][0];
  EXPECT_FALSE(node["agent_flapping"].get<bool>());
  // Once the flapping ends the agent is up for good.
  EXPECT_TRUE(reports("aws-us-east-1", newestSeen(*simulator_, "aws-us-east-1"), seconds(8)));
  auto log = readFile(aws_->nodes[0].agentLog);
  ASSERT_TRUE(log);
  EXPECT_GE(std::count(log->begin(), log->end(), '\n'), 4);
}

// A DaemonSet update: every agent of the cluster restarted once, one node at a time, each only
// after the one before is back; the aggregator keeps one row per node and counts the restart.
TEST_F(SimFaultsTest, ARolloutRestartsEachAgentOnceOneNodeAtATime) {
  auto pidsNow = [&] {
    std::vector<int> pids;
    const json state = simulator_->stateJson();
    for (const auto& node : state["clusters"][0]["nodes"]) {
      pids.push_back(node["agent_pid"].get<int>());
    }
    return pids;
  };
  const std::vector<int> before = pidsNow();
  ASSERT_EQ(before.size(), 2u);
  FaultSpec rollout = fault(FaultKind::kRolloutAgents);
  rollout.pauseSeconds = 0.3;
  ASSERT_TRUE(simulator_->inject(rollout));
  // Each pid is sampled until both agents are new; node 1 may change only once node 0's new
  // agent has connected.
  std::vector<std::set<int>> seen{{before[0]}, {before[1]}};
  bool secondBeforeFirstBack = false;
  const std::size_t logBefore = readFile(aws_->nodes[0].agentLog)->size();
  ASSERT_TRUE(testing::waitFor(
      [&] {
        const auto pids = pidsNow();
        for (std::size_t i = 0; i < 2; ++i) seen[i].insert(pids[i]);
        if (pids[1] != before[1]) {
          const auto log = readFile(aws_->nodes[0].agentLog);
          if (!log || log->find("connected to aggregator", logBefore) == std::string::npos) {
            secondBeforeFirstBack = true;
          }
        }
        return pids[0] != before[0] && pids[1] != before[1];
      },
      seconds(20), milliseconds(20)));
  EXPECT_FALSE(secondBeforeFirstBack) << "one node at a time, each after the previous is back";
  EXPECT_EQ(seen[0].size(), 2u) << "restarted once";
  EXPECT_EQ(seen[1].size(), 2u) << "restarted once";
  // The aggregator sees two nodes, each with one restart, both reporting again.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        const auto ports = simulator_->aggregatorPorts();
        CurlHttpClient client;
        HttpClientRequest request;
        request.url = "http://127.0.0.1:" + std::to_string(ports->second) +
                      "/api/v1/nodes?cluster=aws-us-east-1";
        auto response = client.send(request);
        if (!response || response->status != 200) return false;
        const json nodes = json::parse(response->body, nullptr, false)["items"];
        if (nodes.size() != 2) return false;
        for (const auto& node : nodes) {
          if (node.value("agent_restarts", 0) != 1 || !node.value("connected", false)) {
            return false;
          }
        }
        return true;
      },
      seconds(10)));
  const auto after = pidsNow();
  EXPECT_TRUE(seen[0].count(after[0]) && seen[1].count(after[1])) << "no further restarts";
}

TEST_F(SimFaultsTest, AKubeletCanReturnGarbage) {
  const std::string pods = aws_->nodes[0].kubeletUrl + "/pods";
  FaultSpec garbage = fault(FaultKind::kKubeletGarbage);
  garbage.mode = "garbage";
  ASSERT_TRUE(simulator_->inject(garbage));
  const auto broken = httpsGet(*aws_, pods, token(*aws_, "agent"));
  EXPECT_EQ(broken.status, 200);
  EXPECT_TRUE(json::parse(broken.body, nullptr, false).is_discarded());
  ASSERT_TRUE(simulator_->inject(fault(FaultKind::kHeal)));
  EXPECT_FALSE(json::parse(httpsGet(*aws_, pods, token(*aws_, "agent")).body, nullptr, false)
                   .is_discarded());
}

TEST_F(SimFaultsTest, TheControlApiInjectsApiFaults) {
  const std::string control = "http://127.0.0.1:" + std::to_string(simulator_->controlPort());
  CurlHttpClient client;
  auto post = [&](const std::string& body) {
    HttpClientRequest request;
    request.method = "POST";
    request.url = control + "/v1/faults";
    request.body = body;
    request.headers.emplace_back("Content-Type", "application/json");
    auto response = client.send(request);
    return response ? response->status : 0L;
  };
  const std::string deployments = aws_->apiUrl + "/apis/apps/v1/deployments";
  const std::string admin = token(*aws_, "admin");
  EXPECT_EQ(
      post(R"({"fault": "failing-api", "cluster": "aws-us-east-1", "rate": 1, "status": 503})"),
      200);
  const auto failing = httpsGet(*aws_, deployments, admin);
  EXPECT_EQ(failing.status, 503);
  EXPECT_EQ(json::parse(failing.body)["reason"], "ServiceUnavailable");
  EXPECT_EQ(post(R"({"fault": "heal", "cluster": "aws-us-east-1"})"), 200);
  EXPECT_EQ(httpsGet(*aws_, deployments, admin).status, 200);

  EXPECT_EQ(
      post(
          R"({"fault": "slow-api", "cluster": "aws-us-east-1", "latency": "400ms", "for": "10s"})"),
      200);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(httpsGet(*aws_, deployments, admin).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(400));

  EXPECT_EQ(post(R"({"fault": "meltdown", "cluster": "aws-us-east-1"})"), 400);
  EXPECT_EQ(post(R"({"fault": "kill-cluster", "cluster": "nowhere"})"), 409);
  // Every fault shows up in the timeline the report is computed from.
  const Timeline timeline = simulator_->timeline();
  ASSERT_EQ(timeline.faults.size(), 3u);
  EXPECT_EQ(timeline.faults[0].kind, FaultKind::kFailingApi);
  EXPECT_EQ(timeline.faults[2].kind, FaultKind::kSlowApi);
}

}  // namespace
}  // namespace fleetscale::sim
