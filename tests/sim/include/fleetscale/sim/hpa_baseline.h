// The yardstick fleetscale is measured against: what Kubernetes' own HorizontalPodAutoscaler
// with metrics-server would do on the same fleet. Per cluster and autoscaled workload, as when
// an HPA runs in each cluster: metrics scraped every `resolution` (each pod's mean CPU over the
// window since the previous scrape, and its working set; a pod needs two scrapes for a CPU
// figure, as metrics-server does), a controller sync every `syncPeriod` on the latest scrape,
// and the decision taken by the aggregator's own decision pipeline with that one cluster
// (runPipeline, with the policy the simulator writes for the aggregator), so only the data's
// age and resolution and the sync period differ. Pure: the model and the time in, the scale
// writes out.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/aggregator/pipeline/decision_pipeline.h"
#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/sim/fleet_model.h"

namespace fleetscale::sim {

struct BaselineOptions {
  double resolutionSeconds = 15;  // metrics-server --metric-resolution
  double syncPeriodSeconds = 15;  // kube-controller-manager --horizontal-pod-autoscaler-sync-period
  // Where the sync falls between two scrapes: they are not aligned in a real cluster, so the
  // data a sync uses is on average half a resolution old.
  double syncOffsetSeconds = 7.5;
  // When the first scrape happens (simulated seconds): metrics-server's phase against the load.
  // Real time starts the baseline whenever its thread does; virtual time picks the mean phase.
  double scrapePhaseSeconds = 0;
};

struct BaselineWrite {
  std::string cluster;
  std::string namespaceName;
  std::string name;
  WorkloadKind kind = WorkloadKind::kDeployment;
  int replicas = 0;
  std::string reason;
};

class HpaBaseline {
 public:
  // Uses the policy of every autoscaled workload of the scenario.
  HpaBaseline(const Scenario& scenario, BaselineOptions options);

  // Scrapes and syncs whatever is due at `now`; returns the writes a sync asks for.
  std::vector<BaselineWrite> step(const FleetModel& model, SimTime now);

 private:
  struct PodScrape {
    double cpuNs = 0;
    double cpuCores = -1;  // mean over the last window; < 0 before the second scrape
    double memoryBytes = 0;
    SimTime at{};
  };
  void scrape(const FleetModel& model, SimTime now);
  std::vector<BaselineWrite> sync(const FleetModel& model, SimTime now);
  std::optional<BaselineWrite> syncWorkload(const ClusterModel& cluster,
                                            const aggregator::WorkloadConfig& workload,
                                            SimTime now);
  // What the HPA reads: the workload's pods in `cluster` and their latest scraped metrics.
  aggregator::scaling::WorkloadObservation observe(const ClusterModel& cluster,
                                                   const aggregator::WorkloadConfig& workload,
                                                   SimTime now) const;
  static WallTime wallAt(const ClusterModel& cluster, SimTime at);

  BaselineOptions options_;
  aggregator::PolicyConfig policy_;
  std::map<std::string, PodScrape> scrapes_;                    // by cluster/pod
  std::map<std::string, aggregator::WorkloadMemory> memories_;  // by cluster/ns/kind/name
  SimTime nextScrape_{0};
  SimTime nextSync_{0};
};

}  // namespace fleetscale::sim
