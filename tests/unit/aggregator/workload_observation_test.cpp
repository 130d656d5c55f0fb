#include "fleetscale/aggregator/workload_observation.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator {
namespace {

ContainerRecord container(std::string cluster, std::string pod, double cpu, std::uint64_t memory) {
  ContainerRecord c;
  c.cluster = std::move(cluster);
  c.pod = std::move(pod);
  c.podPhase = "Running";
  c.ready = true;
  c.readySinceUnixMs = 1000;
  c.startTimeUnixMs = 500;
  c.cpuRequestCores = 0.25;
  c.memoryRequestBytes = 100;
  c.cpuCores = cpu;
  c.memoryWorkingSetBytes = memory;
  c.sampledAt = WallTime(std::chrono::seconds(10));
  return c;
}

TEST(WorkloadObservationTest, ContainersSumIntoPodsPerCluster) {
  auto sidecar = container("aws", "web-1", 0.05, 10);
  const auto observation = buildObservation(
      {container("aws", "web-1", 0.2, 50), sidecar, container("gcp", "web-1", 0.3, 60)}, 2);
  ASSERT_EQ(observation.pods.size(), 2u) << "same pod name in two clusters = two pods";
  EXPECT_EQ(observation.pods[0].name, "aws/web-1");
  EXPECT_EQ(observation.pods[0].cpuRequestMilli, 500);
  EXPECT_EQ(observation.pods[0].memoryRequestMilli, 200'000);
  const auto& cpu = observation.metrics.at(scaling::Resource::kCpu);
  EXPECT_EQ(cpu.at("aws/web-1").valueMilli, 250);
  EXPECT_EQ(cpu.at("gcp/web-1").valueMilli, 300);
  EXPECT_EQ(observation.metrics.at(scaling::Resource::kMemory).at("aws/web-1").valueMilli, 60'000);
  EXPECT_EQ(observation.pods[0].readyCondition->lastTransition,
            WallTime(std::chrono::milliseconds(1000)));
  EXPECT_EQ(readyPodsByCluster(observation),
            (std::map<std::string, std::int32_t>{{"aws", 1}, {"gcp", 1}}));
}

TEST(WorkloadObservationTest, StaleOrRatelessContainersLeaveThePodWithoutMetrics) {
  auto stale = container("aws", "web-2", 0.1, 5);
  stale.stale = true;
  auto fresh = container("aws", "web-3", 0.1, 5);
  fresh.cpuCores.reset();  // first tick of this container: no rate yet
  const auto observation = buildObservation({stale, fresh}, 2);
  EXPECT_EQ(observation.metrics.count(scaling::Resource::kCpu), 0u) << "no pod has a CPU sample";
  EXPECT_EQ(observation.pods.size(), 2u) << "both pods are known, just without metrics";
  EXPECT_EQ(observation.metrics.at(scaling::Resource::kMemory).count("aws/web-3"), 1u);
}

TEST(WorkloadObservationTest, MissingRequestsStayMissing) {
  auto noRequest = container("aws", "web-4", 0.1, 5);
  noRequest.cpuRequestCores.reset();
  const auto observation = buildObservation({noRequest, container("aws", "web-4", 0.1, 5)}, 1);
  EXPECT_FALSE(observation.pods[0].cpuRequestMilli)
      << "one container without a request: the pod has none";
}

}  // namespace
}  // namespace fleetscale::aggregator
