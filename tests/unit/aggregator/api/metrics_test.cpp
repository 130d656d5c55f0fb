#include "fleetscale/aggregator/api/metrics.h"

#include <gtest/gtest.h>

#include "fleetscale/testing/batch_builder.h"

namespace fleetscale::aggregator {
namespace {

TEST(AggregatorMetricsTest, RendersCountersClusterWorkloadAndNodeGauges) {
  FleetState fleet;
  const auto session =
      fleet.agentConnected(AgentIdentity{"a1", "node-1", "aws-us-east-1", "", "", "", ""});
  testing::DecodedBatch decoded;
  testing::decodeInto(testing::makeBatch(1, {{"abc", "web-1", "web", "shop", 0.75, 1.5}}), decoded);
  const WallTime now{std::chrono::seconds(1'700'000'000)};
  ASSERT_EQ(fleet.applyBatch(session, decoded.view, now).outcome, BatchOutcome::kAccepted);
  const auto snapshot = fleet.snapshot(now);
  const auto nodes = fleet.nodes(now);
  const auto containers = fleet.containers({}, now);

  AggregatorMetrics metrics(false);
  metrics.ingest().samplesReceived().Increment(3);
  metrics.ingest().decodeErrors("oversized").Increment();
  const std::string text = metrics.render(MetricsView{snapshot, nodes, &containers, {}});
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

  AggregatorMetrics perContainer(true);
  const std::string detailed = perContainer.render(MetricsView{snapshot, nodes, &containers, {}});
  EXPECT_NE(detailed.find("fleetscale_container_cpu_usage_cores{cluster=\"aws-us-east-1\",node="
                          "\"node-1\",container_id=\"abc\""),
            std::string::npos)
      << detailed;
}

}  // namespace
}  // namespace fleetscale::aggregator
