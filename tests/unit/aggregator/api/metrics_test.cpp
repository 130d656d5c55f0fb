#include "fleetscale/aggregator/api/metrics.h"

#include <gtest/gtest.h>

#include "fleetscale/aggregator/api/fleet_metrics.h"
#include "fleetscale/shared/metric_family.h"
#include "fleetscale/testing/batch_builder.h"

namespace fleetscale::aggregator {
namespace {

// Series computed at scrape time by a test.
class FixedSeries final : public prometheus::Collectable {
 public:
  explicit FixedSeries(std::string name) : name_(std::move(name)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    auto family = gaugeFamily(name_, "a test series");
    addSample(family, {}, 7);
    return {family};
  }

 private:
  std::string name_;
};

TEST(AggregatorMetricsTest, RendersCountersClusterWorkloadAndNodeGauges) {
  FleetState fleet;
  const auto session =
      fleet.agentConnected(AgentIdentity{"a1", "node-1", "aws-us-east-1", "", "", "", ""});
  testing::DecodedBatch decoded;
  testing::decodeInto(testing::makeBatch(1, {{"abc", "web-1", "web", "shop", 0.75, 1.5}}), decoded);
  ManualClock clock;
  const WallTime now = clock.wallNow();
  ASSERT_EQ(fleet.applyBatch(session, decoded.view, now).outcome, BatchOutcome::kAccepted);
  SnapshotHolder snapshots;
  snapshots.set(std::make_shared<const FleetSnapshot>(fleet.snapshot(now)));

  AggregatorMetrics metrics;
  metrics.ingest().samplesReceived().Increment(3);
  metrics.ingest().decodeErrors("oversized").Increment();
  auto gauges = std::make_shared<FleetMetrics>(fleet, snapshots, clock, false);
  metrics.add(gauges);
  const std::string text = metrics.render();
  auto has = [&](const std::string& line) { return text.find(line) != std::string::npos; };
  EXPECT_TRUE(has("fleetscale_ingest_samples_total 3")) << text;
  EXPECT_TRUE(has("fleetscale_ingest_decode_errors_total{reason=\"oversized\"} 1"));
  EXPECT_TRUE(has("fleetscale_agents_connected{cluster=\"aws-us-east-1\"} 1"));
  EXPECT_TRUE(has("fleetscale_cluster_health{cluster=\"aws-us-east-1\",state=\"healthy\"} 1"));
  EXPECT_TRUE(has("fleetscale_node_cpu_usage_cores{cluster=\"aws-us-east-1\",node=\"node-1\"} 1"));
  const std::string labels =
      "{cluster=\"aws-us-east-1\",namespace=\"shop\",kind=\"Deployment\",workload=\"web\"}";
  EXPECT_TRUE(has("fleetscale_workload_cpu_usage_cores" + labels + " 0.75"));
  EXPECT_TRUE(has("fleetscale_workload_cpu_request_cores" + labels + " 1.5"));
  EXPECT_TRUE(has("fleetscale_workload_cpu_utilization_ratio" + labels + " 0.5"));
  EXPECT_TRUE(has("fleetscale_workload_replicas" + labels + " 1"));
  EXPECT_TRUE(has("fleetscale_workload_load_share_ratio" + labels + " 1"));
  EXPECT_TRUE(has("fleetscale_store_queue_rows 0"));
  EXPECT_FALSE(has("fleetscale_container_cpu_usage_cores"))
      << "no per-container series unless enabled";

  AggregatorMetrics perContainer;
  auto detailedGauges = std::make_shared<FleetMetrics>(fleet, snapshots, clock, true);
  perContainer.add(detailedGauges);
  const std::string detailed = perContainer.render();
  EXPECT_NE(detailed.find("fleetscale_container_cpu_usage_cores{cluster=\"aws-us-east-1\",node="
                          "\"node-1\",container_id=\"abc\""),
            std::string::npos)
      << detailed;
}

TEST(AggregatorMetricsTest, CollectablesFollowTheRegistryInOrderWhileTheyLive) {
  AggregatorMetrics metrics;
  auto first = std::make_shared<FixedSeries>("fleetscale_test_first");
  auto second = std::make_shared<FixedSeries>("fleetscale_test_second");
  metrics.add(first);
  metrics.add(second);
  const std::string text = metrics.render();
  const auto registered = text.find("fleetscale_ingest_samples_total");
  const auto build = text.find("fleetscale_build_info{version=");
  const auto firstAt = text.find("fleetscale_test_first 7");
  const auto secondAt = text.find("fleetscale_test_second 7");
  ASSERT_NE(secondAt, std::string::npos) << text;
  EXPECT_LT(registered, build);
  EXPECT_LT(build, firstAt);
  EXPECT_LT(firstAt, secondAt);
  first.reset();
  EXPECT_EQ(metrics.render().find("fleetscale_test_first"), std::string::npos)
      << "a collectable that is gone is no longer served";
}

}  // namespace
}  // namespace fleetscale::aggregator
