// Replays a scaling policy over recorded history: what the aggregator would have done, step by
// step, with the decision pipeline the live loop runs (runPipeline, one always healthy cluster),
// and how well it would have served the recorded load, measured as the simulator measures a run
// (time under-provisioned, shortfall, slack, actions). Pure: samples and a policy in, steps and
// figures out. docs/replay.md.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

// One recorded observation of a workload in one cluster: totals over its pods there.
struct ReplaySample {
  WallTime time{};
  std::string namespaceName;
  std::string kind;  // "" when the history does not say
  std::string name;
  std::string cluster;
  double replicas = 0;  // pods that existed (rollups average them, so it may be fractional)
  double readyReplicas = 0;
  double cpuUsageCores = 0;
  // CPU the pods wanted beyond their limits (throttled time of capped containers): usage plus
  // this is the throttling-aware demand. 0 when the history does not say.
  double cpuUnmetDemandCores = 0;
  double cpuRequestCores = 0;
  double memoryUsageBytes = 0;
  double memoryRequestBytes = 0;
  int line = 0;  // where a CSV row came from; 0 for other sources
};

struct ReplayOptions {
  // From a replica being asked for to it serving (scheduling, image pull, readiness).
  std::chrono::milliseconds readinessDelay{0};
  // Cores one ready replica serves; 0 = the recorded CPU request per replica.
  double capacityPerReplicaCores = 0;
};

// One decision of the replayed policy.
struct ReplayStep {
  WallTime time{};
  double demandCores = 0;  // recorded CPU demand (usage + unmet), summed over clusters
  double memoryBytes = 0;  // recorded memory usage, summed over clusters
  double recordedReplicas = 0;
  double recordedReady = 0;
  std::int32_t currentReplicas = 0;  // the replay's spec.replicas when deciding
  std::int32_t readyReplicas = 0;    // the replay's replicas serving at this step
  std::int32_t desiredReplicas = 0;  // what the policy asked for (current when it could not say)
  bool scaled = false;
  std::string reason;  // the decision's reason, or why no decision could be made
  double capacityCores = 0;
};

// Figures over a run, as fleetscale-sim reports them (docs/simulator.md, Measurements). Each
// step stands for the time until the next one; the last for the interval before it.
struct ReplayMeasurements {
  double seconds = 0;
  double underProvisionedSeconds = 0;  // demand > ready capacity
  double shortfallCoreSeconds = 0;     // integral of max(0, demand - capacity)
  double meanSlack = 0;                // time-weighted mean of max(0, capacity - demand) / capacity
  double slackCoreSeconds = 0;         // integral of max(0, capacity - demand)
  int actions = 0;                     // changes of the replica count
  double meanReplicas = 0;             // time-weighted
  double peakReplicas = 0;
};

struct WorkloadReplay {
  std::string namespaceName;
  std::string name;
  std::string kind;
  double capacityPerReplicaCores = 0;
  std::vector<ReplayStep> steps;
  ReplayMeasurements replayed;  // under the policy
  ReplayMeasurements recorded;  // what the recorded replicas did with the same load
};

// Replays `samples` (one workload, any clusters, any order) under `workload`'s policy. The replay
// starts from the recorded replica count, every replica ready; each distinct sample time is one
// decision. Errors when the samples hold no usable step.
Result<WorkloadReplay> replayWorkload(const WorkloadConfig& workload,
                                      const std::vector<ReplaySample>& samples,
                                      const ReplayOptions& options);

}  // namespace fleetscale::aggregator
