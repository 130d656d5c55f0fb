// How many replicas of a workload a cluster can hold, from the allocatable resources its agents
// report and the requests of the pods already there. Pure.
#pragma once

#include <cstdint>
#include <optional>

namespace fleetscale::aggregator::scaling {

struct ClusterResources {
  double cpuAllocatableCores = 0;  // 0 = not reported
  double memoryAllocatableBytes = 0;
  double cpuRequestedCores = 0;  // summed requests of the pods running there
  double memoryRequestedBytes = 0;
};

struct PodRequests {
  double cpuCores = 0;  // 0 = no request
  double memoryBytes = 0;
};

// The workload's `running` replicas there plus as many more as the free allocatable CPU and
// memory fit at `pod`'s requests. Absent when nothing bounds it: no allocatable reported, or
// a pod that requests neither resource.
std::optional<std::int32_t> replicasThatFit(const ClusterResources& cluster, const PodRequests& pod,
                                            std::int32_t running);

}  // namespace fleetscale::aggregator::scaling
