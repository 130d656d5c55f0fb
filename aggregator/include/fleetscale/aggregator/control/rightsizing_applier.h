// Applies the published right-sizing recommendations of workloads whose policy mode is
// `in-place` or `recreate` (docs/rightsizing.md, "Applying"): every pass, per workload and
// cluster, reads the workload (selector, template) and its pods through the cluster's actuator,
// lets the planner (rightsizing/resize_plan.h) say what to do, and writes it: pods/{name}/resize
// one budget at a time (in-place), or the pod template (recreate, or in-place's fallback when a
// node can never fit a resize). Only the leader writes; --dry-run writes nothing.
//
// What happened is kept per workload and cluster (the API shows it with the recommendations),
// counted (fleetscale_rightsizing_applies_total) and, on each change of result, logged once and
// recorded as an event. A failing workload never stops the others.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "fleetscale/aggregator/actuation/actuator.h"
#include "fleetscale/aggregator/control/rightsizing_feed.h"
#include "fleetscale/aggregator/policy/policy_holder.h"
#include "fleetscale/aggregator/rightsizing/resize_plan.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator {

inline constexpr std::string_view kEventRightsizing = "rightsizing";

struct RightsizingApplierOptions {
  std::chrono::milliseconds interval{std::chrono::seconds(2)};
  // After an error (403, 404, 422, transport; a LimitRange's or ResourceQuota's refusal) the
  // workload is tried again this much later.
  std::chrono::milliseconds retryAfterError{std::chrono::seconds(30)};
  // A resize the kubelet defers (no room on the node now) is waited for this long, then taken as
  // infeasible (the fallback, or reported and left).
  std::chrono::milliseconds deferredFor{std::chrono::minutes(5)};
  bool dryRun = false;
};

// The latest result for one workload in one cluster.
struct ApplyStatus {
  // applied | resizing | pending | infeasible | qos-change | forbidden | limit-range | quota |
  // unsupported | invalid | error | dry-run
  std::string result;
  std::string mode;  // in-place or recreate (recreate after an in-place fallback)
  std::string message;
  WallTime since{};  // when this result was first seen
};
using ApplyStatusMap = std::map<WorkloadKey, std::map<std::string, ApplyStatus>>;

class RightsizingApplier {
 public:
  using ActuatorLookup = std::function<Actuator*(const std::string& cluster)>;
  // The published recommendations (RightsizingFeed::current()).
  using RecommendationSource = std::function<std::shared_ptr<const RecommendationSet>()>;
  RightsizingApplier(RecommendationSource recommendations, const PolicyHolder& policy,
                     ActuatorLookup actuators, Store* store, const Clock& clock,
                     RightsizingApplierOptions options = {});
  ~RightsizingApplier();
  RightsizingApplier(const RightsizingApplier&) = delete;
  RightsizingApplier& operator=(const RightsizingApplier&) = delete;

  // With leader election: writes only while this returns true.
  void setLeadership(std::function<bool()> leader);

  // One pass over every applying workload (tests call it directly).
  void tick();
  void start();
  void stop();

  ApplyStatusMap status() const;
  // applies_total per (namespace, workload, cluster, mode, result).
  std::vector<prometheus::MetricFamily> metrics() const;

 private:
  struct Target {
    WorkloadKey workload;
    std::string cluster;
    rightsizing::RightsizingPolicy policy;
    std::vector<rightsizing::ContainerRecommendation> recommendations;
  };
  void applyIn(const Target& target, Actuator& actuator, bool fallenBack);
  // Patches the pod template; returns false when it could not, or when the patched template's
  // pods are refused (the workload's ReplicaFailure names a LimitRange or ResourceQuota).
  bool recreate(const Target& target, Actuator& actuator,
                const rightsizing::WorkloadTemplate& current);
  void inPlace(const Target& target, Actuator& actuator,
               const rightsizing::WorkloadTemplate& current);
  // True when the workload has been `pending` in the cluster for longer than deferredFor.
  bool deferredTooLong(const Target& target) const;
  void report(const Target& target, std::string_view mode, std::string result, std::string message);
  void reportError(const Target& target, std::string_view mode, const ActuationOutcome& outcome,
                   bool resizing);
  void count(const Target& target, std::string_view mode, std::string_view result);

  RecommendationSource recommendations_;
  const PolicyHolder& policy_;
  ActuatorLookup actuators_;
  Store* store_;
  const Clock& clock_;
  RightsizingApplierOptions options_;

  mutable std::mutex mutex_;
  std::function<bool()> leader_;
  ApplyStatusMap status_;
  std::map<std::pair<WorkloadKey, std::string>, SteadyTime> retryAt_;
  std::set<std::pair<WorkloadKey, std::string>> fellBack_;  // in-place gave way to recreate
  std::map<std::tuple<WorkloadKey, std::string, std::string, std::string>, double> counts_;

  std::mutex wakeMutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// fleetscale_rightsizing_applies_total for /metrics.
class RightsizingApplyMetrics final : public prometheus::Collectable {
 public:
  explicit RightsizingApplyMetrics(const RightsizingApplier& applier) : applier_(applier) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return applier_.metrics(); }

 private:
  const RightsizingApplier& applier_;
};

}  // namespace fleetscale::aggregator
