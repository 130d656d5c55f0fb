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
#include "fleetscale/aggregator/scaling/label_selector.h"
#include "fleetscale/aggregator/scaling/replica_calculator.h"

namespace fleetscale::aggregator::scaling {

// The HPA's metric source types (autoscaling/v2 MetricSourceType).
enum class MetricSource {
  kResource,           // cpu or memory of the whole pod, from the agents' samples
  kContainerResource,  // cpu or memory of one named container
  kPods,               // a metric each pod reports, averaged over the pods
  kObject,             // a metric of one Kubernetes object (an Ingress's request rate, ...)
  kExternal,           // a metric from outside the cluster (a queue's length, ...)
};
std::string_view metricSourceName(MetricSource source);

enum class TargetType { kUtilization, kAverageValue, kValue };
std::string_view targetTypeName(TargetType type);

// The object an Object metric describes (autoscaling/v2 CrossVersionObjectReference).
struct ObjectReference {
  std::string apiVersion;  // "" matches any
  std::string kind;
  std::string name;
  bool matches(const ObjectReference& other) const;
  std::string describe() const;  // "Ingress/main"
};

struct MetricTarget {
  MetricSource source = MetricSource::kResource;
  Resource resource = Resource::kCpu;  // Resource, ContainerResource
  std::string container;               // ContainerResource
  std::string metricName;              // Pods, Object, External
  LabelSelector selector;              // Pods, Object, External: narrows the series
  ObjectReference describedObject;     // Object
  // Object, External: the PromQL query giving the series (fleetscale's; the HPA reads an
  // adapter). Empty: the metric's name, for an Object metric narrowed to the object's labels.
  std::string query;
  TargetType type = TargetType::kUtilization;
  std::int32_t averageUtilization = 0;  // percent of requests, for kUtilization
  std::int64_t averageValueMilli = 0;   // milli-units per pod, for kAverageValue
  std::int64_t valueMilli = 0;          // milli-units in all, for kValue
  // Object, External with minReplicas 0 (KEDA's activationThreshold): the metric wakes the
  // workload, and keeps it awake, only above this value (milli-units; default 0).
  std::int64_t activationMilli = 0;
  // A Resource metric (the pods' CPU or memory) with a Utilization or AverageValue target.
  static MetricTarget utilization(Resource resource, std::int32_t percent) {
    MetricTarget target;
    target.resource = resource;
    target.averageUtilization = percent;
    return target;
  }
  static MetricTarget averageValue(Resource resource, std::int64_t milli) {
    MetricTarget target;
    target.resource = resource;
    target.type = TargetType::kAverageValue;
    target.averageValueMilli = milli;
    return target;
  }
  // "cpu utilization 70%", "container app cpu utilization 60%", "pods http_requests average
  // value 10", "object Ingress/main requests_per_second value 2k", "external queue_length ...".
  std::string describe() const;
  // The metric's name in /metrics labels: "cpu", "app/cpu", "http_requests", ...
  std::string label() const;
};

// One value of an Object metric, as the custom metrics API returns it for an object.
struct ObjectMetricValue {
  ObjectReference object;
  std::string metricName;
  Labels labels;
  std::int64_t valueMilli = 0;
  WallTime timestamp{};
};

// One series of an External metric, as the external metrics API returns it; the HPA sums the
// series its selector matches.
struct ExternalMetricSeries {
  std::string metricName;
  Labels labels;
  std::int64_t valueMilli = 0;
  WallTime timestamp{};
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
  // With minReplicas 0 (KEDA's cooldownPeriod): how long every Object and External metric must
  // have been at or below its activation before the workload goes to zero.
  std::chrono::seconds cooldown{300};
};

struct WorkloadObservation {
  std::int32_t currentReplicas = 0;  // the scale's spec.replicas (fleet-wide: summed)
  // The scale's status.replicas (the pods there are), which Object and External AverageValue
  // targets divide by; absent = currentReplicas.
  std::optional<std::int32_t> statusReplicas;
  std::vector<PodInfo> pods;
  std::map<Resource, PodMetrics> metrics;
  // ContainerResource: by container name, the usage of that container in each pod.
  std::map<std::string, std::map<Resource, PodMetrics>> containerMetrics;
  // Pods metrics: by metric name, each pod's value.
  std::map<std::string, PodMetrics> podMetrics;
  std::vector<ObjectMetricValue> objectMetrics;
  std::vector<ExternalMetricSeries> externalMetrics;
  // By MetricTarget::label(): why a metric's source has no value now ("query ...: timeout").
  std::map<std::string, std::string> sourceErrors;
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
