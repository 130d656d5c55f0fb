// One scaling decision for one workload: every metric's HPA proposal, the largest taken, then
// stabilization, rate policies and min/max exactly as the HPA controller's reconcile applies
// them (horizontal.go reconcileAutoscaler / computeReplicasForMetrics). Pure: the caller passes
// the observation, the policy, the history and the time, and gets the decision with every step
// that shaped it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/aggregator/scaling/behavior.h"
#include "fleetscale/aggregator/scaling/replica_calculator.h"

namespace fleetscale::aggregator::scaling {

enum class TargetType { kUtilization, kAverageValue };

struct MetricTarget {
  Resource resource = Resource::kCpu;
  TargetType type = TargetType::kUtilization;
  std::int32_t averageUtilization = 0;  // percent of requests, for kUtilization
  std::int64_t averageValueMilli = 0;   // milli-units per pod, for kAverageValue
  std::string describe() const;         // "cpu utilization 70%", "memory average 256Mi"
};

// What a pod's CPU figure is in the metric calculation: its usage, as the HPA reads it, or its
// estimated demand, which sees through a CPU limit (state/rollup.h, estimateCpuDemandCores).
enum class CpuDemand { kUsage, kThrottlingAware };
std::string_view cpuDemandName(CpuDemand demand);
// The mode named `name` ("usage", "throttling-aware"); absent for any other text.
std::optional<CpuDemand> parseCpuDemand(std::string_view name);
// The CPU figure `demand` reads from a usage and the unmet demand beside it (absent usage stays
// absent).
inline double cpuFigure(CpuDemand demand, double usageCores, double unmetDemandCores) {
  return demand == CpuDemand::kUsage ? usageCores : usageCores + unmetDemandCores;
}

// Predictive scaling (scaling/forecast.h): off; observe (the forecast is computed, recorded and
// shown, never acted on); on (desired = max(reactive, the replicas the forecast at now +
// look-ahead needs): a forecast only ever raises a decision, so it never scales in on its own).
enum class PredictiveMode { kOff, kObserve, kOn };
std::string_view predictiveModeName(PredictiveMode mode);
// The mode named `name` ("off", "observe", "on"); absent for any other text.
std::optional<PredictiveMode> parsePredictiveMode(std::string_view name);

// The look-ahead before a start-up time has been learned and when the policy sets none.
inline constexpr std::chrono::seconds kDefaultLookAhead{300};

struct PredictivePolicy {
  PredictiveMode mode = PredictiveMode::kOff;
  // How far ahead to provision: set here, or (absent) the learned scale-request-to-Ready time of
  // the workload's slowest cluster, else kDefaultLookAhead.
  std::optional<std::chrono::seconds> lookAhead;
  // In mode on, once the model forecasts, the downscale stabilization window is at most this
  // (absent: the policy's): the forecast's floor (its highest over the look-ahead plus the
  // margin of its recent under-forecasts) holds the replicas a coming rise needs, which is
  // what the longer window held them for. The HPA rules still have to call for the scale-in.
  std::optional<std::chrono::seconds> downscaleStabilization;
};

struct WorkloadPolicy {
  std::int32_t minReplicas = 1;
  std::int32_t maxReplicas = 1;
  std::vector<MetricTarget> metrics;
  std::optional<Behavior> behavior;  // absent = the legacy (pre-behavior) normalization
  CalculatorSettings calculator;     // global tolerance and CPU readiness periods
  std::int32_t downscaleStabilizationSeconds = 300;
  CpuDemand cpuDemand = CpuDemand::kThrottlingAware;
  PredictivePolicy predictive;
};

struct WorkloadObservation {
  std::int32_t currentReplicas = 0;  // the scale's spec.replicas (fleet-wide: summed)
  std::vector<PodInfo> pods;
  std::map<Resource, PodMetrics> metrics;
};

// One rule, window or policy that acted on the replica count.
struct DecisionStep {
  std::string rule;  // "metrics", "stabilization", "rate limit", "min/max", ...
  std::int32_t before = 0;
  std::int32_t after = 0;
  std::string detail;  // the HPA condition reason or a sentence
};

// The resource-demand model R and load shares L for one cluster: what the workload's pods there
// use and request, and the cluster's share of the workload's total usage.
struct ClusterDemand {
  std::string cluster;
  int pods = 0;
  int readyPods = 0;
  double cpuUsageCores = 0;
  double cpuRequestCores = 0;
  double memoryUsageBytes = 0;
  double memoryRequestBytes = 0;
  double cpuShare = 0;     // of the fleet-wide CPU usage, 0..1
  double memoryShare = 0;  // of the fleet-wide memory usage, 0..1
};

// Per cluster, in name order. Pure: from the observation alone.
std::vector<ClusterDemand> demandByCluster(const WorkloadObservation& observation);

struct MetricEvaluation {
  MetricTarget target;
  std::optional<ReplicaProposal> proposal;
  std::string error;  // why this metric gave no proposal
};

struct Decision {
  std::int32_t currentReplicas = 0;
  std::int32_t desiredReplicas = 0;
  bool scale = false;  // desired != current and a decision could be made
  std::optional<std::int32_t> metricDesiredReplicas;  // largest valid proposal
  std::vector<ClusterDemand> demand;
  std::vector<MetricEvaluation> metrics;
  std::vector<DecisionStep> steps;
  std::string reason;  // one sentence for people
  std::string error;   // set when no decision could be computed (nothing is scaled)
};

// Decides, updating `history.recommendations` as the HPA does. Scale events are recorded
// separately with recordScale once the new count has really been written.
Decision decide(const WorkloadPolicy& policy, const WorkloadObservation& observation,
                ScalingHistory& history, WallTime now);

// The scale-down stabilization window the policy resolves to (behavior or the controller default).
std::chrono::seconds scaleDownWindow(const WorkloadPolicy& policy);

// An aggregator that has watched a workload for less than its scale-down window (a standby just
// started, then promoted) has not seen the recommendations the window would hold: it keeps the
// current count rather than scale down on part of the evidence. Returns the count to use.
std::int32_t holdScaleDownUntilObserved(const WorkloadPolicy& policy, std::int32_t current,
                                        std::int32_t desired, WallTime observingSince,
                                        WallTime now);

// After a successful write of `decision.desiredReplicas`.
void recordScale(const WorkloadPolicy& policy, ScalingHistory& history, std::int32_t previous,
                 std::int32_t next, WallTime now);

}  // namespace fleetscale::aggregator::scaling
