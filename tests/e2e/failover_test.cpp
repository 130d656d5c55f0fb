// Cross-cloud failover on the simulated fleet with the real agents and aggregator: a cluster
// that dies has its share moved to the survivor within the failed-after threshold + 2 s and
// the total kept; when it returns, capacity fails back to the configured placement without
// ready capacity ever dipping below the need; partitions in either direction (API unreachable
// with agents alive, agents silent with the API reachable) are never treated as a failure.
#include <gtest/gtest.h>

#include "e2e_fleet.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(E2eFailoverTest, KilledClusterFailsOverWithinThresholdAndFailsBackWithoutADip) {
  // The default failed-after (10 s): this is the figure users get.
  constexpr double kFailedAfter = 10;
  TwoCloudOptions options;
  options.name = "kill-revive";
  options.healthyAfter = "4s";
  E2eFleet fleet(twoCloudScenario(options), "kill-revive");
  ASSERT_TRUE(fleet.waitUntilSteady(kCheckout, kCheckoutNeed, seconds(20)));

  const double killedAt = fleet.inject(sim::FaultKind::kKillCluster, kGcp);
  ASSERT_TRUE(testing::waitFor([&] { return fleet.desired(kCheckout, kAws) == kCheckoutNeed; },
                               seconds(static_cast<int>(kFailedAfter) + 10)))
      << "aws spec " << fleet.desired(kCheckout, kAws);
  sim::Timeline timeline = fleet.simulator().timeline();
  const auto failover = actionsSince(timeline, kCheckout, kAws, killedAt);
  ASSERT_FALSE(failover.empty());
  const double requestDelay = failover.front().seconds - killedAt;
  EXPECT_LE(requestDelay, kFailedAfter + 2) << "scale request at the survivor too late";
  EXPECT_GE(requestDelay, kFailedAfter - 1) << "failed over before the threshold";
  EXPECT_EQ(failover.front().from, 3);
  EXPECT_EQ(fleet.clusterState(kGcp), "failed");
  // The total is kept: one decision for the fleet, all of it now in the survivor.
  EXPECT_EQ(fleet.workloadStatus(kCheckout).value("desiredReplicas", 0), kCheckoutNeed);

  ASSERT_TRUE(
      testing::waitFor([&] { return fleet.ready(kCheckout, kAws) == kCheckoutNeed; }, seconds(10)));
  // Nothing was written to the dead cluster (it still holds its 3).
  EXPECT_TRUE(actionsSince(fleet.simulator().timeline(), kCheckout, kGcp, killedAt).empty());
  EXPECT_EQ(fleet.desired(kCheckout, kGcp), 3);

  const double revivedAt = fleet.inject(sim::FaultKind::kReviveCluster, kGcp);
  // Failback: gcp's 3 ready again, then aws back to its configured 3.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return fleet.desired(kCheckout, kAws) == 3 && fleet.ready(kCheckout, kAws) == 3 &&
               fleet.ready(kCheckout, kGcp) == 3;
      },
      seconds(30)))
      << "aws spec " << fleet.desired(kCheckout, kAws) << " ready " << fleet.ready(kCheckout, kAws)
      << ", gcp spec " << fleet.desired(kCheckout, kGcp) << " ready "
      << fleet.ready(kCheckout, kGcp);
  // Failback may finish while gcp is still recovering (its replicas never left, they are ready
  // as soon as it is back); healthy follows once both signals have held for healthy-after.
  EXPECT_TRUE(testing::waitFor([&] { return fleet.clusterState(kGcp) == "healthy"; }, seconds(10)))
      << fleet.clusterState(kGcp);
  timeline = fleet.simulator().timeline();
  EXPECT_EQ(capacityDips(timeline, kCheckout, revivedAt, kCheckoutNeed), "")
      << describeActions(timeline, kCheckout, killedAt);

  const sim::Report report = fleet.simulator().report();
  ASSERT_EQ(report.workloads.size(), 1u);
  ASSERT_EQ(report.workloads[0].failovers.size(), 1u);
  const sim::FailoverResult& measured = report.workloads[0].failovers[0];
  ASSERT_TRUE(measured.failoverSeconds.has_value());
  ASSERT_TRUE(measured.failbackSeconds.has_value());
  RecordProperty("failover_request_seconds", std::to_string(requestDelay));
  RecordProperty("failover_ready_seconds", std::to_string(*measured.failoverSeconds));
  RecordProperty("failback_seconds", std::to_string(*measured.failbackSeconds));
}

class E2ePartitionTest : public ::testing::Test {
 protected:
  static constexpr auto kFailedAfter = seconds(2);

  void SetUp() override {
    TwoCloudOptions options;
    options.name = "partitions";
    options.failedAfter = "2s";
    options.healthyAfter = "2s";
    fleet_ = std::make_unique<E2eFleet>(twoCloudScenario(options), "partitions");
    ASSERT_TRUE(fleet_->waitUntilSteady(kCheckout, kCheckoutNeed, seconds(20)));
  }

  // Runs the partition for failed-after + 3 s: aws turns suspect and never failed; no replica
  // is written anywhere (no failover to gcp, nothing shrunk in aws); then heals.
  void expectHeldThrough(sim::FaultKind partition) {
    E2eFleet& fleet = *fleet_;
    const double from = fleet.inject(partition, kAws);
    ASSERT_TRUE(testing::waitFor([&] { return fleet.clusterState(kAws) == "suspect"; }, seconds(5)))
        << fleet.status().dump();
    std::string seen;
    EXPECT_TRUE(holdsFor(
        [&] {
          seen = fleet.clusterState(kAws);
          return seen == "suspect";
        },
        kFailedAfter + seconds(3)))
        << "aws became " << seen;
    const sim::Timeline timeline = fleet.simulator().timeline();
    EXPECT_TRUE(actionsSince(timeline, kCheckout, kGcp, from).empty()) << "gcp was rescaled";
    EXPECT_TRUE(actionsSince(timeline, kCheckout, kAws, from).empty()) << "aws was rescaled";
    EXPECT_EQ(fleet.desired(kCheckout, kAws), 3);
    EXPECT_EQ(fleet.desired(kCheckout, kGcp), 3);
    EXPECT_EQ(fleet.workloadStatus(kCheckout).value("desiredReplicas", 0), kCheckoutNeed);

    fleet.inject(sim::FaultKind::kHeal, kAws);
    EXPECT_TRUE(
        testing::waitFor([&] { return fleet.clusterState(kAws) == "healthy"; }, seconds(10)));
  }

  std::unique_ptr<E2eFleet> fleet_;
};

TEST_F(E2ePartitionTest, ApiUnreachableWithAgentsAliveIsHeldNotFailedOver) {
  expectHeldThrough(sim::FaultKind::kPartitionApi);
}

TEST_F(E2ePartitionTest, AgentsSilentWithApiReachableIsHeldNotFailedOver) {
  expectHeldThrough(sim::FaultKind::kPartitionAgents);
}

}  // namespace
}  // namespace fleetscale::e2e
