// Failover, failback, drain and partitions as sequences of planner ticks.
#include <gtest/gtest.h>

#include "fleetscale/aggregator/scaling/rebalance.h"

namespace fleetscale::aggregator::scaling {
namespace {

const std::vector<ClusterSlot> kSlots = {ClusterSlot{"aws", 1, 0, {}, {}, 0},
                                         ClusterSlot{"gcp", 1, 0, {}, {}, 1}};

ClusterView view(std::string cluster, std::int32_t spec, std::int32_t ready,
                 HealthState health = HealthState::kHealthy, bool draining = false) {
  return ClusterView{std::move(cluster), health, draining, spec, ready, std::nullopt};
}

TEST(RebalanceTest, SteadyStateWritesNothing) {
  PlacementMemory memory;
  const auto plan = planPlacement(6, kSlots, {view("aws", 3, 3), view("gcp", 3, 3)}, memory);
  EXPECT_TRUE(plan.writes.empty());
  EXPECT_EQ(plan.targets, (Allocation{{"aws", 3}, {"gcp", 3}}));
}

TEST(RebalanceTest, ScaleUpByOneTouchesOneCluster) {
  PlacementMemory memory;
  (void)planPlacement(6, kSlots, {view("aws", 3, 3), view("gcp", 3, 3)}, memory);
  const auto plan = planPlacement(7, kSlots, {view("aws", 3, 3), view("gcp", 3, 3)}, memory);
  EXPECT_EQ(plan.writes, (Allocation{{"aws", 4}})) << "the preferred cluster takes the odd one";
}

TEST(RebalanceTest, FailoverMovesTheWholeShareInOneTickAndLeavesTheFailedClusterAlone) {
  PlacementMemory memory;
  (void)planPlacement(6, kSlots, {view("aws", 3, 3), view("gcp", 3, 3)}, memory);
  const auto plan = planPlacement(
      6, kSlots, {view("aws", 3, 0, HealthState::kFailed), view("gcp", 3, 3)}, memory);
  EXPECT_EQ(plan.writes, (Allocation{{"gcp", 6}})) << "no write to the failed cluster";
  EXPECT_EQ(plan.targets.at("gcp"), 6);
}

TEST(RebalanceTest, FailbackGrowsTheRecoveredClusterBeforeShrinkingTheSurvivor) {
  PlacementMemory memory;
  (void)planPlacement(6, kSlots, {view("aws", 3, 0, HealthState::kFailed), view("gcp", 6, 6)},
                      memory);
  // aws recovers with its old 3 replicas gone (the cluster restarted): spec 3, nothing ready.
  auto plan = planPlacement(
      6, kSlots, {view("aws", 3, 0, HealthState::kRecovering), view("gcp", 6, 6)}, memory);
  EXPECT_EQ(plan.targets, (Allocation{{"aws", 3}, {"gcp", 3}}));
  EXPECT_TRUE(plan.writes.empty()) << "gcp keeps 6 until aws has ready replicas";
  ASSERT_EQ(plan.notes.size(), 1u);
  EXPECT_NE(plan.notes[0].find("gcp keeps 3"), std::string::npos);
  // Two aws replicas become ready: gcp may give up two.
  plan = planPlacement(6, kSlots, {view("aws", 3, 2, HealthState::kRecovering), view("gcp", 6, 6)},
                       memory);
  EXPECT_EQ(plan.writes, (Allocation{{"gcp", 4}}));
  plan = planPlacement(6, kSlots, {view("aws", 3, 3, HealthState::kRecovering), view("gcp", 4, 4)},
                       memory);
  EXPECT_EQ(plan.writes, (Allocation{{"gcp", 3}}));
}

TEST(RebalanceTest, DrainMovesEverythingWithReadyCapacityNeverBelowNeed) {
  PlacementMemory memory;
  std::int32_t awsSpec = 3, awsReady = 3, gcpSpec = 3, gcpReady = 3;
  for (int tick = 0; tick < 10; ++tick) {
    const auto plan = planPlacement(6, kSlots,
                                    {view("aws", awsSpec, awsReady, HealthState::kHealthy, true),
                                     view("gcp", gcpSpec, gcpReady)},
                                    memory);
    // The cluster API applies the writes; new gcp pods become ready one tick later, one at a time.
    if (plan.writes.count("gcp")) gcpSpec = plan.writes.at("gcp");
    if (plan.writes.count("aws")) {
      awsSpec = plan.writes.at("aws");
      awsReady = std::min(awsReady, awsSpec);
    }
    ASSERT_GE(awsReady + gcpReady, 6) << "ready capacity dipped at tick " << tick;
    if (gcpReady < gcpSpec) ++gcpReady;
  }
  EXPECT_EQ(awsSpec, 0);
  EXPECT_EQ(gcpSpec, 6);
}

TEST(RebalanceTest, PartitionedClusterIsHeldAndNothingElseShrinks) {
  PlacementMemory memory;
  (void)planPlacement(6, kSlots, {view("aws", 3, 3), view("gcp", 3, 3)}, memory);
  // aws API unreachable but its agents report: suspect. Load grows to 8.
  auto plan = planPlacement(8, kSlots,
                            {view("aws", 3, 3, HealthState::kSuspect), view("gcp", 3, 3)}, memory);
  EXPECT_EQ(plan.writes, (Allocation{{"gcp", 5}}))
      << "growth goes to gcp; aws is held, not written";
  // Load falls back to 6: gcp returns to 3; aws still untouched.
  plan = planPlacement(6, kSlots, {view("aws", 3, 3, HealthState::kSuspect), view("gcp", 5, 5)},
                       memory);
  EXPECT_EQ(plan.writes, (Allocation{{"gcp", 3}}));
}

TEST(RebalanceTest, NotReadyReplicasCanBeRemovedAtOnce) {
  PlacementMemory memory;
  (void)planPlacement(10, kSlots, {view("aws", 5, 5), view("gcp", 5, 5)}, memory);
  // Demand drops to 4 while gcp has 2 pods still starting: those go first, without waiting.
  const auto plan = planPlacement(4, kSlots, {view("aws", 5, 5), view("gcp", 5, 3)}, memory);
  EXPECT_EQ(plan.targets, (Allocation{{"aws", 2}, {"gcp", 2}}));
  EXPECT_EQ(plan.writes.at("gcp"), 2);
  EXPECT_EQ(plan.writes.at("aws"), 2);
}

// Found end to end: after an undrain, the aggregator still saw 2 of gcp's newest replicas as
// unready (readiness reaches the agents with the kubelet's metadata, seconds late), removed them
// "for free", and the ReplicaSet controller removed 2 ready pods: 4 ready for a need of 6.
TEST(RebalanceTest, SeenButUnreadyReplicasAreNotRemovedForFree) {
  PlacementMemory memory;
  (void)planPlacement(6, kSlots,
                      {view("aws", 0, 0, HealthState::kHealthy, true), view("gcp", 6, 6)}, memory);
  ClusterView gcp = view("gcp", 6, 4);
  gcp.seenReplicas = 6;
  ClusterView aws = view("aws", 0, 0);
  aws.seenReplicas = 0;
  auto plan = planPlacement(6, kSlots, {aws, gcp}, memory);
  EXPECT_EQ(plan.writes, (Allocation{{"aws", 3}})) << "gcp keeps its 6 until aws has ready ones";
  // A pod no agent sees yet (still pending) is removed at once.
  gcp = view("gcp", 7, 6);
  gcp.seenReplicas = 6;
  aws = view("aws", 3, 0);
  aws.seenReplicas = 0;
  plan = planPlacement(6, kSlots, {aws, gcp}, memory);
  EXPECT_EQ(plan.writes, (Allocation{{"gcp", 6}}));
}

TEST(RebalanceTest, SurvivorsWithoutCapacitySaySo) {
  const std::vector<ClusterSlot> capped = {ClusterSlot{"aws", 1, 0, {}, {}, 0},
                                           ClusterSlot{"gcp", 1, 0, 4, {}, 1}};
  PlacementMemory memory;
  const auto plan = planPlacement(
      8, capped, {view("aws", 4, 0, HealthState::kFailed), view("gcp", 4, 4)}, memory);
  EXPECT_EQ(plan.unplaced, 4);
  EXPECT_EQ(plan.writes, Allocation{}) << "gcp is already at its maximum";
  ASSERT_FALSE(plan.notes.empty());
  EXPECT_NE(plan.notes[0].find("4 replicas cannot be placed"), std::string::npos);
}

}  // namespace
}  // namespace fleetscale::aggregator::scaling
