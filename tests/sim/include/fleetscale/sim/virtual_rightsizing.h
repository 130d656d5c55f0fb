// Right-sizing in virtual time (docs/simulator.md, "Right-sizing in virtual time"): the
// aggregator's recommender (RightsizingFeed, in process) fed from the engine's snapshots, its
// recommendations applied to the simulated pods through ClusterModel::resizePod, and what that
// does to the requests: slack between requests and usage, OOM kills, restarts.
//
// Three ways to run the same scenario, for comparison:
// - original: the scenario's requests, untouched (the recommender still runs, nothing applies);
// - vpa: VPA's recommender defaults (1 min samples, 25m and 250Mi minimums) applied as VPA's
//   updater does, by eviction: a pod whose request is outside the recommendation's bounds, or
//   off the target by more than 10% after 12 h, restarts with the target;
// - fleetscale: ours, in place without restarts, planned by the applier's own rules
//   (rightsizing::planResizes: the policy's hysteresis band and resize budget).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/aggregator/rightsizing/recommender.h"
#include "fleetscale/aggregator/state/rollup.h"
#include "fleetscale/sim/fleet_model.h"
#include "fleetscale/sim/measurements.h"
#include "fleetscale/sim/scenario.h"

namespace fleetscale::sim {

enum class RightsizingBaseline { kOriginal, kVpa, kFleetscale };
std::string_view toString(RightsizingBaseline baseline);
std::optional<RightsizingBaseline> parseRightsizingBaseline(std::string_view text);

// Time integrals over running replicas in live clusters (requests as the runtime applied them).
struct SlackIntegrals {
  double requestedCpuCoreSeconds = 0;
  double usedCpuCoreSeconds = 0;
  double requestedMemoryByteSeconds = 0;
  double usedMemoryByteSeconds = 0;
  // max(0, 1 - used / requested): the time-weighted mean share of the requests not used.
  double cpuSlack() const;
  double memorySlack() const;
};

struct RightsizingCounts {
  std::uint64_t resizes = 0;   // resize requests the API server took
  std::uint64_t refused = 0;   // and those it refused
  std::uint64_t restarts = 0;  // container restarts (OOM kills and evictions alike)
  std::uint64_t evictions = 0;
  // OOM kills of a container that had been OOM-killed before: the start after a kill did not
  // have enough memory (of pods gone since too).
  std::uint64_t repeatedOomKills = 0;
};

class VirtualRightsizing {
 public:
  // `horizontal`: the policy the engine's decisions run with (absent: nothing scales
  // horizontally); its Utilization metrics keep right-sizing off their resource
  // (policy/horizontal_vertical.h).
  VirtualRightsizing(const Scenario& scenario, const aggregator::PolicyConfig* horizontal,
                     RightsizingBaseline baseline);
  ~VirtualRightsizing();
  VirtualRightsizing(const VirtualRightsizing&) = delete;
  VirtualRightsizing& operator=(const VirtualRightsizing&) = delete;

  // One full state tick's snapshot (as the aggregator's state loop feeds its RightsizingFeed).
  void observe(const aggregator::FleetSnapshot& snapshot, SimTime t);
  // Applies the latest recommendations as the baseline does (nothing for original).
  void apply(FleetModel& model, SimTime t);
  // Adds `dt` ending at `t` to the integrals, and counts restarts.
  void meter(const FleetModel& model, SimTime t, SimTime dt);

  RightsizingBaseline baseline() const { return baseline_; }
  const SlackIntegrals& total() const { return total_; }
  const std::map<std::string, SlackIntegrals>& byWorkload() const { return byWorkload_; }
  const RightsizingCounts& counts() const { return counts_; }
  // The figures of report.json's "rightsizing" (OOM kills and loops from the timeline's end).
  nlohmann::json reportJson(const Timeline& timeline) const;

 private:
  void resizeInPlace(ClusterModel& cluster,
                     const aggregator::rightsizing::ContainerRecommendation& recommendation,
                     const aggregator::rightsizing::RightsizingPolicy& policy, SimTime t);
  void evictLikeVpa(ClusterModel& cluster,
                    const aggregator::rightsizing::ContainerRecommendation& recommendation,
                    SimTime t);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  RightsizingBaseline baseline_;
  SlackIntegrals total_;
  std::map<std::string, SlackIntegrals> byWorkload_;  // by "namespace/name"
  RightsizingCounts counts_;
};

}  // namespace fleetscale::sim
