// At-least-once delivery end to end: the real fleetscale-agent with a SQLite spool and the real
// fleetscale-aggregator, which drops duplicates by (agent id, sequence). Neither an aggregator
// restart nor an agent crash may lose a sequence or make the aggregator count one twice.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/cgroup_tree.h"
#include "fleetscale/testing/fleet_processes.h"
#include "fleetscale/testing/http.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale {
namespace {

using std::chrono::seconds;
using testing::scrape;

const std::string kCgroup = "/system.slice/docker-" + std::string(64, 'e') + ".scope";

class SpoolDeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::writeV2Container(dir_.file("cgroup"), kCgroup, {1'000'000, 1 << 20, 0, 0});
  }

  std::unique_ptr<testing::Process> startAggregator(const std::string& listen) {
    std::filesystem::remove(dir_.file("ready.json"));
    auto aggregator = std::make_unique<testing::Process>(
        testing::binaryPath("fleetscale-aggregator"),
        std::vector<std::string>{"--listen", listen, "--http-listen", "127.0.0.1:0",
                                 "--http-anonymous-reads", "--ready-file",
                                 dir_.file("ready.json")});
    ports_ = testing::waitForReadyFile(dir_.file("ready.json"));
    EXPECT_GT(ports_.ingest, 0) << aggregator->errors();
    return aggregator;
  }

  std::unique_ptr<testing::Process> startAgent() {
    auto agent = std::make_unique<testing::Process>(
        testing::binaryPath("fleetscale-agent"),
        std::vector<std::string>{"--aggregator", "127.0.0.1:" + std::to_string(ports_.ingest),
                                 "--cgroup-root", dir_.file("cgroup"), "--mountinfo", "/dev/null",
                                 "--interval", "100ms", "--spool-path", dir_.file("spool.db"),
                                 "--metrics-listen", "127.0.0.1:0", "--metadata", "none", "--node",
                                 "node-s"});
    agentMetrics_ =
        "http://127.0.0.1:" + std::to_string(testing::waitForAgentMetricsPort(*agent)) + "/metrics";
    return agent;
  }

  std::string aggregatorMetrics() const {
    return "http://127.0.0.1:" + std::to_string(ports_.http) + "/metrics";
  }
  double aggregatorMetric(const std::string& series) const {
    return scrape(aggregatorMetrics(), series).value_or(-1);
  }
  double agentMetric(const std::string& series) const {
    return scrape(agentMetrics_, series).value_or(-1);
  }
  // A stream series of the agent, for the one aggregator it streams to.
  double streamMetric(const std::string& name) const {
    return agentMetric(name + "{aggregator=\"127.0.0.1:" + std::to_string(ports_.ingest) + "\"}");
  }
  nlohmann::json nodes() const {
    return testing::httpGetJson("http://127.0.0.1:" + std::to_string(ports_.http) +
                                "/api/v1/nodes")["items"];
  }
  double lastSequence() const {
    auto items = nodes();
    return items.is_array() && items.size() == 1 ? items[0]["last_sequence"].get<double>() : -1;
  }
  // Stops the agent and waits until the aggregator has read everything it sent, so the
  // aggregator's figures can be compared with each other.
  void stopAgent(testing::Process& agentProcess) {
    EXPECT_EQ(agentProcess.stop(SIGTERM), 0);
    EXPECT_TRUE(testing::waitFor([&] {
      auto items = nodes();
      return items.is_array() && !items.empty() && !items[0]["connected"].get<bool>();
    }));
  }

  testing::TempDir dir_;
  testing::AggregatorPorts ports_;
  std::string agentMetrics_;
};

TEST_F(SpoolDeliveryTest, AggregatorRestartLosesNoSequence) {
  auto first = startAggregator("127.0.0.1:0");
  const std::string listen = "127.0.0.1:" + std::to_string(ports_.ingest);
  auto agent = startAgent();
  // Acked, not just received: the aggregator acks a batch only once its store has committed it.
  ASSERT_TRUE(testing::waitFor([&] { return streamMetric("fleetscale_agent_acked_sequence") >= 5; },
                               seconds(15)))
      << agent->errors();

  first->stop(SIGKILL);  // no goodbye: unacked batches stay with the agent
  ASSERT_TRUE(testing::waitFor([&] { return streamMetric("fleetscale_agent_connected") == 0; }));
  // Acks only come from the aggregator, which is gone: this is the last one, once a tick has
  // copied it into the metrics.
  const double ticks = agentMetric("fleetscale_agent_ticks_total");
  ASSERT_TRUE(
      testing::waitFor([&] { return agentMetric("fleetscale_agent_ticks_total") > ticks; }));
  const double acked = streamMetric("fleetscale_agent_acked_sequence");
  ASSERT_GE(acked, 5);
  ASSERT_TRUE(testing::waitFor([&] { return agentMetric("fleetscale_agent_spool_batches") >= 10; }))
      << "batches pile up in the spool while the aggregator is down";

  auto second = startAggregator(listen);
  const double target = agentMetric("fleetscale_agent_next_sequence") + 5;
  ASSERT_TRUE(testing::waitFor([&] { return lastSequence() >= target; }, seconds(15)))
      << agent->errors();
  EXPECT_EQ(agentMetric("fleetscale_agent_spool_dropped_batches_total"), 0);
  stopAgent(*agent);
  // Every sequence after the last ack reached the new aggregator exactly once, in order: it
  // accepts only increasing sequences, so a gap or a repeat would break this equality.
  const double last = lastSequence();
  EXPECT_EQ(aggregatorMetric("fleetscale_ingest_batches_total"), last - acked)
      << "sequences " << acked + 1 << ".." << last;
  EXPECT_EQ(aggregatorMetric("fleetscale_ingest_duplicate_batches_total"), 0);
  EXPECT_EQ(second->stop(SIGTERM), 0);
}

TEST_F(SpoolDeliveryTest, AgentCrashReplaysFromTheSpoolAndContinuesItsSequence) {
  auto aggregatorProcess = startAggregator("127.0.0.1:0");
  auto first = startAgent();
  ASSERT_TRUE(testing::waitFor([&] { return lastSequence() >= 3; }, seconds(15)))
      << first->errors();
  const std::string agentId = nodes()[0]["agent_id"].get<std::string>();

  // Freeze the aggregator so acks stop: the agent keeps batches it has sent but that are not
  // acked, then dies without a chance to clean up.
  ASSERT_EQ(::kill(aggregatorProcess->pid(), SIGSTOP), 0);
  ASSERT_TRUE(testing::waitFor([&] { return agentMetric("fleetscale_agent_spool_batches") >= 5; }));
  const double lastBefore = agentMetric("fleetscale_agent_next_sequence") - 1;
  first->stop(SIGKILL);
  ASSERT_EQ(::kill(aggregatorProcess->pid(), SIGCONT), 0);

  auto second = startAgent();
  std::smatch match;
  const std::string log = second->errors();
  ASSERT_TRUE(
      std::regex_search(log, match, std::regex(R"((\d+) unacked batches, next sequence (\d+))")))
      << log;
  EXPECT_GE(std::stoi(match[1]), 1) << "the crash left batches to replay";
  EXPECT_GT(std::stod(match[2]), lastBefore) << "the sequence continues, never reused";

  ASSERT_TRUE(
      testing::waitFor([&] { return lastSequence() >= std::stod(match[2]) + 5; }, seconds(15)))
      << second->errors();
  auto items = nodes();
  ASSERT_EQ(items.size(), 1u) << "the restarted agent kept its identity: " << items.dump();
  EXPECT_EQ(items[0]["agent_id"], agentId);
  EXPECT_EQ(agentMetric("fleetscale_agent_spool_dropped_batches_total"), 0);
  stopAgent(*second);
  // Sequences 1..last were each accepted exactly once; replays of what the frozen aggregator
  // had already read are dropped as duplicates.
  EXPECT_EQ(aggregatorMetric("fleetscale_ingest_batches_total"), lastSequence());
  EXPECT_EQ(aggregatorProcess->stop(SIGTERM), 0);
}

}  // namespace
}  // namespace fleetscale
