// From a fleet-wide replica total to per-cluster writes, safely: failed clusters are left alone
// and their share goes to the others at once; suspect clusters are held as they are; draining
// and over-target clusters shrink only while the ready replicas elsewhere still cover the need
// (make before break), so failback and migration never dip below the required capacity.
// Draining clusters are the last resort: what the other clusters cannot hold (failed, full, at
// their maximum) and what only recovering clusters hold so far stays on, or goes back to, the
// reachable draining clusters, and the drain resumes once a destination is healthy. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fleetscale/aggregator/scaling/cluster_health.h"
#include "fleetscale/aggregator/scaling/placement.h"

namespace fleetscale::aggregator::scaling {

struct ClusterView {
  std::string cluster;
  HealthState health = HealthState::kHealthy;
  bool draining = false;           // an operator asked to move everything off it
  std::int32_t specReplicas = 0;   // what the cluster's API holds now
  std::int32_t readyReplicas = 0;  // ready pods the agents see there
};

// What the planner remembers per workload between ticks, so that a change of the total alone
// moves one cluster at a time and nothing moves between clusters without a reason.
struct PlacementMemory {
  Allocation targets;
  std::string signature;  // the eligible clusters and their slots the targets were computed for
};

struct PlacementPlan {
  Allocation targets;              // where the replicas should end up
  Allocation writes;               // changes to make now: cluster -> new spec replicas
  std::int32_t unplaced = 0;       // replicas no cluster can take, draining ones included
  std::int32_t readyTotal = 0;     // ready replicas in clusters that are not failed
  Allocation lastResort;           // draining clusters holding replicas because nothing else can
  std::string unplacedReason;      // why no cluster takes the unplaced replicas ("" when none)
  std::vector<std::string> notes;  // why something waits ("aws shrinks once gcp has 3 more ready")
};

PlacementPlan planPlacement(std::int32_t total, const std::vector<ClusterSlot>& slots,
                            const std::vector<ClusterView>& clusters, PlacementMemory& memory);

}  // namespace fleetscale::aggregator::scaling
