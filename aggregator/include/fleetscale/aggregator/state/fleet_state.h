// The aggregator's live picture of the fleet: clusters -> nodes (one per agent) -> pods ->
// containers. Ingest threads fold decoded batches into it; readers take copies (nodes(),
// containers()) or an immutable rollup snapshot (snapshot()).
//
// Concurrency: state is sharded per node. A connection holds its node's handle, so folding a
// batch locks only that node; the node map is locked only when agents come and go. Container
// records keep their strings in one buffer and are updated in place when a container's
// identity and metadata bytes are unchanged since the previous tick (the common case), so a
// fold copies numbers, not strings.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fleetscale/aggregator/state/rollup.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator {

struct NodeInfo {
  AgentIdentity identity;
  bool connected = false;
  bool stale = false;
  AgentProgress progress;
  WallTime lastSeen{};
  double intervalSeconds = 0;
  NodeTotalsView totals;
  std::size_t containers = 0;
};

struct ContainerInfo {
  std::string cluster, node;
  std::string id, cgroup, runtime;
  std::string pod, podUid, namespaceName, container, workloadKind, workload, podPhase, qosClass,
      image;
  double cpuRequestCores = kAbsent;
  double cpuLimitRequestCores = kAbsent;  // the pod spec's limit (metadata), not the cgroup's
  std::optional<std::uint64_t> memoryRequestBytes;
  std::optional<std::uint64_t> memoryLimitRequestBytes;
  std::optional<bool> ready;
  std::uint32_t restartCount = 0;
  std::int64_t startTimeUnixMs = 0;
  ContainerMetrics metrics;
  WallTime lastSeen{};
  bool stale = false;
};

struct ContainerFilter {
  std::string cluster;
  std::string node;
  std::string namespaceName;
  std::string workload;
};

enum class BatchOutcome { kAccepted, kDuplicate, kInvalid };

struct FoldResult {
  BatchOutcome outcome = BatchOutcome::kAccepted;
  std::string error;       // for kInvalid
  AgentProgress progress;  // after this batch (only filled for kAccepted)
};

class NodeState;  // one agent's node: defined in fleet_state.cpp

// Thread-safe.
class FleetState {
 public:
  FleetState();
  ~FleetState();
  FleetState(const FleetState&) = delete;
  FleetState& operator=(const FleetState&) = delete;

  // Seeds dedup state persisted by an earlier run. Call before agents connect.
  void restoreProgress(const std::vector<AgentProgress>& progress);

  struct Session {
    std::shared_ptr<NodeState> node;
    std::uint64_t connectionId = 0;
    std::uint64_t lastSequence = 0;     // highest sequence already accepted from this agent
    std::uint64_t durableSequence = 0;  // highest sequence the store has made durable
  };
  // Records a (re)connected agent; the session is the connection's handle on its node.
  Session agentConnected(const AgentIdentity& identity);
  // Marks the node disconnected unless a newer connection has registered since.
  void agentDisconnected(const Session& session);

  // Folds a batch into the session's node unless its sequence was already accepted. The batch's
  // containers replace the node's previous set: a container missing from a batch is gone. A
  // batch may be decoded with StringChecks::kDeferred: only containers whose identity or
  // metadata bytes changed since the last tick are completed (checked) here. A batch naming one
  // container twice, or with a changed container that fails its checks, is kInvalid and changes
  // nothing.
  FoldResult applyBatch(const Session& session, BatchView& batch, WallTime receivedAt);

  std::uint64_t lastAcceptedSequence(const std::string& agentId) const;
  // Records that the agent's progress up to `sequence` is durable (the store committed it).
  void markDurable(const std::string& agentId, std::uint64_t sequence);

  // Copies for the API; `stale` computed against `now`. At most `limit` containers.
  std::vector<NodeInfo> nodes(WallTime now) const;
  std::vector<ContainerInfo> containers(const ContainerFilter& filter, WallTime now,
                                        std::size_t limit = SIZE_MAX) const;

  // Rolls the whole fleet up as of `now`. Costs one pass over every container.
  FleetSnapshot snapshot(WallTime now) const;

  // Drops nodes that are disconnected and silent for longer than `after`, keeping their
  // dedup progress. Returns the identities dropped.
  std::vector<AgentIdentity> forgetSilentNodes(WallTime now, std::chrono::nanoseconds after);

  // Tracked containers, over every node.
  std::size_t containerCount() const;

 private:
  std::uint32_t internWorkload(std::string_view namespaceName, std::string_view kind,
                               std::string_view name);
  std::vector<std::shared_ptr<NodeState>> allNodes() const;

  std::atomic<std::uint64_t> nextConnectionId_{1};
  mutable std::shared_mutex nodesMutex_;
  std::unordered_map<std::string, std::shared_ptr<NodeState>> nodes_;  // by agent id
  std::unordered_map<std::string, AgentProgress> forgotten_;           // progress of dropped nodes

  mutable std::mutex workloadsMutex_;
  std::map<WorkloadKey, std::uint32_t> workloadIds_;
  std::vector<WorkloadKey> workloadKeys_;  // by id
};

}  // namespace fleetscale::aggregator
