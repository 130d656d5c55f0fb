#include "fleetscale/aggregator/pipeline/workload_observation.h"

#include <cmath>

namespace fleetscale::aggregator {

using namespace scaling;

WorkloadObservation buildObservation(const WorkloadSnapshot& workload, std::int32_t currentReplicas,
                                     WallTime sampledAt, std::chrono::milliseconds window,
                                     CpuDemand cpuDemand) {
  WorkloadObservation observation;
  observation.currentReplicas = currentReplicas;
  // A pod whose requests are not known while its siblings' are is new: the agent learns requests
  // from the kubelet every few seconds. The HPA would refuse the whole metric ("missing request
  // for cpu") and stop scaling while the fleet scales out; it is a pod without metrics instead,
  // which the calculation already handles. When no pod has a request the error stands.
  bool anyCpuRequest = false, anyMemoryRequest = false;
  for (const auto& sample : workload.pods) {
    anyCpuRequest |= isPresent(sample.cpuRequestCores);
    anyMemoryRequest |= isPresent(sample.memoryRequestBytes);
  }
  for (const auto& sample : workload.pods) {
    PodInfo pod;
    pod.name = sample.cluster + "/" + sample.pod;
    pod.cluster = sample.cluster;
    pod.phase = PodPhase::kRunning;  // the agents only see pods whose containers run
    if (sample.startTimeUnixMs > 0)
      pod.startTime = WallTime(std::chrono::milliseconds(sample.startTimeUnixMs));
    pod.readyCondition = ReadyCondition{
        sample.ready, WallTime(std::chrono::milliseconds(sample.podReadyTimeUnixMs))};
    // Sums are NaN when any container lacks the figure: the pod then has none, as in the HPA.
    if (isPresent(sample.cpuRequestCores))
      pod.cpuRequestMilli = std::llround(sample.cpuRequestCores * 1000.0);
    if (isPresent(sample.memoryRequestBytes)) {
      pod.memoryRequestMilli = std::llround(sample.memoryRequestBytes) * 1000;
    }
    if (!sample.stale && !sample.late) {
      const double cpu = cpuFigure(cpuDemand, sample.cpuUsageCores, sample.cpuUnmetDemandCores);
      const bool cpuRequestPending = anyCpuRequest && !pod.cpuRequestMilli;
      const bool memoryRequestPending = anyMemoryRequest && !pod.memoryRequestMilli;
      if (isPresent(cpu) && !cpuRequestPending) {
        observation.metrics[Resource::kCpu][pod.name] =
            PodMetric{std::llround(cpu * 1000.0), sampledAt, window};
      }
      if (!memoryRequestPending) {
        observation.metrics[Resource::kMemory][pod.name] =
            PodMetric{std::llround(sample.memoryUsageBytes) * 1000, sampledAt, window};
      }
    }
    observation.pods.push_back(std::move(pod));
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
