// Predictive scaling inside the decision pipeline: each call adds the workload's current CPU demand
// to a per-minute series, the forecaster (scaling/forecast.h) predicts the demand over the
// look-ahead, and in mode `on` the replicas that demand needs become a floor under the reactive
// decision. The look-ahead is what the workload takes from a scale request to Ready replicas,
// learned per cluster (scaling/startup.h), unless the policy fixes it. Pure, like the pipeline.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "fleetscale/aggregator/scaling/capacity.h"
#include "fleetscale/aggregator/scaling/decision.h"
#include "fleetscale/aggregator/scaling/forecast.h"
#include "fleetscale/aggregator/scaling/startup.h"
#include "fleetscale/aggregator/state/model.h"

namespace fleetscale::aggregator {

// What the pipeline keeps for predictive scaling between calls.
struct PredictiveMemory {
  scaling::DemandForecaster forecaster;
  scaling::StartupTracker startup;
  // The minute being averaged.
  std::int64_t minute = std::numeric_limits<std::int64_t>::min();
  double demandSum = 0;
  int samples = 0;
};

// What predictive scaling saw and did for one decision (explain, the API, metrics).
struct ForecastView {
  scaling::PredictiveMode mode = scaling::PredictiveMode::kOff;
  double demandCores = std::numeric_limits<double>::quiet_NaN();  // now, from the pods' metrics
  // The highest demand forecast over (now, now + lookAhead], plus the margin; absent until the
  // forecaster has seen a whole day.
  std::optional<double> forecastCores;
  double marginCores = 0;  // DemandForecaster::margin(): the P90 of recent under-forecasts
  std::optional<double> mape;
  std::chrono::seconds lookAhead{0};
  std::string lookAheadSource;           // "learned start-up time", "policy", "default"
  std::optional<std::int32_t> replicas;  // what the forecast needs, within min/max
  bool raised = false;                   // mode on, and the forecast raised the decision
  std::string note;                      // why there is no forecast (yet)
};

// Adds the observation's CPU demand to the memory's series and forecasts. In mode on, raises
// `decision` to the forecast's replicas when they are more (a DecisionStep "forecast" says so);
// never lowers it. Absent when the mode is off.
std::optional<ForecastView> forecastDemand(const scaling::WorkloadPolicy& policy,
                                           const scaling::WorkloadObservation& observation,
                                           const scaling::PodRequests& perPod, WallTime now,
                                           PredictiveMemory& memory, scaling::Decision& decision);

// True when the decision runs with the forecast's shorter downscale stabilization window
// (PredictivePolicy::downscaleStabilization): mode on, and the model forecasts.
bool forecastHoldsScaleIn(const scaling::WorkloadPolicy& policy, const PredictiveMemory& memory);

// Feeds a restarted aggregator's forecaster the workload's stored history: the 10 s rollups of
// every cluster, in time order per cluster (as the store returns them), summed per bucket and
// averaged per minute, in the workload's CPU figure: usage, or (throttling-aware) usage plus the
// rollups' unmet demand (rollups stored before schema 3 have none: a capped workload's past from
// then reads lower than its live demand until the model has seen a day anew).
// Minutes at or after `until` are left to the live decisions. Returns the minutes read; the last
// of them reaches the forecaster with the next forecastDemand() call, as a live minute does.
std::size_t seedDemandHistory(PredictiveMemory& memory, const std::vector<RollupRow>& rows,
                              WallTime until,
                              scaling::CpuDemand cpuDemand = scaling::CpuDemand::kThrottlingAware);

}  // namespace fleetscale::aggregator
