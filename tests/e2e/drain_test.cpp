// Planned migration on the simulated fleet: POST /api/v1/clusters/{name}/drain (admin token)
// moves every replica off the cluster step by step (the other cluster's new replicas ready
// before the drained one shrinks), each step recorded as a decision and an event; undrain
// returns to the configured placement; an aggregator restarted in the middle of a drain picks
// the drain up from its store and finishes it.
#include <gtest/gtest.h>

#include <set>

#include "e2e_fleet.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;

TwoCloudOptions drainOptions(const std::string& name, const std::string& readinessDelay) {
  TwoCloudOptions options;
  options.name = name;
  options.failedAfter = "3s";
  options.healthyAfter = "3s";
  options.readinessDelay = readinessDelay;
  return options;
}

// Waits until the cluster holds `replicas`, all ready, and the other cluster likewise.
::testing::AssertionResult placedAs(E2eFleet& fleet, int aws, int gcp, seconds timeout) {
  const bool placed = testing::waitFor(
      [&] {
        return fleet.desired(kCheckout, kAws) == aws && fleet.ready(kCheckout, kAws) == aws &&
               fleet.desired(kCheckout, kGcp) == gcp && fleet.ready(kCheckout, kGcp) == gcp;
      },
      timeout, std::chrono::milliseconds(100));
  if (placed) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "wanted aws " << aws << " gcp " << gcp << "; aws spec "
         << fleet.desired(kCheckout, kAws) << " ready " << fleet.ready(kCheckout, kAws)
         << ", gcp spec " << fleet.desired(kCheckout, kGcp) << " ready "
         << fleet.ready(kCheckout, kGcp);
}

// The stored decisions that wrote something, one line each: what placement saw and did. For the
// message of a failed no-dip check.
std::string placementWrites(E2eFleet& fleet) {
  const json decisions = fleet.get("/api/v1/decisions?namespace=shop&workload=checkout&limit=200");
  std::string out;
  if (!decisions.is_object()) return out;
  for (const auto& decision : decisions["items"]) {
    const json& details = decision["details"];
    if (details["placement"]["writes"].empty()) continue;
    out += std::to_string(decision.value("time_unix_ms", 0LL)) + ": desired " +
           std::to_string(decision.value("desired_replicas", 0)) + ", readyTotal " +
           details["placement"].value("readyTotal", json()).dump() + ", writes " +
           details["placement"]["writes"].dump() + ", clusters " + details["clusters"].dump() +
           "\n";
  }
  return out;
}

bool draining(E2eFleet& fleet, const std::string& cluster) {
  const json status = fleet.status();
  if (!status.is_object()) return false;
  for (const auto& entry : status["clusters"]) {
    if (entry.value("name", "") == cluster) return entry.value("draining", false);
  }
  return false;
}

TEST(E2eDrainTest, DrainMovesEverythingWithoutADipAndUndrainMovesItBack) {
  // The API as in production (HTTPS, tokens, no anonymous reads): the fleet's reads present the
  // viewer token, the drain the admin token.
  TwoCloudOptions options = drainOptions("drain", "2s");
  options.secureApi = true;
  E2eFleet fleet(twoCloudScenario(options), "drain");
  ASSERT_TRUE(fleet.waitUntilSteady(kCheckout, kCheckoutNeed, seconds(20)));
  EXPECT_EQ(fleet.postAdmin("/api/v1/clusters/aws-us-east-1/drain", "wrong-token"), 401);
  const auto viewer = readSecretFile(
      fleet.simulator().endpointsJson()["aggregator"].value("viewer_token_file", ""));
  ASSERT_TRUE(viewer.ok());
  EXPECT_EQ(fleet.postAdmin("/api/v1/clusters/aws-us-east-1/drain", *viewer), 403);
  EXPECT_EQ(fleet.send("GET", "/api/v1/status", "").value().status, 401);
  EXPECT_FALSE(draining(fleet, kAws));

  const double drainedAt = fleet.now();
  ASSERT_EQ(fleet.postAdmin("/api/v1/clusters/aws-us-east-1/drain"), 200);
  ASSERT_TRUE(placedAs(fleet, 0, kCheckoutNeed, seconds(30)));
  sim::Timeline timeline = fleet.simulator().timeline();
  EXPECT_EQ(capacityDips(timeline, kCheckout, drainedAt, kCheckoutNeed), "")
      << describeActions(timeline, kCheckout, drainedAt) << placementWrites(fleet);
  // Make before break: gcp grew before aws shrank.
  const auto gcpSteps = actionsSince(timeline, kCheckout, kGcp, drainedAt);
  const auto awsSteps = actionsSince(timeline, kCheckout, kAws, drainedAt);
  ASSERT_FALSE(gcpSteps.empty());
  ASSERT_FALSE(awsSteps.empty());
  EXPECT_LT(gcpSteps.front().seconds, awsSteps.front().seconds);
  EXPECT_EQ(awsSteps.back().to, 0);

  // Every step recorded: the drain request as an event, each write as an action event with
  // the decision that asked for it, and those decisions with their placement.
  const json drains = fleet.get("/api/v1/events?kind=cluster_drain&cluster=aws-us-east-1");
  ASSERT_TRUE(drains.is_object()) << drains.dump();
  ASSERT_EQ(drains["items"].size(), 1u) << drains.dump(2);
  // The action events reach the store a moment after the write they record.
  json actions;
  std::set<std::string> decisionIds;
  int awsWrites = 0;
  testing::waitFor(
      [&] {
        actions = fleet.get("/api/v1/events?kind=action&limit=100");
        decisionIds.clear();
        awsWrites = 0;
        for (const auto& event : actions["items"]) {
          if (event["details"].value("result", "") != "success") continue;
          decisionIds.insert(event["details"].value("decisionId", ""));
          awsWrites += event.value("cluster", "") == kAws ? 1 : 0;
        }
        return awsWrites >= static_cast<int>(awsSteps.size());
      },
      seconds(5));
  EXPECT_EQ(awsWrites, static_cast<int>(awsSteps.size())) << actions.dump(2);
  const json decisions = fleet.get("/api/v1/decisions?namespace=shop&workload=checkout&limit=200");
  int recorded = 0;
  for (const auto& decision : decisions["items"]) {
    const json& details = decision["details"];
    if (!decisionIds.count(details.value("decisionId", ""))) continue;
    ++recorded;
    EXPECT_FALSE(details["placement"]["writes"].empty()) << details.dump(2);
    EXPECT_EQ(details["placement"]["targets"].value(kAws, -1), 0) << details.dump(2);
  }
  EXPECT_EQ(recorded, static_cast<int>(decisionIds.size())) << decisions.dump(2);
  EXPECT_EQ(fleet.workloadStatus(kCheckout).value("desiredReplicas", 0), kCheckoutNeed);

  const double undrainedAt = fleet.now();
  ASSERT_EQ(fleet.postAdmin("/api/v1/clusters/aws-us-east-1/undrain"), 200);
  EXPECT_FALSE(draining(fleet, kAws));
  ASSERT_TRUE(placedAs(fleet, 3, 3, seconds(30)));
  timeline = fleet.simulator().timeline();
  EXPECT_EQ(capacityDips(timeline, kCheckout, undrainedAt, kCheckoutNeed), "")
      << describeActions(timeline, kCheckout, undrainedAt) << placementWrites(fleet);
}

// Found by an outside scenario: the operator drained aws, the replicas moved to gcp, then gcp —
// where everything now ran — died, and the workload had no ready capacity until gcp returned
// although aws was healthy and empty. A drain is a preference: the drained cloud is the last
// resort, the drain pauses, and it finishes by itself once gcp has been healthy for healthy-after.
TEST(E2eDrainTest, DrainedCloudTakesTheLoadBackWhenItsDestinationDies) {
  constexpr double kFailedAfter = 3, kStartup = 2, kHealthyAfter = 3;
  E2eFleet fleet(twoCloudScenario(drainOptions("drain-then-kill", "2s")), "drain-then-kill");
  ASSERT_TRUE(fleet.waitUntilSteady(kCheckout, kCheckoutNeed, seconds(20)));
  ASSERT_EQ(fleet.postAdmin("/api/v1/clusters/aws-us-east-1/drain"), 200);
  ASSERT_TRUE(placedAs(fleet, 0, kCheckoutNeed, seconds(30)));

  const double killedAt = fleet.inject(sim::FaultKind::kKillCluster, kGcp);
  ASSERT_TRUE(testing::waitFor([&] { return fleet.ready(kCheckout, kAws) >= kCheckoutNeed; },
                               seconds(static_cast<int>(kFailedAfter + kStartup) + 10)))
      << "aws spec " << fleet.desired(kCheckout, kAws) << " ready " << fleet.ready(kCheckout, kAws);
  // When did the ready capacity cover the demand again?
  const sim::Timeline timeline = fleet.simulator().timeline();
  std::optional<double> coveredAt;
  for (const auto& sample : timeline.samples) {
    if (sample.seconds <= killedAt) continue;
    const auto it = sample.workloads.find(kCheckout);
    if (it == sample.workloads.end()) continue;
    if (it->second.readyCapacityCores + 1e-9 >= it->second.demandCores) {
      coveredAt = sample.seconds;
      break;
    }
  }
  ASSERT_TRUE(coveredAt.has_value()) << describeActions(timeline, kCheckout, killedAt);
  RecordProperty("covered_again_seconds", std::to_string(*coveredAt - killedAt));
  EXPECT_LE(*coveredAt - killedAt, kFailedAfter + kStartup + 5)
      << describeActions(timeline, kCheckout, killedAt);

  // The drain is shown as paused, with its reason, and as an event.
  const json status = fleet.status();
  ASSERT_TRUE(status.is_object());
  ASSERT_EQ(status["drains"].size(), 1u) << status.dump(2);
  EXPECT_TRUE(status["drains"][0].value("paused", false)) << status.dump(2);
  EXPECT_EQ(fleet.workloadStatus(kCheckout)["clusters"][kAws].value("lastResort", 0),
            kCheckoutNeed);
  const json paused = fleet.get("/api/v1/events?kind=drain_paused&cluster=aws-us-east-1");
  ASSERT_TRUE(paused.is_object());
  ASSERT_FALSE(paused["items"].empty()) << paused.dump(2);
  EXPECT_TRUE(paused["items"][0]["details"].value("paused", false));

  // gcp returns: aws keeps the load until gcp has been healthy for healthy-after and has its
  // replicas ready, then the drain completes without a dip.
  const double revivedAt = fleet.inject(sim::FaultKind::kReviveCluster, kGcp);
  ASSERT_TRUE(placedAs(fleet, 0, kCheckoutNeed, seconds(40)));
  const sim::Timeline after = fleet.simulator().timeline();
  EXPECT_EQ(capacityDips(after, kCheckout, revivedAt, kCheckoutNeed), "")
      << describeActions(after, kCheckout, revivedAt);
  const auto awsShrinks = actionsSince(after, kCheckout, kAws, revivedAt);
  ASSERT_FALSE(awsShrinks.empty());
  EXPECT_GE(awsShrinks.front().seconds - revivedAt, kHealthyAfter - 0.5)
      << "aws shrank before gcp had been healthy for healthy-after: "
      << describeActions(after, kCheckout, revivedAt);
  EXPECT_FALSE(fleet.status()["drains"][0].value("paused", true));
}

TEST(E2eDrainTest, AggregatorRestartedMidDrainFinishesItFromItsStore) {
  // Replicas take 4 s to turn ready, so the restart lands while gcp's new ones are starting
  // and aws still holds its 3.
  E2eFleet fleet(twoCloudScenario(drainOptions("drain-restart", "4s")), "drain-restart");
  ASSERT_TRUE(fleet.waitUntilSteady(kCheckout, kCheckoutNeed, seconds(25)));
  const double drainedAt = fleet.now();
  ASSERT_EQ(fleet.postAdmin("/api/v1/clusters/aws-us-east-1/drain"), 200);
  ASSERT_TRUE(testing::waitFor([&] { return fleet.desired(kCheckout, kGcp) == kCheckoutNeed; },
                               seconds(10)));
  ASSERT_EQ(fleet.desired(kCheckout, kAws), 3) << "the drain finished before the restart";

  ASSERT_TRUE(fleet.simulator().restartAggregator());
  // The drain comes back from the store (nothing here asks for it again).
  EXPECT_TRUE(testing::waitFor([&] { return draining(fleet, kAws); }, seconds(5)))
      << fleet.status().dump();
  ASSERT_TRUE(placedAs(fleet, 0, kCheckoutNeed, seconds(30)));
  const sim::Timeline timeline = fleet.simulator().timeline();
  EXPECT_EQ(capacityDips(timeline, kCheckout, drainedAt, kCheckoutNeed), "")
      << describeActions(timeline, kCheckout, drainedAt);
  // Continued, not restarted from scratch: gcp was raised once, and the fleet total held.
  const auto gcpSteps = actionsSince(timeline, kCheckout, kGcp, drainedAt);
  ASSERT_EQ(gcpSteps.size(), 1u);
  EXPECT_EQ(gcpSteps[0].to, kCheckoutNeed);
  EXPECT_EQ(fleet.workloadStatus(kCheckout).value("desiredReplicas", 0), kCheckoutNeed);
}

}  // namespace
}  // namespace fleetscale::e2e
