#include "fleetscale/sim/fleet_model.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace fleetscale::sim {

FleetModel::FleetModel(const Scenario& scenario, WallTime origin) : workloads_(scenario.workloads) {
  int index = 0;
  for (const auto& cluster : scenario.clusters) {
    clusters_.emplace_back(cluster, index++, scenario.workloads, scenario.seed, origin);
  }
}

ClusterModel* FleetModel::findCluster(const std::string& name) {
  for (auto& cluster : clusters_) {
    if (cluster.name() == name) return &cluster;
  }
  return nullptr;
}

const ClusterModel* FleetModel::findCluster(const std::string& name) const {
  return const_cast<FleetModel*>(this)->findCluster(name);
}

const WorkloadSpec* FleetModel::findWorkload(const std::string& namespaceName,
                                             const std::string& name) const {
  for (const auto& workload : workloads_) {
    if (workload.namespaceName == namespaceName && workload.name == name) return &workload;
  }
  return nullptr;
}

void FleetModel::setAlive(const std::string& cluster, bool alive, SimTime now) {
  if (ClusterModel* model = findCluster(cluster)) model->setAlive(alive, now);
}

void FleetModel::step(SimTime now) {
  if (started_ && now <= last_) return;
  const double dt = started_ ? toSeconds(now - last_) : 0;
  for (auto& cluster : clusters_) cluster.advance(now);
  integrate(dt, now);
  last_ = now;
  started_ = true;
}

void FleetModel::integrate(double dt, SimTime now) {
  const double t = toSeconds(now);
  // Serving replicas per workload, across the live clusters.
  std::map<std::pair<std::string, std::string>, int> serving;
  for (const auto& cluster : clusters_) {
    if (!cluster.alive()) continue;
    for (const auto& pod : cluster.pods()) {
      if (!pod.isSystem() && pod.ready(now)) ++serving[{pod.namespaceName, pod.workload}];
    }
  }
  for (auto& cluster : clusters_) {
    if (!cluster.alive()) {
      for (auto& pod : cluster.pods()) pod.counters.cpuCores = 0;
      continue;  // a dead machine's counters stand still
    }
    // Wanted CPU per running container, before node contention.
    std::map<std::string, double> wantedOnNode;
    std::vector<double> wanted(cluster.pods().size(), 0);
    for (std::size_t i = 0; i < cluster.pods().size(); ++i) {
      PodState& pod = cluster.pods()[i];
      if (!pod.running(now)) continue;
      double cpu = 0;
      double memory = 0;
      if (pod.isSystem()) {
        cpu = kSystemPodCores;
        memory = kSystemPodMemoryBytes;
      } else if (const WorkloadSpec* spec = findWorkload(pod.namespaceName, pod.workload)) {
        cpu = spec->idleCpuCores;
        memory = spec->idleMemoryBytes;
        const int replicas = serving[{pod.namespaceName, pod.workload}];
        if (pod.ready(now) && replicas > 0) {
          cpu = std::max(cpu, spec->cpu.at(t) / replicas);
          memory = std::max(memory, spec->memory.at(t) / replicas);
        }
      }
      const auto& limits = pod.container.resources;
      if (limits.memoryLimit) memory = std::min(memory, *limits.memoryLimit);
      double granted = cpu;
      if (limits.cpuLimit) {
        const double periods = dt / kCfsPeriodSeconds;
        pod.counters.periods += periods;
        if (cpu > *limits.cpuLimit) {
          granted = *limits.cpuLimit;
          pod.counters.throttledPeriods += periods;
          pod.counters.throttledNs += (cpu - granted) * dt * 1e9;
        }
      }
      pod.counters.memoryBytes = memory;
      wanted[i] = granted;
      wantedOnNode[pod.node] += granted;
    }
    for (auto& node : cluster.nodes()) {
      const double asked = wantedOnNode[node.name] + kNodeOverheadCores;
      const double cores = std::ceil(node.capacity.cpuCores);
      // More asked than the node has: everyone gets the same share of what they asked.
      const double share = asked > cores ? cores / asked : 1.0;
      double memory = kNodeOverheadMemoryBytes;
      for (std::size_t i = 0; i < cluster.pods().size(); ++i) {
        PodState& pod = cluster.pods()[i];
        if (pod.node != node.name) continue;
        if (!pod.running(now)) {
          pod.counters.cpuCores = 0;
          continue;
        }
        const double rate = wanted[i] * share;
        pod.counters.cpuCores = rate;
        pod.counters.cpuNs += rate * dt * 1e9;
        if (share < 1.0) pod.counters.pressureSomeUs += (1.0 - share) * dt * 1e6;
        memory += pod.counters.memoryBytes + kPauseMemoryBytes;
      }
      const double busy = std::min(asked, cores);
      node.busyNs += busy * dt * 1e9;
      node.idleNs += (cores - busy) * dt * 1e9;
      node.memoryUsedBytes = std::min(memory, node.capacity.memoryBytes);
    }
  }
}

TimelineSample FleetModel::sample() const {
  TimelineSample sample;
  sample.seconds = toSeconds(last_);
  for (const auto& spec : workloads_) {
    WorkloadSample& w = sample.workloads[spec.namespaceName + "/" + spec.name];
    w.demandCores = spec.cpu.at(sample.seconds);
    for (const auto& cluster : clusters_) {
      const WorkloadObject* object = cluster.find(spec.kind, spec.namespaceName, spec.name);
      if (!object) continue;
      ClusterReplicas& replicas = w.clusters[cluster.name()];
      replicas.desired = object->replicas;
      replicas.alive = cluster.alive();
      for (const auto& pod : cluster.pods()) {
        if (pod.workload != spec.name || pod.namespaceName != spec.namespaceName) continue;
        ++replicas.pods;
        if (pod.running(last_)) ++replicas.running;
        if (!pod.ready(last_)) continue;
        ++replicas.ready;
        if (cluster.alive()) {
          w.readyCapacityCores += spec.replicaCapacity();
          w.servedCores += pod.counters.cpuCores;
        }
      }
    }
  }
  return sample;
}

}  // namespace fleetscale::sim
