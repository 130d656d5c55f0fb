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
    if (view.health != HealthState::kFailed) plan.readyTotal += view.readyReplicas;
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
    // Replicas that serve nothing cost no capacity to remove (the ReplicaSet controller removes
    // pending and unready pods first): those no agent sees yet. One that agents see but report
    // unready may well be ready by now (readiness reaches the agents with the kubelet's
    // metadata, seconds late), so it counts as serving; only without the agents' pod count do
    // unready replicas count as idle.
    const std::int32_t idle = std::max<std::int32_t>(
        0, view->specReplicas - view->seenReplicas.value_or(view->readyReplicas));
    const std::int32_t free = std::min(wanted, idle);
    const std::int32_t allowed = std::min(wanted, free + std::max<std::int32_t>(0, surplus));
    if (allowed > 0) {
      plan.writes[view->cluster] = view->specReplicas - allowed;
      surplus -= std::max<std::int32_t>(0, allowed - free);
    }
    if (allowed < wanted) {
      plan.notes.push_back(view->cluster + " keeps " + std::to_string(wanted - allowed) +
                           " replicas until enough new replicas are ready elsewhere");
    }
  }
  return plan;
}

}  // namespace fleetscale::aggregator::scaling
