#include "fleetscale/aggregator/fleet_state.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator {
namespace {

AgentIdentity identity(const std::string& agent, const std::string& node,
                       const std::string& cluster) {
  return AgentIdentity{agent, node, cluster, "aws", "us-east-1", "a", "0.1.0"};
}

v1::SampleBatch batch(std::uint64_t sequence, const std::vector<std::string>& ids,
                      double cpu = 0.5) {
  v1::SampleBatch b;
  b.set_sequence(sequence);
  for (const auto& id : ids) {
    auto* c = b.add_containers();
    c->set_id(id);
    c->set_cpu_cores(cpu);
    c->mutable_metadata()->set_namespace_("shop");
    c->mutable_metadata()->set_workload("web");
  }
  return b;
}

TEST(FleetStateTest, AcceptsInOrderAndDropsDuplicates) {
  FleetState fleet;
  const auto reg = fleet.agentConnected(identity("a1", "n1", "c1"));
  EXPECT_EQ(reg.lastSequence, 0u);
  EXPECT_EQ(fleet.applyBatch("a1", batch(1, {"x"}), WallTime{}), BatchOutcome::kAccepted);
  EXPECT_EQ(fleet.applyBatch("a1", batch(2, {"x"}), WallTime{}), BatchOutcome::kAccepted);
  EXPECT_EQ(fleet.applyBatch("a1", batch(2, {"x"}, 9.0), WallTime{}), BatchOutcome::kDuplicate);
  EXPECT_EQ(fleet.applyBatch("a1", batch(1, {"x"}, 9.0), WallTime{}), BatchOutcome::kDuplicate);
  EXPECT_EQ(fleet.lastAcceptedSequence("a1"), 2u);
  EXPECT_DOUBLE_EQ(fleet.containers()[0].sample.cpu_cores(), 0.5) << "duplicate did not overwrite";
  EXPECT_EQ(fleet.agentConnected(identity("a1", "n1", "c1")).lastSequence, 2u)
      << "a reconnecting agent learns what is already accepted";
}

TEST(FleetStateTest, LatestBatchReplacesContainerSet) {
  FleetState fleet;
  fleet.agentConnected(identity("a1", "n1", "c1"));
  (void)fleet.applyBatch("a1", batch(1, {"x", "y"}), WallTime{});
  (void)fleet.applyBatch("a1", batch(2, {"y"}), WallTime{});
  const auto containers = fleet.containers();
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].sample.id(), "y");
  EXPECT_EQ(containers[0].node, "n1");
  EXPECT_EQ(containers[0].cluster, "c1");
}

TEST(FleetStateTest, FiltersContainers) {
  FleetState fleet;
  fleet.agentConnected(identity("a1", "n1", "c1"));
  fleet.agentConnected(identity("a2", "n2", "c2"));
  (void)fleet.applyBatch("a1", batch(1, {"x"}), WallTime{});
  (void)fleet.applyBatch("a2", batch(1, {"y", "z"}), WallTime{});
  EXPECT_EQ(fleet.containers().size(), 3u);
  EXPECT_EQ(fleet.containers({"c2", "", "", ""}).size(), 2u);
  EXPECT_EQ(fleet.containers({"", "n1", "", ""}).size(), 1u);
  EXPECT_EQ(fleet.containers({"", "", "shop", "web"}).size(), 3u);
  EXPECT_EQ(fleet.containers({"", "", "other", ""}).size(), 0u);
}

TEST(FleetStateTest, ConnectionTrackingIgnoresStaleDisconnects) {
  FleetState fleet;
  const auto first = fleet.agentConnected(identity("a1", "n1", "c1"));
  const auto second = fleet.agentConnected(identity("a1", "n1", "c1"));  // reconnected
  fleet.agentDisconnected("a1", first.connectionId);  // the old connection's close arrives late
  EXPECT_EQ(fleet.connectedAgentsByCluster()["c1"], 1u);
  fleet.agentDisconnected("a1", second.connectionId);
  EXPECT_EQ(fleet.connectedAgentsByCluster().count("c1"), 0u);
  EXPECT_EQ(fleet.nodes().size(), 1u) << "a disconnected node is still known";
  EXPECT_FALSE(fleet.nodes()[0].connected);
}

}  // namespace
}  // namespace fleetscale::aggregator
