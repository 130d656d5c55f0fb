// Every simulated cluster plus the load: each step runs the clusters' controllers, splits each
// workload's demand across its ready replicas in the live clusters (a global load balancer),
// caps each replica at its CPU limit (throttling counters advance when capped), shares a node's
// CPU when its containers ask for more than it has, and integrates the cgroup counters and the
// request counters of pods with a metrics endpoint (pod_metrics.h).
// Pure: no I/O, time is passed in. Not thread-safe; the simulator guards it with one mutex.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fleetscale/sim/cluster_model.h"
#include "fleetscale/sim/measurements.h"
#include "fleetscale/sim/scenario.h"

namespace fleetscale::sim {

// CPU the node's own daemons (kubelet, containerd, systemd) use, outside any pod.
inline constexpr double kNodeOverheadCores = 0.05;
inline constexpr double kNodeOverheadMemoryBytes = 600.0 * 1024 * 1024;
// What a pause (sandbox) container holds.
inline constexpr double kPauseMemoryBytes = 300.0 * 1024;
// kube-proxy's steady use.
inline constexpr double kSystemPodCores = 0.002;
inline constexpr double kSystemPodMemoryBytes = 28.0 * 1024 * 1024;
// CFS bandwidth period the kubelet sets with a CPU limit.
inline constexpr double kCfsPeriodSeconds = 0.1;

class FleetModel {
 public:
  // `podMetricsPort`: where the pods' metrics endpoints are served (ClusterModel's).
  FleetModel(const Scenario& scenario, WallTime origin, std::uint16_t podMetricsPort = 0);

  std::vector<ClusterModel>& clusters() { return clusters_; }
  const std::vector<ClusterModel>& clusters() const { return clusters_; }
  ClusterModel* findCluster(const std::string& name);
  const ClusterModel* findCluster(const std::string& name) const;
  const std::vector<WorkloadSpec>& workloads() const { return workloads_; }
  const WorkloadSpec* findWorkload(const std::string& namespaceName, const std::string& name) const;

  // Advances to `now` (monotonic; an earlier time is ignored).
  void step(SimTime now);
  SimTime lastStep() const { return last_; }

  // Demand and replicas per workload at the last step.
  TimelineSample sample() const;

  void setAlive(const std::string& cluster, bool alive, SimTime now);

 private:
  void integrate(double dt, SimTime now);

  std::vector<WorkloadSpec> workloads_;
  std::vector<ClusterModel> clusters_;
  SimTime last_{0};
  bool started_ = false;
  // Scratch space of integrate(), kept so a step allocates nothing: per workload, per pod and
  // per node of the cluster at hand.
  std::vector<double> cpuDemand_, memoryDemand_;
  std::vector<int> serving_;
  std::vector<double> wanted_, nodeCpu_, nodeShare_, nodeMemory_;
  std::vector<std::uint64_t> oomKills_;  // per workload, since the start
};

}  // namespace fleetscale::sim
