// A running fleet whose workload has requests-per-core: its pods are annotated for scraping in the
// kubelet's /pods, and http://<podIP>:<port>/metrics answers with a request counter that grows,
// until the pod's cluster is killed.
#include <gtest/gtest.h>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/testing/wait.h"
#include "sim_test_support.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using namespace testsupport;

class SimPodMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Scenario scenario;
    scenario.name = "pod-metrics";
    scenario.clusters = {cluster("aws-us-east-1", "aws", CgroupDriver::kSystemd, 2),
                         cluster("gcp-europe-west1", "gcp", CgroupDriver::kCgroupfs, 1)};
    WorkloadSpec checkout =
        workload("checkout", {{"aws-us-east-1", 1}, {"gcp-europe-west1", 1}}, 1);
    checkout.requestsPerCore = 200;  // 0.5 cores each: 100 requests/s
    scenario.workloads = {checkout};
    simulator_ = std::make_unique<FleetSimulator>(scenario, options(state_.path()), clock_);
    ASSERT_TRUE(simulator_->start());
    port_ = simulator_->podMetricsPort();
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (simulator_) simulator_->stop();
  }

  // The address of the cluster's checkout pod, from the simulator's state.
  std::string podIp(const std::string& clusterName) {
    const json state = simulator_->stateJson();
    for (const auto& cluster : state["clusters"]) {
      if (cluster["name"] != clusterName) continue;
      for (const auto& pod : cluster["pods"]) {
        if (pod["workload"] == "shop/checkout") return pod["pod_ip"];
      }
    }
    return "";
  }

  Result<HttpClientResponse> scrape(const std::string& address) {
    HttpClientRequest request;
    request.url = "http://" + address + ":" + std::to_string(port_) + "/metrics";
    request.connectTimeout = std::chrono::milliseconds(500);
    request.totalTimeout = seconds(3);
    return client_.send(request);
  }

  // http_requests_total of the pod at `address`; -1 when it cannot be had.
  double requestsTotal(const std::string& address) {
    auto response = scrape(address);
    if (!response || response->status != 200) return -1;
    const std::string marker = "http_requests_total{code=\"200\"} ";
    const auto at = response->body.find(marker);
    if (at == std::string::npos) return -1;
    const auto value =
        parseDouble(trim(std::string_view(response->body).substr(at + marker.size())));
    return value ? *value : -1;
  }

  SystemClock clock_;
  testing::TempDir state_{"sim-pod-metrics"};
  std::unique_ptr<FleetSimulator> simulator_;
  std::uint16_t port_ = 0;
  CurlHttpClient client_;
};

TEST_F(SimPodMetricsTest, PodsServeAGrowingRequestCounterAtTheirAddress) {
  EXPECT_EQ(simulator_->endpointsJson()["pod_metrics_port"], port_) << "how a client learns it";
  const std::string aws = podIp("aws-us-east-1");
  ASSERT_EQ(aws.rfind("127.100.", 0), 0u) << aws;

  // The kubelet's /pods has the address and the annotations the agent scrapes by.
  const ClusterEndpoints* endpoints = simulator_->findEndpoints("aws-us-east-1");
  bool listed = false;
  for (const auto& node : endpoints->nodes) {
    const auto response =
        httpsGet(*endpoints, node.kubeletUrl + "/pods", token(*endpoints, "agent"));
    ASSERT_EQ(response.status, 200);
    const json list = json::parse(response.body);
    for (const auto& pod : list["items"]) {
      if (pod["status"].value("podIP", "") != aws) continue;
      listed = true;
      const json& annotations = pod["metadata"]["annotations"];
      EXPECT_EQ(annotations["fleetscale.io/scrape"], "true");
      EXPECT_EQ(annotations["fleetscale.io/port"], std::to_string(port_));
      EXPECT_EQ(annotations["fleetscale.io/path"], "/metrics");
    }
  }
  EXPECT_TRUE(listed) << aws << " in no kubelet's /pods";

  auto response = scrape(aws);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(response->body.find("# TYPE http_requests_total counter\n"), std::string::npos);
  const double first = requestsTotal(aws);
  ASSERT_GE(first, 0);
  EXPECT_TRUE(testing::waitFor([&] { return requestsTotal(aws) >= first + 10; }, seconds(10)))
      << "100 requests/s: ten more within a tenth of a second or so";
}

TEST_F(SimPodMetricsTest, AKilledClustersPodsStopAnsweringAndComeBackWithIt) {
  const std::string aws = podIp("aws-us-east-1");
  const std::string gcp = podIp("gcp-europe-west1");
  ASSERT_GE(requestsTotal(gcp), 0);

  FaultSpec kill;
  kill.kind = FaultKind::kKillCluster;
  kill.cluster = "gcp-europe-west1";
  ASSERT_TRUE(simulator_->inject(kill));
  EXPECT_FALSE(scrape(gcp).ok()) << "no answer from a dead cluster's pod";
  EXPECT_GE(requestsTotal(aws), 0) << "the other cluster's pods still answer";

  FaultSpec revive = kill;
  revive.kind = FaultKind::kReviveCluster;
  ASSERT_TRUE(simulator_->inject(revive));
  EXPECT_TRUE(testing::waitFor([&] { return scrape(gcp).ok(); }, seconds(10)));
}

}  // namespace
}  // namespace fleetscale::sim
