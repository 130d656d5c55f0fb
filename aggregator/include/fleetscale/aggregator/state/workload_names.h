// The workload names the live containers carry, interned: a container record holds a 32-bit id
// instead of three strings, and a snapshot groups pods by it. A name no container has carried for
// a while is forgotten and its id reused, so the table follows the live workloads, not every
// name ever reported (CronJob-style workloads get a new name per run).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string_view>
#include <vector>

#include "fleetscale/aggregator/state/model.h"
#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator {

// Thread-safe.
class WorkloadNames {
 public:
  using Id = std::uint32_t;
  static constexpr Id kNone = UINT32_MAX;

  Id intern(std::string_view namespaceName, std::string_view kind, std::string_view name);
  // The names of `ids` (each one interned and not forgotten), in the same order.
  std::vector<WorkloadKey> keys(const std::vector<Id>& ids) const;
  // Names held, forgotten ones excluded.
  std::size_t size() const;

  // Forgetting runs in two steps around a pass over the live records, so that a name interned
  // while the pass runs is never taken for unused: beginSweep(), then every id the records hold
  // goes into `inUse`, then endSweep() forgets the names neither in use, nor interned since the
  // previous beginSweep(), nor seen in use within `after` of `now`. Returns how many it forgot.
  // One sweep at a time.
  std::uint64_t beginSweep();
  std::size_t endSweep(std::uint64_t sweep, const std::vector<bool>& inUse, WallTime now,
                       std::chrono::nanoseconds after);

 private:
  struct Entry {
    WorkloadKey key;
    WallTime lastUsed{};
    std::uint64_t internedInSweep = 0;
    bool live = false;
  };
  // Drops the forgotten entries at the end of the table and hands out the lowest ids first.
  void compact();

  mutable std::mutex mutex_;
  std::map<WorkloadKey, Id> ids_;
  std::vector<Entry> entries_;  // by id
  std::vector<Id> free_;        // forgotten ids, reused first, lowest last
  std::uint64_t sweep_ = 0;
};

}  // namespace fleetscale::aggregator
