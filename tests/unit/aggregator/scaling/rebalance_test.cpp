// Failover, failback, drain and partitions as sequences of planner ticks.
#include "fleetscale/aggregator/scaling/rebalance.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator::scaling {
namespace {

const std::vector<ClusterSlot> kSlots = {ClusterSlot{"aws", 1, 0, {}, {}, 0},
                                         ClusterSlot{"gcp", 1, 0, {}, {}, 1}};

ClusterView view(std::string cluster, std::int32_t spec, std::int32_t ready,
                 HealthState health = HealthState::kHealthy, bool draining = false) {
  return ClusterView{std::move(cluster), health, draining, spec, ready};
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

TEST(RebalanceTest, ScaleDownRemovesOnlyWhatTheReadySurplusCovers) {
  PlacementMemory memory;
  (void)planPlacement(10, kSlots, {view("aws", 5, 5), view("gcp", 5, 5)}, memory);
  // Demand drops to 4 while the agents see 2 of gcp's pods unready: 8 ready, 4 to spare.
  auto plan = planPlacement(4, kSlots, {view("aws", 5, 5), view("gcp", 5, 3)}, memory);
  EXPECT_EQ(plan.targets, (Allocation{{"aws", 2}, {"gcp", 2}}));
  EXPECT_EQ(plan.writes, (Allocation{{"aws", 4}, {"gcp", 2}}));
  plan = planPlacement(4, kSlots, {view("aws", 4, 4), view("gcp", 2, 2)}, memory);
  EXPECT_EQ(plan.writes, (Allocation{{"aws", 2}}));
}

// Found end to end: after an undrain, the aggregator still saw 2 of gcp's newest replicas as
// unready (readiness reaches the agents with the kubelet's metadata, seconds late), removed them
// as if they served nothing, and the ReplicaSet controller removed 2 ready pods: 4 ready for a
// need of 6.
TEST(RebalanceTest, ReplicasSeenUnreadyAreNotRemovedForFree) {
  PlacementMemory memory;
  (void)planPlacement(6, kSlots,
                      {view("aws", 0, 0, HealthState::kHealthy, true), view("gcp", 6, 6)}, memory);
  auto plan = planPlacement(6, kSlots, {view("aws", 0, 0), view("gcp", 6, 4)}, memory);
  EXPECT_EQ(plan.writes, (Allocation{{"aws", 3}})) << "gcp keeps its 6 until aws has ready ones";
  plan = planPlacement(6, kSlots, {view("aws", 3, 2), view("gcp", 6, 6)}, memory);
  EXPECT_EQ(plan.writes, (Allocation{{"gcp", 4}}));
}

// Also found end to end: right after a drain the agents still saw aws's 3 removed pods as ready,
// so the undrain counted 9 ready and shrank gcp to 3 before aws had any.
TEST(RebalanceTest, ReadyPodsBeyondTheSpecAreNotCapacity) {
  PlacementMemory memory;
  (void)planPlacement(6, kSlots,
                      {view("aws", 0, 3, HealthState::kHealthy, true), view("gcp", 6, 6)}, memory);
  const auto plan = planPlacement(6, kSlots, {view("aws", 0, 3), view("gcp", 6, 6)}, memory);
  EXPECT_EQ(plan.readyTotal, 6);
  EXPECT_EQ(plan.writes, (Allocation{{"aws", 3}}));
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

// Found by an outside scenario: aws drained to gcp, then gcp died, and the workload had nothing
// for 38 s although aws was healthy and empty.
TEST(RebalanceTest, DrainedClusterIsTheLastResortWhenItsDestinationFails) {
  PlacementMemory memory;
  auto plan = planPlacement(
      7, kSlots, {view("aws", 0, 0, HealthState::kHealthy, true), view("gcp", 7, 7)}, memory);
  EXPECT_TRUE(plan.writes.empty()) << "drain complete";
  EXPECT_TRUE(plan.lastResort.empty());
  // gcp suspect: held where it is, nothing moves yet.
  plan = planPlacement(
      7, kSlots,
      {view("aws", 0, 0, HealthState::kHealthy, true), view("gcp", 7, 0, HealthState::kSuspect)},
      memory);
  EXPECT_TRUE(plan.writes.empty());
  // gcp failed: aws takes the whole workload back.
  plan = planPlacement(
      7, kSlots,
      {view("aws", 0, 0, HealthState::kHealthy, true), view("gcp", 7, 0, HealthState::kFailed)},
      memory);
  EXPECT_EQ(plan.writes, (Allocation{{"aws", 7}}));
  EXPECT_EQ(plan.lastResort, (Allocation{{"aws", 7}}));
  EXPECT_EQ(plan.unplaced, 0);
  ASSERT_FALSE(plan.notes.empty());
  EXPECT_NE(plan.notes.back().find("aws is draining but keeps 7"), std::string::npos);
  // gcp recovering: it grows back, but aws keeps its replicas until gcp is healthy.
  plan = planPlacement(
      7, kSlots,
      {view("aws", 7, 7, HealthState::kHealthy, true), view("gcp", 0, 0, HealthState::kRecovering)},
      memory);
  EXPECT_EQ(plan.writes, (Allocation{{"gcp", 7}}));
  EXPECT_EQ(plan.lastResort, (Allocation{{"aws", 7}}));
  // gcp healthy with its replicas ready: the drain resumes, make before break.
  plan = planPlacement(7, kSlots,
                       {view("aws", 7, 7, HealthState::kHealthy, true), view("gcp", 7, 4)}, memory);
  EXPECT_EQ(plan.writes, (Allocation{{"aws", 3}}))
      << "only gcp's 4 ready replicas pay for removals";
  EXPECT_TRUE(plan.lastResort.empty());
  plan = planPlacement(7, kSlots,
                       {view("aws", 3, 3, HealthState::kHealthy, true), view("gcp", 7, 7)}, memory);
  EXPECT_EQ(plan.writes, (Allocation{{"aws", 0}}));
}

TEST(RebalanceTest, DrainKeepsWhatTheFullDestinationCannotFit) {
  const std::vector<ClusterSlot> capped = {ClusterSlot{"aws", 1, 0, {}, {}, 0},
                                           ClusterSlot{"gcp", 1, 0, {}, 4, 1}};
  PlacementMemory memory;
  const auto plan = planPlacement(
      7, capped, {view("aws", 7, 7, HealthState::kHealthy, true), view("gcp", 0, 0)}, memory);
  EXPECT_EQ(plan.targets, (Allocation{{"aws", 3}, {"gcp", 4}}));
  EXPECT_EQ(plan.lastResort, (Allocation{{"aws", 3}}));
  EXPECT_EQ(plan.unplaced, 0);
  EXPECT_EQ(plan.writes, (Allocation{{"gcp", 4}})) << "aws shrinks once gcp's replicas are ready";
}

TEST(RebalanceTest, FailedDrainingClusterIsNoLastResort) {
  PlacementMemory memory;
  const auto plan = planPlacement(
      7, kSlots,
      {view("aws", 0, 0, HealthState::kFailed, true), view("gcp", 7, 0, HealthState::kFailed)},
      memory);
  EXPECT_TRUE(plan.writes.empty());
  EXPECT_EQ(plan.unplaced, 7);
  EXPECT_EQ(plan.unplacedReason, "aws failed; gcp failed");
}

TEST(RebalanceTest, UndrainDuringAFailoverIsAnOrdinaryFailover) {
  PlacementMemory memory;
  (void)planPlacement(
      7, kSlots,
      {view("aws", 7, 7, HealthState::kHealthy, true), view("gcp", 0, 0, HealthState::kFailed)},
      memory);
  const auto plan = planPlacement(
      7, kSlots, {view("aws", 7, 7), view("gcp", 0, 0, HealthState::kFailed)}, memory);
  EXPECT_EQ(plan.targets.at("aws"), 7);
  EXPECT_TRUE(plan.lastResort.empty()) << "aws is an ordinary destination again";
  EXPECT_TRUE(plan.writes.empty());
}

TEST(RebalanceTest, StandbyClusterTakesTheLoadWhenTheWeightedOnesFail) {
  const std::vector<ClusterSlot> withStandby = {ClusterSlot{"aws", 1, 0, {}, {}, 0},
                                                ClusterSlot{"gcp", 1, 0, {}, {}, 1},
                                                ClusterSlot{"azure", 0, 0, {}, {}, 2}};
  PlacementMemory memory;
  auto plan = planPlacement(6, withStandby,
                            {view("aws", 3, 3), view("gcp", 3, 3), view("azure", 0, 0)}, memory);
  EXPECT_TRUE(plan.writes.empty()) << "a standby holds nothing while the others can";
  plan = planPlacement(6, withStandby,
                       {view("aws", 3, 0, HealthState::kFailed),
                        view("gcp", 3, 0, HealthState::kFailed), view("azure", 0, 0)},
                       memory);
  EXPECT_EQ(plan.writes, (Allocation{{"azure", 6}}));
  EXPECT_EQ(plan.unplaced, 0);
}

}  // namespace
}  // namespace fleetscale::aggregator::scaling
