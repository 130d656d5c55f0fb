#include "fleetscale/aggregator/aggregator_metrics.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator {
namespace {

TEST(AggregatorMetricsTest, RendersCountersAndFleetGauges) {
  FleetState fleet;
  fleet.agentConnected(AgentIdentity{"a1", "node-1", "aws-us-east-1", "", "", "", ""});
  v1::SampleBatch batch;
  batch.set_sequence(1);
  batch.mutable_node()->set_cpu_usage_cores(1.25);
  auto* c = batch.add_containers();
  c->set_id("abc");
  c->set_cpu_cores(0.75);
  (void)fleet.applyBatch("a1", std::move(batch), WallTime{});

  AggregatorMetrics metrics(false);
  metrics.samplesReceived().Increment(3);
  metrics.decodeErrors("oversized").Increment();
  const std::string text = metrics.render(fleet);
  EXPECT_NE(text.find("fleetscale_ingest_samples_total 3"), std::string::npos) << text;
  EXPECT_NE(text.find("fleetscale_ingest_decode_errors_total{reason=\"oversized\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("fleetscale_agents_connected{cluster=\"aws-us-east-1\"} 1"),
            std::string::npos);
  EXPECT_NE(
      text.find("fleetscale_node_cpu_usage_cores{cluster=\"aws-us-east-1\",node=\"node-1\"} 1.25"),
      std::string::npos);
  EXPECT_EQ(text.find("fleetscale_container_cpu_usage_cores"), std::string::npos)
      << "no per-container series unless enabled";

  AggregatorMetrics perContainer(true);
  const std::string detailed = perContainer.render(fleet);
  EXPECT_NE(detailed.find("fleetscale_container_cpu_usage_cores{cluster=\"aws-us-east-1\",node="
                          "\"node-1\",container_id=\"abc\""),
            std::string::npos)
      << detailed;
}

}  // namespace
}  // namespace fleetscale::aggregator
