#include "fleetscale/aggregator/fleet_state.h"

namespace fleetscale::aggregator {

AgentIdentity AgentIdentity::fromHello(const v1::Hello& hello) {
  return AgentIdentity{hello.agent_id(), hello.node(), hello.cluster(),      hello.cloud(),
                       hello.region(),   hello.zone(), hello.agent_version()};
}

bool ContainerFilter::matches(const std::string& clusterName, const std::string& nodeName,
                              const v1::ContainerSample& sample) const {
  return (cluster.empty() || cluster == clusterName) && (node.empty() || node == nodeName) &&
         (namespaceName.empty() || namespaceName == sample.metadata().namespace_()) &&
         (workload.empty() || workload == sample.metadata().workload());
}

FleetState::Registration FleetState::agentConnected(const AgentIdentity& identity) {
  std::lock_guard lock(mutex_);
  Node& node = nodes_[identity.agentId];
  node.identity = identity;
  node.connected = true;
  node.connectionId = nextConnectionId_++;
  return Registration{node.lastSequence, node.connectionId};
}

void FleetState::agentDisconnected(const std::string& agentId, std::uint64_t connectionId) {
  std::lock_guard lock(mutex_);
  if (auto it = nodes_.find(agentId);
      it != nodes_.end() && it->second.connectionId == connectionId) {
    it->second.connected = false;
  }
}

BatchOutcome FleetState::applyBatch(const std::string& agentId, v1::SampleBatch&& batch,
                                    WallTime receivedAt) {
  std::lock_guard lock(mutex_);
  Node& node = nodes_[agentId];
  if (batch.sequence() <= node.lastSequence) return BatchOutcome::kDuplicate;
  node.lastSequence = batch.sequence();
  node.lastSeen = receivedAt;
  node.latest = std::move(batch);
  return BatchOutcome::kAccepted;
}

std::uint64_t FleetState::lastAcceptedSequence(const std::string& agentId) const {
  std::lock_guard lock(mutex_);
  const auto it = nodes_.find(agentId);
  return it == nodes_.end() ? 0 : it->second.lastSequence;
}

std::vector<NodeSnapshot> FleetState::nodes() const {
  std::lock_guard lock(mutex_);
  std::vector<NodeSnapshot> out;
  out.reserve(nodes_.size());
  for (const auto& [id, node] : nodes_) {
    out.push_back(NodeSnapshot{node.identity, node.connected, node.lastSequence, node.lastSeen,
                               node.latest.node(),
                               static_cast<std::size_t>(node.latest.containers_size())});
  }
  return out;
}

std::vector<ContainerSnapshot> FleetState::containers(const ContainerFilter& filter) const {
  std::lock_guard lock(mutex_);
  std::vector<ContainerSnapshot> out;
  for (const auto& [id, node] : nodes_) {
    for (const auto& sample : node.latest.containers()) {
      if (!filter.matches(node.identity.cluster, node.identity.node, sample)) continue;
      out.push_back(
          ContainerSnapshot{node.identity.cluster, node.identity.node, node.lastSeen, sample});
    }
  }
  return out;
}

std::map<std::string, std::size_t> FleetState::connectedAgentsByCluster() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::size_t> out;
  for (const auto& [id, node] : nodes_) {
    if (node.connected) ++out[node.identity.cluster];
  }
  return out;
}

}  // namespace fleetscale::aggregator
