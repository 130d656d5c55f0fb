// Turns the fleet snapshot's view of one workload (pods summed from the agents' containers, and
// the Pending pods their kubelets list) into what the HPA calculation reads: pods with phase,
// deletion, readiness, start and requests, and per-pod usage. Stale pods (silent agents) and pods
// without containers are known but have no metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fleetscale/aggregator/scaling/decision.h"
#include "fleetscale/aggregator/state/rollup.h"

namespace fleetscale::aggregator {

// Pods are keyed "<cluster>/<pod>" so the same pod name in two clusters stays two pods. Metrics
// are stamped `sampledAt` with the agents' tick as their window. A pod's CPU metric is its usage
// or, throttling-aware, its estimated demand (usage + PodSample::cpuUnmetDemandCores).
scaling::WorkloadObservation buildObservation(const WorkloadSnapshot& workload,
                                              std::int32_t currentReplicas, WallTime sampledAt,
                                              std::chrono::milliseconds window,
                                              scaling::CpuDemand cpuDemand);

// The `Pods` metrics among `metrics`, from the series the pods serve themselves (scraped by their
// agents): a pod's value is the sum of its series of the metric's name whose labels the metric's
// selector matches, as prometheus-adapter sums a query's series per pod. A pod with no such
// series, scraped more than `maxAge` before `sampledAt`, or not measured at all (stale or late
// node) has no value, which the calculation treats as the HPA treats a pod without metrics.
void addPodSeriesMetrics(const WorkloadSnapshot& workload,
                         const std::vector<scaling::MetricTarget>& metrics, WallTime sampledAt,
                         std::chrono::milliseconds window, std::chrono::milliseconds maxAge,
                         scaling::WorkloadObservation& observation);

// Ready pods per cluster (not terminating), for placement's make-before-break checks.
std::map<std::string, std::int32_t> readyPodsByCluster(
    const scaling::WorkloadObservation& observation);

}  // namespace fleetscale::aggregator
