// The real fleetscale-aggregator under the load generator: exactly-once across kill -9, metrics
// that promtool accepts, a real Prometheus scraping it, and TLS between the real binaries.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/testing/cgroup_tree.h"
#include "fleetscale/testing/fleet_processes.h"
#include "fleetscale/testing/http.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/prometheus.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/test_pki.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A port that was free a moment ago, for servers that must come back on the same address.
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

using testing::waitForReadyFile;
using Ports = testing::ReadyPorts;

std::unique_ptr<testing::Process> startAggregator(const testing::TempDir& dir,
                                                  const std::string& listen,
                                                  std::vector<std::string> extra = {}) {
  std::remove(dir.file("ready.json").c_str());
  std::vector<std::string> args{"--listen",      listen,
                                "--http-listen", "127.0.0.1:0",
                                "--state-dir",   dir.file("state"),
                                "--ready-file",  dir.file("ready.json"),
                                "--tick",        "200ms",
                                "--threads",     "2"};
  args.emplace_back("--http-anonymous-reads");  // these tests read the API without a token
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<testing::Process>(testing::binaryPath("fleetscale-aggregator"), args);
}

std::unique_ptr<testing::Process> startLoad(int ingestPort, const std::vector<std::string>& extra) {
  std::vector<std::string> args{"--aggregator", "127.0.0.1:" + std::to_string(ingestPort),
                                "--warmup", "0s"};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<testing::Process>(testing::binaryPath("fleetscale-loadgen"), args);
}

double metricValue(const std::string& metrics, const std::string& series) {
  const auto at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + series.size() + 2));
}

TEST(AggregatorTest, KillNineDuringIngestThenRestartCountsEveryBatchOnce) {
  testing::TempDir dir;
  const std::string listen = "127.0.0.1:" + std::to_string(freePort());
  auto aggregator = startAggregator(dir, listen);
  const Ports first = waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(first.ingest, 0) << aggregator->errors();
  auto load = startLoad(first.ingest, {"--agents", "20", "--containers", "20", "--interval", "50ms",
                                       "--duration", "8s", "--workloads", "5"});
  const std::string firstApi = "http://127.0.0.1:" + std::to_string(first.http);
  // Let every agent get well into its stream, then kill the aggregator mid-flight.
  ASSERT_TRUE(testing::waitFor([&] {
    auto nodes = testing::httpGetJson(firstApi + "/api/v1/nodes");
    if (!nodes.is_object() || nodes["items"].size() < 20) return false;
    for (const auto& node : nodes["items"]) {
      if (node["last_sequence"].get<int>() < 20) return false;
    }
    return true;
  })) << aggregator->errors();
  ::kill(aggregator->pid(), SIGKILL);
  ASSERT_TRUE(aggregator->wait().has_value());

  // Same address, same state directory. The agents reconnect and replay what was not acked.
  aggregator = startAggregator(dir, listen);
  const Ports second = waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(second.http, 0) << aggregator->errors();
  ASSERT_TRUE(load->wait(seconds(30)).has_value());
  const auto report = json::parse(load->output(), nullptr, false);
  ASSERT_TRUE(report.is_object()) << load->output() << load->errors();
  EXPECT_GE(report["connects"].get<int>(), 40) << "every agent connected twice";

  const std::string api = "http://127.0.0.1:" + std::to_string(second.http);
  auto nodes = testing::httpGetJson(api + "/api/v1/nodes");
  ASSERT_EQ(nodes["items"].size(), 20u);
  std::uint64_t highest = 0;
  for (const auto& node : nodes["items"]) {
    const auto sequence = node["last_sequence"].get<std::uint64_t>();
    EXPECT_EQ(node["batches_accepted"].get<std::uint64_t>(), sequence)
        << node["agent_id"] << ": each sequence 1.." << sequence << " counted exactly once";
    EXPECT_EQ(node["samples_accepted"].get<std::uint64_t>(), sequence * 20);
    highest = std::max(highest, sequence);
  }
  EXPECT_GE(highest, report["highest_acked"].get<std::uint64_t>())
      << "nothing acked to an agent was lost";
  // The store survived: events from before the kill are still there.
  auto events = testing::httpGetJson(api + "/api/v1/events?kind=agent_connected&limit=1000");
  EXPECT_GE(events["items"].size(), 40u);
  const auto metrics = testing::httpGet(api + "/metrics").body;
  EXPECT_GT(metricValue(metrics, "fleetscale_ingest_batches_total"), 0);
  EXPECT_EQ(aggregator->stop(SIGTERM), 0);
}

// A store holding more recent history than --history-max-rows: startup reads it back a minute at
// a time and keeps the newest rows within the budget.
TEST(AggregatorTest, StartupReadsBackHistoryWithinItsRowBudget) {
  testing::TempDir dir;
  {
    aggregator::SqliteStoreOptions options;
    options.stateDir = dir.file("state");
    SystemClock clock;
    auto store = aggregator::SqliteStore::open(options, nullptr, clock);
    ASSERT_TRUE(store.ok()) << store.error().message;
    std::vector<aggregator::RollupRow> rows;
    const std::int64_t now = toUnixMillis(clock.wallNow());
    for (int bucket = 1; bucket <= 50; ++bucket) {  // the last 500 s, 20 workloads
      for (int workload = 0; workload < 20; ++workload) {
        aggregator::RollupRow row;
        row.bucketStartUnixMs = now - now % 10'000 - bucket * 10'000;
        row.workload = aggregator::WorkloadKey{"cron", "Job", "job-" + std::to_string(workload)};
        row.cluster = "aws";
        row.ticks = 10;
        rows.push_back(row);
      }
    }
    (*store)->recordRollups(rows);
    (*store)->flush();
  }
  auto aggregator =
      startAggregator(dir, "127.0.0.1:0", {"--history-max-rows", "300", "--history-window", "1h"});
  ASSERT_GT(waitForReadyFile(dir.file("ready.json")).http, 0) << aggregator->errors();
  EXPECT_EQ(aggregator->stop(SIGTERM), 0);
  const std::string log = aggregator->errors();
  const std::string restored = "1000 recent rollups (";  // "... (N kept in memory)"
  const auto at = log.find(restored);
  ASSERT_NE(at, std::string::npos) << log;
  const int kept = std::stoi(log.substr(at + restored.size()));
  EXPECT_LE(kept, 300) << "the row budget holds at startup too";
  EXPECT_GE(kept, 250) << "the newest rows are kept, not dropped wholesale";
}

TEST(AggregatorTest, PromtoolAcceptsTheMetrics) {
  if (::access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  testing::TempDir dir;
  auto aggregator = startAggregator(dir, "127.0.0.1:0", {"--per-container-metrics"});
  const Ports ports = waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(ports.http, 0) << aggregator->errors();
  auto load = startLoad(ports.ingest, {"--agents", "4", "--containers", "3", "--interval", "100ms",
                                       "--duration", "20s"});
  const std::string url = "http://127.0.0.1:" + std::to_string(ports.http) + "/metrics";
  std::string metrics;
  ASSERT_TRUE(testing::waitFor([&] {
    metrics = testing::httpGet(url).body;
    return metrics.find("fleetscale_workload_cpu_usage_cores{") != std::string::npos &&
           metrics.find("fleetscale_store_write_duration_seconds_count") != std::string::npos;
  })) << metrics;
  testing::writeFile(dir.file("metrics.txt"), metrics);
  const auto check = testing::runCommand(
      "/bin/sh", {"-c", "/usr/bin/promtool check metrics < " + dir.file("metrics.txt")});
  EXPECT_EQ(check.status, 0) << check.output << check.errors;
  EXPECT_EQ(check.output + check.errors, "") << "no lint findings";
}

TEST(AggregatorTest, PrometheusScrapesTheAggregator) {
  if (!testing::PrometheusServer::installed()) GTEST_SKIP() << "prometheus not installed";
  testing::TempDir dir;
  auto aggregator = startAggregator(dir, "127.0.0.1:0");
  const Ports ports = waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(ports.http, 0) << aggregator->errors();
  auto load = startLoad(ports.ingest, {"--agents", "5", "--containers", "4", "--interval", "200ms",
                                       "--duration", "60s", "--workloads", "2"});
  testing::PrometheusServer prometheus("fleetscale", {"127.0.0.1:" + std::to_string(ports.http)});
  auto value = [&](const std::string& expression) {
    return prometheus.value(expression).value_or(-1);
  };
  // 5 agents x 4 containers, each container its own pod: 20 replicas over the workloads.
  EXPECT_TRUE(testing::waitFor([&] { return value("sum(fleetscale_workload_replicas)") == 20; },
                               seconds(60)))
      << prometheus.errors() << aggregator->errors();
  EXPECT_TRUE(
      testing::waitFor([&] { return value("fleetscale_ingest_samples_total") > 0; }, seconds(30)));
  EXPECT_EQ(value("up{job=\"fleetscale\"}"), 1);
}

TEST(AggregatorTest, AgentStreamsOverMutualTls) {
  testing::TempDir dir;
  // The client certificate names the agents' cluster (--tls-client-identity cluster, the default).
  auto pki = makeTestPki({"aggregator.test"}, "tls");
  ASSERT_TRUE(pki.ok());
  ASSERT_TRUE(writePemPair(pki->ca, dir.path(), "ca").ok());
  ASSERT_TRUE(writePemPair(pki->server, dir.path(), "server").ok());
  ASSERT_TRUE(writePemPair(pki->client, dir.path(), "client").ok());
  auto aggregator =
      startAggregator(dir, "127.0.0.1:0",
                      {"--tls-cert-file", dir.file("server.crt"), "--tls-key-file",
                       dir.file("server.key"), "--tls-client-ca-file", dir.file("ca.crt")});
  const Ports ports = waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(ports.ingest, 0) << aggregator->errors();
  testing::writeV2Container(dir.file("cgroup"),
                            "/system.slice/docker-" + std::string(64, 'a') + ".scope",
                            {1000, 2 << 20, 0, 0});
  auto agent = [&](const std::string& node, std::vector<std::string> tls) {
    std::vector<std::string> args{"--aggregator",  "127.0.0.1:" + std::to_string(ports.ingest),
                                  "--cgroup-root", dir.file("cgroup"),
                                  "--mountinfo",   "/dev/null",
                                  "--interval",    "200ms",
                                  "--node",        node,
                                  "--agent-id",    node,
                                  "--cluster",     "tls"};
    args.insert(args.end(), tls.begin(), tls.end());
    return std::make_unique<testing::Process>(testing::binaryPath("fleetscale-agent"), args);
  };
  auto trusted = agent("trusted", {"--tls-ca-file", dir.file("ca.crt"), "--tls-cert-file",
                                   dir.file("client.crt"), "--tls-key-file", dir.file("client.key"),
                                   "--tls-server-name", "aggregator.test"});
  auto anonymous = agent(
      "anonymous", {"--tls-ca-file", dir.file("ca.crt"), "--tls-server-name", "aggregator.test"});
  auto plain = agent("plain", {});
  const std::string api = "http://127.0.0.1:" + std::to_string(ports.http);
  EXPECT_TRUE(testing::waitFor([&] {
    auto nodes = testing::httpGetJson(api + "/api/v1/nodes");
    return nodes.is_object() && nodes["items"].size() == 1 &&
           nodes["items"][0]["node"] == "trusted" && nodes["items"][0]["last_sequence"] > 1;
  })) << trusted->errors();
  EXPECT_TRUE(testing::waitFor([&] {
    return testing::httpGet(api + "/metrics")
               .body.find("fleetscale_ingest_disconnects_total{reason=\"tls_handshake\"}") !=
           std::string::npos;
  }));
  EXPECT_EQ(testing::httpGetJson(api + "/api/v1/nodes")["items"].size(), 1u)
      << "neither the agent without a certificate nor the plain one got in";
}

TEST(AggregatorTest, SighupReloadsTheTokenAndRecordsIt) {
  testing::TempDir dir;
  testing::writeFile(dir.file("token"), "old-token\n");
  auto aggregator = startAggregator(dir, "127.0.0.1:0", {"--token-file", dir.file("token")});
  const Ports ports = waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(ports.http, 0) << aggregator->errors();
  testing::writeFile(dir.file("token"), "new-token\n");
  ::kill(aggregator->pid(), SIGHUP);
  const std::string api = "http://127.0.0.1:" + std::to_string(ports.http);
  EXPECT_TRUE(testing::waitFor([&] {
    auto events = testing::httpGetJson(api + "/api/v1/events?kind=config_reload");
    return events.is_object() && events["items"].size() == 1 &&
           events["items"][0]["message"] == "token files reloaded";
  }));
  auto load = startLoad(ports.ingest, {"--agents", "1", "--containers", "1", "--interval", "100ms",
                                       "--duration", "1s", "--token-file", dir.file("token")});
  ASSERT_TRUE(load->wait(seconds(20)).has_value());
  const auto report = json::parse(load->output(), nullptr, false);
  ASSERT_TRUE(report.is_object()) << load->errors();
  EXPECT_GT(report["batches_acked"].get<int>(), 0) << "the new token is accepted";
  EXPECT_TRUE(aggregator->running()) << "SIGHUP does not stop the aggregator";
}

}  // namespace
}  // namespace fleetscale
