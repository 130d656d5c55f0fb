// The aggregator's once-per-tick work off the ingest path: roll the fleet up into a snapshot that
// readers share, downsample it into 10 s history for the store, record cluster health changes,
// and forget nodes and workload names that have been gone for long.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "fleetscale/aggregator/control/rightsizing_feed.h"
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
  // Disconnected nodes silent this long, and workload names no container carried this long, are
  // forgotten.
  std::chrono::nanoseconds forgetAfter = std::chrono::minutes(10);
  // Dedup progress of agents silent this long is dropped (the store's event retention).
  std::chrono::nanoseconds keepProgressFor = std::chrono::hours(720);
  // Decide when the data arrives: the first batch since the last snapshot starts a sampling
  // round, and the next snapshot comes as soon as the round is in (every clock-aligned agent
  // still reporting has sent its batch), or `debounce` after its first batch at the latest, but
  // no sooner than `minInterval` after the last one. While an agent that does not sample on the
  // clock reports, rounds mean nothing and snapshots stay on the tick. 0 = ticks only.
  std::chrono::milliseconds debounce{250};
  std::chrono::milliseconds minInterval{250};
};

// Runs on its own thread between start() and stop(). `store` may be null. Every `interval` a
// full tick; in between, on new data, a snapshot for the scaling loop alone (the history, the
// health events and forgetting stay on the fixed tick, so their rates do not depend on traffic).
class StateLoop {
 public:
  StateLoop(FleetState& fleet, Store* store, WorkloadHistory& history, SnapshotHolder& snapshots,
            const Clock& clock, StateLoopOptions options);
  ~StateLoop();
  StateLoop(const StateLoop&) = delete;
  StateLoop& operator=(const StateLoop&) = delete;

  // Feeds each full tick's snapshot to the right-sizing recommender (and its state to the store
  // at stop). Before start(); `feed` must outlive the loop.
  void setRightsizing(RightsizingFeed* feed) { rightsizing_ = feed; }
  void start();
  // Stops the thread and hands the partial 10 s bucket to the store.
  void stop();
  // One tick, on the caller's thread (tests).
  void tick();
  // A batch was folded into the fleet state. Any thread; cheap (a lock and a notify).
  void dataArrived();
  // Snapshots published so far, by a tick or by new data (for tests and the metrics).
  std::uint64_t snapshotsPublished() const;

 private:
  FleetState& fleet_;
  Store* store_;
  WorkloadHistory& history_;
  SnapshotHolder& snapshots_;
  const Clock& clock_;
  StateLoopOptions options_;
  RollupDownsampler downsampler_;
  RightsizingFeed* rightsizing_ = nullptr;
  std::map<std::string, ReportingState> health_;
  WallTime lastNamesSweep_{};
  std::shared_ptr<const FleetSnapshot> publishSnapshot(WallTime now);
  // The wait between snapshots: until the next tick or, with data pending, its debounced time.
  bool waitForWork(std::unique_lock<std::mutex>& lock,
                   std::chrono::steady_clock::time_point nextTick);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  // Set by dataArrived() until the next snapshot; when the first such batch came.
  std::optional<std::chrono::steady_clock::time_point> pendingSince_;
  bool roundsUnaligned_ = false;  // this round waits for the tick
  std::chrono::steady_clock::time_point lastSnapshot_{};
  std::uint64_t published_ = 0;
  std::thread thread_;
};

}  // namespace fleetscale::aggregator
