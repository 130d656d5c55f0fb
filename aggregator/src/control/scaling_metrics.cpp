#include "fleetscale/aggregator/control/scaling_metrics.h"

#include <limits>

#include "fleetscale/shared/metric_family.h"

namespace fleetscale::aggregator {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Families = std::vector<MetricFamily>;
using PairCounts = std::map<std::pair<std::string, std::string>, std::uint64_t>;

// Each workload's latest decision, and its replicas per cluster.
void addWorkloadFamilies(const std::vector<WorkloadStatus>& statuses, Families& out) {
  MetricFamily replicas = gaugeFamily(
      "fleetscale_placement_replicas",
      "Replicas per workload and cluster: desired (placement target), current (spec) and ready");
  Families perWorkload{
      gaugeFamily("fleetscale_workload_desired_replicas",
                  "Fleet-wide replicas the latest decision asks for"),
      gaugeFamily("fleetscale_workload_current_replicas",
                  "Fleet-wide spec replicas when the latest decision was made"),
      gaugeFamily("fleetscale_workload_max_replicas", "The workload's maxReplicas"),
      gaugeFamily("fleetscale_workload_min_replicas", "The workload's minReplicas"),
      gaugeFamily("fleetscale_workload_unplaced_replicas",
                  "Replicas no eligible cluster can take (capacity shortfall)"),
      gaugeFamily("fleetscale_workload_decision_error",
                  "1 when the latest decision could not be computed"),
      gaugeFamily("fleetscale_workload_foreign_autoscalers",
                  "Other autoscalers (HPAs, KEDA ScaledObjects) that target the workload in its "
                  "clusters; above 0, fleetscale does not scale it unless it takes them over"),
      gaugeFamily("fleetscale_workload_foreign_autoscalers_pinned",
                  "1 while fleetscale scales the workload through the other autoscalers that "
                  "target it, pinned to its decisions (--take-over-hpa)")};
  MetricFamily forecastCores = gaugeFamily(
      "fleetscale_workload_forecast_cpu_cores",
      "Predictive scaling: the CPU demand forecast over the look-ahead, margin included");
  MetricFamily forecastReplicas =
      gaugeFamily("fleetscale_workload_forecast_replicas",
                  "Predictive scaling: the replicas the forecast needs");
  MetricFamily forecastError = gaugeFamily(
      "fleetscale_workload_forecast_error_ratio",
      "Predictive scaling: recent mean absolute percentage error of the forecast (0.1 = 10%)");
  MetricFamily metricCurrent = gaugeFamily(
      "fleetscale_workload_metric_value",
      "Each policy metric's current value in its target's terms (utilization as a ratio of "
      "requests, average value per pod, or value); absent when it could not be computed");
  MetricFamily metricTarget =
      gaugeFamily("fleetscale_workload_metric_target", "Each policy metric's target");
  MetricFamily metricProposal = gaugeFamily("fleetscale_workload_metric_proposed_replicas",
                                            "The replicas each policy metric asks for");
  MetricFamily startup =
      gaugeFamily("fleetscale_workload_startup_seconds",
                  "Learned time from a scale-up request to that many Ready replicas, per cluster");
  for (const auto& s : statuses) {
    const MetricLabels labels{{"namespace", s.namespaceName}, {"workload", s.name}};
    const double values[] = {static_cast<double>(s.desiredReplicas),
                             static_cast<double>(s.currentReplicas),
                             static_cast<double>(s.maxReplicas),
                             static_cast<double>(s.minReplicas),
                             static_cast<double>(s.unplaced),
                             s.error.empty() ? 0.0 : 1.0,
                             static_cast<double>(s.foreignAutoscalers.size()),
                             s.foreignAutoscalersPinned ? 1.0 : 0.0};
    for (std::size_t i = 0; i < perWorkload.size(); ++i) {
      addSample(perWorkload[i], labels, values[i]);
    }
    if (s.forecast && s.forecast->forecastCores) {
      addSample(forecastCores, labels, *s.forecast->forecastCores);
      if (s.forecast->replicas) addSample(forecastReplicas, labels, *s.forecast->replicas);
      if (s.forecast->mape) addSample(forecastError, labels, *s.forecast->mape);
    }
    for (const auto& m : s.metrics) {
      const MetricLabels metricLabels{{"namespace", s.namespaceName},
                                      {"workload", s.name},
                                      {"metric", m.name},
                                      {"source", m.source},
                                      {"type", m.type}};
      addSample(metricTarget, metricLabels, m.target);
      if (m.current) addSample(metricCurrent, metricLabels, *m.current);
      if (m.proposal) addSample(metricProposal, metricLabels, *m.proposal);
    }
    for (const auto& [cluster, r] : s.clusters) {
      if (r.startupTime) {
        addSample(startup,
                  {{"namespace", s.namespaceName}, {"workload", s.name}, {"cluster", cluster}},
                  std::chrono::duration<double>(*r.startupTime).count());
      }
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
  out.push_back(std::move(replicas));
  for (auto* family : {&forecastCores, &forecastReplicas, &forecastError, &metricCurrent,
                       &metricTarget, &metricProposal, &startup}) {
    out.push_back(std::move(*family));
  }
  out.insert(out.end(), std::make_move_iterator(perWorkload.begin()),
             std::make_move_iterator(perWorkload.end()));
}

MetricFamily pairCounter(std::string name, std::string help, const PairCounts& counts,
                         const char* first, const char* second) {
  MetricFamily family = counterFamily(std::move(name), std::move(help));
  for (const auto& [labels, count] : counts) {
    addSample(family, {{first, labels.first}, {second, labels.second}}, static_cast<double>(count));
  }
  return family;
}

// `histograms`: per cluster, cumulative counts per bound of kScaleActionBuckets, count and sum.
template <typename Histograms>
MetricFamily durationFamily(const Histograms& histograms) {
  MetricFamily durations{"fleetscale_scale_action_duration_seconds",
                         "Time a scale write took, retries included",
                         MetricType::Histogram,
                         {}};
  for (const auto& [cluster, histogram] : histograms) {
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
  return durations;
}

// Each cluster's health state, drain and API reachability.
void addClusterFamilies(const std::vector<ClusterStatus>& clusters,
                        const std::vector<WorkloadStatus>& statuses, Families& out) {
  MetricFamily health = gaugeFamily(
      "fleetscale_cluster_state",
      "1 for the cluster's current health state (healthy, suspect, failed, recovering)");
  MetricFamily draining =
      gaugeFamily("fleetscale_cluster_draining", "1 while the cluster is being drained");
  MetricFamily api = gaugeFamily("fleetscale_cluster_api_reachable",
                                 "1 when the cluster's API answered its last /readyz probe");
  MetricFamily drainLeft =
      gaugeFamily("fleetscale_cluster_drain_remaining_replicas",
                  "Replicas (spec) still in a cluster being drained; 0 when it is done");
  MetricFamily drainPaused = gaugeFamily(
      "fleetscale_cluster_drain_paused",
      "1 while a drain waits because the cluster is some workload's last resort (no healthy "
      "destination can take its replicas)");
  for (const auto& cluster : clusters) {
    if (cluster.draining) {
      const DrainProgress progress = drainProgress(statuses, cluster.name);
      addSample(drainLeft, {{"cluster", cluster.name}}, progress.replicasLeft);
      addSample(drainPaused, {{"cluster", cluster.name}}, progress.paused() ? 1 : 0);
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
  for (auto* family : {&health, &draining, &drainLeft, &drainPaused, &api}) {
    out.push_back(std::move(*family));
  }
}

}  // namespace

std::vector<MetricFamily> ScalingLoop::collectMetrics() const {
  std::lock_guard lock(mutex_);
  std::vector<WorkloadStatus> statuses;
  for (const auto& [key, state] : workloads_) statuses.push_back(state.status);
  Families out;
  addWorkloadFamilies(statuses, out);
  MetricFamily decisions =
      counterFamily("fleetscale_scaling_decisions_total",
                    "Scaling decisions by result (scale, hold, error, skipped)");
  for (const auto& [result, count] : decisions_) {
    addSample(decisions, {{"result", result}}, static_cast<double>(count));
  }
  out.push_back(std::move(decisions));
  out.push_back(pairCounter("fleetscale_scale_actions_total",
                            "Scale writes by cluster and result (success or the error kind)",
                            actions_, "cluster", "result"));
  out.push_back(durationFamily(actionSeconds_));
  addClusterFamilies(clusters_.status(), statuses, out);
  out.push_back(pairCounter("fleetscale_cluster_health_transitions_total",
                            "Cluster health changes, by the state entered", transitions_, "cluster",
                            "to"));
  MetricFamily cutOff = gaugeFamily(
      "fleetscale_no_cluster_reachable",
      "1 while no cluster shows a sign of life (no agent reports, no API answers): every "
      "placement is held");
  addSample(cutOff, {}, clusters_.noClusterReachable() ? 1 : 0);
  out.push_back(std::move(cutOff));
  MetricFamily queue =
      gaugeFamily("fleetscale_scale_actions_waiting", "Scale writes queued and not yet started");
  addSample(queue, {}, static_cast<double>(actuation_.waiting()));
  out.push_back(std::move(queue));
  return out;
}

}  // namespace fleetscale::aggregator
