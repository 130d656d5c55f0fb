// The real fleetscale-agent against a fake kubelet (HTTPS, token, test CA): pod metadata in
// --once and in the stream, and a kubelet that hangs, fails, talks garbage or refuses the token
// never stops samples from flowing to the real aggregator.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/cgroup_tree.h"
#include "fleetscale/testing/fake_kubelet.h"
#include "fleetscale/testing/fleet_processes.h"
#include "fleetscale/testing/http.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/test_http_server.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale {
namespace {

using std::chrono::seconds;
using Mode = testing::FakeKubelet::Mode;

// From tests/fixtures/kubelet/pods_docker-era_minikube.json: a DaemonSet pod and a static pod.
const std::string kAgentId = "69d7203a8f2d2d027ffa51d61002eac63357f22a17403363ef79e66d1c3146b2";
const std::string kAgentCgroup =
    "/kubepods.slice/kubepods-burstable.slice/"
    "kubepods-burstable-podd2026c86_11a3_11e8_a084_080027352a02.slice/docker-" +
    kAgentId + ".scope";
const std::string kStaticId = "4c3ce07424670ccd46561eb1498a2759de4da4a7c2cd460fef147afefe4db150";
const std::string kStaticCgroup =
    "/kubepods/burstable/pod38d78cbd438e068d417c11c848b26f09/" + kStaticId;

std::string podList() {
  return *readFile(testing::fixturePath("kubelet/pods_docker-era_minikube.json"));
}

class AgentKubeletTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::writeV2Container(dir_.file("cgroup"), kAgentCgroup, {1'000'000, 64 << 20, 0, 0});
    testing::writeV2Container(dir_.file("cgroup"), kStaticCgroup, {1'000'000, 32 << 20, 0, 0});
  }
  std::vector<std::string> kubeletFlags() const {
    return {"--metadata",
            "kubelet",
            "--kubelet-url",
            kubelet_.url(),
            "--kubelet-token-file",
            kubelet_.tokenFile(),
            "--kubelet-ca-file",
            kubelet_.caFile(),
            "--cgroup-root",
            dir_.file("cgroup"),
            "--mountinfo",
            "/dev/null",
            "--node",
            "minikube"};
  }

  // The node's last batch sequence the aggregator at `api` accepted; -1 before the first.
  static double lastSequenceAt(const std::string& api) {
    auto nodes = testing::httpGetJson(api + "/api/v1/nodes");
    return nodes.is_object() && nodes["items"].size() == 1
               ? nodes["items"][0]["last_sequence"].get<double>()
               : -1.0;
  }
  static double agentMetric(const std::string& metricsUrl, const std::string& series) {
    return testing::scrape(metricsUrl, series).value_or(-1);
  }

  testing::TempDir dir_;
  testing::FakeKubelet kubelet_{podList()};
};

TEST_F(AgentKubeletTest, OnceOutputCarriesThePodsMetadata) {
  auto args = kubeletFlags();
  args.insert(args.end(), {"--once", "--interval", "200ms"});
  auto result = testing::runCommand(testing::binaryPath("fleetscale-agent"), args);
  ASSERT_EQ(result.status, 0) << result.errors;
  auto json = nlohmann::json::parse(result.output);
  std::map<std::string, nlohmann::json> byId;
  for (const auto& container : json["containers"]) byId[container["id"]] = container;
  ASSERT_EQ(byId.size(), 2u) << result.output;

  const auto& agent = byId.at(kAgentId);
  EXPECT_EQ(agent["pod"], "newrelic-infra-rz225");
  EXPECT_EQ(agent["pod_uid"], "d2026c86-11a3-11e8-a084-080027352a02");
  EXPECT_EQ(agent["namespace"], "kube-system");
  EXPECT_EQ(agent["container"], "newrelic-infra");
  EXPECT_EQ(agent["workload_kind"], "DaemonSet");
  EXPECT_EQ(agent["workload"], "newrelic-infra");
  EXPECT_DOUBLE_EQ(agent["cpu_request_cores"].get<double>(), 0.1);
  EXPECT_EQ(agent["memory_request_bytes"], 100u << 20);
  EXPECT_EQ(agent["ready"], true);
  EXPECT_EQ(agent["runtime"], "docker");

  const auto& staticPod = byId.at(kStaticId);
  EXPECT_EQ(staticPod["pod"], "kube-controller-manager-minikube");
  EXPECT_EQ(staticPod["runtime"], "docker") << "cgroupfs path; the kubelet names the runtime";
  EXPECT_FALSE(staticPod.contains("workload_kind")) << "a static pod has no owner";
  EXPECT_FALSE(staticPod.contains("memory_request_bytes"));
}

TEST_F(AgentKubeletTest, InsecureSkipVerifyWorksAndIsWarnedAbout) {
  auto args = kubeletFlags();
  const auto ca = std::find(args.begin(), args.end(), "--kubelet-ca-file");
  args.erase(ca, ca + 2);
  args.insert(args.end(), {"--once", "--interval", "100ms"});
  auto verified = testing::runCommand(testing::binaryPath("fleetscale-agent"), args);
  ASSERT_EQ(verified.status, 0) << verified.errors;
  EXPECT_EQ(verified.output.find("newrelic-infra-rz225"), std::string::npos)
      << "without the CA the kubelet is not trusted";
  EXPECT_NE(verified.errors.find("metadata refresh failed"), std::string::npos);

  args.push_back("--kubelet-insecure-skip-verify");
  auto insecure = testing::runCommand(testing::binaryPath("fleetscale-agent"), args);
  ASSERT_EQ(insecure.status, 0) << insecure.errors;
  EXPECT_NE(insecure.output.find("newrelic-infra-rz225"), std::string::npos);
  EXPECT_NE(insecure.errors.find("NOT verified"), std::string::npos) << insecure.errors;
}

TEST_F(AgentKubeletTest, KubeletFaultsNeverStopSamples) {
  testing::Process aggregator(testing::binaryPath("fleetscale-aggregator"),
                              {"--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                               "--http-anonymous-reads", "--ready-file", dir_.file("ready.json")});
  const auto ports = testing::waitForReadyFile(dir_.file("ready.json"));
  ASSERT_GT(ports.http, 0) << aggregator.errors();
  const std::string api = "http://127.0.0.1:" + std::to_string(ports.http);
  auto args = kubeletFlags();
  args.insert(args.end(), {"--aggregator", "127.0.0.1:" + std::to_string(ports.ingest),
                           "--interval", "100ms", "--metadata-interval", "100ms",
                           "--metadata-timeout", "500ms", "--metrics-listen", "127.0.0.1:0"});
  testing::Process agent(testing::binaryPath("fleetscale-agent"), args);
  const std::string metrics =
      "http://127.0.0.1:" + std::to_string(testing::waitForAgentMetricsPort(agent)) + "/metrics";
  const auto metric = [&](const std::string& series) { return agentMetric(metrics, series); };
  const auto lastSequence = [&] { return lastSequenceAt(api); };
  const auto podOf = [&](const std::string& id) {
    auto containers = testing::httpGetJson(api + "/api/v1/containers");
    if (!containers.is_object()) return std::string();
    for (const auto& c : containers["items"]) {
      if (c["id"] == id) return c["pod"].get<std::string>();
    }
    return std::string();
  };
  ASSERT_TRUE(testing::waitFor([&] { return podOf(kAgentId) == "newrelic-infra-rz225"; }))
      << agent.errors();

  const std::string series = "fleetscale_agent_metadata_errors_total{reason=\"";
  const std::pair<Mode, std::string> faults[] = {{Mode::kHang, "transport"},
                                                 {Mode::kServerError, "http_status"},
                                                 {Mode::kGarbage, "parse"},
                                                 {Mode::kUnauthorized, "unauthorized"}};
  for (const auto& [mode, reason] : faults) {
    kubelet_.setMode(mode);
    const double sequence = lastSequence();
    const std::string errors = series + reason + "\",source=\"kubelet\"}";
    ASSERT_TRUE(testing::waitFor([&] { return metric(errors) >= 1; })) << reason;
    ASSERT_TRUE(testing::waitFor([&] { return lastSequence() >= sequence + 5; }))
        << "samples stopped while the kubelet fails with " << reason;
    EXPECT_EQ(podOf(kAgentId), "newrelic-infra-rz225") << "the last good metadata is kept";
  }
  EXPECT_GT(metric("fleetscale_agent_metadata_staleness_seconds{source=\"kubelet\"}"), 0.5);
  const std::string log = agent.errors();
  std::size_t warnings = 0;
  for (std::size_t at = log.find("metadata refresh failed"); at != std::string::npos;
       at = log.find("metadata refresh failed", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << "repeated failures are logged once a minute, not every 100 ms";

  kubelet_.setMode(Mode::kServe);
  EXPECT_TRUE(testing::waitFor([&] {
    return metric("fleetscale_agent_metadata_staleness_seconds{source=\"kubelet\"}") < 0.5;
  }));
  EXPECT_TRUE(testing::waitFor(
      [&] { return agent.errors().find("refreshed again") != std::string::npos; }));
  EXPECT_EQ(testing::httpGet(metrics.substr(0, metrics.size() - 8) + "/healthz").status, 200);
  EXPECT_EQ(agent.stop(SIGTERM), 0);
  EXPECT_EQ(aggregator.stop(SIGTERM), 0);
}

// A pod that asks to be scraped and whose endpoint hangs, answers 100 MB or garbage: each
// fault is counted by result, and the agent's batches keep coming every tick. Once it answers,
// its series go out with the samples (in --once's output here).
TEST_F(AgentKubeletTest, APodsBrokenMetricsEndpointNeverStopsSamples) {
  enum class Endpoint { kServe, kHang, kHuge, kGarbage };
  std::atomic<Endpoint> endpoint{Endpoint::kServe};
  HttpServerOptions options;
  options.responseDelay = [&] {
    return endpoint == Endpoint::kHang ? std::chrono::milliseconds(std::chrono::minutes(1))
                                       : std::chrono::milliseconds(0);
  };
  testing::TestHttpServer pod(
      [&](HttpRequest&) {
        switch (endpoint.load()) {
          case Endpoint::kHuge:
            return HttpResponse::text(200, std::string(100 << 20, '9'));
          case Endpoint::kGarbage:
            return HttpResponse::text(200, "<html>\x01\x02 not metrics {{{");
          default:
            return HttpResponse::text(200, "# TYPE queue_depth gauge\nqueue_depth 17\n");
        }
      },
      options);
  auto pods = nlohmann::json::parse(podList());
  for (auto& item : pods["items"]) {
    if (item["metadata"]["name"] != "newrelic-infra-rz225") continue;
    item["metadata"]["annotations"] = {{"fleetscale.io/scrape", "true"},
                                       {"fleetscale.io/port", std::to_string(pod.port())}};
    item["status"]["podIP"] = "127.0.0.1";
  }
  kubelet_.setPodList(pods.dump());

  auto once = kubeletFlags();
  once.insert(once.end(), {"--once", "--interval", "200ms"});
  auto result = testing::runCommand(testing::binaryPath("fleetscale-agent"), once);
  ASSERT_EQ(result.status, 0) << result.errors;
  const auto sent = nlohmann::json::parse(result.output);
  ASSERT_EQ(sent["pod_metrics"].size(), 1u) << result.output;
  EXPECT_EQ(sent["pod_metrics"][0]["pod_uid"], "d2026c86-11a3-11e8-a084-080027352a02");
  EXPECT_EQ(sent["pod_metrics"][0]["series"][0]["name"], "queue_depth");
  EXPECT_EQ(sent["pod_metrics"][0]["series"][0]["value"], 17);

  testing::Process aggregator(testing::binaryPath("fleetscale-aggregator"),
                              {"--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                               "--http-anonymous-reads", "--ready-file", dir_.file("ready.json")});
  const auto ports = testing::waitForReadyFile(dir_.file("ready.json"));
  ASSERT_GT(ports.http, 0) << aggregator.errors();
  const std::string api = "http://127.0.0.1:" + std::to_string(ports.http);
  auto args = kubeletFlags();
  args.insert(args.end(),
              {"--aggregator", "127.0.0.1:" + std::to_string(ports.ingest), "--interval", "200ms",
               "--metadata-interval", "200ms", "--metrics-listen", "127.0.0.1:0"});
  testing::Process agent(testing::binaryPath("fleetscale-agent"), args);
  const std::string metrics =
      "http://127.0.0.1:" + std::to_string(testing::waitForAgentMetricsPort(agent)) + "/metrics";
  const auto metric = [&](const std::string& series) { return agentMetric(metrics, series); };
  const auto lastSequence = [&] { return lastSequenceAt(api); };
  ASSERT_TRUE(testing::waitFor([&] {
    return metric("fleetscale_agent_scrapes_total{result=\"ok\"}") >= 1;
  })) << agent.errors();
  const std::pair<Endpoint, std::string> faults[] = {
      {Endpoint::kHang, "timeout"}, {Endpoint::kHuge, "too_large"}, {Endpoint::kGarbage, "parse"}};
  for (const auto& [fault, outcome] : faults) {
    endpoint = fault;
    const double sequence = lastSequence();
    ASSERT_TRUE(testing::waitFor(
        [&] { return metric("fleetscale_agent_scrapes_total{result=\"" + outcome + "\"}") >= 1; },
        std::chrono::seconds(30)))
        << outcome << "\n"
        << agent.errors();
    ASSERT_TRUE(testing::waitFor([&] { return lastSequence() >= sequence + 5; }))
        << "samples stopped while a pod's endpoint fails with " << outcome;
  }
  EXPECT_GE(metric("fleetscale_agent_scrapes_total{result=\"skipped\"}"), 1)
      << "a failed endpoint is backed off";
  // 100 MB answers are cut off at --scrape-max-bytes (1 MiB): the agent's peak memory shows it.
  const auto status = readFile("/proc/" + std::to_string(agent.pid()) + "/status");
  ASSERT_TRUE(status.ok());
  const auto peak = status->find("VmHWM:");
  ASSERT_NE(peak, std::string::npos);
  EXPECT_LT(std::stod(status->substr(peak + 6)), 64 * 1024) << "kB: " << status->substr(peak, 30);
  EXPECT_EQ(agent.stop(SIGTERM), 0);
  EXPECT_EQ(aggregator.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace fleetscale
