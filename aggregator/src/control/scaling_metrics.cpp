#include <limits>

#include "fleetscale/aggregator/control/scaling_loop.h"
#include "fleetscale/shared/metric_family.h"

namespace fleetscale::aggregator {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::vector<MetricFamily> ScalingLoop::collectMetrics() const {
  std::lock_guard lock(mutex_);
  MetricFamily replicas{
      "fleetscale_placement_replicas",
      "Replicas per workload and cluster: desired (placement target), current (spec) and ready",
      MetricType::Gauge,
      {}};
  MetricFamily desired{"fleetscale_workload_desired_replicas",
                       "Fleet-wide replicas the latest decision asks for",
                       MetricType::Gauge,
                       {}};
  MetricFamily current{"fleetscale_workload_current_replicas",
                       "Fleet-wide spec replicas when the latest decision was made",
                       MetricType::Gauge,
                       {}};
  MetricFamily maxReplicas{
      "fleetscale_workload_max_replicas", "The workload's maxReplicas", MetricType::Gauge, {}};
  MetricFamily minReplicas{
      "fleetscale_workload_min_replicas", "The workload's minReplicas", MetricType::Gauge, {}};
  MetricFamily unplaced{"fleetscale_workload_unplaced_replicas",
                        "Replicas no eligible cluster can take (capacity shortfall)",
                        MetricType::Gauge,
                        {}};
  MetricFamily errors{"fleetscale_workload_decision_error",
                      "1 when the latest decision could not be computed",
                      MetricType::Gauge,
                      {}};
  for (const auto& [key, state] : workloads_) {
    const auto& s = state.status;
    const std::vector<ClientMetric::Label> labels{{"namespace", s.namespaceName},
                                                  {"workload", s.name}};
    addSample(desired, labels, s.desiredReplicas);
    addSample(current, labels, s.currentReplicas);
    addSample(maxReplicas, labels, s.maxReplicas);
    addSample(minReplicas, labels, s.minReplicas);
    addSample(unplaced, labels, s.unplaced);
    addSample(errors, labels, s.error.empty() ? 0 : 1);
    for (const auto& [cluster, r] : s.clusters) {
      for (const auto& [kind, value] :
           {std::pair{"desired", r.target}, std::pair{"current", r.current},
            std::pair{"ready", r.ready}}) {
        addSample(replicas,
                  {{"namespace", s.namespaceName},
                   {"workload", s.name},
                   {"cluster", cluster},
                   {"state", kind}},
                  value);
      }
    }
  }
  MetricFamily decisions{"fleetscale_scaling_decisions_total",
                         "Scaling decisions by result (scale, hold, error, skipped)",
                         MetricType::Counter,
                         {}};
  for (const auto& [result, count] : decisions_)
    addSample(decisions, {{"result", result}}, static_cast<double>(count));
  MetricFamily actions{"fleetscale_scale_actions_total",
                       "Scale writes by cluster and result (success or the error kind)",
                       MetricType::Counter,
                       {}};
  for (const auto& [labels, count] : actions_) {
    addSample(actions, {{"cluster", labels.first}, {"result", labels.second}},
              static_cast<double>(count));
  }
  MetricFamily durations{"fleetscale_scale_action_duration_seconds",
                         "Time a scale write took, retries included",
                         MetricType::Histogram,
                         {}};
  for (const auto& [cluster, histogram] : actionSeconds_) {
    ClientMetric metric;
    metric.label = {{"cluster", cluster}};
    for (std::size_t i = 0; i < histogram.buckets.size(); ++i) {
      metric.histogram.bucket.push_back({histogram.buckets[i], kScaleActionBuckets[i]});
    }
    metric.histogram.bucket.push_back({histogram.count, std::numeric_limits<double>::infinity()});
    metric.histogram.sample_count = histogram.count;
    metric.histogram.sample_sum = histogram.sum;
    durations.metric.push_back(std::move(metric));
  }
  MetricFamily health{
      "fleetscale_cluster_state",
      "1 for the cluster's current health state (healthy, suspect, failed, recovering)",
      MetricType::Gauge,
      {}};
  MetricFamily draining{
      "fleetscale_cluster_draining", "1 while the cluster is being drained", MetricType::Gauge, {}};
  MetricFamily api{"fleetscale_cluster_api_reachable",
                   "1 when the cluster's API answered its last /readyz probe",
                   MetricType::Gauge,
                   {}};
  MetricFamily drainLeft{"fleetscale_cluster_drain_remaining_replicas",
                         "Replicas (spec) still in a cluster being drained; 0 when it is done",
                         MetricType::Gauge,
                         {}};
  std::vector<WorkloadStatus> statuses;
  for (const auto& [key, state] : workloads_) statuses.push_back(state.status);
  for (const auto& cluster : clusters_.status()) {
    if (cluster.draining) {
      addSample(drainLeft, {{"cluster", cluster.name}},
                drainProgress(statuses, cluster.name).replicasLeft);
    }
    for (const auto state : {scaling::HealthState::kHealthy, scaling::HealthState::kSuspect,
                             scaling::HealthState::kFailed, scaling::HealthState::kRecovering}) {
      addSample(
          health,
          {{"cluster", cluster.name}, {"state", std::string(scaling::healthStateName(state))}},
          cluster.health == state ? 1 : 0);
    }
    addSample(draining, {{"cluster", cluster.name}}, cluster.draining ? 1 : 0);
    addSample(api, {{"cluster", cluster.name}}, cluster.apiReachable ? 1 : 0);
  }
  MetricFamily transitions{"fleetscale_cluster_health_transitions_total",
                           "Cluster health changes, by the state entered",
                           MetricType::Counter,
                           {}};
  for (const auto& [labels, count] : transitions_) {
    addSample(transitions, {{"cluster", labels.first}, {"to", labels.second}},
              static_cast<double>(count));
  }
  MetricFamily queue{"fleetscale_scale_actions_waiting",
                     "Scale writes queued and not yet started",
                     MetricType::Gauge,
                     {}};
  addSample(queue, {}, static_cast<double>(actuation_.waiting()));
  return {replicas, desired,   current, maxReplicas, minReplicas, unplaced, errors,      decisions,
          actions,  durations, health,  draining,    drainLeft,   api,      transitions, queue};
}

}  // namespace fleetscale::aggregator
