// Keeps the right-sizing recommender (rightsizing/recommender.h) fed from the state loop's full
// ticks, its state in the store, and its recommendations published for the API, /metrics and
// fleetscalectl (docs/rightsizing.md, "In the aggregator").
//
// Per tick: one pass over the snapshot's pods, one map lookup per workload and a short search
// per container; nothing is allocated once every workload, container and replica has been seen.
// Every `publishInterval` the recommendations are computed under the workloads' policies and
// published as an immutable set (readers never touch the recommender); every `saveInterval`
// the state goes to the store.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "fleetscale/aggregator/policy/policy_holder.h"
#include "fleetscale/aggregator/rightsizing/recommender.h"
#include "fleetscale/aggregator/state/rollup.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

struct RightsizingFeedOptions {
  std::chrono::seconds publishInterval{10};
  std::chrono::seconds saveInterval{std::chrono::minutes(5)};
  std::chrono::seconds forgetInterval{std::chrono::minutes(1)};
};

// The published recommendations.
struct RecommendationSet {
  WallTime computedAt{};
  std::vector<rightsizing::ContainerRecommendation> containers;  // by workload, then container
  // Fresh replicas per workload in the latest snapshot: what a per-container change is worth
  // across the fleet.
  std::map<WorkloadKey, int> replicas;
};

// What the recommendations would change across the fleet: per controlled resource with both a
// current request and a target, (request - target) x the workload's replicas, summed. Positive:
// requests that could be given back; negative: more is needed than requested.
struct FleetSavings {
  double requestedCpuCores = 0;
  double recommendedCpuCores = 0;
  double requestedMemoryBytes = 0;
  double recommendedMemoryBytes = 0;
  double cpuCores() const { return requestedCpuCores - recommendedCpuCores; }
  double memoryBytes() const { return requestedMemoryBytes - recommendedMemoryBytes; }
};
FleetSavings fleetSavings(const RecommendationSet& set);

// The figures of one listed container of a pod, as the recommender takes them. The single place
// where the snapshot's per-container figures become the recommender's.
rightsizing::ContainerUsage usageOf(const PodSample& pod, const ContainerFigures& figures);

// Thread-safe: observe() and save() from the state loop's thread, current() from any.
class RightsizingFeed {
 public:
  RightsizingFeed(Store* store, const PolicyHolder& policy, RightsizingFeedOptions options = {},
                  rightsizing::RecommenderSettings settings = {});

  // Loads what an earlier run stored; before the first observe(). Returns how many containers.
  Result<std::size_t> restore();
  // One full state tick.
  void observe(const FleetSnapshot& snapshot);
  // Computes and publishes the recommendations as of `now` now (also done by observe()).
  void publish(WallTime now);
  // Hands the whole state to the store (also done by observe() every saveInterval, and at stop).
  void save(WallTime now);

  std::shared_ptr<const RecommendationSet> current() const;
  // The recommender's size: (workload, container) states, replicas tracked, bytes held.
  struct Size {
    std::size_t containers = 0;
    std::size_t instances = 0;
    std::size_t bytes = 0;
  };
  Size size() const;

 private:
  Store* store_;
  const PolicyHolder& policy_;
  RightsizingFeedOptions options_;
  mutable std::mutex mutex_;  // the recommender and the times below
  rightsizing::Recommender recommender_;
  std::map<WorkloadKey, int> replicas_;
  std::vector<rightsizing::ContainerUsage> workloadUsage_;  // reused for each workload
  WallTime lastPublish_{};
  WallTime lastSave_{};
  WallTime lastForget_{};
  mutable std::mutex publishedMutex_;
  std::shared_ptr<const RecommendationSet> published_;
};

}  // namespace fleetscale::aggregator
