// Runs scale writes off the decision loop: at most one write in flight per workload and
// cluster (a newer request for the same target replaces one that has not started), a global
// rate limit across all clusters, and a callback with the outcome for events and metrics.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fleetscale/aggregator/actuation/actuator.h"
#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator {

// Token bucket: `ratePerSecond` tokens refill continuously up to `burst`. Thread-safe.
class TokenBucket {
 public:
  TokenBucket(double ratePerSecond, double burst, const Clock& clock);
  // Takes a token if one is available now.
  bool tryTake();
  // How long until a token will be available (zero if one is).
  std::chrono::milliseconds waitTime();

 private:
  void refill();
  std::mutex mutex_;
  double rate_;
  double burst_;
  double tokens_;
  SteadyTime last_;
  const Clock& clock_;
};

struct ActuationQueueOptions {
  int workers = 2;
  double writesPerSecond = 20;  // across all clusters
  double burst = 40;
};

struct CompletedAction {
  std::string cluster;
  ScaleRequest request;
  ActuationOutcome outcome;
  std::chrono::milliseconds duration{0};
};

class ActuationQueue {
 public:
  using ActuatorLookup = std::function<Actuator*(const std::string& cluster)>;
  using Done = std::function<void(const CompletedAction&)>;

  ActuationQueue(ActuatorLookup actuators, ActuationQueueOptions options, const Clock& clock,
                 Done done);
  ~ActuationQueue();
  ActuationQueue(const ActuationQueue&) = delete;
  ActuationQueue& operator=(const ActuationQueue&) = delete;

  // Queues a write. A not-yet-started write for the same cluster and workload is replaced.
  void submit(const std::string& cluster, ScaleRequest request);
  // Writes waiting (not counting those in flight).
  std::size_t waiting() const;
  // True while a write for this target is waiting or in flight.
  bool busy(const std::string& cluster, const WorkloadKey& workload) const;
  // Blocks until nothing is waiting or in flight (tests, shutdown).
  void drain();
  // Finishes the writes in flight, drops the waiting ones, joins the workers.
  void stop();

 private:
  struct Item {
    std::string cluster;
    ScaleRequest request;
  };
  static std::string keyOf(const std::string& cluster, const WorkloadKey& workload);
  void work();

  ActuatorLookup actuators_;
  ActuationQueueOptions options_;
  const Clock& clock_;
  Done done_;
  TokenBucket bucket_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> order_;             // keys in arrival order
  std::map<std::string, Item> waitingItems_;  // by key
  std::set<std::string> inFlight_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace fleetscale::aggregator
