// JSON forms of decisions (stored, served by /api/v1/decisions, printed by `decide`), of the
// per-workload scaling history (persisted across restarts), and of the offline decision snapshot
// that `fleetscale-aggregator decide` reads (docs/decide.md).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fleetscale/aggregator/pipeline/predictive.h"
#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/aggregator/scaling/decision.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

nlohmann::json decisionToJson(const scaling::Decision& decision);
// Predictive scaling's view of one decision (docs/api.md, "forecast").
nlohmann::json forecastToJson(const ForecastView& forecast);

nlohmann::json historyToJson(const scaling::ScalingHistory& history);
Result<scaling::ScalingHistory> historyFromJson(const nlohmann::json& json);

// Everything one offline decision needs.
struct DecisionSnapshot {
  std::string namespaceName;
  std::string name;
  WallTime now{};
  scaling::WorkloadObservation observation;
  scaling::ScalingHistory history;
  std::optional<WorkloadConfig> workload;  // the snapshot's own "policy", when it has one
};

Result<DecisionSnapshot> parseDecisionSnapshot(std::string_view json);

}  // namespace fleetscale::aggregator
