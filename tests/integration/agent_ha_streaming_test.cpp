// Warm standby from the agent's side: the real fleetscale-agent streaming to two real
// fleetscale-aggregator processes. Both must hold the agent's every batch; one aggregator
// hanging or killed must not delay the other by a single batch; a restarted one catches up on
// what the agent kept for it.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fleetscale/testing/cgroup_tree.h"
#include "fleetscale/testing/fleet_processes.h"
#include "fleetscale/testing/http.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale {
namespace {

using std::chrono::seconds;

const std::string kCgroup = "/system.slice/docker-" + std::string(64, 'f') + ".scope";

// One aggregator process with its own state directory, restartable on the same port.
class Aggregator {
 public:
  Aggregator(const testing::TempDir& dir, std::string name) : dir_(dir), name_(std::move(name)) {}

  void start(const std::string& listen = "127.0.0.1:0") {
    const std::string ready = dir_.file(name_ + "-ready.json");
    std::filesystem::remove(ready);
    process_ = std::make_unique<testing::Process>(
        testing::binaryPath("fleetscale-aggregator"),
        std::vector<std::string>{"--listen", listen, "--http-listen", "127.0.0.1:0",
                                 "--http-anonymous-reads", "--ready-file", ready, "--state-dir",
                                 dir_.file(name_ + "-state"), "--aggregator-id", name_});
    ports_ = testing::waitForReadyFile(ready);
    ASSERT_GT(ports_.ingest, 0) << process_->errors();
  }
  // Same stream port, same state: what a restarted pod or unit gets.
  void restart() { start(address()); }

  testing::Process& process() { return *process_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(ports_.ingest); }
  // This aggregator's view of the one agent (null until it has connected).
  nlohmann::json node() const {
    auto body =
        testing::httpGetJson("http://127.0.0.1:" + std::to_string(ports_.http) + "/api/v1/nodes");
    return body.is_object() && body["items"].size() == 1 ? body["items"][0] : nlohmann::json{};
  }
  double lastSequence() const {
    auto n = node();
    return n.is_object() ? n["last_sequence"].get<double>() : -1;
  }

 private:
  const testing::TempDir& dir_;
  std::string name_;
  std::unique_ptr<testing::Process> process_;
  testing::AggregatorPorts ports_;
};

TEST(AgentHaStreamingTest, BothAggregatorsGetEveryBatchAndAKilledOneCatchesUp) {
  testing::TempDir dir;
  testing::writeV2Container(dir.file("cgroup"), kCgroup, {1'000'000, 1 << 20, 0, 0});
  Aggregator active(dir, "agg-a"), standby(dir, "agg-b");
  active.start();
  standby.start();

  testing::Process agent(
      testing::binaryPath("fleetscale-agent"),
      {"--aggregator", active.address() + "," + standby.address(), "--cgroup-root",
       dir.file("cgroup"), "--mountinfo", "/dev/null", "--interval", "100ms", "--metrics-listen",
       "127.0.0.1:0", "--metadata", "none", "--node", "node-ha"});
  const std::string agentMetrics =
      "http://127.0.0.1:" + std::to_string(testing::waitForAgentMetricsPort(agent)) + "/metrics";
  const auto agentMetric = [&](const std::string& series) {
    return testing::scrape(agentMetrics, series).value_or(-1);
  };
  const auto stream = [&](const std::string& name, const Aggregator& aggregator) {
    return agentMetric(name + "{aggregator=\"" + aggregator.address() + "\"}");
  };

  ASSERT_TRUE(testing::waitFor(
      [&] { return active.lastSequence() >= 5 && standby.lastSequence() >= 5; }, seconds(10)))
      << agent.errors();
  EXPECT_EQ(stream("fleetscale_agent_connected", active), 1);
  EXPECT_EQ(stream("fleetscale_agent_connected", standby), 1);

  // The active aggregator hangs (its connection stays open, nothing is read or acked): the
  // standby keeps receiving at the agent's pace and the agent keeps the hung one's backlog.
  ASSERT_EQ(::kill(active.process().pid(), SIGSTOP), 0);
  double from = standby.lastSequence();
  ASSERT_TRUE(testing::waitFor([&] { return standby.lastSequence() >= from + 10; }, seconds(3)))
      << "a hung aggregator delays the other";
  EXPECT_GE(stream("fleetscale_agent_unacked_batches", active), 10);
  EXPECT_LT(stream("fleetscale_agent_unacked_batches", standby),
            stream("fleetscale_agent_unacked_batches", active));

  // Killed outright: the standby is not disturbed either.
  active.process().stop(SIGKILL);
  ASSERT_TRUE(testing::waitFor([&] { return stream("fleetscale_agent_connected", active) == 0; }));
  from = standby.lastSequence();
  ASSERT_TRUE(testing::waitFor([&] { return standby.lastSequence() >= from + 10; }, seconds(3)));
  EXPECT_EQ(stream("fleetscale_agent_connected", standby), 1);

  // Back on its port with its store: it resumes after what it had committed and receives the
  // backlog the agent kept for it, then the live stream.
  active.restart();
  const double target = agentMetric("fleetscale_agent_next_sequence");
  ASSERT_TRUE(testing::waitFor([&] { return active.lastSequence() >= target; }, seconds(5)))
      << agent.errors() << active.process().errors();
  EXPECT_TRUE(
      testing::waitFor([&] { return stream("fleetscale_agent_unacked_batches", active) <= 3; }));
  EXPECT_EQ(agentMetric("fleetscale_agent_spool_dropped_batches_total"), 0);

  // Both end with every sequence from 1 to the last exactly once: each accepts only increasing
  // sequences, so a gap or a repeat would break these equalities.
  ASSERT_EQ(agent.stop(SIGTERM), 0);
  for (Aggregator* aggregator : {&active, &standby}) {
    EXPECT_TRUE(testing::waitFor([&] {
      auto n = aggregator->node();
      return n.is_object() && !n["connected"].get<bool>();
    }));
  }
  const auto a = active.node(), b = standby.node();
  EXPECT_EQ(a["last_sequence"], b["last_sequence"]);
  EXPECT_EQ(b["batches_accepted"], b["last_sequence"]) << b.dump();
  EXPECT_EQ(a["batches_accepted"], a["last_sequence"]) << a.dump();
  EXPECT_EQ(active.process().stop(SIGTERM), 0);
  EXPECT_EQ(standby.process().stop(SIGTERM), 0);
}

TEST(AgentHaStreamingTest, AnUnreachableAggregatorDoesNotStopTheOther) {
  testing::TempDir dir;
  testing::writeV2Container(dir.file("cgroup"), kCgroup, {1'000'000, 1 << 20, 0, 0});
  Aggregator up(dir, "agg-up");
  up.start();
  // Listed first, and nothing listens there.
  testing::Process agent(
      testing::binaryPath("fleetscale-agent"),
      {"--aggregator", "127.0.0.1:1," + up.address(), "--cgroup-root", dir.file("cgroup"),
       "--mountinfo", "/dev/null", "--interval", "100ms", "--queue-capacity", "20",
       "--metrics-listen", "127.0.0.1:0", "--metadata", "none", "--node", "node-ha"});
  const std::string agentMetrics =
      "http://127.0.0.1:" + std::to_string(testing::waitForAgentMetricsPort(agent)) + "/metrics";
  const auto agentMetric = [&](const std::string& series) {
    return testing::scrape(agentMetrics, series).value_or(-1);
  };
  // Past the queue bound: the down aggregator's backlog stays at the bound, the oldest batches
  // are dropped and counted, and the live aggregator misses none of them.
  ASSERT_TRUE(testing::waitFor([&] {
    return agentMetric("fleetscale_agent_spool_dropped_batches_total") >= 5;
  })) << agent.errors();
  EXPECT_EQ(agentMetric("fleetscale_agent_spool_batches"), 20);
  EXPECT_EQ(agentMetric("fleetscale_agent_unacked_batches{aggregator=\"127.0.0.1:1\"}"), 20);
  EXPECT_GT(agentMetric("fleetscale_agent_connect_failures_total{aggregator=\"127.0.0.1:1\"}"), 0);
  ASSERT_EQ(agent.stop(SIGTERM), 0);
  EXPECT_TRUE(testing::waitFor([&] {
    auto n = up.node();
    return n.is_object() && !n["connected"].get<bool>();
  }));
  const auto n = up.node();
  EXPECT_GE(n["last_sequence"].get<double>(), 25);
  EXPECT_EQ(n["batches_accepted"], n["last_sequence"]) << n.dump();
  EXPECT_EQ(up.process().stop(SIGTERM), 0);
}

}  // namespace
}  // namespace fleetscale
