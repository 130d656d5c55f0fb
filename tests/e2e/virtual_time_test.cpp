// Virtual time against real time: one short scenario run with the real agents and aggregator on
// the simulated fleet, and in process on a simulated clock (sim::VirtualEngine), must scale the
// same way: the same sequence of spec.replicas per cluster, each change at about the same time.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "e2e_fleet.h"
#include "fleetscale/sim/virtual_engine.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::e2e {
namespace {

using std::chrono::seconds;

// Two clusters, shop/checkout on 1 + 1 replicas (500m request, 80% target: 400m a replica),
// load steps 0.6 -> 2.2 -> 3.0 -> 1.0 cores. The CPU limit is above any replica's share, so the
// agents measure the demand and the HPA formula asks for ceil(demand / 0.4): 2, 6, 8, then 3
// (after the 10 s scale-down window). The levels sit half a replica from a boundary (5.5, 7.5,
// 2.5), so the few percent a real agent's rate is off (its 1 s interval against the simulator's
// 50 ms counter updates: one tick more or less) never changes a count.
constexpr double kEnd = 80;
const char* kScenario = R"(
name: virtual-vs-real
seed: 23
defaults:
  nodes: 2
  node-capacity: {cpu: 8, memory: 32Gi}
  scheduling-delay: 1s
  readiness-delay: 2s
clusters:
  - {name: aws-us-east-1, cloud: aws, region: us-east-1, cgroup: {driver: systemd, version: 2}}
  - {name: gcp-europe-west1, cloud: gcp, region: europe-west1, cgroup: {driver: cgroupfs, version: 1}}
workloads:
  - name: checkout
    namespace: shop
    replicas: {aws-us-east-1: 1, gcp-europe-west1: 1}
    resources:
      requests: {cpu: 500m, memory: 256Mi}
      limits: {cpu: "2", memory: 512Mi}
    capacity-per-replica: 400m
    load:
      cpu:
        curve: step
        initial: 600m
        steps: [{at: 15s, value: 2200m}, {at: 35s, value: 3}, {at: 55s, value: 1}]
      memory: 1Gi
    autoscale:
      min-replicas: 2
      max-replicas: 20
      cpu-utilization: 80
      behavior:
        scaleUp:
          stabilizationWindowSeconds: 0
          policies: [{type: Percent, value: 900, periodSeconds: 15}]
        scaleDown:
          stabilizationWindowSeconds: 10
)";

struct Change {
  double seconds = 0;
  int replicas = 0;
};

// A cluster's spec.replicas over the run, as the changes that stuck. The real agents sample at
// their own phase, so one of their samples can straddle a load step and hold part of the old
// level; the decision on it asks for a count between the old and the new one, and the next
// decision (a second later) completes the move. Such a change, followed within `transient`
// seconds by another in the same direction, is folded into that one.
std::vector<Change> settled(const std::vector<sim::ScaleAction>& actions,
                            const std::string& cluster, double until, double transient) {
  std::vector<Change> out;
  int direction = 0;  // of the last kept change
  for (const auto& action : actions) {
    if (action.cluster != cluster || action.seconds > until) continue;
    const int way = action.to > action.from ? 1 : -1;
    if (!out.empty() && way == direction && action.seconds - out.back().seconds <= transient) {
      out.back() = {action.seconds, action.to};
      continue;
    }
    out.push_back({action.seconds, action.to});
    direction = way;
  }
  return out;
}

std::string describe(const std::vector<Change>& changes) {
  std::ostringstream out;
  for (const auto& change : changes) out << " " << change.replicas << "@" << change.seconds << "s";
  return out.str();
}

TEST(E2eVirtualTimeTest, AStepLoadScalesTheSameInVirtualAndInRealTime) {
  auto scenario = sim::parseScenario(kScenario);
  ASSERT_TRUE(scenario) << scenario.error().message;
  sim::VirtualOptions options;
  options.durationSeconds = kEnd;
  auto engine = sim::VirtualEngine::create(*scenario, options);
  ASSERT_TRUE(engine) << engine.error().message;
  (*engine)->run();
  const auto virtualActions = (*engine)->timeline().actions;

  E2eFleet fleet(kScenario, "virtual-vs-real");
  ASSERT_TRUE(fleet.waitUntilSteady(kCheckout, 2, seconds(20)));
  ASSERT_LT(fleet.now(), 15) << "the aggregator settled after the first step; the machine is too "
                                "slow for this test's timing";
  ASSERT_TRUE(testing::waitFor([&] { return fleet.now() >= kEnd; }, seconds(90)));
  const sim::Timeline real = fleet.simulator().timeline();

  // One decision (1 s) for a straddled sample, plus a second of slack for a busy machine.
  constexpr double kTransient = 2.5;
  // Real time decides up to 1 s after virtual time does for the agents' phase and 1 s for the
  // aggregator's tick (virtual time: agents at whole seconds, decisions half a second later,
  // both at the middle of those ranges), plus the write's path and a busy machine's delays.
  constexpr double kTimeTolerance = 3;
  for (const char* cluster : {kAws, kGcp}) {
    const auto expected = settled(virtualActions, cluster, kEnd, kTransient);
    const auto observed = settled(real.actions, cluster, kEnd, kTransient);
    SCOPED_TRACE(std::string(cluster) + ": virtual" + describe(expected) + "; real" +
                 describe(observed) + "\nreal writes:\n" + describeActions(real, kCheckout, 0));
    RecordProperty(std::string("virtual_") + cluster, describe(expected));
    RecordProperty(std::string("real_") + cluster, describe(observed));
    ASSERT_EQ(expected.size(), 3u) << "up for each rise, down once after the fall";
    ASSERT_EQ(observed.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(observed[i].replicas, expected[i].replicas) << "change " << i;
      EXPECT_NEAR(observed[i].seconds, expected[i].seconds, kTimeTolerance) << "change " << i;
    }
  }
  // The fleet-wide counts the HPA formula gives, as the comment above works out.
  int total = 0;
  for (const char* cluster : {kAws, kGcp}) {
    total += settled(virtualActions, cluster, kEnd, kTransient).back().replicas;
  }
  EXPECT_EQ(total, 3);
}

}  // namespace
}  // namespace fleetscale::e2e
