// The aggregator's once-per-tick work off the ingest path: roll the fleet up into a snapshot that
// readers share, downsample it into 10 s history for the store, record cluster health changes,
// and forget nodes that have been gone for long.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "fleetscale/aggregator/state/fleet_state.h"
#include "fleetscale/aggregator/state/history.h"
#include "fleetscale/aggregator/state/snapshot_holder.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator {

// Events for clusters whose health differs from `previous` (which is updated). A cluster seen
// for the first time is recorded too.
std::vector<EventRecord> clusterHealthChanges(std::map<std::string, ReportingState>& previous,
                                              const FleetSnapshot& snapshot);

struct StateLoopOptions {
  std::chrono::milliseconds interval{1000};
  std::chrono::nanoseconds forgetAfter = std::chrono::minutes(10);
};

// Runs on its own thread between start() and stop(). `store` may be null.
class StateLoop {
 public:
  StateLoop(FleetState& fleet, Store* store, WorkloadHistory& history, SnapshotHolder& snapshots,
            const Clock& clock, StateLoopOptions options);
  ~StateLoop();
  StateLoop(const StateLoop&) = delete;
  StateLoop& operator=(const StateLoop&) = delete;

  void start();
  // Stops the thread and hands the partial 10 s bucket to the store.
  void stop();
  // One tick, on the caller's thread (tests).
  void tick();

 private:
  FleetState& fleet_;
  Store* store_;
  WorkloadHistory& history_;
  SnapshotHolder& snapshots_;
  const Clock& clock_;
  StateLoopOptions options_;
  RollupDownsampler downsampler_;
  std::map<std::string, ReportingState> health_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fleetscale::aggregator
