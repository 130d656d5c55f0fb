#include "fleetscale/aggregator/workload_observation.h"

#include <cmath>
#include <map>

namespace fleetscale::aggregator {
namespace {

using namespace scaling;

PodPhase phaseOf(const std::string& phase) {
  if (phase == "Pending") return PodPhase::kPending;
  if (phase == "Succeeded") return PodPhase::kSucceeded;
  if (phase == "Failed") return PodPhase::kFailed;
  if (phase == "Unknown") return PodPhase::kUnknown;
  return PodPhase::kRunning;  // a container the agent can read is running
}

struct PodAccumulator {
  PodInfo info;
  bool anyStale = false;
  bool cpuComplete = true;  // every container had a CPU rate
  std::int64_t cpuMilli = 0;
  std::int64_t memoryMilli = 0;
  std::int64_t cpuRequestMilli = 0;
  std::int64_t memoryRequestMilli = 0;
  bool cpuRequests = true;
  bool memoryRequests = true;
  WallTime sampledAt{};
  std::chrono::milliseconds window{0};
};

}  // namespace

WorkloadObservation buildObservation(const std::vector<ContainerRecord>& containers,
                                     std::int32_t currentReplicas) {
  std::map<std::string, PodAccumulator> pods;
  for (const auto& c : containers) {
    const std::string key = c.cluster + "/" + (c.pod.empty() ? c.podUid : c.pod);
    PodAccumulator& pod = pods[key];
    if (pod.info.name.empty()) {
      pod.info.name = key;
      pod.info.cluster = c.cluster;
      pod.info.phase = phaseOf(c.podPhase);
      if (c.startTimeUnixMs > 0)
        pod.info.startTime = WallTime(std::chrono::milliseconds(c.startTimeUnixMs));
      if (c.ready) {
        pod.info.readyCondition =
            ReadyCondition{*c.ready, WallTime(std::chrono::milliseconds(c.readySinceUnixMs))};
      }
    }
    pod.anyStale |= c.stale;
    if (c.cpuCores) {
      pod.cpuMilli += std::llround(*c.cpuCores * 1000.0);
    } else {
      pod.cpuComplete = false;
    }
    pod.memoryMilli += static_cast<std::int64_t>(c.memoryWorkingSetBytes) * 1000;
    if (c.cpuRequestCores) {
      pod.cpuRequestMilli += std::llround(*c.cpuRequestCores * 1000.0);
    } else {
      pod.cpuRequests = false;
    }
    if (c.memoryRequestBytes) {
      pod.memoryRequestMilli += static_cast<std::int64_t>(*c.memoryRequestBytes) * 1000;
    } else {
      pod.memoryRequests = false;
    }
    pod.sampledAt = std::max(pod.sampledAt, c.sampledAt);
    pod.window = std::max(pod.window, c.window);
  }
  WorkloadObservation observation;
  observation.currentReplicas = currentReplicas;
  for (auto& [key, pod] : pods) {
    if (pod.cpuRequests) pod.info.cpuRequestMilli = pod.cpuRequestMilli;
    if (pod.memoryRequests) pod.info.memoryRequestMilli = pod.memoryRequestMilli;
    // A pod with any stale container has no trustworthy sample: it counts as missing metrics.
    if (!pod.anyStale) {
      if (pod.cpuComplete)
        observation.metrics[Resource::kCpu][key] =
            PodMetric{pod.cpuMilli, pod.sampledAt, pod.window};
      observation.metrics[Resource::kMemory][key] =
          PodMetric{pod.memoryMilli, pod.sampledAt, pod.window};
    }
    observation.pods.push_back(std::move(pod.info));
  }
  return observation;
}

std::map<std::string, std::int32_t> readyPodsByCluster(const WorkloadObservation& observation) {
  std::map<std::string, std::int32_t> ready;
  for (const auto& pod : observation.pods) {
    if (pod.phase == PodPhase::kRunning && pod.readyCondition && pod.readyCondition->ready)
      ++ready[pod.cluster];
  }
  return ready;
}

}  // namespace fleetscale::aggregator
