// The aggregator's live picture of the fleet: clusters -> nodes -> pods -> containers. The state
// is keyed by what the data describes, not by who sent it: one record per (cluster, node), with
// the agent that currently reports for it. Ingest threads fold decoded batches into it; readers
// take copies (nodes(), containers()) or an immutable rollup snapshot (snapshot()).
//
// Agents and nodes: each agent id has its own sequence space (per sequence epoch) and
// exactly-once counters, kept with the node it reports for. A hello from another agent process
// for a node (another id, the same id with another epoch, or a later start) supersedes the
// node's current agent at once and counts an agent restart; the newcomer's first batch replaces
// the node's container set. Batches of a superseded agent are still accepted for its progress
// (so it drains and is acked) but not folded. An older process (an earlier start) never takes a
// node back. docs/aggregator.md, "Agents, nodes and restarts".
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
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fleetscale/aggregator/state/rollup.h"
#include "fleetscale/aggregator/state/workload_names.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator {

// One node: its figures and the agent that currently reports for it.
struct NodeInfo {
  AgentIdentity identity;  // the current agent's hello (node and cluster: the node's)
  bool connected = false;  // the current agent is connected
  bool stale = false;
  AgentProgress progress;  // the current agent's
  WallTime lastSeen{};
  double intervalSeconds = 0;
  NodeTotalsView totals;
  std::size_t containers = 0;
  std::uint64_t agentRestarts = 0;  // times another agent process took the node over
  std::size_t agents = 0;           // agent ids tracked for the node (current and superseded)
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

enum class BatchOutcome {
  kAccepted,    // new, folded into the node
  kSuperseded,  // new, counted in the agent's progress, not folded: another agent has the node
  kDuplicate,   // at or below the agent's last accepted sequence
  kInvalid,     // a broken batch (error says why); nothing changed
  kOutOfRange,  // a sequence the agent cannot have produced (error says why); nothing changed
  kStale,       // the session's sequence space was replaced by a newer hello with the same id
};

struct FoldResult {
  BatchOutcome outcome = BatchOutcome::kAccepted;
  std::string error;       // for kInvalid and kOutOfRange
  AgentProgress progress;  // after this batch (only filled for kAccepted and kSuperseded)
};

// How far an agent's sequence may move past the last one accepted from it: its queue (the
// batches it could hold unacked, as its hello says, else kDefaultQueueCapacity, at most
// kMaxQueueCapacity) plus one batch per kFastestTick of silence since that batch. Beyond that
// it is not a sequence that agent produced (a cloned VM's spool, a bug, a hostile peer), and
// accepting it would make every later honest batch a "duplicate".
inline constexpr std::uint64_t kDefaultQueueCapacity = 3600;
inline constexpr std::uint64_t kMaxQueueCapacity = 10'000'000;
inline constexpr std::chrono::milliseconds kFastestTick{10};
// Sequences above this are refused: agents and stores keep them as signed 64-bit numbers.
inline constexpr std::uint64_t kMaxSequence = INT64_MAX;

class NodeState;  // one node: defined in fleet_state.cpp

// Thread-safe.
class FleetState {
 public:
  FleetState();
  ~FleetState();
  FleetState(const FleetState&) = delete;
  FleetState& operator=(const FleetState&) = delete;

  // Seeds dedup state and the nodes' agents persisted by an earlier run. Call before agents
  // connect.
  void restoreProgress(const std::vector<AgentProgress>& progress);
  void restoreNodes(const std::vector<NodeRecord>& nodes);

  struct Session {
    std::shared_ptr<NodeState> node;
    std::string agentId;
    std::uint64_t connectionId = 0;
    std::uint64_t sequenceEpoch = 0;
    std::int64_t startedUnixMs = 0;
    std::uint64_t lastSequence = 0;     // highest sequence already accepted in this epoch
    std::uint64_t durableSequence = 0;  // highest sequence of it the store has made durable
    // What the hello changed on the node, for the caller to log and persist: set when this agent
    // became the node's current one (restart: it superseded another process, named in
    // `superseded`), or when it is an older process that did not (`current` false).
    bool current = true;
    bool restart = false;
    std::string superseded;                // "<agent id> (started ...)" of the process replaced
    std::optional<NodeRecord> nodeRecord;  // the node's agent changed: persist this
    bool newSequenceSpace = false;         // the hello's epoch replaced the id's earlier one
  };
  // Records a (re)connected agent; the session is the connection's handle on its node.
  Session agentConnected(const AgentIdentity& identity);
  // Marks the agent disconnected unless a newer connection has registered since.
  void agentDisconnected(const Session& session);

  // Accepts a batch unless its sequence was already accepted in the session's sequence space,
  // and, when the session's agent is the node's current one, folds it: the batch's containers
  // replace the node's previous set (a container missing from a batch is gone). A batch may be
  // decoded with StringChecks::kDeferred: only containers whose identity or metadata bytes
  // changed since the last tick are completed (checked) here. A batch naming one container
  // twice, or with a changed container that fails its checks, is kInvalid, and one whose
  // sequence jumps further than the agent could have numbered (see kDefaultQueueCapacity) is
  // kOutOfRange; both change nothing.
  FoldResult applyBatch(const Session& session, BatchView& batch, WallTime receivedAt);

  std::uint64_t lastAcceptedSequence(const std::string& agentId) const;
  // Records that the agent's progress up to `sequence` of `epoch` is durable (the store
  // committed it). Progress of an epoch the agent id no longer uses is ignored.
  void markDurable(const std::string& agentId, std::uint64_t epoch, std::uint64_t sequence);

  // Copies for the API, one per node; `stale` computed against `now`. At most `limit`
  // containers.
  std::vector<NodeInfo> nodes(WallTime now) const;
  std::vector<ContainerInfo> containers(const ContainerFilter& filter, WallTime now,
                                        std::size_t limit = SIZE_MAX) const;

  // Rolls the whole fleet up as of `now`. Costs one pass over every container. Pods of nodes
  // that are late, or that owe a batch of the newest sampling round, are marked late.
  FleetSnapshot snapshot(WallTime now) const;

  // Whether the newest sampling round is in: every node whose agent samples on the clock, is
  // connected and not yet late has sent its batch of it (a node whose latest batch is of no
  // round, replayed or taken at start-up, is not waited for). A live agent that does not sample
  // on the clock makes rounds meaningless (kUnaligned). Costs one pass over the nodes, not
  // their containers.
  enum class RoundProgress { kComplete, kWaiting, kUnaligned };
  RoundProgress roundProgress(WallTime now) const;

  // Drops nodes whose agents are disconnected and silent for longer than `after`, and superseded
  // agents of live nodes that are, keeping their dedup progress; that progress (and the node's
  // restart count) is dropped too once the agent has been silent for `keepProgressFor`, as the
  // store's retention does, so churning nodes do not pile up. Returns the identities of the nodes
  // dropped.
  std::vector<AgentIdentity> forgetSilentNodes(
      WallTime now, std::chrono::nanoseconds after,
      std::chrono::nanoseconds keepProgressFor = std::chrono::nanoseconds::max());

  // Forgets the workload names no container has carried for longer than `after` (their ids are
  // reused). Costs one pass over every container: run it every minute or so, not every tick.
  // Returns how many it forgot.
  std::size_t forgetUnusedWorkloadNames(WallTime now, std::chrono::nanoseconds after);

  // Tracked containers, over every node.
  std::size_t containerCount() const;
  // Workload names held (live ones and those not forgotten yet).
  std::size_t workloadNameCount() const;

 private:
  std::vector<std::shared_ptr<NodeState>> allNodes() const;
  // Replaces the node's container set with the batch's; "" or why the batch is invalid (then
  // nothing changed). Under the node's lock.
  std::string foldContainers(NodeState& node, BatchView& batch);
  void foldPendingPods(NodeState& node, const BatchView& batch);
  static void foldPodSeries(NodeState& node, const BatchView& batch);

  std::atomic<std::uint64_t> nextConnectionId_{1};
  mutable std::shared_mutex nodesMutex_;
  // By "<cluster>\n<node>".
  std::unordered_map<std::string, std::shared_ptr<NodeState>> nodes_;
  // The node each connected or recent agent id's record lives in.
  std::unordered_map<std::string, std::shared_ptr<NodeState>> agentNodes_;
  std::unordered_map<std::string, AgentProgress> forgotten_;   // progress of dropped agents
  std::unordered_map<std::string, NodeRecord> restoredNodes_;  // until the node's first hello

  WorkloadNames workloadNames_;
  // A snapshot holds it shared from reading the records' workload ids to reading their names, a
  // name sweep exclusively: no id is forgotten and reused in between.
  mutable std::shared_mutex namesSweepMutex_;
  struct SnapshotScratch;
  mutable std::mutex scratchMutex_;  // one snapshot at a time uses the scratch
  std::unique_ptr<SnapshotScratch> scratch_;
};

}  // namespace fleetscale::aggregator
