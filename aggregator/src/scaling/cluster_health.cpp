#include "fleetscale/aggregator/scaling/cluster_health.h"

namespace fleetscale::aggregator::scaling {
namespace {

std::string describe(const HealthSignals& signals, const HealthThresholds& thresholds) {
  const bool agents = signals.agentCoverage >= thresholds.minAgentCoverage;
  return std::string("agents ") + (agents ? "reporting" : "silent") + " (coverage " +
         std::to_string(static_cast<int>(signals.agentCoverage * 100)) + "%), " +
         (!signals.hasApi        ? "no API to probe (webhook)"
          : signals.apiReachable ? "API reachable"
                                 : "API unreachable");
}

}  // namespace

std::string_view healthStateName(HealthState state) {
  switch (state) {
    case HealthState::kHealthy:
      return "healthy";
    case HealthState::kSuspect:
      return "suspect";
    case HealthState::kFailed:
      return "failed";
    case HealthState::kRecovering:
      return "recovering";
  }
  return "unknown";
}

ClusterHealth::ClusterHealth(HealthThresholds thresholds, HealthState initial)
    : thresholds_(thresholds), state_(initial) {}

bool noClusterReachable(const std::vector<HealthSignals>& clusters,
                        const HealthThresholds& thresholds) {
  if (clusters.empty()) return false;
  for (const auto& signals : clusters) {
    if (signals.apiReachable || signals.agentCoverage >= thresholds.minAgentCoverage) return false;
  }
  return true;
}

std::optional<HealthTransition> ClusterHealth::update(const HealthSignals& signals, SteadyTime now,
                                                      bool holdFailure) {
  const bool agentsUp = signals.agentCoverage >= thresholds_.minAgentCoverage;
  const bool both = agentsUp && signals.apiReachable;
  const bool neither = !agentsUp && !signals.apiReachable;
  if (both) {
    if (!bothUpSince_) bothUpSince_ = now;
  } else {
    bothUpSince_.reset();
  }
  if (neither && holdFailure) {
    bothDownSince_ = now;
  } else if (neither) {
    if (!bothDownSince_) bothDownSince_ = now - signals.silentFor;
  } else {
    bothDownSince_.reset();
  }
  const bool downLongEnough =
      !holdFailure && bothDownSince_ && now - *bothDownSince_ >= thresholds_.failedAfter;
  const bool upLongEnough = bothUpSince_ && now - *bothUpSince_ >= thresholds_.healthyAfter;

  HealthState next = state_;
  switch (state_) {
    case HealthState::kHealthy:
      if (downLongEnough) {
        next = HealthState::kFailed;
      } else if (!both) {
        next = HealthState::kSuspect;
      }
      break;
    case HealthState::kSuspect:
      if (downLongEnough) {
        next = HealthState::kFailed;
      } else if (both) {
        next = HealthState::kHealthy;
      }
      break;
    case HealthState::kFailed:
      // Any sign of life starts recovery; full health needs both signals for healthyAfter.
      if (both) next = HealthState::kRecovering;
      break;
    case HealthState::kRecovering:
      if (downLongEnough) {
        next = HealthState::kFailed;
      } else if (upLongEnough) {
        next = HealthState::kHealthy;
      }
      break;
  }
  if (next == state_) return std::nullopt;
  HealthTransition transition{state_, next, describe(signals, thresholds_)};
  state_ = next;
  since_ = now;
  return transition;
}

}  // namespace fleetscale::aggregator::scaling
