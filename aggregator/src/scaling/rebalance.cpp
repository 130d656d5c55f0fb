#include "fleetscale/aggregator/scaling/rebalance.h"

#include <algorithm>
#include <map>

namespace fleetscale::aggregator::scaling {
namespace {

bool reachable(const ClusterView& view) {
  return view.health == HealthState::kHealthy || view.health == HealthState::kRecovering;
}

bool eligible(const ClusterView& view) { return !view.draining && reachable(view); }

// Why no cluster takes more: each cluster of the workload with what stops it.
std::string unplacedReason(const std::vector<ClusterView>& clusters,
                           const std::map<std::string, const ClusterSlot*>& slotOf,
                           const Allocation& targets) {
  std::string reason;
  for (const auto& view : clusters) {
    std::string why;
    const auto slot = slotOf.find(view.cluster);
    const std::int32_t target = targets.count(view.cluster) ? targets.at(view.cluster) : 0;
    if (view.health == HealthState::kFailed) {
      why = "failed";
    } else if (view.health == HealthState::kSuspect) {
      why = "suspect, held at " + std::to_string(view.specReplicas);
    } else if (slot != slotOf.end() && target >= slot->second->upperBound()) {
      const bool full = slot->second->capacity && *slot->second->capacity <= target;
      why = (full ? "full at " : "at its maximum of ") + std::to_string(target);
      if (view.draining) why += " (draining, used as the last resort)";
    } else {
      continue;
    }
    reason += (reason.empty() ? "" : "; ") + view.cluster + " " + why;
  }
  return reason;
}

std::string signatureOf(const std::vector<ClusterSlot>& slots) {
  std::string signature;
  for (const auto& slot : slots) {
    signature += slot.cluster + ":" + std::to_string(slot.weight) + ":" +
                 std::to_string(slot.minReplicas) + ":" + std::to_string(slot.upperBound()) + ":" +
                 std::to_string(slot.preference) + ";";
  }
  return signature;
}

// A drain is a preference, not an order to take the service down: the replicas no destination can
// hold, and those only recovering destinations hold so far (they may fail again before they are
// healthy), stay on the reachable draining clusters, with the same weights and bounds.
void placeLastResort(const std::vector<ClusterView>& clusters,
                     const std::map<std::string, const ClusterSlot*>& slotOf, PlacementPlan& plan) {
  std::int32_t need = plan.unplaced;
  for (const auto& view : clusters) {
    if (eligible(view) && view.health == HealthState::kRecovering)
      need += plan.targets[view.cluster];
  }
  std::vector<ClusterSlot> drainingSlots;
  for (const auto& view : clusters) {
    const auto slot = slotOf.find(view.cluster);
    if (view.draining && reachable(view) && slot != slotOf.end())
      drainingSlots.push_back(*slot->second);
  }
  if (need <= 0 || drainingSlots.empty()) return;
  const AllocationResult kept = allocate(need, drainingSlots);
  const std::int32_t placed = need - kept.unplaced;
  // Replicas held for recovering destinations are extra, not a shortfall: only the unplaced
  // ones that found a draining cluster stop being unplaced.
  plan.unplaced = std::max<std::int32_t>(0, plan.unplaced - placed);
  for (const auto& [cluster, replicas] : kept.replicas) {
    if (replicas <= 0) continue;
    plan.targets[cluster] = replicas;
    plan.lastResort[cluster] = replicas;
    plan.notes.push_back(cluster + " is draining but keeps " + std::to_string(replicas) +
                         " replicas: no healthy destination can take them yet");
  }
}

}  // namespace

PlacementPlan planPlacement(std::int32_t total, const std::vector<ClusterSlot>& slots,
                            const std::vector<ClusterView>& clusters, PlacementMemory& memory) {
  PlacementPlan plan;
  std::map<std::string, const ClusterSlot*> slotOf;
  for (const auto& slot : slots) slotOf[slot.cluster] = &slot;

  // Suspect clusters are held where they are: they may well be serving, and a one-signal outage
  // is no reason to move anything.
  std::int32_t held = 0;
  std::vector<ClusterSlot> eligibleSlots;
  for (const auto& view : clusters) {
    // Ready pods beyond the spec are on their way out (the agents see them until they are
    // gone): no capacity to count on.
    if (view.health != HealthState::kFailed)
      plan.readyTotal += std::min(view.readyReplicas, view.specReplicas);
    if (view.health == HealthState::kSuspect) {
      held += view.specReplicas;
      plan.targets[view.cluster] = view.specReplicas;
    } else if (eligible(view)) {
      if (const auto slot = slotOf.find(view.cluster); slot != slotOf.end())
        eligibleSlots.push_back(*slot->second);
    }
  }
  const std::int32_t eligibleTotal = std::max<std::int32_t>(0, total - held);

  // Targets: adjusted step by step while the eligible set and its slots stay the same; computed
  // afresh when they change (a failure, a recovery, a drain, a config change).
  const std::string signature = signatureOf(eligibleSlots);
  Allocation targets;
  if (signature == memory.signature && !memory.targets.empty()) {
    targets = adjustTotal(memory.targets, eligibleTotal, eligibleSlots);
  } else {
    targets = allocate(eligibleTotal, eligibleSlots).replicas;
  }
  plan.unplaced = eligibleTotal - totalOf(targets);
  memory.targets = targets;
  memory.signature = signature;
  for (const auto& [cluster, replicas] : targets) plan.targets[cluster] = replicas;
  for (const auto& view : clusters) {
    if (view.draining && view.health != HealthState::kSuspect) plan.targets[view.cluster] = 0;
  }
  placeLastResort(clusters, slotOf, plan);
  if (plan.unplaced > 0) {
    plan.unplacedReason = unplacedReason(clusters, slotOf, plan.targets);
    plan.notes.push_back(std::to_string(plan.unplaced) +
                         " replicas cannot be placed: " + plan.unplacedReason);
  }

  // Make before break: grow first, then shrink only by the ready surplus over the total needed.
  std::int32_t surplus = plan.readyTotal - total;
  for (const auto& view : clusters) {
    if (view.health == HealthState::kFailed || view.health == HealthState::kSuspect) continue;
    const std::int32_t target = plan.targets[view.cluster];
    if (target > view.specReplicas) plan.writes[view.cluster] = target;
  }
  // Shrink the least preferred clusters first (draining ones before all others).
  std::vector<const ClusterView*> shrinking;
  for (const auto& view : clusters) {
    if (view.health == HealthState::kFailed || view.health == HealthState::kSuspect) continue;
    if (plan.targets[view.cluster] < view.specReplicas) shrinking.push_back(&view);
  }
  std::stable_sort(shrinking.begin(), shrinking.end(),
                   [&](const ClusterView* a, const ClusterView* b) {
                     if (a->draining != b->draining) return a->draining;
                     const int pa = slotOf.count(a->cluster) ? slotOf[a->cluster]->preference : 0;
                     const int pb = slotOf.count(b->cluster) ? slotOf[b->cluster]->preference : 0;
                     return pa > pb;
                   });
  for (const ClusterView* view : shrinking) {
    const std::int32_t target = plan.targets[view->cluster];
    const std::int32_t wanted = view->specReplicas - target;
    // Only the ready surplus elsewhere pays for a removal, even of replicas the agents do not
    // see ready: readiness and new pods reach the agents with the kubelet's metadata, seconds
    // late, so such a replica may well be serving, and which pods the ReplicaSet controller
    // removes is not ours to choose.
    const std::int32_t allowed = std::min(wanted, std::max<std::int32_t>(0, surplus));
    if (allowed > 0) {
      plan.writes[view->cluster] = view->specReplicas - allowed;
      surplus -= allowed;
    }
    if (allowed < wanted) {
      plan.notes.push_back(view->cluster + " keeps " + std::to_string(wanted - allowed) +
                           " replicas until enough new replicas are ready elsewhere");
    }
  }
  return plan;
}

}  // namespace fleetscale::aggregator::scaling
