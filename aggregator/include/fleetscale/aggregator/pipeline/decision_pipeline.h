// The decision pipeline for one workload, as one pure function: its observation, its policy, the
// clusters' health and its memory in; the fleet-wide decision (HPA rules, then the takeover
// hold), the placement over the clusters and the writes to make out. No I/O, no clock, no
// threads: the caller passes `now` and owns the memory, so the live scaling loop, `decide`,
// `replay`, the simulator's HPA-like baseline and a simulation under virtual time all run the
// same code.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/aggregator/pipeline/predictive.h"
#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/aggregator/scaling/capacity.h"
#include "fleetscale/aggregator/scaling/decision.h"
#include "fleetscale/aggregator/scaling/rebalance.h"

namespace fleetscale::aggregator {

// One cluster as the caller sees it when deciding.
struct ClusterConditions {
  scaling::HealthState health = scaling::HealthState::kHealthy;
  bool draining = false;                // an operator asked to move everything off it
  scaling::ClusterResources resources;  // allocatable 0 = not reported: no capacity bound
};

// What holds for every workload decided at one time.
struct PipelineContext {
  WallTime now{};
  // By cluster name. A cluster absent here is healthy, not draining, with nothing reported; a
  // caller that treats unknown clusters as failed lists them as failed.
  std::map<std::string, ClusterConditions> clusters;
  bool leader = true;    // may write: holds the lease, or runs without leader election
  bool elected = false;  // leadership comes from an election: a new leader holds scale-down
  bool dryRun = false;   // decide and report, never write nor record a scale
};

// One workload's inputs at one time.
struct WorkloadInput {
  scaling::WorkloadPolicy policy;
  std::vector<WorkloadCluster> placements;  // where it may run, in order (see placementsOf)
  // Its pods in every cluster (PodInfo::cluster), with metrics. Pods in failed clusters are
  // dropped; currentReplicas is ignored (the pipeline knows the fleet-wide count).
  scaling::WorkloadObservation observation;
  // Per cluster: spec.replicas as last read from its API. Absent = not read yet.
  std::map<std::string, std::int32_t> specReplicas;
  scaling::PodRequests perPod;  // one replica's requests, for placements that fit to allocatable
};

// What the pipeline remembers of one workload between calls. The caller owns it (one per
// workload) and passes the same value every time; a new value is a workload never seen.
struct WorkloadMemory {
  scaling::ScalingHistory history;  // stabilization and rate windows
  scaling::PlacementMemory placement;
  // The fleet-wide size last decided: the fleet's "spec.replicas". Counting the clusters' spec
  // instead would count a failed cluster's replicas twice once its share has moved.
  std::optional<std::int32_t> fleetReplicas;
  // Since when the recommendations in `history` are continuous (for the takeover hold).
  std::optional<WallTime> observingSince;
  // Per cluster: spec.replicas as last read or written, for clusters whose API has not been
  // read yet.
  std::map<std::string, std::int32_t> lastSpec;
  // The demand series, the forecaster and the learned start-up times.
  PredictiveMemory predictive;
};

struct PipelineResult {
  // Nothing is known of the workload yet (no spec read, no pod seen, no earlier decision): no
  // decision was made and the memory is unchanged.
  bool skipped = false;
  std::string skipReason;
  std::int32_t currentReplicas = 0;  // the fleet-wide count the decision started from
  // The total placed: the decision's, or the current one when no decision could be made, so
  // that failover and drains go on without metrics.
  std::int32_t desiredReplicas = 0;
  scaling::Decision decision;
  std::optional<ForecastView> forecast;  // absent when predictive scaling is off
  // Per cluster: the learned scale-request-to-Ready time, where one was measured.
  std::map<std::string, std::chrono::milliseconds> startupTimes;
  std::vector<scaling::ClusterView> clusters;  // the placement clusters as seen, in order
  scaling::PlacementPlan plan;                 // plan.writes: what placement asks for
  bool act = false;                            // leader and not a dry run
  scaling::Allocation writes;  // cluster -> spec replicas to write now: plan.writes when `act`
};

// The workload's placement entries: as configured, or every cluster of the policy at weight 1
// in the policy's order.
std::vector<WorkloadCluster> placementsOf(const WorkloadConfig& workload,
                                          const PolicyConfig& policy);

// Decides, places and updates `memory`. The caller performs `writes`; a scale decision is
// recorded in the history at once (unless a dry run), as the leader would make it.
PipelineResult runPipeline(const PipelineContext& context, const WorkloadInput& input,
                           WorkloadMemory& memory);

}  // namespace fleetscale::aggregator
