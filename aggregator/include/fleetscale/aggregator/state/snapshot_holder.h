// The newest fleet snapshot, published once a tick by the state loop and shared, immutable, by
// the scaling loop, the API and /metrics.
#pragma once

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
    std::lock_guard lock(mutex_);
    latest_ = std::move(snapshot);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const FleetSnapshot> latest_;
};

}  // namespace fleetscale::aggregator
