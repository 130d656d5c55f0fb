// The Kubernetes HPA replica calculation, rule for rule, as a pure function of pods, their metrics
// and the time. Follows pkg/controller/podautoscaler/replica_calculator.go (GetResourceReplicas,
// GetRawResourceReplicas, GetMetricReplicas, GetObjectMetricReplicas,
// GetObjectPerPodMetricReplicas, GetExternalMetricReplicas, GetExternalPerPodMetricReplicas,
// groupPods) and metrics/utilization.go, including their integer arithmetic on milli-values, so
// that fleetscale proposes exactly what the HPA would on the same inputs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
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

// One of the pod spec's containers, for ContainerResource metrics.
struct ContainerInfo {
  std::string name;
  std::optional<std::int64_t> cpuRequestMilli;  // absent: no request
  std::optional<std::int64_t> memoryRequestMilli;

  std::optional<std::int64_t> requestMilli(Resource resource) const {
    return resource == Resource::kCpu ? cpuRequestMilli : memoryRequestMilli;
  }
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
  // Each container's requests; empty when only the sums are known.
  std::vector<ContainerInfo> containers;

  std::optional<std::int64_t> requestMilli(Resource resource) const {
    return resource == Resource::kCpu ? cpuRequestMilli : memoryRequestMilli;
  }
  // Running with the Ready condition true, as getReadyPodsCount counts pods.
  bool runningAndReady() const {
    return phase == PodPhase::kRunning && readyCondition && readyCondition->ready;
  }
};

// A pod's usage of one resource (summed over its containers, or one container's for a
// ContainerResource metric), or its value of a Pods metric, in milli-units.
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

// `resource` is absent for a Pods metric: only CPU metrics wait for readiness.
PodGroups groupPods(const std::vector<PodInfo>& pods, const PodMetrics& metrics,
                    std::optional<Resource> resource, const CalculatorSettings& settings,
                    WallTime now);

// One metric's proposal and how it was reached, for the decision's explanation.
struct ReplicaProposal {
  std::int32_t replicas = 0;
  std::int32_t utilizationPercent = 0;  // Utilization targets: usage / requests, in percent
  std::int64_t averageValueMilli = 0;   // average usage per pod with a metric, milli-units
  std::int64_t valueMilli = 0;          // Object and External metrics: the value (External: summed)
  double usageRatio = 0;                // before filling in unready and missing pods
  std::optional<double> adjustedUsageRatio;  // after filling them in, when that happened
  PodGroups groups;
  std::string rule;  // which branch decided: "within tolerance", "ceil(ratio x ready pods)", ...
};

// GetResourceReplicas: target is an average utilization of requests, in percent. With a
// `container` (ContainerResource), the metrics are that container's and so are the requests.
Result<ReplicaProposal> resourceUtilizationReplicas(
    std::int32_t currentReplicas, std::int32_t targetUtilizationPercent, Resource resource,
    const std::vector<PodInfo>& pods, PodMetrics metrics, const CalculatorSettings& settings,
    WallTime now, std::string_view container = {});

// GetRawResourceReplicas: target is an average value per pod, in milli-units.
Result<ReplicaProposal> resourceAverageValueReplicas(
    std::int32_t currentReplicas, std::int64_t targetAverageMilli, Resource resource,
    const std::vector<PodInfo>& pods, PodMetrics metrics, const CalculatorSettings& settings,
    WallTime now);

// GetMetricReplicas (a Pods metric): target is an average value per pod, in milli-units; as
// GetRawResourceReplicas with no readiness wait.
Result<ReplicaProposal> podsAverageValueReplicas(std::int32_t currentReplicas,
                                                 std::int64_t targetAverageMilli,
                                                 const std::vector<PodInfo>& pods,
                                                 PodMetrics metrics,
                                                 const CalculatorSettings& settings, WallTime now);

// GetObjectMetricReplicas and GetExternalMetricReplicas (target type Value): the ratio of
// `valueMilli` to the target times the Running and Ready pods, within the tolerance keeping
// `currentReplicas`. From zero replicas: ceil(ratio), so a workload scales from and to zero.
Result<ReplicaProposal> valueReplicas(std::int32_t currentReplicas, std::int64_t valueMilli,
                                      std::int64_t targetValueMilli,
                                      const std::vector<PodInfo>& pods,
                                      const Tolerances& tolerances);

// GetObjectPerPodMetricReplicas and GetExternalPerPodMetricReplicas (target type AverageValue):
// ceil(value / target), unless value / (target x statusReplicas) is within the tolerance.
// `statusReplicas` is the scale's status.replicas: the pods there are, not the pods wanted.
Result<ReplicaProposal> perPodValueReplicas(std::int32_t statusReplicas, std::int64_t valueMilli,
                                            std::int64_t targetAverageMilli,
                                            const Tolerances& tolerances);

}  // namespace fleetscale::aggregator::scaling
