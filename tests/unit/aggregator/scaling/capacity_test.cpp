#include "fleetscale/aggregator/scaling/capacity.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator::scaling {
namespace {

constexpr double kGi = 1024.0 * 1024 * 1024;

TEST(ScalingCapacityTest, TheScarcerResourceBounds) {
  const ClusterResources cluster{16, 64 * kGi, 10, 8 * kGi};
  // 6 free cores / 0.5 = 12 more; 56 Gi free / 1 Gi = 56 more: CPU bounds.
  EXPECT_EQ(replicasThatFit(cluster, {0.5, kGi}, 4), 16);
  // 56 Gi / 8 Gi = 7 more; CPU would allow 12: memory bounds.
  EXPECT_EQ(replicasThatFit(cluster, {0.5, 8 * kGi}, 4), 11);
}

TEST(ScalingCapacityTest, PartialPodsDoNotCount) {
  EXPECT_EQ(replicasThatFit({2, 0, 0.9, 0}, {0.5, 0}, 1), 3) << "1.1 free cores hold 2, not 2.2";
}

TEST(ScalingCapacityTest, OvercommittedClustersHoldWhatRunsThere) {
  EXPECT_EQ(replicasThatFit({4, 0, 6, 0}, {1, 0}, 3), 3);
}

TEST(ScalingCapacityTest, UnknownAllocatableOrNoRequestsMeansUnbounded) {
  EXPECT_FALSE(replicasThatFit({0, 0, 3, kGi}, {0.5, kGi}, 2)) << "allocatable not reported";
  EXPECT_FALSE(replicasThatFit({8, 32 * kGi, 0, 0}, {0, 0}, 2)) << "no requests";
  EXPECT_EQ(replicasThatFit({8, 0, 0, 0}, {1, kGi}, 0), 8) << "only CPU is known";
  EXPECT_EQ(replicasThatFit({0, 4 * kGi, 0, 0}, {1, kGi}, 0), 4) << "only memory is known";
}

}  // namespace
}  // namespace fleetscale::aggregator::scaling
