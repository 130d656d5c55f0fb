// What a scenario is judged by, computed from a recorded timeline: per workload, demand against
// ready capacity over time, time under-provisioned, slack (ready capacity minus demand, as a
// share of capacity, the figure Google's Autopilot paper reports), reaction times from each load
// change to the first replica request and to ready capacity, scale actions, and failover and
// failback times around cluster kills. Pure functions, tested on hand-made timelines.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/sim/scenario.h"

namespace fleetscale::sim {

struct ClusterReplicas {
  int desired = 0;  // spec.replicas
  int pods = 0;     // pods that exist, Pending included
  int running = 0;
  int ready = 0;
  bool alive = true;
};

struct WorkloadSample {
  double demandCores = 0;
  double readyCapacityCores = 0;  // ready replicas in live clusters x capacity per replica
  double servedCores = 0;         // CPU those replicas used
  // Running replicas in live clusters: the requests the runtime applied (a resize in progress
  // counts once applied) and the working set, for right-sizing figures.
  double requestedCpuCores = 0;
  double requestedMemoryBytes = 0;
  double usedMemoryBytes = 0;
  std::uint64_t oomKills = 0;  // OOM kills since the start, of pods gone since too
  int crashLooping = 0;        // pods waiting out a crash back-off
  std::map<std::string, ClusterReplicas> clusters;
};

struct TimelineSample {
  double seconds = 0;
  std::map<std::string, WorkloadSample> workloads;  // by "namespace/name"
};

// A client write that changed a workload's replicas.
struct ScaleAction {
  double seconds = 0;
  std::string cluster;
  std::string workload;  // "namespace/name"
  int from = 0;
  int to = 0;
  std::string user;
};

struct FaultEvent {
  double seconds = 0;
  FaultKind kind = FaultKind::kKillCluster;
  std::string cluster;
  bool ending = false;  // the automatic end of a fault with `for`
};

struct Timeline {
  std::vector<TimelineSample> samples;  // in time order
  std::vector<ScaleAction> actions;     // in time order
  std::vector<FaultEvent> faults;       // in time order
};

struct LoadChange {
  double seconds = 0;
  double fromCores = 0;
  double toCores = 0;
  // Delay to the first replica change that way that the change caused: with the workload's
  // capacity per replica known, one that leaves the live clusters' desired replicas beyond what
  // the level before the change needed (more for a rise, fewer for a fall). A request within
  // that may answer an earlier change (a scaler still catching up with the last step), so it is
  // not credited to this one.
  std::optional<double> firstRequestSeconds;
  std::optional<double> readySeconds;  // rise: until ready capacity >= demand; fall: until
                                       // ready replicas drop below the count at the change
  bool rise() const { return toCores > fromCores; }
};

struct FailoverResult {
  std::string cluster;
  double killedAt = 0;
  // Until the first scale-up request at another cluster's API server (before the revival).
  std::optional<double> survivorRequestSeconds;
  std::optional<double> failoverSeconds;  // until the live clusters' ready capacity >= demand
  std::optional<double> revivedAt;
  std::optional<double> failbackSeconds;  // until the revived cluster has all its desired
                                          // replicas ready again (and at least one)
};

// The load rises of a workload summed up: how many there were, how many a scale-up answered
// (firstRequestSeconds), and the median, 90th (and for first requests 99th) percentile of the
// delays over those that have one (nearest rank); absent when none has.
struct RiseSummary {
  int rises = 0;
  int answered = 0;  // with a first replica request
  int covered = 0;   // with ready capacity >= demand before the run ended
  std::optional<double> firstRequestMedian;
  std::optional<double> firstRequestP90;
  std::optional<double> firstRequestP99;
  std::optional<double> readyMedian;
  std::optional<double> readyP90;
};

struct ClairvoyantFigures {
  double capacityCoreSeconds = 0;
  double slackCoreSeconds = 0;  // integral of max(0, capacity - demand)
};

struct WorkloadReport {
  std::string workload;
  double demandMeanCores = 0;
  double demandPeakCores = 0;
  double capacityMeanCores = 0;
  double underProvisionedSeconds = 0;
  double underProvisionedShare = 0;  // of the timeline's duration
  double shortfallCoreSeconds = 0;   // integral of max(0, demand - capacity)
  double slackShareMean = 0;         // time-weighted mean of max(0, capacity - demand) / capacity
  double slackCoreSeconds = 0;       // integral of max(0, capacity - demand)
  // Yardsticks for slack: the same integrals for a clairvoyant scaler that knows demand at every
  // sample and has no start-up time, with the fewest ready replicas that cover it within the
  // workload's bounds (ceil(demand / capacity per replica), at least minReplicas, at most
  // maxReplicas). No scaler that keeps its bounds and is never under-provisioned has less slack
  // than `clairvoyant`; `clairvoyantWindowed` also keeps the scale-down stabilization window (the
  // most replicas needed over the last window), the least slack a scaler under the HPA's rules
  // can have. Absent for a workload without capacity per replica and bounds in the options.
  std::optional<ClairvoyantFigures> clairvoyant;
  std::optional<ClairvoyantFigures> clairvoyantWindowed;
  int scaleActions = 0;
  std::map<std::string, int> scaleActionsByCluster;
  std::vector<LoadChange> loadChanges;
  RiseSummary riseSummary;
  std::vector<FailoverResult> failovers;
  std::uint64_t oomKills = 0;  // by the end of the timeline
};

struct Report {
  std::string scenario;
  double durationSeconds = 0;
  std::size_t samples = 0;
  std::vector<WorkloadReport> workloads;
};

// An autoscaled workload's fleet-wide replica bounds and scale-down stabilization window.
struct ReplicaBounds {
  int minReplicas = 1;
  int maxReplicas = 10;
  double scaleDownWindowSeconds = 300;  // the HPA's default
};

struct MeasurementOptions {
  double loadChangeThreshold = 0.10;  // relative change of demand that counts as a load change
  double minimumDemandCores = 0.05;   // changes are relative to at least this much
  // Cores one ready replica counts for, by workload ("namespace/name"). Without an entry a load
  // change's reaction is the first replica request that way, whatever asked for it.
  std::map<std::string, double> replicaCapacityCores;
  // Autoscaled workloads' bounds, by workload, for the clairvoyant yardsticks.
  std::map<std::string, ReplicaBounds> replicaBounds;
};

// The scenario's threshold, every workload's capacity per replica and every autoscaled
// workload's replica bounds.
MeasurementOptions measurementOptions(const Scenario& scenario);

Report computeReport(const std::string& scenario, const Timeline& timeline,
                     const MeasurementOptions& options = {});

// The report plus the raw series (time, demand, ready capacity, served, replicas per cluster),
// the scale actions and the faults. With `seriesEverySeconds` > 0 the series keeps one sample
// per that many seconds (the first at or after each multiple; the figures are computed from
// every sample either way), so that a week's report stays small.
nlohmann::json reportJson(const Report& report, const Timeline& timeline,
                          double seriesEverySeconds = 0);

// A readable table for the terminal.
std::string reportTable(const Report& report);

}  // namespace fleetscale::sim
