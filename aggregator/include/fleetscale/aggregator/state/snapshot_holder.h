// The newest fleet snapshot, published by the state loop (every tick, and on new data) and
// shared, immutable, by the scaling loop, the API and /metrics.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "fleetscale/aggregator/state/rollup.h"

namespace fleetscale::aggregator {

// The latest published snapshot. Readers get a shared, immutable copy. Thread-safe.
class SnapshotHolder {
 public:
  SnapshotHolder() : latest_(std::make_shared<const FleetSnapshot>()) {}
  std::shared_ptr<const FleetSnapshot> get() const {
    std::lock_guard lock(mutex_);
    return latest_;
  }
  void set(std::shared_ptr<const FleetSnapshot> snapshot) {
    {
      std::lock_guard lock(mutex_);
      latest_ = std::move(snapshot);
      ++generation_;
    }
    published_.notify_all();
  }

  struct Published {
    std::shared_ptr<const FleetSnapshot> snapshot;
    std::uint64_t generation = 0;  // how many have been published; 0 = the empty initial one
  };
  // The latest snapshot once one newer than generation `seen` is published, or after `timeout`
  // whatever is latest: the scaling loop decides as soon as a snapshot appears.
  Published waitForNewer(std::uint64_t seen, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    published_.wait_for(lock, timeout, [&] { return generation_ != seen; });
    return {latest_, generation_};
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable published_;
  std::shared_ptr<const FleetSnapshot> latest_;
  std::uint64_t generation_ = 0;
};

}  // namespace fleetscale::aggregator
