#include "fleetscale/sim/fleet_model.h"

#include <algorithm>
#include <cmath>

namespace fleetscale::sim {

FleetModel::FleetModel(const Scenario& scenario, WallTime origin, std::uint16_t podMetricsPort)
    : workloads_(scenario.workloads), oomKills_(scenario.workloads.size(), 0) {
  int index = 0;
  for (const auto& cluster : scenario.clusters) {
    clusters_.emplace_back(cluster, index++, scenario.workloads, scenario.seed, origin,
                           podMetricsPort);
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
  // Each workload's demand, and its serving replicas across the live clusters.
  const std::size_t count = workloads_.size();
  cpuDemand_.resize(count);
  memoryDemand_.resize(count);
  serving_.assign(count, 0);
  for (std::size_t w = 0; w < count; ++w) {
    cpuDemand_[w] = workloads_[w].cpu.at(t);
    memoryDemand_[w] = workloads_[w].memory.at(t);
  }
  for (const auto& cluster : clusters_) {
    if (!cluster.alive()) continue;
    for (const auto& pod : cluster.pods()) {
      if (pod.specIndex >= 0 && pod.ready(now)) ++serving_[static_cast<std::size_t>(pod.specIndex)];
    }
  }
  for (auto& cluster : clusters_) {
    std::vector<PodState>& pods = cluster.pods();
    if (!cluster.alive()) {
      for (auto& pod : pods) {
        pod.counters.cpuCores = 0;
        pod.counters.requestsPerSecond = 0;
      }
      continue;  // a dead machine's counters stand still
    }
    std::vector<NodeState>& nodes = cluster.nodes();
    // Wanted CPU per running container, before node contention.
    wanted_.assign(pods.size(), 0);
    nodeCpu_.assign(nodes.size(), 0);
    for (std::size_t i = 0; i < pods.size(); ++i) {
      PodState& pod = pods[i];
      pod.counters.requestsPerSecond = 0;
      if (!pod.running(now)) {
        pod.counters.memoryBytes = 0;  // in a crash back-off: no process, no memory
        continue;
      }
      double cpu = 0;
      double memory = 0;
      double unreclaimable = 0;  // what the kernel cannot take back: above the limit, OOM
      if (pod.isSystem()) {
        cpu = kSystemPodCores;
        memory = kSystemPodMemoryBytes;
      } else if (pod.specIndex >= 0) {
        const auto w = static_cast<std::size_t>(pod.specIndex);
        const WorkloadSpec& spec = workloads_[w];
        cpu = spec.idleCpuCores;
        memory = spec.idleMemoryBytes;
        if (spec.memoryPerReplica) unreclaimable = spec.memoryPerReplica->at(t);
        const int replicas = serving_[w];
        if (pod.ready(now) && replicas > 0) {
          const double share = cpuDemand_[w] / replicas;
          cpu = std::max(cpu, share);
          memory = std::max(memory, memoryDemand_[w] / replicas);
          if (spec.oomOnSharedMemory) unreclaimable = std::max(unreclaimable, memory);
          // The requests the load balancer sends: the share of demand as offered, before the
          // idle floor, the CPU limit and node contention (a throttled pod is sent as many).
          if (spec.requestsPerCore) pod.counters.requestsPerSecond = share * *spec.requestsPerCore;
        }
        // The rate of this step holds for the whole step, as the CPU counters' does: a step in
        // the curve shows in the counter's rate from the first step after it.
        pod.counters.requests += pod.counters.requestsPerSecond * dt;
      }
      // What the runtime applied caps the container (a resize in progress is not there yet).
      const auto& limits = pod.actual;
      memory = std::max(memory, unreclaimable);
      if (limits.memoryLimit && unreclaimable > *limits.memoryLimit + 0.5) {
        // More than the limit that cannot be reclaimed: the kernel's OOM killer ends the
        // container at the limit.
        pod.counters.memoryBytes = *limits.memoryLimit;
        cluster.oomKill(pod, now);
        if (pod.specIndex >= 0) ++oomKills_[static_cast<std::size_t>(pod.specIndex)];
        if (!pod.running(now)) continue;
      }
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
      wanted_[i] = granted;
      if (pod.nodeIndex >= 0) nodeCpu_[static_cast<std::size_t>(pod.nodeIndex)] += granted;
    }
    // More asked of a node than it has: everyone there gets the same share of what they asked.
    nodeShare_.assign(nodes.size(), 1.0);
    nodeMemory_.assign(nodes.size(), kNodeOverheadMemoryBytes);
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const double asked = nodeCpu_[n] + kNodeOverheadCores;
      const double cores = std::ceil(nodes[n].capacity.cpuCores);
      if (asked > cores) nodeShare_[n] = cores / asked;
    }
    for (std::size_t i = 0; i < pods.size(); ++i) {
      PodState& pod = pods[i];
      if (pod.nodeIndex < 0) continue;
      const auto n = static_cast<std::size_t>(pod.nodeIndex);
      if (!pod.running(now)) {
        pod.counters.cpuCores = 0;
        continue;
      }
      const double share = nodeShare_[n];
      const double rate = wanted_[i] * share;
      pod.counters.cpuCores = rate;
      pod.counters.cpuNs += rate * dt * 1e9;
      if (share < 1.0) pod.counters.pressureSomeUs += (1.0 - share) * dt * 1e6;
      nodeMemory_[n] += pod.counters.memoryBytes + kPauseMemoryBytes;
    }
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      NodeState& node = nodes[n];
      const double asked = nodeCpu_[n] + kNodeOverheadCores;
      const double cores = std::ceil(node.capacity.cpuCores);
      const double busy = std::min(asked, cores);
      node.busyNs += busy * dt * 1e9;
      node.idleNs += (cores - busy) * dt * 1e9;
      node.memoryUsedBytes = std::min(nodeMemory_[n], node.capacity.memoryBytes);
    }
  }
}

TimelineSample FleetModel::sample() const {
  TimelineSample sample;
  sample.seconds = toSeconds(last_);
  for (const auto& spec : workloads_) {
    WorkloadSample& w = sample.workloads[spec.namespaceName + "/" + spec.name];
    w.demandCores = spec.cpu.at(sample.seconds);
    w.oomKills = oomKills_[static_cast<std::size_t>(&spec - workloads_.data())];
    for (const auto& cluster : clusters_) {
      const WorkloadObject* object = cluster.find(spec.kind, spec.namespaceName, spec.name);
      if (!object) continue;
      ClusterReplicas& replicas = w.clusters[cluster.name()];
      replicas.desired = object->replicas;
      replicas.alive = cluster.alive();
      for (const auto& pod : cluster.pods()) {
        if (pod.workload != spec.name || pod.namespaceName != spec.namespaceName) continue;
        ++replicas.pods;
        if (pod.backingOff(last_)) ++w.crashLooping;
        if (pod.running(last_)) {
          ++replicas.running;
          if (cluster.alive()) {
            w.requestedCpuCores += requestedCores(pod.actual);
            w.requestedMemoryBytes += requestedBytes(pod.actual);
            w.usedMemoryBytes += pod.counters.memoryBytes;
          }
        }
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
