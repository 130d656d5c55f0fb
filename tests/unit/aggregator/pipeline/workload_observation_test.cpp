#include "fleetscale/aggregator/pipeline/workload_observation.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator {
namespace {

PodSample pod(std::string cluster, std::string name, double cpu, double memory) {
  PodSample p;
  p.cluster = std::move(cluster);
  p.pod = std::move(name);
  p.ready = true;
  p.containers = 1;
  p.cpuUsageCores = cpu;
  p.cpuRequestCores = 0.5;
  p.memoryUsageBytes = memory;
  p.memoryRequestBytes = 200;
  p.startTimeUnixMs = 500;
  p.podReadyTimeUnixMs = 1000;
  return p;
}

const WallTime kAt = WallTime(std::chrono::seconds(10));

TEST(WorkloadObservationTest, PodsPerClusterWithUsageAndRequests) {
  WorkloadSnapshot workload;
  workload.pods = {pod("aws", "web-1", 0.25, 60), pod("gcp", "web-1", 0.3, 70)};
  const auto observation =
      buildObservation(workload, 2, kAt, std::chrono::seconds(1), scaling::CpuDemand::kUsage);
  ASSERT_EQ(observation.pods.size(), 2u) << "same pod name in two clusters = two pods";
  EXPECT_EQ(observation.pods[0].name, "aws/web-1");
  EXPECT_EQ(observation.pods[0].cpuRequestMilli, 500);
  EXPECT_EQ(observation.pods[0].memoryRequestMilli, 200'000);
  EXPECT_EQ(observation.pods[0].readyCondition->lastTransition,
            WallTime(std::chrono::milliseconds(1000)));
  const auto& cpu = observation.metrics.at(scaling::Resource::kCpu);
  EXPECT_EQ(cpu.at("aws/web-1").valueMilli, 250);
  EXPECT_EQ(cpu.at("gcp/web-1").timestamp, kAt);
  EXPECT_EQ(observation.metrics.at(scaling::Resource::kMemory).at("gcp/web-1").valueMilli, 70'000);
  EXPECT_EQ(readyPodsByCluster(observation),
            (std::map<std::string, std::int32_t>{{"aws", 1}, {"gcp", 1}}));
}

TEST(WorkloadObservationTest, StalePodsAndMissingFiguresStayWithoutMetrics) {
  WorkloadSnapshot workload;
  auto stale = pod("aws", "web-2", 0.1, 5);
  stale.stale = true;
  auto firstTick = pod("aws", "web-3", kAbsent, 5);
  auto noRequest = pod("aws", "web-4", 0.1, 5);
  noRequest.cpuRequestCores = kAbsent;
  // Its node missed a batch: what it last said may be outdated (the cluster may have gone dark
  // and its load moved elsewhere), so it is not counted next to fresh figures.
  auto late = pod("gcp", "web-5", 0.4, 5);
  late.late = true;
  workload.pods = {stale, firstTick, noRequest, late};
  const auto observation = buildObservation(workload, 4, kAt, std::chrono::seconds(1),
                                            scaling::CpuDemand::kThrottlingAware);
  ASSERT_EQ(observation.pods.size(), 4u) << "known pods without metrics count as missing";
  const auto cpu = observation.metrics.count(scaling::Resource::kCpu) > 0
                       ? observation.metrics.at(scaling::Resource::kCpu)
                       : scaling::PodMetrics{};
  EXPECT_EQ(cpu.count("gcp/web-5"), 0u);
  EXPECT_EQ(observation.metrics.at(scaling::Resource::kMemory).count("gcp/web-5"), 0u);
  EXPECT_EQ(cpu.count("aws/web-2"), 0u);
  EXPECT_EQ(cpu.count("aws/web-3"), 0u);
  EXPECT_EQ(cpu.count("aws/web-4"), 0u) << "its request is not known yet while others' are";
  EXPECT_FALSE(observation.pods[2].cpuRequestMilli);
  EXPECT_EQ(observation.metrics.at(scaling::Resource::kMemory).count("aws/web-2"), 0u);
}

// The HPA reads usage; throttling-aware decisions read what the pod wanted (usage plus the time
// its threads spent throttled at the limit), so a capped replica's figure can exceed its limit.
TEST(WorkloadObservationTest, TheCpuFigureIsUsageOrDemandAsThePolicySays) {
  WorkloadSnapshot workload;
  auto capped = pod("aws", "web-1", 0.5, 60);
  capped.cpuThrottledCores = 1.5;
  capped.cpuUnmetDemandCores = 1.5;
  auto idle = pod("aws", "web-2", 0.1, 60);
  workload.pods = {capped, idle};
  const auto usage =
      buildObservation(workload, 2, kAt, std::chrono::seconds(1), scaling::CpuDemand::kUsage);
  EXPECT_EQ(usage.metrics.at(scaling::Resource::kCpu).at("aws/web-1").valueMilli, 500);
  const auto demand = buildObservation(workload, 2, kAt, std::chrono::seconds(1),
                                       scaling::CpuDemand::kThrottlingAware);
  EXPECT_EQ(demand.metrics.at(scaling::Resource::kCpu).at("aws/web-1").valueMilli, 2000);
  EXPECT_EQ(demand.metrics.at(scaling::Resource::kCpu).at("aws/web-2").valueMilli, 100);
  EXPECT_EQ(demand.metrics.at(scaling::Resource::kMemory).at("aws/web-1").valueMilli, 60'000)
      << "memory is what it is";
}

// Issue 14: a new pod whose requests the agent has not learned yet (metadata refresh) is a pod
// without metrics, not a reason to refuse the whole metric; with no request anywhere the HPA's
// "missing request" error stands.
TEST(WorkloadObservationTest, APodWhoseRequestsAreNotKnownYetHasNoMetrics) {
  WorkloadSnapshot workload;
  PodSample fresh = pod("aws", "web-new", 0.9, 80);
  fresh.cpuRequestCores = kAbsent;
  fresh.memoryRequestBytes = kAbsent;
  workload.pods = {pod("aws", "web-1", 0.25, 60), fresh};
  auto observation =
      buildObservation(workload, 2, kAt, std::chrono::seconds(1), scaling::CpuDemand::kUsage);
  ASSERT_EQ(observation.pods.size(), 2u) << "still a pod of the workload";
  EXPECT_FALSE(observation.pods[1].cpuRequestMilli);
  EXPECT_EQ(observation.metrics.at(scaling::Resource::kCpu).count("aws/web-new"), 0u);
  EXPECT_EQ(observation.metrics.at(scaling::Resource::kMemory).count("aws/web-new"), 0u);
  EXPECT_EQ(observation.metrics.at(scaling::Resource::kCpu).count("aws/web-1"), 1u);

  PodSample bare = pod("aws", "web-2", 0.3, 70);
  bare.cpuRequestCores = kAbsent;
  PodSample bare2 = bare;
  bare2.pod = "web-3";
  workload.pods = {bare, bare2};
  observation =
      buildObservation(workload, 2, kAt, std::chrono::seconds(1), scaling::CpuDemand::kUsage);
  EXPECT_EQ(observation.metrics.at(scaling::Resource::kCpu).size(), 2u)
      << "no request anywhere: metrics as reported, so the calculation says what is missing";
}

}  // namespace
}  // namespace fleetscale::aggregator
