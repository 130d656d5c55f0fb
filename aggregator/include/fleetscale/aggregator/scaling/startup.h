// How long a workload takes from a scale-up request to Ready replicas, per cluster, learned from
// what the agents report: a request that raises a cluster's spec.replicas starts a clock, and the
// clock stops when that many replicas are ready there. Scheduling, image pulls, start-up and
// readiness probes are all in it, which is what predictive scaling must look ahead by. Pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator::scaling {

class StartupTracker {
 public:
  // The cluster's spec.replicas was written from `from` to `to` at `now`. A raise starts a
  // measurement unless one is running (it then keeps its start and target); a cut cancels it.
  void scaleWritten(const std::string& cluster, std::int32_t from, std::int32_t to, WallTime now);
  // `ready` replicas are ready in the cluster at `now`: completes a running measurement once
  // they reach its target. A measurement older than `kGiveUpAfter` is dropped (the cluster
  // could not place the pods: not a start-up time).
  void readySeen(const std::string& cluster, std::int32_t ready, WallTime now);

  // The running mean of the cluster's measurements (the newest weighs a quarter).
  std::optional<std::chrono::milliseconds> startupTime(const std::string& cluster) const;
  // The slowest cluster's, the look-ahead a fleet-wide forecast needs.
  std::optional<std::chrono::milliseconds> slowest() const;
  std::size_t measurements(const std::string& cluster) const;

  static constexpr std::chrono::minutes kGiveUpAfter{30};

 private:
  struct Pending {
    WallTime since{};
    std::int32_t target = 0;
  };
  struct Learned {
    double meanMs = 0;
    std::size_t count = 0;
  };
  std::map<std::string, Pending> pending_;
  std::map<std::string, Learned> learned_;
};

}  // namespace fleetscale::aggregator::scaling
