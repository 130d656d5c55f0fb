// Protocol version 2 between the real processes (issue 17): every pairing of an agent and an
// aggregator that speak version 1 or 2 carries the same figures, at the version both know; and an
// aggregator killed between a connection's full state and the deltas that follow it never adds
// those deltas to another baseline: the agent's next connection starts from full definitions.
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
using testing::scrape;

const std::string kCgroup = "/system.slice/docker-" + std::string(64, 'c') + ".scope";
constexpr std::uint64_t kMiB = 1 << 20;

class ProtocolVersionsTest : public ::testing::Test {
 protected:
  void SetUp() override { writeMemory(300 * kMiB, 100 * kMiB); }

  // The container's memory as the agent reads it: usage and inactive file (the working set is
  // their difference).
  void writeMemory(std::uint64_t usage, std::uint64_t inactive) {
    testing::writeV2Container(dir_.file("cgroup"), kCgroup,
                              {1'000'000'000, usage, inactive, usage / 2});
  }

  std::unique_ptr<testing::Process> startAggregator(const std::string& listen, int maxVersion) {
    std::filesystem::remove(dir_.file("ready.json"));
    auto aggregator = std::make_unique<testing::Process>(
        testing::binaryPath("fleetscale-aggregator"),
        std::vector<std::string>{"--listen", listen, "--http-listen", "127.0.0.1:0",
                                 "--http-anonymous-reads", "--ready-file", dir_.file("ready.json"),
                                 "--state-dir", dir_.file("state"), "--max-protocol-version",
                                 std::to_string(maxVersion)});
    ports_ = testing::waitForReadyFile(dir_.file("ready.json"));
    EXPECT_GT(ports_.ingest, 0) << aggregator->errors();
    return aggregator;
  }

  std::unique_ptr<testing::Process> startAgent(int maxVersion) {
    return std::make_unique<testing::Process>(
        testing::binaryPath("fleetscale-agent"),
        std::vector<std::string>{"--aggregator", "127.0.0.1:" + std::to_string(ports_.ingest),
                                 "--cgroup-root", dir_.file("cgroup"), "--mountinfo", "/dev/null",
                                 "--interval", "100ms", "--metadata", "none", "--node", "node-p",
                                 "--max-protocol-version", std::to_string(maxVersion)});
  }

  std::string api(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(ports_.http) + path;
  }
  double aggregatorMetric(const std::string& series) const {
    return scrape(api("/metrics"), series).value_or(-1);
  }
  // The container as the aggregator's API shows it (null until it arrived with a CPU rate).
  nlohmann::json container() const {
    const auto body = testing::httpGetJson(api("/api/v1/containers"));
    if (!body.is_object() || body["items"].size() != 1) return nullptr;
    return body["items"][0]["cpu_cores"].is_number() ? body["items"][0] : nlohmann::json();
  }
  bool showsWorkingSet(std::uint64_t bytes) const {
    const auto c = container();
    return c.is_object() && c["memory_working_set_bytes"].get<std::uint64_t>() == bytes;
  }

  testing::TempDir dir_;
  testing::AggregatorPorts ports_;
};

TEST_F(ProtocolVersionsTest, EveryPairingSpeaksTheHighestCommonVersionWithTheSameFigures) {
  for (const auto& [aggregatorVersion, agentVersion] :
       std::vector<std::pair<int, int>>{{1, 1}, {1, 2}, {2, 1}, {2, 2}}) {
    SCOPED_TRACE("aggregator " + std::to_string(aggregatorVersion) + ", agent " +
                 std::to_string(agentVersion));
    std::filesystem::remove_all(dir_.file("state"));
    auto aggregator = startAggregator("127.0.0.1:0", aggregatorVersion);
    auto agent = startAgent(agentVersion);
    ASSERT_TRUE(testing::waitFor([&] { return showsWorkingSet(200 * kMiB); }, seconds(15)))
        << agent->errors() << aggregator->errors();
    const nlohmann::json c = container();
    EXPECT_EQ(c["id"], std::string(64, 'c'));
    EXPECT_EQ(c["cgroup"], kCgroup);
    EXPECT_EQ(c["memory_usage_bytes"], 300 * kMiB);
    EXPECT_EQ(c["memory_rss_bytes"], 150 * kMiB);

    const int spoken = std::min(aggregatorVersion, agentVersion);
    const auto bytes = [&](int version) {
      return aggregatorMetric("fleetscale_ingest_bytes_total{protocol=\"" +
                              std::to_string(version) + "\"}");
    };
    EXPECT_GT(bytes(spoken), 0);
    // Every connection's hello is version 1; a version 2 connection sends nothing else in it.
    EXPECT_LT(spoken == 2 ? bytes(1) : bytes(2), 512);
    EXPECT_EQ(
        aggregatorMetric("fleetscale_ingest_agents{protocol=\"" + std::to_string(spoken) + "\"}"),
        1);
    const auto nodes = testing::httpGetJson(api("/api/v1/nodes"));
    ASSERT_EQ(nodes["items"].size(), 1u) << nodes.dump();
    EXPECT_EQ(nodes["items"][0]["protocol_version"], spoken) << nodes.dump();
    EXPECT_LE(aggregatorMetric("fleetscale_ingest_disconnects_total{reason=\"bad_frame\"}"), 0);
    EXPECT_LE(aggregatorMetric("fleetscale_ingest_disconnects_total{reason=\"invalid_batch\"}"), 0);
    EXPECT_EQ(agent->stop(SIGTERM), 0);
    EXPECT_EQ(aggregator->stop(SIGTERM), 0);
  }
}

TEST_F(ProtocolVersionsTest, AnAggregatorKilledMidStreamNeverAddsDeltasToAnotherBaseline) {
  auto aggregator = startAggregator("127.0.0.1:0", 2);
  const std::string listen = "127.0.0.1:" + std::to_string(ports_.ingest);
  auto agent = startAgent(2);
  ASSERT_TRUE(testing::waitFor([&] { return showsWorkingSet(200 * kMiB); }, seconds(15)))
      << agent->errors() << aggregator->errors();
  // From here the connection carries deltas against the full state it started with: the working
  // set moves, and the aggregator is killed while those deltas stream.
  writeMemory(310 * kMiB, 100 * kMiB);
  ASSERT_TRUE(testing::waitFor([&] { return showsWorkingSet(210 * kMiB); }, seconds(10)));
  aggregator->stop(SIGKILL);
  writeMemory(330 * kMiB, 90 * kMiB);

  // A restarted aggregator has an empty table; the agent's new connection defines the container
  // again, so the figures are the cgroup's, not the old baseline plus the new deltas.
  aggregator = startAggregator(listen, 2);
  ASSERT_TRUE(testing::waitFor([&] { return showsWorkingSet(240 * kMiB); }, seconds(15)))
      << "shows " << container().dump() << "\n"
      << agent->errors() << aggregator->errors();
  EXPECT_EQ(container()["memory_usage_bytes"], 330 * kMiB);
  EXPECT_GT(aggregatorMetric("fleetscale_ingest_bytes_total{protocol=\"2\"}"), 0);
  EXPECT_LE(aggregatorMetric("fleetscale_ingest_decode_errors_total{reason=\"invalid\"}"), 0);
  EXPECT_LE(aggregatorMetric("fleetscale_ingest_decode_errors_total{reason=\"undecodable\"}"), 0);

  // And the next move after the restart arrives as a delta on the new connection.
  writeMemory(320 * kMiB, 90 * kMiB);
  EXPECT_TRUE(testing::waitFor([&] { return showsWorkingSet(230 * kMiB); }, seconds(10)));
  EXPECT_EQ(agent->stop(SIGTERM), 0);
}

}  // namespace
}  // namespace fleetscale
