#include "fleetscale/aggregator/state/workload_names.h"

#include <algorithm>
#include <functional>
#include <string>

namespace fleetscale::aggregator {

WorkloadNames::Id WorkloadNames::intern(std::string_view namespaceName, std::string_view kind,
                                        std::string_view name) {
  WorkloadKey key{std::string(namespaceName), std::string(kind), std::string(name)};
  std::lock_guard lock(mutex_);
  auto it = ids_.find(key);
  if (it == ids_.end()) {
    Id id = 0;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = static_cast<Id>(entries_.size());
      entries_.emplace_back();
    }
    entries_[id].key = key;
    entries_[id].live = true;
    it = ids_.emplace(std::move(key), id).first;
  }
  entries_[it->second].internedInSweep = sweep_;
  return it->second;
}

std::vector<WorkloadKey> WorkloadNames::keys(const std::vector<Id>& ids) const {
  std::vector<WorkloadKey> out;
  out.reserve(ids.size());
  std::lock_guard lock(mutex_);
  for (const Id id : ids) out.push_back(entries_.at(id).key);
  return out;
}

std::size_t WorkloadNames::size() const {
  std::lock_guard lock(mutex_);
  return ids_.size();
}

std::uint64_t WorkloadNames::beginSweep() {
  std::lock_guard lock(mutex_);
  return ++sweep_;
}

std::size_t WorkloadNames::endSweep(std::uint64_t sweep, const std::vector<bool>& inUse,
                                    WallTime now, std::chrono::nanoseconds after) {
  std::lock_guard lock(mutex_);
  std::size_t forgotten = 0;
  for (Id id = 0; id < entries_.size(); ++id) {
    Entry& entry = entries_[id];
    if (!entry.live) continue;
    // Interned since the previous sweep began: a record took it after that pass, even if the
    // record is gone again by this one.
    const bool internedLately = entry.internedInSweep + 1 >= sweep;
    if ((id < inUse.size() && inUse[id]) || internedLately) {
      entry.lastUsed = now;
      continue;
    }
    if (now - entry.lastUsed <= after) continue;
    ids_.erase(entry.key);
    entry = Entry{};
    free_.push_back(id);
    ++forgotten;
  }
  if (forgotten > 0) compact();
  return forgotten;
}

void WorkloadNames::compact() {
  while (!entries_.empty() && !entries_.back().live) entries_.pop_back();
  std::erase_if(free_, [&](Id id) { return id >= entries_.size(); });
  // Lowest ids first, so live names gather at the front and the tail keeps coming free.
  std::sort(free_.begin(), free_.end(), std::greater<>());
  if (entries_.size() < entries_.capacity() / 2) {
    entries_.shrink_to_fit();
    free_.shrink_to_fit();
  }
}

}  // namespace fleetscale::aggregator
