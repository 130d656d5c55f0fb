// Turns the containers the agents report for one workload into what the HPA calculation reads:
// pods (phase, readiness, start, summed requests) and per-pod usage (summed over containers).
// Stale containers are left out, so a pod whose agent went silent has no metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/aggregator/scaling/decision.h"

namespace fleetscale::aggregator {

// One container as the fleet state holds it, reduced to what decisions need.
struct ContainerRecord {
  std::string cluster;
  std::string podUid;
  std::string pod;
  std::string podPhase;               // "Running", "Pending", ... ("" = unknown: Running)
  std::optional<bool> ready;          // the pod's Ready condition as the kubelet reports it
  std::int64_t readySinceUnixMs = 0;  // last Ready transition, 0 = unknown
  std::int64_t startTimeUnixMs = 0;   // pod start, 0 = unknown
  std::optional<double> cpuRequestCores;
  std::optional<std::uint64_t> memoryRequestBytes;
  std::optional<double> cpuCores;  // usage rate over the last tick
  std::uint64_t memoryWorkingSetBytes = 0;
  WallTime sampledAt{};
  std::chrono::milliseconds window{std::chrono::seconds(1)};
  bool stale = false;
};

// Pods keyed "<cluster>/<pod>" so the same pod name in two clusters stays two pods.
scaling::WorkloadObservation buildObservation(const std::vector<ContainerRecord>& containers,
                                              std::int32_t currentReplicas);

// Ready pods per cluster, for placement's make-before-break checks.
std::map<std::string, std::int32_t> readyPodsByCluster(
    const scaling::WorkloadObservation& observation);

}  // namespace fleetscale::aggregator
