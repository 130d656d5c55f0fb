// GET /api/v1/recommendations and the recommendation gauges, over a feed fed by hand.
#include "fleetscale/aggregator/api/rightsizing_routes.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

class RightsizingRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two workloads, one replica each: web's app at 0.2 cores of 1, api's at 0.4 of 0.25.
    for (int second = 0; second < 60; ++second) {
      FleetSnapshot snapshot;
      snapshot.takenAt = WallTime{std::chrono::seconds(1'700'000'000 + second)};
      for (const auto& [name, cpu, request] :
           {std::tuple{"api", 0.4, 0.25}, std::tuple{"web", 0.2, 1.0}}) {
        WorkloadSnapshot workload;
        workload.key = {"shop", "Deployment", name};
        workload.total.replicasSeen = 1;
        PodSample pod;
        pod.cluster = "aws";
        pod.pod = std::string(name) + "-1";
        ContainerFigures figures;
        figures.name = "app";
        figures.cpuUsageCores = cpu;
        figures.cpuRequestCores = request;
        figures.memoryUsageBytes = 100e6;
        figures.memoryRequestBytes = 200e6;
        pod.byContainer.push_back(figures);
        workload.pods.push_back(pod);
        snapshot.workloads.push_back(workload);
      }
      feed_.observe(snapshot);
    }
    feed_.publish(WallTime{std::chrono::seconds(1'700'000'060)});
    addRightsizingRoutes(router_, feed_);
  }

  json get(const std::string& path, std::map<std::string, std::string> query = {}) {
    HttpRequest request;
    request.method = "GET";
    request.path = path;
    request.query = std::move(query);
    const auto response = router_.handle(request);
    EXPECT_EQ(response.status, 200) << response.body;
    return json::parse(response.body);
  }

  PolicyHolder policy_;
  RightsizingFeed feed_{nullptr, policy_};
  HttpRouter router_;
};

TEST_F(RightsizingRoutesTest, ListsEveryContainerWithCurrentAndRecommendedFigures) {
  const auto body = get("/api/v1/recommendations");
  ASSERT_EQ(body["items"].size(), 2U);
  const auto& api = body["items"][0];
  EXPECT_EQ(api["workload"], "api");
  EXPECT_EQ(api["container"], "app");
  EXPECT_EQ(api["mode"], "recommend");
  EXPECT_EQ(api["applied"], true);
  EXPECT_EQ(api["replicas"], 1);
  EXPECT_DOUBLE_EQ(api["cpu_cores"]["request"].get<double>(), 0.25);
  EXPECT_TRUE(api["cpu_cores"]["limit"].is_null());
  EXPECT_GE(api["cpu_cores"]["target"].get<double>(), 0.4 * 1.15);
  EXPECT_TRUE(api["cpu_cores"]["recommended_limit"].is_null()) << "no limit stays none";
  EXPECT_DOUBLE_EQ(api["memory_bytes"]["target"].get<double>(), 100e6 * 1.15);
  EXPECT_GT(api["confidence_days"].get<double>(), 0);
  EXPECT_EQ(api["samples"], 60);
  EXPECT_NE(api["reason"].get<std::string>().find("cpu: p90"), std::string::npos);
  // Savings: web gives back about 0.77 cores, api needs about 0.21 more.
  const auto& savings = body["savings"];
  EXPECT_DOUBLE_EQ(savings["requested_cpu_cores"].get<double>(), 1.25);
  EXPECT_NEAR(savings["cpu_cores"].get<double>(), 1.25 - (0.4 + 0.2) * 1.15, 0.05);
  EXPECT_NEAR(savings["memory_bytes"].get<double>(), 2 * (200e6 - 115e6), 1);
  EXPECT_EQ(body["computed_unix_ms"], 1'700'000'060'000);
}

TEST_F(RightsizingRoutesTest, FiltersByNamespaceAndWorkload) {
  EXPECT_EQ(get("/api/v1/recommendations", {{"workload", "web"}})["items"].size(), 1U);
  EXPECT_EQ(get("/api/v1/recommendations", {{"namespace", "shop"}})["items"].size(), 2U);
  const auto none = get("/api/v1/recommendations", {{"namespace", "other"}});
  EXPECT_TRUE(none["items"].empty());
  EXPECT_DOUBLE_EQ(none["savings"]["cpu_cores"].get<double>(), 0);
}

TEST_F(RightsizingRoutesTest, GaugesPerContainerAndForTheFleet) {
  const auto families = RecommendationMetrics(feed_).Collect();
  const auto find = [&](const std::string& name) {
    const auto it = std::ranges::find(families, name, &prometheus::MetricFamily::name);
    EXPECT_NE(it, families.end()) << name;
    return it == families.end() ? prometheus::MetricFamily{} : *it;
  };
  const auto cpu = find("fleetscale_recommendation_cpu_cores");
  // Two containers: target, lower and upper bounds (no limit: none now).
  EXPECT_EQ(cpu.metric.size(), 6U);
  const auto& first = cpu.metric[0];
  ASSERT_EQ(first.label.size(), 5U);
  EXPECT_EQ(first.label[2].name, "workload");
  EXPECT_EQ(first.label[3].value, "app");
  EXPECT_EQ(first.label[4].name, "estimate");
  EXPECT_EQ(find("fleetscale_recommendation_current_cpu_cores").metric.size(), 2U);
  EXPECT_EQ(find("fleetscale_recommendation_current_memory_bytes").metric.size(), 2U);
  const auto confidence = find("fleetscale_recommendation_confidence_seconds");
  ASSERT_EQ(confidence.metric.size(), 2U);
  EXPECT_NEAR(confidence.metric[0].gauge.value, 59, 1e-6) << "a minute of samples: 59 s of span";
  const auto savings = find("fleetscale_recommendation_savings_cpu_cores");
  ASSERT_EQ(savings.metric.size(), 1U);
  EXPECT_NEAR(savings.metric[0].gauge.value, 1.25 - 0.6 * 1.15, 0.05);
  EXPECT_EQ(find("fleetscale_recommender_containers").metric[0].gauge.value, 2);
}

}  // namespace
}  // namespace fleetscale::aggregator
