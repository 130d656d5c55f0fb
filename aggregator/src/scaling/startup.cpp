#include "fleetscale/aggregator/scaling/startup.h"

#include <algorithm>

namespace fleetscale::aggregator::scaling {

namespace {
constexpr double kNewestWeight = 0.25;
}  // namespace

void StartupTracker::scaleWritten(const std::string& cluster, std::int32_t from, std::int32_t to,
                                  WallTime now) {
  if (to < from) {
    pending_.erase(cluster);
    return;
  }
  if (to > from) pending_.try_emplace(cluster, Pending{now, to});
}

void StartupTracker::readySeen(const std::string& cluster, std::int32_t ready, WallTime now) {
  const auto it = pending_.find(cluster);
  if (it == pending_.end()) return;
  if (now - it->second.since > kGiveUpAfter) {
    pending_.erase(it);
    return;
  }
  if (ready < it->second.target) return;
  const double took = std::chrono::duration<double, std::milli>(now - it->second.since).count();
  Learned& learned = learned_[cluster];
  learned.meanMs =
      learned.count == 0 ? took : (1 - kNewestWeight) * learned.meanMs + kNewestWeight * took;
  ++learned.count;
  pending_.erase(it);
}

std::optional<std::chrono::milliseconds> StartupTracker::startupTime(
    const std::string& cluster) const {
  const auto it = learned_.find(cluster);
  if (it == learned_.end()) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(it->second.meanMs));
}

std::optional<std::chrono::milliseconds> StartupTracker::slowest() const {
  std::optional<std::chrono::milliseconds> out;
  for (const auto& [cluster, learned] : learned_) {
    const auto time = std::chrono::milliseconds(static_cast<std::int64_t>(learned.meanMs));
    out = out ? std::max(*out, time) : time;
  }
  return out;
}

std::size_t StartupTracker::measurements(const std::string& cluster) const {
  const auto it = learned_.find(cluster);
  return it == learned_.end() ? 0 : it->second.count;
}

}  // namespace fleetscale::aggregator::scaling
