// The yardstick fleetscale is measured against: what Kubernetes' own HorizontalPodAutoscaler
// with metrics-server would do on the same fleet. Per cluster and autoscaled workload, as when
// an HPA runs in each cluster: metrics scraped every `resolution` (each pod's mean CPU over the
// window since the previous scrape, and its working set; a pod needs two scrapes for a CPU
// figure, as metrics-server does), a controller sync every `syncPeriod` on the latest scrape,
// and the decision taken by the aggregator's own pure HPA rules (scaling::decide, with the
// policy the simulator writes for the aggregator), so only the data's age and resolution and
// the sync period differ. Pure: the model and the time in, the scale writes out.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/sim/fleet_model.h"

namespace fleetscale::sim {

struct BaselineOptions {
  double resolutionSeconds = 15;  // metrics-server --metric-resolution
  double syncPeriodSeconds = 15;  // kube-controller-manager --horizontal-pod-autoscaler-sync-period
  // Where the sync falls between two scrapes: they are not aligned in a real cluster, so the
  // data a sync uses is on average half a resolution old.
  double syncOffsetSeconds = 7.5;
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

  BaselineOptions options_;
  aggregator::PolicyConfig policy_;
  std::map<std::string, PodScrape> scrapes_;                              // by cluster/pod
  std::map<std::string, aggregator::scaling::ScalingHistory> histories_;  // by cluster/ns/name
  SimTime nextScrape_{0};
  SimTime nextSync_{0};
};

}  // namespace fleetscale::sim
