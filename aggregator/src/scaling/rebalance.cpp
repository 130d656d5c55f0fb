#include "fleetscale/aggregator/scaling/rebalance.h"

#include <algorithm>
#include <map>

namespace fleetscale::aggregator::scaling {
namespace {

bool eligible(const ClusterView& view) {
  return !view.draining &&
         (view.health == HealthState::kHealthy || view.health == HealthState::kRecovering);
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
  if (plan.unplaced > 0) {
    plan.notes.push_back(std::to_string(plan.unplaced) +
                         " replicas cannot be placed: the eligible clusters are at "
                         "their maximum or capacity");
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
