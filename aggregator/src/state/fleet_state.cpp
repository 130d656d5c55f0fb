#include "fleetscale/aggregator/state/fleet_state.h"

#include <algorithm>
#include <array>
#include <memory_resource>
#include <unordered_set>

namespace fleetscale::aggregator {

namespace {

inline constexpr WorkloadNames::Id kNoWorkload = WorkloadNames::kNone;

// A range inside ContainerRecord::text_.
struct Span {
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
};

enum MetadataString : std::size_t {
  kPod,
  kPodUid,
  kNamespace,
  kContainerName,
  kWorkloadKind,
  kWorkload,
  kPodPhase,
  kQosClass,
  kImage,
  kMetadataStrings
};

// One container's latest sample, compact: every string lives in one buffer, laid out as
// id | cgroup | runtime | serialized metadata; the metadata's strings are spans into the last
// part. Spans (not string_views) so records can move.
class ContainerRecord {
 public:
  std::string_view id() const { return view(idSpan()); }
  std::string_view cgroup() const { return view(Span{idLength_, cgroupLength_}); }
  std::string_view runtime() const { return view(Span{idLength_ + cgroupLength_, runtimeLength_}); }
  std::string_view metadataBytes() const {
    const std::uint32_t start = idLength_ + cgroupLength_ + runtimeLength_;
    return view(Span{start, static_cast<std::uint32_t>(text_.size()) - start});
  }
  std::string_view metadata(MetadataString which) const { return view(strings_[which]); }

  bool sameIdentity(const ContainerSampleView& sample) const {
    return id() == sample.id && cgroup() == sample.cgroup && runtime() == sample.runtime &&
           metadataBytes() == sample.metadataBytes;
  }

  // Takes the sample's identity and metadata (strings copied once) and its figures.
  template <typename Intern>
  void assign(const ContainerSampleView& sample, Intern&& intern) {
    text_.clear();
    text_.reserve(sample.id.size() + sample.cgroup.size() + sample.runtime.size() +
                  sample.metadataBytes.size());
    text_.append(sample.id).append(sample.cgroup).append(sample.runtime);
    const auto metadataStart = static_cast<std::uint32_t>(text_.size());
    text_.append(sample.metadataBytes);
    text_.shrink_to_fit();
    idLength_ = static_cast<std::uint32_t>(sample.id.size());
    cgroupLength_ = static_cast<std::uint32_t>(sample.cgroup.size());
    runtimeLength_ = static_cast<std::uint32_t>(sample.runtime.size());
    const auto& m = sample.metadata;
    const std::array<std::string_view, kMetadataStrings> strings{
        m.pod,      m.podUid,   m.namespaceName, m.container, m.workloadKind,
        m.workload, m.podPhase, m.qosClass,      m.image};
    for (std::size_t i = 0; i < kMetadataStrings; ++i) {
      // Decoded views point into sample.metadataBytes; keep their positions.
      strings_[i] = strings[i].empty()
                        ? Span{}
                        : Span{metadataStart + static_cast<std::uint32_t>(
                                                   strings[i].data() - sample.metadataBytes.data()),
                               static_cast<std::uint32_t>(strings[i].size())};
    }
    cpuRequestCores_ = m.cpuRequestCores;
    cpuLimitCores_ = m.cpuLimitCores;
    memoryRequestBytes_ = m.memoryRequestBytes;
    memoryLimitBytes_ = m.memoryLimitBytes;
    ready_ = m.ready;
    restartCount_ = m.restartCount;
    startTimeUnixMs_ = m.startTimeUnixMs;
    podReadyTimeUnixMs_ = m.podReadyTimeUnixMs;
    deletionUnixMs_ = m.deletionUnixMs;
    workloadId_ =
        m.workload.empty() ? kNoWorkload : intern(m.namespaceName, m.workloadKind, m.workload);
    metrics = sample.metrics;
  }

  ContainerContribution contribution() const {
    ContainerContribution c;
    c.name = metadata(kContainerName);
    c.cpuUsageCores = metrics.cpuCores;
    c.cpuThrottledCores = metrics.cpuThrottledSecondsPerSecond;
    c.cpuLimitCores = metrics.cpuLimitCores;
    c.cpuRequestCores = cpuRequestCores_;
    c.memoryUsageBytes = static_cast<double>(metrics.memoryWorkingSetBytes);
    c.memoryRequestBytes =
        memoryRequestBytes_ ? static_cast<double>(*memoryRequestBytes_) : kAbsent;
    const auto memoryLimit = memoryLimitBytes_ ? memoryLimitBytes_ : metrics.memoryLimitBytes;
    c.memoryLimitBytes = memoryLimit ? static_cast<double>(*memoryLimit) : kAbsent;
    c.oomKillsTotal = metrics.oomKillsTotal;
    c.ready = ready_;
    c.startTimeUnixMs = startTimeUnixMs_;
    c.podReadyTimeUnixMs = podReadyTimeUnixMs_;
    c.restartCount = restartCount_;
    c.listed = !metadata(kContainerName).empty() || metadata(kPodUid).empty();
    c.podPending = metadata(kPodPhase) == "Pending";
    c.podDeleting = deletionUnixMs_ > 0;
    return c;
  }

  ContainerInfo info() const {
    ContainerInfo out;
    out.id = id();
    out.cgroup = cgroup();
    out.runtime = runtime();
    out.pod = metadata(kPod);
    out.podUid = metadata(kPodUid);
    out.namespaceName = metadata(kNamespace);
    out.container = metadata(kContainerName);
    out.workloadKind = metadata(kWorkloadKind);
    out.workload = metadata(kWorkload);
    out.podPhase = metadata(kPodPhase);
    out.qosClass = metadata(kQosClass);
    out.image = metadata(kImage);
    out.cpuRequestCores = cpuRequestCores_;
    out.cpuLimitRequestCores = cpuLimitCores_;
    out.memoryRequestBytes = memoryRequestBytes_;
    out.memoryLimitRequestBytes = memoryLimitBytes_;
    out.ready = ready_;
    out.restartCount = restartCount_;
    out.startTimeUnixMs = startTimeUnixMs_;
    out.metrics = metrics;
    return out;
  }

  std::uint32_t workloadId() const { return workloadId_; }

  ContainerMetrics metrics;

 private:
  Span idSpan() const { return Span{0, idLength_}; }
  std::string_view view(Span span) const {
    return std::string_view(text_).substr(span.offset, span.length);
  }

  std::string text_;
  std::uint32_t idLength_ = 0, cgroupLength_ = 0, runtimeLength_ = 0;
  std::array<Span, kMetadataStrings> strings_{};
  double cpuRequestCores_ = kAbsent;
  double cpuLimitCores_ = kAbsent;
  std::optional<std::uint64_t> memoryRequestBytes_;
  std::optional<std::uint64_t> memoryLimitBytes_;
  std::int64_t startTimeUnixMs_ = 0;
  std::int64_t podReadyTimeUnixMs_ = 0;
  std::int64_t deletionUnixMs_ = 0;
  std::uint32_t restartCount_ = 0;
  std::uint32_t workloadId_ = kNoWorkload;
  std::optional<bool> ready_;
};

// A pod of a workload that the node's kubelet lists as Pending with no container started.
struct PendingPodRecord {
  std::string pod;
  std::string podUid;
  WorkloadNames::Id workloadId = kNoWorkload;
  bool deleting = false;
  double cpuRequestCores = kAbsent;  // summed over the pod spec's containers
  double memoryRequestBytes = kAbsent;
};

}  // namespace

namespace {

std::string nodeKey(std::string_view cluster, std::string_view node) {
  std::string key;
  key.reserve(cluster.size() + node.size() + 1);
  key.append(cluster).append(1, '\n').append(node);
  return key;
}

// One agent id's sequence space and counters, kept with the node it reports for.
struct AgentRecord {
  AgentIdentity identity;  // its latest hello
  AgentProgress progress;
  std::uint64_t durableSequence = 0;
  std::uint64_t connectionId = 0;  // of its latest hello
  bool connected = false;
};

// One agent process: who reports for a node.
struct AgentProcess {
  std::string agentId;
  std::uint64_t sequenceEpoch = 0;
  std::int64_t startedUnixMs = 0;
  bool operator==(const AgentProcess&) const = default;
};

AgentProcess processOf(const AgentIdentity& identity) {
  return AgentProcess{identity.agentId, identity.sequenceEpoch, identity.startedUnixMs};
}

std::string describe(const AgentProcess& process) {
  std::string out = process.agentId;
  if (process.startedUnixMs > 0)
    out += " (started at " + std::to_string(process.startedUnixMs) + ")";
  return out;
}

}  // namespace

class NodeState {
 public:
  mutable std::mutex mutex;
  std::string cluster;
  std::string name;
  std::map<std::string, AgentRecord> agents;  // by agent id: the current one and superseded ones
  std::optional<AgentProcess> current;        // whose batches are folded
  std::uint64_t agentRestarts = 0;
  WallTime lastSeen{};
  double intervalSeconds = 0;
  bool clockAlignedSampling = false;      // of the agent whose batch was folded last
  std::optional<WallTime> samplingRound;  // of the latest batch, when it is a round's
  NodeTotalsView totals;
  std::vector<ContainerRecord> containers;
  std::vector<PendingPodRecord> pendingPods;  // of the latest batch
  // The pods' own series, of the latest batch, by pod UID.
  std::unordered_map<std::string, std::shared_ptr<const PodSeriesSet>> podSeries;

  // Scratch space for folds whose container set changed; kept to avoid reallocating.
  std::vector<ContainerRecord> rebuilt;
  std::vector<std::size_t> previousIndex;
  std::vector<char> changed;
  std::unordered_map<std::string_view, std::size_t> byId;
  std::unordered_set<std::string_view> seen;

  bool staleAt(WallTime now) const {
    return lastSeen == WallTime{} || isStale(lastSeen, intervalSeconds, now);
  }
  const AgentRecord* currentRecord() const {
    if (!current) return nullptr;
    const auto it = agents.find(current->agentId);
    return it == agents.end() ? nullptr : &it->second;
  }
  bool isCurrent(const std::string& agentId, std::uint64_t epoch, std::int64_t started) const {
    return current && *current == AgentProcess{agentId, epoch, started};
  }
  bool anyConnected() const {
    return std::any_of(agents.begin(), agents.end(),
                       [](const auto& entry) { return entry.second.connected; });
  }
  NodeRecord record() const {
    NodeRecord out{cluster, name, "", 0, 0, agentRestarts};
    if (current) {
      out.agentId = current->agentId;
      out.sequenceEpoch = current->sequenceEpoch;
      out.agentStartedUnixMs = current->startedUnixMs;
    }
    return out;
  }
};

void FleetState::restoreProgress(const std::vector<AgentProgress>& progress) {
  std::unique_lock lock(nodesMutex_);
  for (const auto& entry : progress) forgotten_[entry.agentId] = entry;
}

void FleetState::restoreNodes(const std::vector<NodeRecord>& nodes) {
  std::unique_lock lock(nodesMutex_);
  for (const auto& entry : nodes) restoredNodes_[nodeKey(entry.cluster, entry.node)] = entry;
}

FleetState::Session FleetState::agentConnected(const AgentIdentity& identity) {
  const std::string key = nodeKey(identity.cluster, identity.node);
  // Hellos are rare next to batches: the whole of one happens under the node map's lock, so
  // an agent id moving between nodes never races with another hello.
  std::unique_lock lock(nodesMutex_);
  auto& slot = nodes_[key];
  std::optional<NodeRecord> restoredNode;
  if (!slot) {
    slot = std::make_shared<NodeState>();
    slot->cluster = identity.cluster;
    slot->name = identity.node;
    if (auto it = restoredNodes_.find(key); it != restoredNodes_.end()) {
      restoredNode = it->second;
      restoredNodes_.erase(it);
    }
  }
  std::shared_ptr<NodeState> node = slot;
  std::optional<AgentRecord> carried;
  auto& home = agentNodes_[identity.agentId];
  if (home && home != node) {
    // The id reported for another node before (an agent reconfigured): its progress moves here.
    std::lock_guard oldLock(home->mutex);
    if (auto it = home->agents.find(identity.agentId); it != home->agents.end()) {
      carried = std::move(it->second);
      home->agents.erase(it);
    }
    if (home->current && home->current->agentId == identity.agentId) home->current.reset();
  } else if (!home) {
    if (auto it = forgotten_.find(identity.agentId); it != forgotten_.end()) {
      carried.emplace();
      carried->progress = it->second;
      carried->durableSequence = it->second.lastSequence;  // persisted, or long settled
      forgotten_.erase(it);
    }
  }
  home = node;

  std::lock_guard nodeLock(node->mutex);
  if (restoredNode && !restoredNode->agentId.empty()) {
    node->current = AgentProcess{restoredNode->agentId, restoredNode->sequenceEpoch,
                                 restoredNode->agentStartedUnixMs};
    node->agentRestarts = restoredNode->agentRestarts;
  }
  auto [it, inserted] = node->agents.try_emplace(identity.agentId);
  AgentRecord& record = it->second;
  if (carried) record = std::move(*carried);

  Session session;
  AgentProgress& progress = record.progress;
  if (identity.sequenceEpoch != progress.sequenceEpoch) {
    // A new nonzero epoch starts a fresh sequence space. An agent that predates epochs (0), or
    // one that takes its first epoch (an upgraded agent with its spool), carries the numbering
    // on, as before epochs existed.
    if (identity.sequenceEpoch != 0 && progress.sequenceEpoch != 0) {
      progress.lastSequence = 0;
      record.durableSequence = 0;
      session.newSequenceSpace = true;
    }
    progress.sequenceEpoch = identity.sequenceEpoch;
  }
  progress.agentId = identity.agentId;
  progress.node = identity.node;
  progress.cluster = identity.cluster;
  record.identity = identity;
  record.connected = true;
  record.connectionId = nextConnectionId_++;

  const AgentProcess incoming = processOf(identity);
  if (!node->current) {
    node->current = incoming;
    session.nodeRecord = node->record();
  } else if (*node->current == incoming) {
    // The same process reconnecting.
  } else if (incoming.startedUnixMs != 0 && node->current->startedUnixMs != 0 &&
             incoming.startedUnixMs < node->current->startedUnixMs) {
    session.current = false;  // an older process: it never takes the node back
  } else {
    session.restart = true;
    session.superseded = describe(*node->current);
    ++node->agentRestarts;
    node->current = incoming;
    session.nodeRecord = node->record();
  }
  session.node = node;
  session.agentId = identity.agentId;
  session.connectionId = record.connectionId;
  session.sequenceEpoch = identity.sequenceEpoch;
  session.startedUnixMs = identity.startedUnixMs;
  session.lastSequence = progress.lastSequence;
  session.durableSequence = record.durableSequence;
  return session;
}

void FleetState::agentDisconnected(const Session& session) {
  if (!session.node) return;
  std::lock_guard lock(session.node->mutex);
  auto it = session.node->agents.find(session.agentId);
  if (it != session.node->agents.end() && it->second.connectionId == session.connectionId) {
    it->second.connected = false;
  }
}

namespace {

// Why `sequence` cannot follow `record`'s last accepted one, or "" when it can.
std::string sequenceOutOfRange(const AgentRecord& record, std::uint64_t sequence,
                               WallTime receivedAt) {
  if (sequence > kMaxSequence) {
    return "batch sequence " + std::to_string(sequence) + " is above 2^63-1: no agent numbers " +
           "batches that far";
  }
  const AgentProgress& progress = record.progress;
  if (progress.lastSequence == 0) return "";  // a fresh sequence space starts anywhere
  const std::uint64_t capacity = std::clamp<std::uint64_t>(
      record.identity.queueCapacity > 0 ? record.identity.queueCapacity : kDefaultQueueCapacity, 1,
      kMaxQueueCapacity);
  const auto silent = receivedAt - fromUnixMillis(progress.lastSeenUnixMs);
  const std::uint64_t ticks =
      silent.count() > 0 ? static_cast<std::uint64_t>(silent / kFastestTick) + 1 : 0;
  const std::uint64_t allowed = capacity + ticks + 1;
  if (sequence - progress.lastSequence <= allowed) return "";
  return "batch sequence " + std::to_string(sequence) + " jumps " +
         std::to_string(sequence - progress.lastSequence) + " past the last accepted " +
         std::to_string(progress.lastSequence) + " of agent " + progress.agentId +
         ", which holds at most " + std::to_string(capacity) + " unacked batches and was silent " +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(silent).count()) +
         " ms: not a sequence it produced (two agents with one id?)";
}

}  // namespace

FoldResult FleetState::applyBatch(const Session& session, BatchView& batch, WallTime receivedAt) {
  NodeState& node = *session.node;
  std::lock_guard lock(node.mutex);
  const auto found = node.agents.find(session.agentId);
  if (found == node.agents.end() || found->second.progress.sequenceEpoch != session.sequenceEpoch) {
    return FoldResult{BatchOutcome::kStale, "the agent's sequence space was replaced", {}};
  }
  AgentRecord& record = found->second;
  AgentProgress& progress = record.progress;
  if (batch.sequence <= progress.lastSequence) return FoldResult{BatchOutcome::kDuplicate, {}, {}};
  if (std::string why = sequenceOutOfRange(record, batch.sequence, receivedAt); !why.empty()) {
    return FoldResult{BatchOutcome::kOutOfRange, std::move(why), {}};
  }
  const std::size_t count = batch.containerCount;
  const bool fold = node.isCurrent(session.agentId, session.sequenceEpoch, session.startedUnixMs);
  if (fold) {
    if (std::string error = foldContainers(node, batch); !error.empty()) {
      return FoldResult{BatchOutcome::kInvalid, std::move(error), {}};
    }
    foldPendingPods(node, batch);
    foldPodSeries(node, batch);
    node.lastSeen = receivedAt;
    node.intervalSeconds = batch.intervalSeconds;
    node.clockAlignedSampling = record.identity.clockAlignedSampling;
    node.samplingRound = node.clockAlignedSampling
                             ? samplingRoundOf(fromUnixMillis(batch.timestampUnixMs), receivedAt,
                                               batch.intervalSeconds)
                             : std::nullopt;
    node.totals = batch.node;
  }
  progress.lastSequence = batch.sequence;
  ++progress.batchesAccepted;
  progress.samplesAccepted += count;
  progress.lastSeenUnixMs = toUnixMillis(receivedAt);
  return FoldResult{fold ? BatchOutcome::kAccepted : BatchOutcome::kSuperseded, {}, progress};
}

void FleetState::foldPendingPods(NodeState& node, const BatchView& batch) {
  node.pendingPods.clear();
  for (std::size_t i = 0; i < batch.pendingPodCount; ++i) {
    const ContainerMetadataView& pod = batch.pendingPods[i];
    if (pod.workload.empty() || pod.podUid.empty()) continue;  // not a replica of a workload
    node.pendingPods.push_back(PendingPodRecord{
        std::string(pod.pod), std::string(pod.podUid),
        workloadNames_.intern(pod.namespaceName, pod.workloadKind, pod.workload),
        pod.deletionUnixMs > 0, pod.cpuRequestCores,
        pod.memoryRequestBytes ? static_cast<double>(*pod.memoryRequestBytes) : kAbsent});
  }
}

void FleetState::foldPodSeries(NodeState& node, const BatchView& batch) {
  node.podSeries.clear();
  for (std::size_t i = 0; i < batch.podMetricsCount; ++i) {
    const PodMetricsView& pod = batch.podMetrics[i];
    auto set = std::make_shared<PodSeriesSet>();
    set->scrapedAt = fromUnixMillis(pod.scrapedUnixMs);
    set->series.reserve(pod.seriesCount);
    for (std::size_t j = 0; j < pod.seriesCount; ++j) {
      const PodSeriesView& view = pod.series[j];
      PodSeriesSet::Series series{std::string(view.name), {}, view.value};
      for (std::size_t k = 0; k + 1 < view.labels.size(); k += 2) {
        series.labels.emplace(view.labels[k], view.labels[k + 1]);
      }
      set->series.push_back(std::move(series));
    }
    node.podSeries.insert_or_assign(std::string(pod.podUid), std::move(set));
  }
}

std::string FleetState::foldContainers(NodeState& node, BatchView& batch) {
  const std::size_t count = batch.containerCount;
  // First pass, changing nothing: find each sample's previous record and complete (check) the
  // samples whose identity or metadata differ from it.
  node.previousIndex.assign(count, SIZE_MAX);
  // Fast path: the same containers in the same order as last tick. The previous set had unique
  // ids, so this one does too.
  bool sameOrder = count == node.containers.size();
  for (std::size_t i = 0; sameOrder && i < count; ++i) {
    sameOrder = node.containers[i].id() == batch.containers[i].id;
  }
  if (sameOrder) {
    for (std::size_t i = 0; i < count; ++i) node.previousIndex[i] = i;
  } else {
    node.byId.clear();
    node.seen.clear();
    for (std::size_t j = 0; j < node.containers.size(); ++j) {
      node.byId.emplace(node.containers[j].id(), j);
    }
    for (std::size_t i = 0; i < count; ++i) {
      const std::string_view id = batch.containers[i].id;
      if (!node.seen.insert(id).second) {
        node.byId.clear();
        node.seen.clear();
        return "batch names container " + std::string(id.substr(0, 64)) + " twice";
      }
      if (auto it = node.byId.find(id); it != node.byId.end()) node.previousIndex[i] = it->second;
    }
    node.byId.clear();
    node.seen.clear();
  }
  node.changed.assign(count, 0);
  for (std::size_t i = 0; i < count; ++i) {
    auto& sample = batch.containers[i];
    const std::size_t previous = node.previousIndex[i];
    if (previous != SIZE_MAX && node.containers[previous].sameIdentity(sample)) continue;
    node.changed[i] = 1;
    if (auto result = completeSample(sample); !result.ok()) return result.error;
  }

  // Second pass: apply.
  auto intern = [this](std::string_view ns, std::string_view kind, std::string_view name) {
    return workloadNames_.intern(ns, kind, name);
  };
  auto update = [&](ContainerRecord& record, std::size_t i) {
    if (node.changed[i]) {
      record.assign(batch.containers[i], intern);
    } else {
      record.metrics = batch.containers[i].metrics;
    }
  };
  if (sameOrder) {
    for (std::size_t i = 0; i < count; ++i) update(node.containers[i], i);
  } else {
    node.rebuilt.clear();
    node.rebuilt.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      if (node.previousIndex[i] != SIZE_MAX) {
        node.rebuilt.push_back(std::move(node.containers[node.previousIndex[i]]));
      } else {
        node.rebuilt.emplace_back();
      }
      update(node.rebuilt.back(), i);
    }
    node.containers.swap(node.rebuilt);
    node.rebuilt.clear();
  }
  return "";
}

std::uint64_t FleetState::lastAcceptedSequence(const std::string& agentId) const {
  std::shared_lock lock(nodesMutex_);
  if (auto it = agentNodes_.find(agentId); it != agentNodes_.end()) {
    std::lock_guard nodeLock(it->second->mutex);
    const auto record = it->second->agents.find(agentId);
    if (record != it->second->agents.end()) return record->second.progress.lastSequence;
  }
  if (auto it = forgotten_.find(agentId); it != forgotten_.end()) return it->second.lastSequence;
  return 0;
}

void FleetState::markDurable(const std::string& agentId, std::uint64_t epoch,
                             std::uint64_t sequence) {
  std::shared_lock lock(nodesMutex_);
  if (auto it = agentNodes_.find(agentId); it != agentNodes_.end()) {
    std::lock_guard nodeLock(it->second->mutex);
    const auto record = it->second->agents.find(agentId);
    if (record != it->second->agents.end() && record->second.progress.sequenceEpoch == epoch) {
      record->second.durableSequence = std::max(record->second.durableSequence, sequence);
    }
  }
}

std::vector<std::shared_ptr<NodeState>> FleetState::allNodes() const {
  std::shared_lock lock(nodesMutex_);
  std::vector<std::shared_ptr<NodeState>> out;
  out.reserve(nodes_.size());
  for (const auto& [key, node] : nodes_) out.push_back(node);
  return out;
}

std::vector<NodeInfo> FleetState::nodes(WallTime now) const {
  std::vector<NodeInfo> out;
  for (const auto& node : allNodes()) {
    std::lock_guard lock(node->mutex);
    NodeInfo info;
    if (const AgentRecord* current = node->currentRecord()) {
      info.identity = current->identity;
      info.connected = current->connected;
      info.progress = current->progress;
    }
    info.identity.cluster = node->cluster;
    info.identity.node = node->name;
    info.stale = node->staleAt(now);
    info.lastSeen = node->lastSeen;
    info.intervalSeconds = node->intervalSeconds;
    info.totals = node->totals;
    info.containers = node->containers.size();
    info.agentRestarts = node->agentRestarts;
    info.agents = node->agents.size();
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const NodeInfo& a, const NodeInfo& b) {
    return std::tie(a.identity.cluster, a.identity.node) <
           std::tie(b.identity.cluster, b.identity.node);
  });
  return out;
}

std::vector<ContainerInfo> FleetState::containers(const ContainerFilter& filter, WallTime now,
                                                  std::size_t limit) const {
  std::vector<ContainerInfo> out;
  for (const auto& node : allNodes()) {
    std::lock_guard lock(node->mutex);
    if (!filter.cluster.empty() && filter.cluster != node->cluster) continue;
    if (!filter.node.empty() && filter.node != node->name) continue;
    const bool stale = node->staleAt(now);
    for (const auto& record : node->containers) {
      if (!filter.namespaceName.empty() && filter.namespaceName != record.metadata(kNamespace)) {
        continue;
      }
      if (!filter.workload.empty() && filter.workload != record.metadata(kWorkload)) continue;
      ContainerInfo info = record.info();
      info.cluster = node->cluster;
      info.node = node->name;
      info.lastSeen = node->lastSeen;
      info.stale = stale;
      out.push_back(std::move(info));
    }
  }
  std::sort(out.begin(), out.end(), [](const ContainerInfo& a, const ContainerInfo& b) {
    return std::tie(a.cluster, a.node, a.namespaceName, a.pod, a.id) <
           std::tie(b.cluster, b.node, b.namespaceName, b.pod, b.id);
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

namespace {

// One pod as one node reports it, before a pod two nodes report (a node renamed, two agents on
// one host) is counted once.
struct PodCandidate {
  WorkloadNames::Id workloadId = kNoWorkload;
  std::uint32_t node = 0;  // index of its node in the snapshot's list
  std::string_view name;   // in the snapshot's arena, next to the key: few cache misses
  std::string_view key;    // pod UID (or name, or container id)
  PodSample pod;
};

// Each node's cluster's rank among the snapshot's cluster names, so that pods sort by cluster
// with integer compares.
std::vector<std::uint32_t> clusterRanks(const std::vector<NodeContribution>& nodes) {
  std::vector<std::string_view> names;
  names.reserve(nodes.size());
  for (const auto& node : nodes) names.push_back(node.cluster);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<std::uint32_t> ranks;
  ranks.reserve(nodes.size());
  for (const auto& node : nodes) {
    ranks.push_back(static_cast<std::uint32_t>(
        std::lower_bound(names.begin(), names.end(), node.cluster) - names.begin()));
  }
  return ranks;
}

// Where a pod goes in its workload's list: by cluster and pod name, the reports of one pod
// (same cluster and key) side by side with the one to keep first: fresh beats stale, then the
// newer report, then the first seen.
struct PodPlace {
  std::uint32_t cluster = 0;  // rank
  std::string_view name;
  std::string_view key;
  bool stale = false;
  WallTime lastSeen{};
  std::uint32_t candidate = 0;

  bool samePod(const PodPlace& other) const { return cluster == other.cluster && key == other.key; }
  bool operator<(const PodPlace& other) const {
    if (cluster != other.cluster) return cluster < other.cluster;
    if (const int c = name.compare(other.name); c != 0) return c < 0;
    if (const int c = key.compare(other.key); c != 0) return c < 0;
    if (stale != other.stale) return other.stale;
    if (lastSeen != other.lastSeen) return lastSeen > other.lastSeen;
    return candidate < other.candidate;
  }
};

}  // namespace

// Kept between snapshots: the room for every pod of the fleet, mapped and zeroed once rather
// than on every tick (that cost more than building the pods).
struct FleetState::SnapshotScratch {
  std::vector<PodCandidate> candidates;
};

FleetState::FleetState() : scratch_(std::make_unique<SnapshotScratch>()) {}
FleetState::~FleetState() = default;

FleetSnapshot FleetState::snapshot(WallTime now) const {
  FleetSnapshot out;
  out.takenAt = now;
  std::unique_lock scratchLock(scratchMutex_, std::try_to_lock);
  SnapshotScratch ownScratch;  // while another snapshot is being taken
  std::vector<PodCandidate>& candidates =
      (scratchLock.owns_lock() ? *scratch_ : ownScratch).candidates;
  candidates.clear();
  std::vector<NodeContribution> contributions;
  std::vector<WallTime> lastSeen;               // per node
  std::vector<char> behindRound;                // per node: its batch is of an older round
  std::vector<std::optional<WallTime>> rounds;  // per node: its latest batch's round
  std::vector<double> intervals;                // per node
  std::pmr::monotonic_buffer_resource arena;
  std::pmr::unsynchronized_pool_resource pool(&arena);
  // A pod's name and key, side by side in the arena.
  auto keep = [&arena](std::string_view name, std::string_view key) {
    auto* copy = static_cast<char*>(arena.allocate(name.size() + key.size(), 1));
    std::copy(name.begin(), name.end(), copy);
    std::copy(key.begin(), key.end(), copy + name.size());
    return std::pair{std::string_view(copy, name.size()),
                     std::string_view(copy + name.size(), key.size())};
  };
  std::pmr::unordered_map<std::string_view, std::size_t> podIndex(&pool);  // within one node
  WallTime newestRound{};
  std::shared_lock namesSweep(namesSweepMutex_);
  const auto nodes = allNodes();
  contributions.reserve(nodes.size());
  for (const auto& node : nodes) {
    std::lock_guard lock(node->mutex);
    const bool stale = node->staleAt(now);
    const bool late = stale || isLate(node->lastSeen, node->intervalSeconds, now);
    if (node->samplingRound && !stale) newestRound = std::max(newestRound, *node->samplingRound);
    lastSeen.push_back(node->lastSeen);
    rounds.push_back(node->samplingRound);
    intervals.push_back(node->intervalSeconds);
    const AgentRecord* current = node->currentRecord();
    NodeContribution contribution;
    contribution.cluster = node->cluster;
    contribution.stale = stale;
    contribution.lastSeen = node->lastSeen;
    contribution.connected = current != nullptr && current->connected;
    contribution.containers = static_cast<int>(node->containers.size());
    contribution.totals = node->totals;
    const auto nodeIndex = static_cast<std::uint32_t>(contributions.size());
    contributions.push_back(std::move(contribution));
    // Pods never span nodes, so containers group into pods node by node.
    podIndex.clear();
    const std::size_t first = candidates.size();
    // The node's pod `podKey`, made on first sight; true when it was there already.
    auto podFor = [&](WorkloadNames::Id workloadId, std::string_view podKey,
                      std::string_view name) -> std::pair<PodSample&, bool> {
      auto [it, inserted] = podIndex.try_emplace(podKey, candidates.size());
      if (inserted) {
        PodCandidate& candidate = candidates.emplace_back();
        candidate.workloadId = workloadId;
        candidate.node = nodeIndex;
        std::tie(candidate.name, candidate.key) = keep(name, podKey);
        PodSample& pod = candidate.pod;
        pod.cluster = node->cluster;
        pod.node = node->name;
        pod.pod = name;
        pod.stale = stale;
        pod.late = late;
      }
      return {candidates[it->second].pod, !inserted};
    };
    for (const auto& record : node->containers) {
      if (record.workloadId() == kNoWorkload) continue;
      std::string_view podKey = record.metadata(kPodUid);
      if (podKey.empty()) podKey = record.metadata(kPod);
      if (podKey.empty()) podKey = record.id();  // no pod (a VM container): its own replica
      const std::string_view name =
          record.metadata(kPod).empty() ? record.id() : record.metadata(kPod);
      podFor(record.workloadId(), podKey, name).first.add(record.contribution());
    }
    for (std::size_t i = first; i < candidates.size(); ++i) candidates[i].pod.finish();
    for (const auto& [uid, series] : node->podSeries) {
      if (const auto it = podIndex.find(uid); it != podIndex.end()) {
        candidates[it->second].pod.podSeries = series;
      }
    }
    for (const auto& pending : node->pendingPods) {
      auto [pod, sampled] = podFor(pending.workloadId, pending.podUid,
                                   pending.pod.empty() ? pending.podUid : pending.pod);
      if (!sampled) {  // no container at all: no figures
        pod.ready = false;
        pod.cpuRequestCores = pod.memoryRequestBytes = kAbsent;
      }
      // With its sandbox (or a container started since the agent's refresh) sampled, it is one
      // pod all the same, with the requests of its spec where its containers say none.
      if (!isPresent(pod.cpuRequestCores)) pod.cpuRequestCores = pending.cpuRequestCores;
      if (!isPresent(pod.memoryRequestBytes)) pod.memoryRequestBytes = pending.memoryRequestBytes;
      pod.pending = true;
      pod.deleting |= pending.deleting;
    }
  }
  for (std::size_t i = 0; i < rounds.size(); ++i) {
    behindRound.push_back(rounds[i] && isBehindRound(*rounds[i], intervals[i], newestRound));
  }
  // Each workload's pods in the order its rollup lists them, one report of each pod: sorted as
  // small places, not as pods (a pod moves every string it holds), and no hash of every pod.
  const std::vector<std::uint32_t> ranks = clusterRanks(contributions);
  std::vector<WorkloadNames::Id> ids;
  std::vector<std::vector<PodPlace>> placesOf;  // by position in `ids`
  {
    std::unordered_map<WorkloadNames::Id, std::size_t> position;
    for (std::uint32_t i = 0; i < candidates.size(); ++i) {
      const PodCandidate& c = candidates[i];
      const auto [it, added] = position.try_emplace(c.workloadId, ids.size());
      if (added) {
        ids.push_back(c.workloadId);
        placesOf.emplace_back();
      }
      placesOf[it->second].push_back(
          PodPlace{ranks[c.node], c.name, c.key, c.pod.stale, lastSeen[c.node], i});
    }
  }
  const std::vector<WorkloadKey> keys = workloadNames_.keys(ids);
  namesSweep.unlock();
  std::map<std::string, int> workloadsPerCluster;
  out.workloads.reserve(ids.size());
  for (std::size_t w = 0; w < ids.size(); ++w) {
    auto& places = placesOf[w];
    std::sort(places.begin(), places.end());
    std::vector<PodSample> pods;
    pods.reserve(places.size());
    for (std::size_t i = 0; i < places.size(); ++i) {
      if (i > 0 && places[i].samePod(places[i - 1])) continue;  // a less fresh report of it
      PodCandidate& candidate = candidates[places[i].candidate];
      PodSample& pod = pods.emplace_back(std::move(candidate.pod));
      pod.late |= behindRound[candidate.node] != 0;
    }
    out.workloads.push_back(rollupSortedWorkload(keys[w], std::move(pods)));
    for (const auto& cluster : out.workloads.back().clusters)
      ++workloadsPerCluster[cluster.cluster];
  }
  candidates.clear();  // the duplicates' strings
  std::sort(out.workloads.begin(), out.workloads.end(),
            [](const WorkloadSnapshot& a, const WorkloadSnapshot& b) { return a.key < b.key; });
  out.clusters = summarizeClusters(contributions);
  for (auto& cluster : out.clusters) cluster.workloads = workloadsPerCluster[cluster.name];
  return out;
}

FleetState::RoundProgress FleetState::roundProgress(WallTime now) const {
  struct Expected {
    WallTime round;
    double intervalSeconds;
  };
  std::vector<Expected> expected;
  WallTime newest{};
  for (const auto& node : allNodes()) {
    std::lock_guard lock(node->mutex);
    const AgentRecord* current = node->currentRecord();
    if (current == nullptr || !current->connected || node->lastSeen == WallTime{} ||
        isLate(node->lastSeen, node->intervalSeconds, now)) {
      continue;  // not expected this round
    }
    if (!node->clockAlignedSampling) return RoundProgress::kUnaligned;
    if (!node->samplingRound) continue;  // replaying, starting, or its clock far off
    expected.push_back({*node->samplingRound, node->intervalSeconds});
    newest = std::max(newest, *node->samplingRound);
  }
  for (const auto& node : expected) {
    if (isBehindRound(node.round, node.intervalSeconds, newest)) return RoundProgress::kWaiting;
  }
  return RoundProgress::kComplete;
}

std::vector<AgentIdentity> FleetState::forgetSilentNodes(WallTime now,
                                                         std::chrono::nanoseconds after,
                                                         std::chrono::nanoseconds keepProgressFor) {
  std::vector<AgentIdentity> dropped;
  std::unique_lock lock(nodesMutex_);
  const auto silentTooLong = [&](const AgentProgress& progress) {
    return now - fromUnixMillis(progress.lastSeenUnixMs) > keepProgressFor;
  };
  std::erase_if(forgotten_, [&](const auto& entry) { return silentTooLong(entry.second); });
  std::erase_if(restoredNodes_, [&](const auto& entry) {
    return !forgotten_.contains(entry.second.agentId) &&
           !agentNodes_.contains(entry.second.agentId);
  });
  auto forgetAgent = [&](NodeState& node, const std::string& agentId, const AgentRecord& agent) {
    forgotten_[agentId] = agent.progress;
    if (auto home = agentNodes_.find(agentId);
        home != agentNodes_.end() && home->second.get() == &node) {
      agentNodes_.erase(home);
    }
  };
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    NodeState& node = *it->second;
    std::lock_guard nodeLock(node.mutex);
    if (!node.anyConnected() && now - node.lastSeen > after) {
      AgentIdentity identity;
      if (const AgentRecord* current = node.currentRecord()) identity = current->identity;
      identity.cluster = node.cluster;
      identity.node = node.name;
      dropped.push_back(std::move(identity));
      for (const auto& [agentId, agent] : node.agents) forgetAgent(node, agentId, agent);
      if (node.current) restoredNodes_[it->first] = node.record();  // its restarts, if it returns
      it = nodes_.erase(it);
      continue;
    }
    // Agents a newer one superseded, gone quiet: only their progress is worth keeping.
    for (auto agent = node.agents.begin(); agent != node.agents.end();) {
      const bool current = node.current && node.current->agentId == agent->first;
      if (!current && !agent->second.connected &&
          now - fromUnixMillis(agent->second.progress.lastSeenUnixMs) > after) {
        forgetAgent(node, agent->first, agent->second);
        agent = node.agents.erase(agent);
      } else {
        ++agent;
      }
    }
    ++it;
  }
  return dropped;
}

std::size_t FleetState::forgetUnusedWorkloadNames(WallTime now, std::chrono::nanoseconds after) {
  std::unique_lock namesSweep(namesSweepMutex_);
  const std::uint64_t sweep = workloadNames_.beginSweep();
  std::vector<bool> inUse;
  auto use = [&inUse](WorkloadNames::Id id) {
    if (id == kNoWorkload) return;
    if (inUse.size() <= id) inUse.resize(id + 1);
    inUse[id] = true;
  };
  for (const auto& node : allNodes()) {
    std::lock_guard lock(node->mutex);
    for (const auto& record : node->containers) use(record.workloadId());
    for (const auto& pending : node->pendingPods) use(pending.workloadId);
  }
  return workloadNames_.endSweep(sweep, inUse, now, after);
}

std::size_t FleetState::workloadNameCount() const { return workloadNames_.size(); }

std::size_t FleetState::containerCount() const {
  std::size_t total = 0;
  for (const auto& node : allNodes()) {
    std::lock_guard lock(node->mutex);
    total += node->containers.size();
  }
  return total;
}

}  // namespace fleetscale::aggregator
