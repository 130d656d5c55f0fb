#include "fleetscale/sim/fleet_model.h"

#include <gtest/gtest.h>

namespace fleetscale::sim {
namespace {

using std::chrono::seconds;

Scenario twoClusters(double demand, double limit, int replicasEach, double nodeCpu = 8) {
  Scenario scenario;
  for (const char* name : {"a", "b"}) {
    ClusterSpec cluster;
    cluster.name = name;
    cluster.nodes = 1;
    cluster.capacity.cpuCores = nodeCpu;
    cluster.allocatable = cluster.capacity;
    cluster.systemPods = false;
    cluster.schedulingDelaySeconds = 1;
    cluster.readinessDelaySeconds = 1;
    scenario.clusters.push_back(cluster);
  }
  WorkloadSpec w;
  w.name = "web";
  w.replicas = {{"a", replicasEach}, {"b", replicasEach}};
  w.resources.cpuRequest = 0.1;
  w.resources.cpuLimit = limit;
  w.resources.memoryLimit = 512.0 * 1024 * 1024;
  w.cpu = LoadCurve::constant(demand);
  w.memory = LoadCurve::constant(1024.0 * 1024 * 1024);
  w.idleCpuCores = 0;
  scenario.workloads.push_back(w);
  return scenario;
}

double totalCpuNs(const FleetModel& fleet) {
  double total = 0;
  for (const auto& cluster : fleet.clusters()) {
    for (const auto& pod : cluster.pods()) total += pod.counters.cpuNs;
  }
  return total;
}

TEST(FleetModelTest, DemandIsSharedAcrossReadyReplicasInEveryCluster) {
  FleetModel fleet(twoClusters(2.0, 4, 2), WallTime{});
  fleet.step(SimTime{0});
  fleet.step(seconds(10));
  // 4 replicas share 2 cores for 10 s: 20 core-seconds.
  EXPECT_NEAR(totalCpuNs(fleet), 20e9, 1e3);
  for (const auto& cluster : fleet.clusters()) {
    for (const auto& pod : cluster.pods()) {
      EXPECT_NEAR(pod.counters.cpuCores, 0.5, 1e-9);
      EXPECT_DOUBLE_EQ(pod.counters.throttledNs, 0);
      EXPECT_NEAR(pod.counters.periods, 100, 1e-6);  // 10 s of 100 ms CFS periods
      // 1 GiB shared by 4, under the 512 MiB limit.
      EXPECT_NEAR(pod.counters.memoryBytes, 256.0 * 1024 * 1024, 1);
    }
  }
  const TimelineSample sample = fleet.sample();
  const WorkloadSample& web = sample.workloads.at("default/web");
  EXPECT_DOUBLE_EQ(web.demandCores, 2);
  EXPECT_DOUBLE_EQ(web.readyCapacityCores, 16);  // 4 ready x 4-core limit
  EXPECT_NEAR(web.servedCores, 2, 1e-9);
  EXPECT_EQ(web.clusters.at("a").ready, 2);
}

TEST(FleetModelTest, ReplicasAreCappedAtTheirLimitAndThrottled) {
  FleetModel fleet(twoClusters(8.0, 1, 2), WallTime{});
  fleet.step(SimTime{0});
  fleet.step(seconds(2));
  for (const auto& cluster : fleet.clusters()) {
    for (const auto& pod : cluster.pods()) {
      EXPECT_NEAR(pod.counters.cpuCores, 1.0, 1e-9);    // wants 2, limit 1
      EXPECT_NEAR(pod.counters.throttledNs, 2e9, 1e3);  // 1 core unmet for 2 s
      EXPECT_NEAR(pod.counters.throttledPeriods, 20, 1e-6);
      EXPECT_NEAR(pod.counters.memoryBytes, 256.0 * 1024 * 1024, 1);
    }
  }
  EXPECT_NEAR(fleet.sample().workloads.at("default/web").servedCores, 4, 1e-9);
}

TEST(FleetModelTest, ANodeWithTooLittleCpuSharesIt) {
  // 3 replicas on a 1-core node want 3 x 0.9 cores.
  Scenario scenario = twoClusters(5.4, 2, 3, 1);
  FleetModel fleet(scenario, WallTime{});
  fleet.step(SimTime{0});
  fleet.step(seconds(1));
  const ClusterModel& a = fleet.clusters()[0];
  double onNode = 0;
  for (const auto& pod : a.pods()) {
    onNode += pod.counters.cpuCores;
    EXPECT_GT(pod.counters.pressureSomeUs, 0);
  }
  EXPECT_NEAR(onNode + kNodeOverheadCores * (1.0 / (2.7 + kNodeOverheadCores)), 1.0, 1e-6);
  EXPECT_NEAR(a.nodes()[0].busyNs, 1e9, 1e3);
  EXPECT_NEAR(a.nodes()[0].idleNs, 0, 1e3);
}

TEST(FleetModelTest, ADeadClusterServesNothingAndItsCountersStandStill) {
  FleetModel fleet(twoClusters(2.0, 4, 1), WallTime{});
  fleet.step(SimTime{0});
  fleet.step(seconds(1));
  const double before = fleet.clusters()[0].pods()[0].counters.cpuNs;
  fleet.setAlive("a", false, seconds(1));
  fleet.step(seconds(3));
  EXPECT_DOUBLE_EQ(fleet.clusters()[0].pods()[0].counters.cpuNs, before);
  // The survivor takes all the demand.
  EXPECT_NEAR(fleet.clusters()[1].pods()[0].counters.cpuCores, 2.0, 1e-9);
  const WorkloadSample web = fleet.sample().workloads.at("default/web");
  EXPECT_DOUBLE_EQ(web.readyCapacityCores, 4);
  EXPECT_FALSE(web.clusters.at("a").alive);
}

TEST(FleetModelTest, ReplicasThatAreNotReadyIdle) {
  Scenario scenario = twoClusters(2.0, 4, 1);
  scenario.workloads[0].idleCpuCores = 0.01;
  FleetModel fleet(scenario, WallTime{});
  fleet.step(SimTime{0});
  ASSERT_TRUE(fleet.findCluster("a")
                  ->setReplicas(WorkloadKind::kDeployment, "default", "web", 2, "", seconds(1))
                  .ok());
  fleet.step(seconds(1));
  fleet.step(seconds(2));  // the new pod runs (1 s scheduling delay), not ready yet
  double idle = 0;
  for (const auto& pod : fleet.findCluster("a")->pods()) {
    if (pod.running(seconds(2)) && !pod.ready(seconds(2))) idle = pod.counters.cpuCores;
  }
  EXPECT_DOUBLE_EQ(idle, 0.01);
}

double requestsOf(const FleetModel& fleet, const std::string& cluster) {
  return fleet.findCluster(cluster)->pods()[0].counters.requests;
}

// The request counter of a pod's metrics endpoint is the integral of its share of the demand
// times requests-per-core: a step in the curve changes its rate from the next step on, whole.
TEST(FleetModelTest, RequestCountersIntegrateTheShareOfDemandAndFollowAStepAtOnce) {
  Scenario scenario = twoClusters(2.0, 0.5, 1);  // a limit below the share: offered, not served
  scenario.workloads[0].idleCpuCores = 0.01;
  scenario.workloads[0].requestsPerCore = 100;
  LoadCurve step;
  step.kind = LoadCurve::Kind::kStep;
  step.value = 2;
  step.points = {{10.0, 6}};
  scenario.workloads[0].cpu = step;
  FleetModel fleet(scenario, WallTime{});
  fleet.step(SimTime{0});
  EXPECT_DOUBLE_EQ(requestsOf(fleet, "a"), 0);
  fleet.step(seconds(4));
  // 2 cores over 2 replicas: 1 core each, 100 requests/s, for 4 s.
  EXPECT_NEAR(requestsOf(fleet, "a"), 400, 1e-9);
  EXPECT_NEAR(fleet.findCluster("a")->pods()[0].counters.requestsPerSecond, 100, 1e-12);
  fleet.step(seconds(10) - std::chrono::milliseconds(50));
  const double beforeStep = requestsOf(fleet, "a");
  EXPECT_NEAR(beforeStep, 995, 1e-6);
  fleet.step(seconds(10));  // the first step at the new demand: 3 cores each, 300/s
  EXPECT_NEAR(fleet.findCluster("a")->pods()[0].counters.requestsPerSecond, 300, 1e-12);
  EXPECT_NEAR(requestsOf(fleet, "a") - beforeStep, 300 * 0.05, 1e-6);
  fleet.step(seconds(12));
  EXPECT_NEAR(requestsOf(fleet, "a"), 1010 + 600, 1e-6);

  // A dead cluster's counters stand still; the survivor serves the whole demand.
  fleet.setAlive("a", false, seconds(12));
  fleet.step(seconds(14));
  EXPECT_NEAR(requestsOf(fleet, "a"), 1610, 1e-6);
  EXPECT_DOUBLE_EQ(fleet.findCluster("a")->pods()[0].counters.requestsPerSecond, 0);
  EXPECT_NEAR(fleet.findCluster("b")->pods()[0].counters.requestsPerSecond, 600, 1e-12);
}

TEST(FleetModelTest, PodsThatAreNotReadyOrOfWorkloadsWithoutEndpointsServeNoRequests) {
  Scenario scenario = twoClusters(2.0, 4, 1);
  scenario.workloads[0].idleCpuCores = 0.01;
  scenario.workloads[0].requestsPerCore = 10;
  FleetModel fleet(scenario, WallTime{});
  fleet.step(SimTime{0});
  ASSERT_TRUE(fleet.findCluster("a")
                  ->setReplicas(WorkloadKind::kDeployment, "default", "web", 2, "", seconds(1))
                  .ok());
  fleet.step(seconds(1));
  fleet.step(seconds(2));  // the new pod runs (1 s scheduling delay), not ready yet
  for (const auto& pod : fleet.findCluster("a")->pods()) {
    if (pod.ready(seconds(2))) {
      EXPECT_NEAR(pod.counters.requestsPerSecond, 10, 1e-12) << "one core each";
    } else {
      EXPECT_DOUBLE_EQ(pod.counters.requestsPerSecond, 0) << "idle, not serving";
      EXPECT_DOUBLE_EQ(pod.counters.requests, 0);
    }
  }

  FleetModel plain(twoClusters(2.0, 4, 1), WallTime{});
  plain.step(SimTime{0});
  plain.step(seconds(2));
  EXPECT_DOUBLE_EQ(requestsOf(plain, "a"), 0) << "no requests-per-core, no requests";
}

}  // namespace
}  // namespace fleetscale::sim
