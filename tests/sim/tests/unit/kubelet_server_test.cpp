// The fake kubelet over real HTTPS, from a real HTTP client.
#include "fleetscale/sim/kubelet_server.h"

#include <gtest/gtest.h>

#include <thread>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/testing/test_pki.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

class KubeletServerTest : public ::testing::Test {
 protected:
  static Scenario scenario() {
    Scenario s;
    ClusterSpec cluster;
    cluster.name = "gcp-europe-west1";
    cluster.cloud = "gcp";
    cluster.region = "europe-west1";
    cluster.nodes = 2;
    s.clusters.push_back(cluster);
    WorkloadSpec web;
    web.name = "web";
    web.replicas = {{"gcp-europe-west1", 4}};
    web.resources = {0.25, 0.5, 64.0 * 1024 * 1024, 128.0 * 1024 * 1024};
    s.workloads.push_back(web);
    return s;
  }

  KubeletServerTest() : fleet_(scenario(), clock_) {
    auto pki = makeTestPki();
    if (!pki) throw std::runtime_error(pki.error().message);
    auto tokens = std::make_shared<TokenBook>();
    tokens->add("agent", {"system:serviceaccount:fleetscale:fleetscale-agent", Role::kAgent});
    tokens->add("controller",
                {"system:serviceaccount:fleetscale:fleetscale-aggregator", Role::kController});
    {
      std::lock_guard lock(fleet_.mutex);
      fleet_.model.step(SimTime{0});
      node_ = fleet_.model.clusters()[0].nodes()[0].name;
    }
    kubelet_ = std::make_unique<FakeKubelet>(
        io_, makeServerTls(pki->server.certificate, pki->server.privateKey), fleet_,
        "gcp-europe-west1", node_, tokens);
    kubelet_->start();
    thread_ = std::thread([this] { io_.run(); });
    TlsClientOptions tls;
    tls.caPem = pki->ca.certificate;
    client_ = std::make_unique<CurlHttpClient>(tls);
  }
  ~KubeletServerTest() override {
    kubelet_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  HttpClientResponse get(const std::string& path, const std::string& token = "agent") {
    HttpClientRequest request;
    request.url = kubelet_->url() + path;
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    auto response = client_->send(request);
    return response ? *response : HttpClientResponse{};
  }

  SystemClock clock_;
  SharedFleet fleet_;
  std::string node_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::unique_ptr<FakeKubelet> kubelet_;
  std::thread thread_;
  std::unique_ptr<CurlHttpClient> client_;
};

TEST_F(KubeletServerTest, ServesThePodsBoundToItsNode) {
  const auto response = get("/pods");
  ASSERT_EQ(response.status, 200);
  const json list = json::parse(response.body);
  EXPECT_EQ(list["kind"], "PodList");
  EXPECT_EQ(list["apiVersion"], "v1");
  int web = 0;
  for (const auto& pod : list["items"]) {
    EXPECT_EQ(pod["spec"]["nodeName"], node_);
    if (pod["metadata"]["labels"].contains("app")) ++web;
  }
  EXPECT_EQ(web, 2);                    // four replicas spread over two nodes
  EXPECT_EQ(list["items"].size(), 3u);  // and kube-proxy
}

TEST_F(KubeletServerTest, AuthRulesAreTheKubelets) {
  const auto anonymous = get("/pods", "");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.body, "Unauthorized");
  EXPECT_EQ(get("/pods", "forged").status, 401);
  const auto forbidden = get("/pods", "controller");
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(forbidden.body,
            "Forbidden (user=system:serviceaccount:fleetscale:fleetscale-aggregator, verb=get, "
            "resource=nodes, subresource=proxy)");
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(get("/stats/summary").status, 404);
}

TEST_F(KubeletServerTest, GarbageModesBreakTheBodyInDifferentWays) {
  kubelet_->setGarbage(KubeletGarbage::kGarbage);
  EXPECT_TRUE(json::parse(get("/pods").body, nullptr, false).is_discarded());
  kubelet_->setGarbage(KubeletGarbage::kTruncated);
  EXPECT_TRUE(json::parse(get("/pods").body, nullptr, false).is_discarded());
  kubelet_->setGarbage(KubeletGarbage::kWrongTypes);
  const json wrong = json::parse(get("/pods").body, nullptr, false);
  ASSERT_FALSE(wrong.is_discarded());
  EXPECT_FALSE(wrong["items"].is_array());
  kubelet_->setGarbage(KubeletGarbage::kEmpty);
  EXPECT_EQ(get("/pods").body, "");
  kubelet_->setGarbage(KubeletGarbage::kStatus500);
  EXPECT_EQ(get("/pods").status, 500);
  kubelet_->setGarbage(KubeletGarbage::kNone);
  EXPECT_FALSE(json::parse(get("/pods").body, nullptr, false).is_discarded());
  EXPECT_EQ(kubeletGarbageOf("wrong-types"), KubeletGarbage::kWrongTypes);
  EXPECT_EQ(kubeletGarbageOf("fine"), KubeletGarbage::kNone);
}

}  // namespace
}  // namespace fleetscale::sim
