// Where a workload's replicas go: a fleet-wide total split over the clusters it may run in, by
// weight, within per-cluster minimums, maximums and capacity, rounded deterministically
// (largest remainder, ties broken by preference order). Pure.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fleetscale::aggregator::scaling {

struct ClusterSlot {
  std::string cluster;
  double weight = 1;
  std::int32_t minReplicas = 0;
  std::optional<std::int32_t> maxReplicas;
  std::optional<std::int32_t> capacity;  // replicas the cluster can still fit (from allocatable)
  int preference = 0;                    // lower = preferred (cost order); ties go here first
  std::int32_t upperBound() const;       // the tighter of maxReplicas and capacity
};

using Allocation = std::map<std::string, std::int32_t>;  // cluster -> replicas

std::int32_t totalOf(const Allocation& allocation);

struct AllocationResult {
  Allocation replicas;
  std::int32_t unplaced = 0;  // replicas no cluster could take (all at max or capacity)
};

// The target allocation of `total` over `slots`: every slot gets at least its minimum (as far as
// the total allows, most preferred first), the rest is shared by weight among slots below their
// upper bound, with largest-remainder rounding.
AllocationResult allocate(std::int32_t total, const std::vector<ClusterSlot>& slots);

// Moves from `current` toward `target` when only the total changed: adds (or removes) one
// replica at a time where the allocation is furthest below (above) the target, so a change of
// the total by one changes exactly one cluster and nothing moves between clusters. Clusters in
// `current` but not in `slots` are left out of the result.
Allocation adjustTotal(const Allocation& current, std::int32_t total,
                       const std::vector<ClusterSlot>& slots);

}  // namespace fleetscale::aggregator::scaling
