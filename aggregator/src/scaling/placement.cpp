#include "fleetscale/aggregator/scaling/placement.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fleetscale::aggregator::scaling {
namespace {

constexpr std::int32_t kUnbounded = std::numeric_limits<std::int32_t>::max();

// Slots in preference order (then by name), so every tie is broken the same way.
std::vector<const ClusterSlot*> ordered(const std::vector<ClusterSlot>& slots) {
  std::vector<const ClusterSlot*> out;
  for (const auto& slot : slots) out.push_back(&slot);
  std::stable_sort(out.begin(), out.end(), [](const ClusterSlot* a, const ClusterSlot* b) {
    return a->preference != b->preference ? a->preference < b->preference : a->cluster < b->cluster;
  });
  return out;
}

// Shares `left` among the slots below their upper bound in proportion to `weightOf`, with
// largest-remainder rounding: slots that hit their bound drop out and their share is spread over
// the others, until everything is placed or every slot is full. Returns what is left.
template <typename WeightOf>
std::int32_t fillByWeight(std::int32_t left, const std::vector<const ClusterSlot*>& order,
                          Allocation& replicas, WeightOf weightOf) {
  while (left > 0) {
    std::vector<const ClusterSlot*> open;
    double weights = 0;
    for (const auto* slot : order) {
      if (weightOf(*slot) > 0 && replicas[slot->cluster] < slot->upperBound()) {
        open.push_back(slot);
        weights += weightOf(*slot);
      }
    }
    if (open.empty() || weights <= 0) break;
    struct Share {
      const ClusterSlot* slot;
      std::int32_t whole;
      double remainder;
    };
    std::vector<Share> shares;
    std::int32_t placed = 0;
    for (const auto* slot : open) {
      const double exact = left * weightOf(*slot) / weights;
      const std::int32_t room = slot->upperBound() - replicas[slot->cluster];
      const auto whole = static_cast<std::int32_t>(std::min<double>(std::floor(exact), room));
      shares.push_back({slot, whole, whole < room ? exact - std::floor(exact) : -1.0});
      placed += whole;
    }
    // Largest remainders get the leftover units; equal remainders go by preference order.
    std::stable_sort(shares.begin(), shares.end(),
                     [](const Share& a, const Share& b) { return a.remainder > b.remainder; });
    std::int32_t leftover = left - placed;
    for (auto& share : shares) {
      if (leftover == 0) break;
      if (share.remainder < 0) continue;
      if (share.whole < share.slot->upperBound() - replicas[share.slot->cluster]) {
        ++share.whole;
        --leftover;
      }
    }
    std::int32_t progress = 0;
    for (const auto& share : shares) {
      replicas[share.slot->cluster] += share.whole;
      progress += share.whole;
    }
    left -= progress;
    if (progress == 0) break;
  }
  return left;
}

}  // namespace

std::int32_t ClusterSlot::upperBound() const {
  std::int32_t bound = kUnbounded;
  if (maxReplicas) bound = std::min(bound, *maxReplicas);
  if (capacity) bound = std::min(bound, std::max<std::int32_t>(0, *capacity));
  return bound;
}

std::int32_t totalOf(const Allocation& allocation) {
  std::int32_t total = 0;
  for (const auto& [cluster, replicas] : allocation) total += replicas;
  return total;
}

AllocationResult allocate(std::int32_t total, const std::vector<ClusterSlot>& slots) {
  AllocationResult result;
  const auto order = ordered(slots);
  for (const auto* slot : order) result.replicas[slot->cluster] = 0;
  std::int32_t left = std::max<std::int32_t>(0, total);

  // Minimums first, most preferred first, within each slot's upper bound.
  for (const auto* slot : order) {
    const std::int32_t take = std::min({slot->minReplicas, slot->upperBound(), left});
    result.replicas[slot->cluster] = std::max<std::int32_t>(0, take);
    left -= result.replicas[slot->cluster];
  }

  // The rest by weight, water-filling; then standby slots (weight 0) take what the weighted
  // ones could not, in equal shares.
  left = fillByWeight(left, order, result.replicas,
                      [](const ClusterSlot& slot) { return slot.weight; });
  left = fillByWeight(left, order, result.replicas,
                      [](const ClusterSlot& slot) { return slot.weight > 0 ? 0.0 : 1.0; });
  result.unplaced = left;
  return result;
}

Allocation adjustTotal(const Allocation& current, std::int32_t total,
                       const std::vector<ClusterSlot>& slots) {
  const Allocation target = allocate(total, slots).replicas;
  Allocation next;
  std::map<std::string, const ClusterSlot*> byName;
  for (const auto& slot : slots) {
    const auto it = current.find(slot.cluster);
    next[slot.cluster] = it == current.end() ? 0 : it->second;
    byName[slot.cluster] = &slot;
  }
  const auto order = ordered(slots);
  std::int32_t sum = totalOf(next);
  while (sum < total) {
    const ClusterSlot* best = nullptr;
    std::int32_t bestGap = std::numeric_limits<std::int32_t>::min();
    for (const auto* slot : order) {
      if (next[slot->cluster] >= slot->upperBound()) continue;
      const std::int32_t gap = target.at(slot->cluster) - next[slot->cluster];
      if (gap > bestGap) {
        bestGap = gap;
        best = slot;
      }
    }
    if (best == nullptr) break;  // every cluster is full
    ++next[best->cluster];
    ++sum;
  }
  while (sum > total) {
    const ClusterSlot* best = nullptr;
    std::int32_t bestExcess = std::numeric_limits<std::int32_t>::min();
    // The least preferred cluster gives up replicas first on ties.
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const ClusterSlot* slot = *it;
      if (next[slot->cluster] <= std::min(slot->minReplicas, slot->upperBound())) continue;
      const std::int32_t excess = next[slot->cluster] - target.at(slot->cluster);
      if (excess > bestExcess) {
        bestExcess = excess;
        best = slot;
      }
    }
    if (best == nullptr) break;
    --next[best->cluster];
    --sum;
  }
  return next;
}

}  // namespace fleetscale::aggregator::scaling
