// The real fleetscale-aggregator and fleetscale-agent processes, the agent reading a cgroup tree
// written by the test whose CPU counter advances in real time at a known rate.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/cgroup_tree.h"
#include "fleetscale/testing/fleet_processes.h"
#include "fleetscale/testing/http.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kContainerId = "4f1c2a7e9b3d5f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d0f1a3c5e7b9d2f4a";
const std::string kCgroup =
    "/kubepods.slice/kubepods-burstable.slice/"
    "kubepods-burstable-pod11111111_2222_3333_4444_555555555555.slice/"
    "cri-containerd-" +
    kContainerId + ".scope";

// Advances a v2 container's usage counter as if it used `cores` CPUs, until stopped.
class LoadWriter {
 public:
  LoadWriter(std::string root, double cores) : root_(std::move(root)), cores_(cores) {
    write(0);
    thread_ = std::thread([this] {
      const auto start = std::chrono::steady_clock::now();
      while (!stop_) {
        const auto elapsed = std::chrono::steady_clock::now() - start;
        write(static_cast<std::uint64_t>(std::chrono::duration<double>(elapsed).count() * cores_ *
                                         1e9));
        std::this_thread::sleep_for(
            milliseconds(50));  // the pace of the simulated load, not a wait
      }
    });
  }
  ~LoadWriter() {
    stop_ = true;
    thread_.join();
  }

 private:
  void write(std::uint64_t cpuNs) {
    testing::writeV2Container(root_, kCgroup, {cpuNs, 300u << 20, 100u << 20, 150u << 20});
  }
  std::string root_;
  double cores_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

using testing::waitForReadyFile;
using Ports = testing::ReadyPorts;

TEST(AgentAggregatorTest, SamplesFlowFromCgroupsToApiAndMetrics) {
  testing::TempDir dir;
  const std::string tree = dir.file("cgroup");
  LoadWriter load(tree, 0.5);
  testing::writeFile(dir.file("token"), "s3cret\n");

  testing::Process aggregator(
      testing::binaryPath("fleetscale-aggregator"),
      {"--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--http-anonymous-reads",
       "--ready-file", dir.file("ready.json"), "--token-file", dir.file("token"),
       "--per-container-metrics", "--threads", "2"});
  const testing::AggregatorPorts ports = waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(ports.http, 0) << aggregator.errors();
  const std::string api = "http://127.0.0.1:" + std::to_string(ports.http);

  // Identity comes from a YAML config file and the environment, as users deploy it.
  testing::writeFile(dir.file("agent.yaml"),
                     "cluster: aws-us-east-1\ncloud: aws\nregion: us-east-1\n");
  testing::Process agent(
      testing::binaryPath("fleetscale-agent"),
      {"--aggregator", "127.0.0.1:" + std::to_string(ports.ingest), "--cgroup-root", tree,
       "--mountinfo", "/dev/null", "--interval", "500ms", "--config", dir.file("agent.yaml"),
       "--token-file", dir.file("token"), "--log-format", "json"},
      {{"FLEETSCALE_NODE", "node-a"}});

  nlohmann::json container;
  const bool arrived = testing::waitFor(
      [&] {
        auto body = testing::httpGetJson(api + "/api/v1/containers?cluster=aws-us-east-1");
        if (!body.is_object() || body["items"].empty()) return false;
        container = body["items"][0];
        return container["cpu_cores"].is_number();
      },
      seconds(15));
  ASSERT_TRUE(arrived) << agent.errors() << aggregator.errors();
  EXPECT_EQ(container["id"], kContainerId);
  EXPECT_EQ(container["node"], "node-a");
  EXPECT_EQ(container["cluster"], "aws-us-east-1");
  EXPECT_EQ(container["runtime"], "containerd");
  EXPECT_EQ(container["pod_uid"], "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(container["memory_usage_bytes"], 300u << 20);
  EXPECT_EQ(container["memory_working_set_bytes"], 200u << 20);
  // The writer thread paces the counter at 0.5 cores; a tick it is scheduled late (a loaded
  // machine) shows as one interval above or below, so the rate must settle there, not be there
  // in the first interval.
  EXPECT_TRUE(testing::waitFor(
      [&] {
        auto body = testing::httpGetJson(api + "/api/v1/containers?cluster=aws-us-east-1");
        if (!body.is_object() || body["items"].empty()) return false;
        container = body["items"][0];
        return std::abs(container["cpu_cores"].get<double>() - 0.5) < 0.1;
      },
      seconds(10)))
      << "cpu_cores " << container["cpu_cores"];

  auto nodes = testing::httpGetJson(api + "/api/v1/nodes");
  ASSERT_EQ(nodes["items"].size(), 1u);
  EXPECT_EQ(nodes["items"][0]["cloud"], "aws");
  EXPECT_TRUE(nodes["items"][0]["connected"].get<bool>());

  // Cluster gauges come from the rollup snapshot, taken once per tick.
  testing::HttpResult metrics;
  EXPECT_TRUE(testing::waitFor([&] {
    metrics = testing::httpGet(api + "/metrics");
    return metrics.body.find("fleetscale_agents_connected{cluster=\"aws-us-east-1\"} 1") !=
           std::string::npos;
  })) << metrics.body;
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find(
                "fleetscale_container_cpu_usage_cores{cluster=\"aws-us-east-1\",node=\"node-a\","
                "container_id=\"" +
                kContainerId + "\""),
            std::string::npos);
  EXPECT_NE(metrics.body.find("fleetscale_ingest_samples_total"), std::string::npos);
  EXPECT_EQ(testing::httpGet(api + "/healthz").status, 200);
  EXPECT_EQ(testing::httpGet(api + "/readyz").status, 200);
  EXPECT_NE(agent.errors().find("\"logger\":\"agent\""), std::string::npos) << "JSON log lines";

  // Graceful shutdown: both exit 0 on SIGTERM, and the aggregator sees the agent leave.
  EXPECT_EQ(agent.stop(SIGTERM), 0);
  EXPECT_TRUE(testing::waitFor([&] {
    auto body = testing::httpGetJson(api + "/api/v1/nodes");
    return body.is_object() && !body["items"][0]["connected"].get<bool>();
  }));
  EXPECT_EQ(aggregator.stop(SIGTERM), 0);
  EXPECT_FALSE(readFile(dir.file("ready.json")).ok()) << "ready file removed on shutdown";
}

TEST(AgentAggregatorTest, AgentWithWrongTokenIsRejected) {
  testing::TempDir dir;
  testing::writeV2Container(dir.file("cgroup"), kCgroup, {1, 2, 0, 0});
  testing::writeFile(dir.file("token"), "right\n");
  testing::writeFile(dir.file("wrong"), "wrong\n");
  testing::Process aggregator(
      testing::binaryPath("fleetscale-aggregator"),
      {"--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--http-anonymous-reads",
       "--ready-file", dir.file("ready.json"), "--token-file", dir.file("token"), "--state-dir",
       dir.file("state")});  // killed at the end: its state goes with the test's directory
  const Ports ports = waitForReadyFile(dir.file("ready.json"));
  testing::Process agent(testing::binaryPath("fleetscale-agent"),
                         {"--aggregator", "127.0.0.1:" + std::to_string(ports.ingest),
                          "--cgroup-root", dir.file("cgroup"), "--mountinfo", "/dev/null",
                          "--interval", "200ms", "--token-file", dir.file("wrong")});
  const std::string metricsUrl = "http://127.0.0.1:" + std::to_string(ports.http) + "/metrics";
  EXPECT_TRUE(testing::waitFor([&] {
    return testing::httpGet(metricsUrl)
               .body.find("fleetscale_ingest_disconnects_total{reason=\"unauthenticated\"}") !=
           std::string::npos;
  }));
  EXPECT_TRUE(testing::waitFor(
      [&] { return agent.errors().find("CODE_UNAUTHENTICATED") != std::string::npos; }));
  EXPECT_TRUE(agent.running()) << "the agent keeps retrying rather than dying";
}

// Issue 16: with per-cluster tokens a node of cluster a (holding a's token) that says it is in
// cluster b is refused as the wrong cluster and never appears, while b's own agent does.
TEST(AgentAggregatorTest, AnAgentWithAnotherClustersTokenIsRefusedAsTheWrongCluster) {
  testing::TempDir dir;
  testing::writeV2Container(dir.file("cgroup"), kCgroup, {1, 2, 0, 0});
  testing::writeFile(dir.file("agent-tokens/a"), "token-a\n");
  testing::writeFile(dir.file("agent-tokens/b"), "token-b\n");
  testing::writeFile(dir.file("token-a"), "token-a\n");
  testing::writeFile(dir.file("token-b"), "token-b\n");
  testing::Process aggregator(
      testing::binaryPath("fleetscale-aggregator"),
      {"--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--http-anonymous-reads",
       "--ready-file", dir.file("ready.json"), "--agent-tokens-dir", dir.file("agent-tokens"),
       "--state-dir", dir.file("state")});
  const Ports ports = waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(ports.http, 0) << aggregator.errors();
  auto agent = [&](const std::string& node, const std::string& cluster,
                   const std::string& tokenFile) {
    return std::make_unique<testing::Process>(
        testing::binaryPath("fleetscale-agent"),
        std::vector<std::string>{"--aggregator", "127.0.0.1:" + std::to_string(ports.ingest),
                                 "--cgroup-root", dir.file("cgroup"), "--mountinfo", "/dev/null",
                                 "--interval", "200ms", "--node", node, "--cluster", cluster,
                                 "--token-file", tokenFile});
  };
  auto liar = agent("liar", "b", dir.file("token-a"));
  auto honest = agent("honest", "b", dir.file("token-b"));
  const std::string api = "http://127.0.0.1:" + std::to_string(ports.http);
  EXPECT_TRUE(testing::waitFor([&] {
    auto nodes = testing::httpGetJson(api + "/api/v1/nodes");
    return nodes.is_object() && nodes["items"].size() == 1 &&
           nodes["items"][0]["node"] == "honest" && nodes["items"][0]["last_sequence"] > 1;
  })) << honest->errors()
      << aggregator.errors();
  EXPECT_TRUE(testing::waitFor([&] {
    return testing::httpGet(api + "/metrics")
               .body.find("fleetscale_ingest_disconnects_total{reason=\"wrong_cluster\"}") !=
           std::string::npos;
  }));
  EXPECT_TRUE(testing::waitFor([&] {
    return liar->errors().find("CODE_PERMISSION_DENIED") != std::string::npos;
  })) << liar->errors();
  EXPECT_NE(liar->errors().find("for cluster b"), std::string::npos) << liar->errors();
  nlohmann::json events;
  EXPECT_TRUE(testing::waitFor([&] {
    events = testing::httpGetJson(api + "/api/v1/events?kind=agent_refused");
    return events.is_object() && events["items"].size() == 1;
  })) << events.dump();
  EXPECT_EQ(events["items"][0]["cluster"], "b");
  const auto nodes = testing::httpGetJson(api + "/api/v1/nodes");
  ASSERT_EQ(nodes["items"].size(), 1u) << "the refused agent never appears";
  EXPECT_EQ(nodes["items"][0]["node"], "honest");
  EXPECT_TRUE(liar->running()) << "the refused agent keeps retrying rather than dying";

  // b's Secret rotates: SIGHUP reads it at once (as the 5 s check would), and b's connected
  // agent keeps streaming.
  testing::writeFile(dir.file("agent-tokens/b"), "token-b2\n");
  ::kill(aggregator.pid(), SIGHUP);
  EXPECT_TRUE(testing::waitFor([&] {
    auto reloads = testing::httpGetJson(api + "/api/v1/events?kind=config_reload");
    return reloads.is_object() && !reloads["items"].empty() &&
           reloads["items"][0]["message"].get<std::string>().find("rotated b") != std::string::npos;
  }));
  const std::int64_t before = nodes["items"][0]["last_sequence"].get<std::int64_t>();
  EXPECT_TRUE(testing::waitFor([&] {
    auto now = testing::httpGetJson(api + "/api/v1/nodes");
    return now.is_object() && now["items"].size() == 1 && now["items"][0]["connected"] == true &&
           now["items"][0]["last_sequence"].get<std::int64_t>() > before;
  })) << "not dropped by the rotation";
}

TEST(AgentAggregatorTest, BadFlagsExitWithUsageError) {
  auto agent = testing::runCommand(testing::binaryPath("fleetscale-agent"),
                                   {"--interval", "soon", "--once"});
  EXPECT_EQ(agent.status, 2);
  EXPECT_NE(agent.errors.find("--interval"), std::string::npos);
  auto unknown =
      testing::runCommand(testing::binaryPath("fleetscale-aggregator"), {"--no-such-flag"});
  EXPECT_EQ(unknown.status, 2);
  auto version = testing::runCommand(testing::binaryPath("fleetscale-aggregator"), {"--version"});
  EXPECT_EQ(version.status, 0);
  EXPECT_NE(version.output.find("fleetscale-aggregator"), std::string::npos);
}

TEST(AgentAggregatorTest, OnceModePrintsJson) {
  testing::TempDir dir;
  LoadWriter load(dir.file("cgroup"), 0.25);
  auto result = testing::runCommand(testing::binaryPath("fleetscale-agent"),
                                    {"--once", "--cgroup-root", dir.file("cgroup"), "--mountinfo",
                                     "/dev/null", "--interval", "1s", "--node", "n1"});
  ASSERT_EQ(result.status, 0) << result.errors;
  auto json = nlohmann::json::parse(result.output);
  EXPECT_EQ(json["node"], "n1");
  ASSERT_EQ(json["containers"].size(), 1u);
  EXPECT_EQ(json["containers"][0]["id"], kContainerId);
  EXPECT_NEAR(json["containers"][0]["cpu_cores"].get<double>(), 0.25, 0.05);
  EXPECT_EQ(json["containers"][0]["memory_working_set_bytes"], 200u << 20);
}

}  // namespace
}  // namespace fleetscale
