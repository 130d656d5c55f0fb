// The aggregator's picture of the fleet: per agent (node) the latest batch, per container its
// latest sample. Folding a batch is the ingest path; the API and /metrics read snapshots.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/shared/clock.h"
#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale::aggregator {

struct AgentIdentity {
  std::string agentId;
  std::string node;
  std::string cluster;
  std::string cloud;
  std::string region;
  std::string zone;
  std::string agentVersion;

  static AgentIdentity fromHello(const v1::Hello& hello);
};

enum class BatchOutcome { kAccepted, kDuplicate };

struct NodeSnapshot {
  AgentIdentity identity;
  bool connected = false;
  std::uint64_t lastSequence = 0;
  WallTime lastSeen{};
  v1::NodeTotals totals;
  std::size_t containers = 0;
};

struct ContainerSnapshot {
  std::string cluster;
  std::string node;
  WallTime lastSeen{};
  v1::ContainerSample sample;
};

struct ContainerFilter {
  std::string cluster;
  std::string node;
  std::string namespaceName;
  std::string workload;
  bool matches(const std::string& clusterName, const std::string& nodeName,
               const v1::ContainerSample& sample) const;
};

// Thread-safe: many ingest threads fold batches while API threads take snapshots.
class FleetState {
 public:
  struct Registration {
    std::uint64_t lastSequence = 0;  // highest sequence already accepted from this agent
    std::uint64_t connectionId = 0;  // identifies this connection in agentDisconnected
  };
  // Records a (re)connected agent. The hello-ack reports lastSequence so the agent can skip
  // replaying what is already here.
  Registration agentConnected(const AgentIdentity& identity);
  // Marks the agent disconnected unless a newer connection has registered since.
  void agentDisconnected(const std::string& agentId, std::uint64_t connectionId);

  // Folds a batch into the state unless its sequence was already accepted from this agent.
  // The batch's containers replace the node's previous set: a container missing from a batch
  // has gone from that node.
  BatchOutcome applyBatch(const std::string& agentId, v1::SampleBatch&& batch, WallTime receivedAt);

  std::uint64_t lastAcceptedSequence(const std::string& agentId) const;

  std::vector<NodeSnapshot> nodes() const;
  std::vector<ContainerSnapshot> containers(const ContainerFilter& filter = {}) const;
  // Connected agents per cluster.
  std::map<std::string, std::size_t> connectedAgentsByCluster() const;

 private:
  struct Node {
    AgentIdentity identity;
    bool connected = false;
    std::uint64_t connectionId = 0;
    std::uint64_t lastSequence = 0;
    WallTime lastSeen{};
    v1::SampleBatch latest;
  };

  std::uint64_t nextConnectionId_ = 1;
  mutable std::mutex mutex_;
  std::map<std::string, Node> nodes_;  // by agent id
};

}  // namespace fleetscale::aggregator
