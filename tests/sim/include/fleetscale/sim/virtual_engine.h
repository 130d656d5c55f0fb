// A scenario on a simulated clock, in one process: the fleet model stepped at the scenario's
// tick; what each node's agent would report derived from it (per pod: CPU used and throttled over
// the agent's interval, working set, readiness, start and ready times, requests, with the agent's
// discovery and metadata refresh delays); the aggregator's own rollup (rollupWorkload),
// observation (buildObservation), cluster health state machine (scaling::ClusterHealth) and
// decision pipeline (runPipeline) at its decision cadence; and the writes applied to the model as
// the API server would. Or the HPA-like baseline (hpa_baseline.h) on the same clock. It records
// the same timeline as real time, so the report is the same. docs/simulator.md, "Virtual time".
// Pure: no I/O, no threads, no clock. Not thread-safe.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/aggregator/scaling/cluster_health.h"
#include "fleetscale/aggregator/state/rollup.h"
#include "fleetscale/shared/result.h"
#include "fleetscale/sim/fleet_model.h"
#include "fleetscale/sim/measurements.h"
#include "fleetscale/sim/scenario.h"
#include "fleetscale/sim/virtual_rightsizing.h"

namespace fleetscale::sim {

// The clocks of the real processes the engine stands in for. The defaults are the agent's and the
// aggregator's own, with what the simulator passes them.
struct VirtualTiming {
  double agentIntervalSeconds = 1;  // the agents' --interval (scenario agents.interval)
  double rediscoverSeconds = 2;     // --rediscover-interval (agents.rediscover-interval)
  double metadataSeconds = 5;       // --metadata-interval: how often the kubelet's /pods is read
  // The clocks' phases against the scenario's: real processes run at whatever phase they
  // started at, so virtual time takes the middle of each period, the mean phase, for every
  // scaler alike. A load that steps at whole seconds then meets neither the best nor the worst
  // alignment: the agents sample half a second after it, metrics-server scrapes half its
  // resolution after a step at a multiple of 15 s.
  double agentPhaseSeconds = 0.5;  // where in its interval every agent samples
  double decisionSeconds = 1;      // the aggregator's --tick: a snapshot, then every decision
  // Where in its tick the aggregator decides (virtualTiming sets it): --decision-debounce after
  // the agents' batches, as it decides when data arrives; with a debounce of 0 (on the tick
  // alone), half an agent interval after them, the mean age of the data it then decides on.
  double decisionPhaseSeconds = 0;
  double baselineScrapePhaseSeconds = 7.5;       // the HPA-like baseline's first metrics scrape
  double probeSeconds = 1;                       // --probe-interval: each cluster's /readyz
  double scaleRefreshSeconds = 5;                // --scale-refresh: each watched scale re-read
  aggregator::scaling::HealthThresholds health;  // --failed-after, --healthy-after
};

// The timing a scenario gives the real processes: its agents' interval and rediscovery, the
// aggregator's health thresholds and probe interval, and the flags in agents.args and
// aggregator.args that set the others (--metadata-interval, --tick, --scale-refresh, ...).
// Errors name the flag.
Result<VirtualTiming> virtualTiming(const Scenario& scenario);

// Virtual time plays the faults that act on clusters, agents and kubelets (kill-cluster,
// revive-cluster, partition-api, partition-agents, flap-agents, kubelet-garbage, heal), not those
// that act on single HTTP requests (slow-api, failing-api, conflict-storm): an error names the
// first of those in the scenario.
Status checkVirtualFaults(const Scenario& scenario);

struct VirtualOptions {
  std::optional<double> durationSeconds;  // overrides the scenario's
  // Scale with the HPA-like baseline (15 s metrics, 15 s sync) instead of the aggregator.
  bool hpaBaseline = false;
  // Right-size the workloads' requests as this baseline does (virtual_rightsizing.h); the report
  // then has a "rightsizing" section. Absent: no recommender runs.
  std::optional<RightsizingBaseline> rightsizing;
  std::optional<VirtualTiming> timing;  // default: virtualTiming(scenario)
  // The wall-clock time of simulated second 0, for the timestamps the pipeline sees.
  WallTime origin = WallTime(std::chrono::seconds(1'736'121'600));  // 2025-01-06 00:00 UTC, Monday
};

// A scale write the engine made, applied or not (the cluster's API unreachable).
struct VirtualWrite {
  double seconds = 0;
  std::string cluster;
  std::string workload;  // "namespace/name"
  int replicas = 0;
  bool applied = false;
  std::string reason;  // the decision's
};

class VirtualEngine {
 public:
  // Checks the scenario (faults, timing) and builds the fleet at simulated second 0.
  static Result<std::unique_ptr<VirtualEngine>> create(const Scenario& scenario,
                                                       VirtualOptions options);
  ~VirtualEngine();
  VirtualEngine(const VirtualEngine&) = delete;
  VirtualEngine& operator=(const VirtualEngine&) = delete;

  // Runs to the end of the scenario's duration.
  void run();
  // Runs every tick up to `seconds` (simulated), at most to the end of the duration.
  void runUntil(double seconds);
  bool finished() const;
  double now() const;  // simulated seconds of the last tick run

  const Timeline& timeline() const;
  Report report() const;
  // The report as real time writes it (reportJson, the series thinned to one sample per
  // `seriesEverySeconds` when > 0), plus "virtual_time": ticks, decisions, writes, timing.
  nlohmann::json reportJson(double seriesEverySeconds = 0) const;
  const std::vector<VirtualWrite>& writes() const;
  // What the aggregator decided on last: the agents' reports rolled up (null before its first
  // decision, and with the baseline).
  const aggregator::FleetSnapshot* lastSnapshot() const;
  // The right-sizing part, with VirtualOptions::rightsizing; else null.
  const VirtualRightsizing* rightsizing() const;
  // A cluster's health as the aggregator sees it now.
  aggregator::scaling::HealthState clusterHealth(const std::string& cluster) const;
  const FleetModel& model() const;
  const VirtualTiming& timing() const;

  struct Impl;

 private:
  explicit VirtualEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleetscale::sim
