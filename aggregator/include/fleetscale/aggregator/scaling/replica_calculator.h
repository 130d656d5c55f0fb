// The Kubernetes HPA replica calculation for resource metrics, rule for rule, as a pure function
// of pods, their metrics and the time. Follows pkg/controller/podautoscaler/replica_calculator.go
// (GetResourceReplicas, GetRawResourceReplicas, groupPods) and metrics/utilization.go, including
// their integer arithmetic on milli-values, so that fleetscale proposes exactly what the HPA
// would on the same inputs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator::scaling {

enum class Resource { kCpu, kMemory };
std::string_view resourceName(Resource resource);

enum class PodPhase { kPending, kRunning, kSucceeded, kFailed, kUnknown };

// The pod's Ready condition.
struct ReadyCondition {
  bool ready = false;
  WallTime lastTransition{};
};

struct PodInfo {
  std::string name;     // unique within the workload (fleet-wide: prefix with the cluster)
  std::string cluster;  // where it runs; for the explanation's per-cluster demand
  PodPhase phase = PodPhase::kRunning;
  bool deleting = false;  // has a deletion timestamp
  std::optional<ReadyCondition> readyCondition;
  std::optional<WallTime> startTime;
  // Sum of the containers' requests in milli-units, as Quantity.MilliValue(): millicores for
  // CPU, thousandths of a byte for memory. std::nullopt when any container lacks a request.
  std::optional<std::int64_t> cpuRequestMilli;
  std::optional<std::int64_t> memoryRequestMilli;

  std::optional<std::int64_t> requestMilli(Resource resource) const {
    return resource == Resource::kCpu ? cpuRequestMilli : memoryRequestMilli;
  }
};

// A pod's usage of one resource, summed over its containers, in milli-units.
struct PodMetric {
  std::int64_t valueMilli = 0;
  WallTime timestamp{};
  std::chrono::milliseconds window{std::chrono::seconds(1)};  // the interval the rate covers
};
using PodMetrics = std::map<std::string, PodMetric>;  // by pod name

// Scale-up and scale-down tolerances: no change while the usage ratio is within
// [1 - scaleDown, 1 + scaleUp]. Kubernetes' default is 0.1 both ways.
struct Tolerances {
  double scaleDown = 0.1;
  double scaleUp = 0.1;
  bool isWithin(double usageRatio) const {
    return (1.0 - scaleDown) <= usageRatio && usageRatio <= (1.0 + scaleUp);
  }
};

struct CalculatorSettings {
  Tolerances tolerances;
  // --horizontal-pod-autoscaler-cpu-initialization-period (default 5 min) and
  // --horizontal-pod-autoscaler-initial-readiness-delay (default 30 s).
  std::chrono::milliseconds cpuInitializationPeriod{std::chrono::minutes(5)};
  std::chrono::milliseconds delayOfInitialReadinessStatus{std::chrono::seconds(30)};
};

// How groupPods sorted the pods.
struct PodGroups {
  int readyPodCount = 0;
  std::set<std::string> unready;  // pending, or (CPU only) not ready / still initialising
  std::set<std::string> missing;  // no metric
  std::set<std::string> ignored;  // deleting or failed
};

PodGroups groupPods(const std::vector<PodInfo>& pods, const PodMetrics& metrics, Resource resource,
                    const CalculatorSettings& settings, WallTime now);

// One metric's proposal and how it was reached, for the decision's explanation.
struct ReplicaProposal {
  std::int32_t replicas = 0;
  std::int32_t utilizationPercent = 0;       // Utilization targets: usage / requests, in percent
  std::int64_t averageValueMilli = 0;        // average usage per pod with a metric, milli-units
  double usageRatio = 0;                     // before filling in unready and missing pods
  std::optional<double> adjustedUsageRatio;  // after filling them in, when that happened
  PodGroups groups;
  std::string rule;  // which branch decided: "within tolerance", "ceil(ratio x ready pods)", ...
};

// GetResourceReplicas: target is an average utilization of requests, in percent.
Result<ReplicaProposal> resourceUtilizationReplicas(
    std::int32_t currentReplicas, std::int32_t targetUtilizationPercent, Resource resource,
    const std::vector<PodInfo>& pods, PodMetrics metrics, const CalculatorSettings& settings,
    WallTime now);

// GetRawResourceReplicas: target is an average value per pod, in milli-units.
Result<ReplicaProposal> resourceAverageValueReplicas(
    std::int32_t currentReplicas, std::int64_t targetAverageMilli, Resource resource,
    const std::vector<PodInfo>& pods, PodMetrics metrics, const CalculatorSettings& settings,
    WallTime now);

}  // namespace fleetscale::aggregator::scaling
