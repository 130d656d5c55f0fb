// Cluster health from two signals, agent heartbeat coverage and the API server probe, as a
// state machine with hysteresis: healthy -> suspect -> failed -> recovering -> healthy.
// A cluster fails only when both signals have been gone for `failedAfter`; it is healthy again
// only after both have held for `healthyAfter`. One signal alone (an agent partition, or an API
// partition) leaves it suspect: held, never failed over, never shrunk.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator::scaling {

enum class HealthState { kHealthy, kSuspect, kFailed, kRecovering };
std::string_view healthStateName(HealthState state);

struct HealthThresholds {
  std::chrono::milliseconds failedAfter{std::chrono::seconds(10)};
  std::chrono::milliseconds healthyAfter{std::chrono::seconds(60)};
  double minAgentCoverage = 0.5;  // share of recently seen nodes that must be reporting
};

struct HealthSignals {
  double agentCoverage = 0;   // nodes reporting / nodes seen recently, 0..1
  bool apiReachable = false;  // the latest /readyz probe answered 200
  // With neither signal: how long ago the last one was seen (the newest agent batch, the last
  // successful probe), so that `failedAfter` counts from when the cluster went silent rather
  // than from when the silence was noticed. 0 = count from now.
  std::chrono::milliseconds silentFor{0};
  // False for a cluster without an API to probe (a webhook VM fleet): its agents are its only
  // signal, and `apiReachable` mirrors them.
  bool hasApi = true;
};

struct HealthTransition {
  HealthState from;
  HealthState to;
  std::string reason;
};

// One cluster's health. Not thread-safe; the aggregator's health loop owns it.
class ClusterHealth {
 public:
  explicit ClusterHealth(HealthThresholds thresholds, HealthState initial = HealthState::kHealthy);

  // Feeds the latest signals. Returns the transition when the state changed. With
  // `holdFailure` (the aggregator reaches no cluster at all) the cluster may turn suspect but
  // not fail, and its failure clock restarts: once the aggregator is back in touch, a cluster
  // still silent fails `failedAfter` later, not at once.
  std::optional<HealthTransition> update(const HealthSignals& signals, SteadyTime now,
                                         bool holdFailure = false);

  HealthState state() const { return state_; }
  // Since when the cluster has been in its current state.
  SteadyTime since() const { return since_; }

 private:
  HealthThresholds thresholds_;
  HealthState state_;
  SteadyTime since_{};
  std::optional<SteadyTime> bothDownSince_;  // neither signal
  std::optional<SteadyTime> bothUpSince_;    // both signals
};

// True when no cluster shows a sign of life (no agents reporting, no API answering) and there is
// at least one cluster: then the likeliest cause is the aggregator's own network, not every cloud
// at once, and nothing should move or shrink on that evidence.
bool noClusterReachable(const std::vector<HealthSignals>& clusters,
                        const HealthThresholds& thresholds);

}  // namespace fleetscale::aggregator::scaling
