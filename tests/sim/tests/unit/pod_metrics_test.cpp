// The pods' Prometheus endpoints: the scrape annotations and loopback addresses the pods get,
// what an endpoint answers for which address, and the one server standing in for all of them,
// from a real HTTP client dialling the pods' addresses.
#include "fleetscale/sim/pod_metrics.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <map>
#include <set>
#include <thread>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/sim/kube_objects.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr std::uint16_t kPort = 9797;  // the port the annotations name, in the model-only tests

Scenario scenario() {
  Scenario s;
  for (const char* name : {"aws-us-east-1", "gcp-europe-west1"}) {
    ClusterSpec cluster;
    cluster.name = name;
    cluster.nodes = 2;
    cluster.schedulingDelaySeconds = 1;
    cluster.readinessDelaySeconds = 1;
    s.clusters.push_back(cluster);
  }
  WorkloadSpec web;
  web.name = "web";
  web.namespaceName = "shop";
  web.replicas = {{"aws-us-east-1", 2}, {"gcp-europe-west1", 2}};
  web.resources = {0.25, 2.0, 64.0 * 1024 * 1024, 128.0 * 1024 * 1024};
  web.cpu = LoadCurve::constant(2);  // 0.5 cores for each of the four
  web.requestsPerCore = 100;
  s.workloads.push_back(web);
  WorkloadSpec batch = web;
  batch.name = "batch";
  batch.requestsPerCore.reset();
  batch.replicas = {{"aws-us-east-1", 1}};
  s.workloads.push_back(batch);
  return s;
}

const PodState& podOf(const ClusterModel& cluster, const std::string& workload, int nth = 0) {
  for (const auto& pod : cluster.pods()) {
    if (pod.workload == workload && nth-- == 0) return pod;
  }
  throw std::runtime_error("no pod of " + workload);
}

HttpRequest requestTo(const std::string& address, const std::string& path = "/metrics") {
  HttpRequest request;
  request.method = "GET";
  request.path = path;
  request.target = path;
  request.localAddress = address;
  return request;
}

TEST(PodMetricsTest, WorkloadsWithRequestsPerCoreAreAnnotatedForScraping) {
  FleetModel model(scenario(), WallTime{}, kPort);
  model.step(SimTime{0});
  const ClusterModel& aws = model.clusters()[0];
  const json expected = {{"fleetscale.io/scrape", "true"},
                         {"fleetscale.io/port", "9797"},
                         {"fleetscale.io/path", "/metrics"}};
  const WorkloadObject* web = aws.find(WorkloadKind::kDeployment, "shop", "web");
  ASSERT_NE(web, nullptr);
  // `kubectl get deploy -o yaml` shows them on the template...
  EXPECT_EQ(web->object["spec"]["template"]["metadata"]["annotations"], expected);
  // ...and every pod made from it carries them, next to what the kubelet adds.
  const json pod = podJson(aws, podOf(aws, "web"), SimTime{0});
  for (const auto& [key, value] : expected.items()) {
    EXPECT_EQ(pod["metadata"]["annotations"][key], value) << key;
  }
  EXPECT_TRUE(pod["metadata"]["annotations"].contains("kubernetes.io/config.source"));

  const WorkloadObject* batch = aws.find(WorkloadKind::kDeployment, "shop", "batch");
  EXPECT_FALSE(batch->object["spec"]["template"]["metadata"].contains("annotations"));
  EXPECT_FALSE(podJson(aws, podOf(aws, "batch"), SimTime{0})["metadata"]["annotations"].contains(
      "fleetscale.io/scrape"));
}

TEST(PodMetricsTest, PodsHaveUniqueLoopbackAddressesAndHostNetworkPodsTheirNodes) {
  FleetModel model(scenario(), WallTime{}, kPort);
  model.step(SimTime{0});
  std::set<std::string> addresses;
  for (const ClusterModel& cluster : model.clusters()) {
    for (const PodState& pod : cluster.pods()) {
      const json status = podJson(cluster, pod, SimTime{0})["status"];
      if (pod.isSystem()) {  // kube-proxy: hostNetwork
        EXPECT_EQ(status["podIP"],
                  cluster.nodes()[static_cast<std::size_t>(pod.nodeIndex)].internalIp);
        continue;
      }
      const std::string prefix = "127." + std::to_string(100 + cluster.index()) + "." +
                                 std::to_string(pod.nodeIndex) + ".";
      EXPECT_EQ(pod.podIp.rfind(prefix, 0), 0u) << pod.podIp;
      EXPECT_EQ(status["podIP"], pod.podIp);
      EXPECT_EQ(status["podIPs"][0]["ip"], pod.podIp);
      EXPECT_EQ(clusterOfPodIp(pod.podIp), cluster.index());
      EXPECT_TRUE(addresses.insert(pod.podIp).second) << "twice: " << pod.podIp;
    }
  }
  EXPECT_EQ(addresses.size(), 5u);
  EXPECT_EQ(clusterOfPodIp("127.0.0.1"), -1);
  EXPECT_EQ(clusterOfPodIp("10.100.0.2"), -1);
}

TEST(PodMetricsTest, ScaledDownAndUpAgainPodsNeverShareAnAddress) {
  Scenario s = scenario();
  s.clusters.resize(1);
  s.clusters[0].nodes = 1;
  s.workloads.resize(1);
  ClusterModel cluster(s.clusters[0], 0, s.workloads, 1, WallTime{}, kPort);
  cluster.advance(SimTime{0});
  std::set<std::string> made;  // pod uids
  // Churn far past the node's 253 addresses (a new pod every other round) while the first two
  // pods live on.
  for (int round = 1; round <= 600; ++round) {
    ASSERT_TRUE(cluster
                    .setReplicas(WorkloadKind::kDeployment, "shop", "web", round % 2 ? 3 : 2, "",
                                 seconds(round))
                    .ok());
    cluster.advance(seconds(round));
    std::set<std::string> live;
    for (const auto& pod : cluster.pods()) {
      if (pod.isSystem()) continue;
      ASSERT_TRUE(pod.bound()) << "round " << round;
      made.insert(pod.uid);
      ASSERT_TRUE(live.insert(pod.podIp).second) << "round " << round << ": " << pod.podIp;
    }
  }
  EXPECT_GT(made.size(), 253u) << "the addresses came round again";
}

TEST(PodMetricsTest, AnEndpointShowsItsPodsRequestCounter) {
  SystemClock clock;
  SharedFleet fleet(scenario(), clock, kPort);
  std::string webIp, batchIp;
  double requests = 0;
  {
    std::lock_guard lock(fleet.mutex);
    fleet.model.step(SimTime{0});
    fleet.model.step(seconds(2));
    const PodState& web = podOf(fleet.model.clusters()[0], "web");
    webIp = web.podIp;
    requests = web.counters.requests;
    batchIp = podOf(fleet.model.clusters()[0], "batch").podIp;
  }
  EXPECT_NEAR(requests, 100, 1e-9) << "0.5 cores x 100 requests per core x 2 s";

  const HttpResponse response = podMetricsResponse(fleet, requestTo(webIp));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.contentType, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(response.body,
            "# HELP http_requests_total Requests served by this pod.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{code=\"200\"} 100\n");
  EXPECT_EQ(podMetricsText(1234.5).substr(podMetricsText(1234.5).rfind(' ')), " 1234.5\n");

  EXPECT_EQ(podMetricsResponse(fleet, requestTo(batchIp)).status, 404) << "not annotated";
  EXPECT_EQ(podMetricsResponse(fleet, requestTo("127.100.0.250")).status, 404) << "no such pod";
  EXPECT_EQ(podMetricsResponse(fleet, requestTo("127.0.0.1")).status, 404);
  EXPECT_EQ(podMetricsResponse(fleet, requestTo(webIp, "/other")).status, 404);
}

TEST(PodMetricsTest, AKilledClustersPodsAndAddressesOffLoopbackAreNotAnswered) {
  SystemClock clock;
  SharedFleet fleet(scenario(), clock, kPort);
  std::string awsIp, gcpIp;
  {
    std::lock_guard lock(fleet.mutex);
    fleet.model.step(SimTime{0});
    awsIp = podOf(fleet.model.clusters()[0], "web").podIp;
    gcpIp = podOf(fleet.model.clusters()[1], "web").podIp;
    fleet.model.setAlive("gcp-europe-west1", false, SimTime{0});
  }
  EXPECT_TRUE(podAddressAnswers(fleet, awsIp));
  EXPECT_FALSE(podAddressAnswers(fleet, gcpIp));
  EXPECT_FALSE(podAddressAnswers(fleet, "127.101.1.77")) << "the whole pod range is gone";
  EXPECT_TRUE(podAddressAnswers(fleet, "127.0.0.1")) << "no cluster's: answered, with a 404";
  EXPECT_FALSE(podAddressAnswers(fleet, "192.168.1.20"));
  EXPECT_FALSE(podAddressAnswers(fleet, ""));
}

// The server on 0.0.0.0 answering for every pod address, dialled by a real client.
TEST(PodMetricsTest, OneServerAnswersForEveryPodByTheAddressDialled) {
  SystemClock clock;
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  PodMetricsServer server(io);
  ASSERT_NE(server.port(), 0);
  SharedFleet fleet(scenario(), clock, server.port());
  {
    std::lock_guard lock(fleet.mutex);
    fleet.model.step(SimTime{0});
    fleet.model.step(seconds(3));
  }
  server.serve(fleet);
  std::thread thread([&io] { io.run(); });
  CurlHttpClient client;
  auto get = [&](const std::string& address) {
    HttpClientRequest request;
    request.url = "http://" + address + ":" + std::to_string(server.port()) + "/metrics";
    request.connectTimeout = std::chrono::milliseconds(500);
    request.totalTimeout = std::chrono::seconds(3);
    return client.send(request);
  };

  std::string gcpIp;
  std::map<std::string, double> expected;
  {
    std::lock_guard lock(fleet.mutex);
    for (const auto& cluster : fleet.model.clusters()) {
      for (int nth = 0; nth < 2; ++nth) {
        const PodState& pod = podOf(cluster, "web", nth);
        expected[pod.podIp] = pod.counters.requests;
      }
    }
    gcpIp = podOf(fleet.model.clusters()[1], "web").podIp;
    // The annotation names the port the server listens on.
    EXPECT_EQ(podOf(fleet.model.clusters()[0], "web").annotations.at("fleetscale.io/port"),
              std::to_string(server.port()));
  }
  ASSERT_EQ(expected.size(), 4u);
  for (const auto& [address, requests] : expected) {
    auto response = get(address);
    ASSERT_TRUE(response.ok()) << address << ": " << response.error().message;
    EXPECT_EQ(response->status, 200) << address;
    EXPECT_EQ(response->body, podMetricsText(requests)) << address;
    EXPECT_EQ(response->headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  }
  auto unknown = get("127.100.1.250");
  ASSERT_TRUE(unknown.ok()) << unknown.error().message;
  EXPECT_EQ(unknown->status, 404) << "no pod has that address";

  {
    std::lock_guard lock(fleet.mutex);
    fleet.model.setAlive("gcp-europe-west1", false, seconds(3));
  }
  EXPECT_FALSE(get(gcpIp).ok()) << "a killed cluster's pods do not answer";
  EXPECT_TRUE(get(expected.begin()->first).ok()) << "the other cluster's still do";

  server.stop();
  work.reset();
  thread.join();
}

}  // namespace
}  // namespace fleetscale::sim
