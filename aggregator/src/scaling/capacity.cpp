#include "fleetscale/aggregator/scaling/capacity.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fleetscale::aggregator::scaling {
namespace {

// Replicas of `perPod` that fit in what is left of `allocatable`; absent when unbounded.
std::optional<double> fits(double allocatable, double requested, double perPod) {
  if (allocatable <= 0 || perPod <= 0) return std::nullopt;
  return std::floor(std::max(0.0, allocatable - requested) / perPod);
}

}  // namespace

std::optional<std::int32_t> replicasThatFit(const ClusterResources& cluster, const PodRequests& pod,
                                            std::int32_t running) {
  const auto byCpu = fits(cluster.cpuAllocatableCores, cluster.cpuRequestedCores, pod.cpuCores);
  const auto byMemory =
      fits(cluster.memoryAllocatableBytes, cluster.memoryRequestedBytes, pod.memoryBytes);
  if (!byCpu && !byMemory) return std::nullopt;
  const double more = std::min(byCpu.value_or(byMemory.value_or(0)), byMemory.value_or(*byCpu));
  const double limit = std::numeric_limits<std::int32_t>::max() - std::max(0, running);
  return std::max(0, running) + static_cast<std::int32_t>(std::min(more, limit));
}

}  // namespace fleetscale::aggregator::scaling
