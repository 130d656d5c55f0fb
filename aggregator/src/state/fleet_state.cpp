#include "fleetscale/aggregator/state/fleet_state.h"

#include <algorithm>
#include <array>
#include <unordered_set>

namespace fleetscale::aggregator {

namespace {

inline constexpr std::uint32_t kNoWorkload = UINT32_MAX;

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
    workloadId_ =
        m.workload.empty() ? kNoWorkload : intern(m.namespaceName, m.workloadKind, m.workload);
    metrics = sample.metrics;
  }

  ContainerContribution contribution() const {
    ContainerContribution c;
    c.cpuUsageCores = metrics.cpuCores;
    c.cpuThrottledCores = metrics.cpuThrottledSecondsPerSecond;
    c.cpuRequestCores = cpuRequestCores_;
    c.memoryUsageBytes = static_cast<double>(metrics.memoryWorkingSetBytes);
    c.memoryRequestBytes =
        memoryRequestBytes_ ? static_cast<double>(*memoryRequestBytes_) : kAbsent;
    c.ready = ready_;
    c.startTimeUnixMs = startTimeUnixMs_;
    c.podReadyTimeUnixMs = podReadyTimeUnixMs_;
    c.restartCount = restartCount_;
    c.listed = !metadata(kContainerName).empty() || metadata(kPodUid).empty();
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
  std::uint32_t restartCount_ = 0;
  std::uint32_t workloadId_ = kNoWorkload;
  std::optional<bool> ready_;
};

}  // namespace

class NodeState {
 public:
  mutable std::mutex mutex;
  AgentIdentity identity;
  bool connected = false;
  std::uint64_t connectionId = 0;
  AgentProgress progress;
  std::uint64_t durableSequence = 0;
  WallTime lastSeen{};
  double intervalSeconds = 0;
  NodeTotalsView totals;
  std::vector<ContainerRecord> containers;

  // Scratch space for folds whose container set changed; kept to avoid reallocating.
  std::vector<ContainerRecord> rebuilt;
  std::vector<std::size_t> previousIndex;
  std::vector<char> changed;
  std::unordered_map<std::string_view, std::size_t> byId;
  std::unordered_set<std::string_view> seen;

  bool staleAt(WallTime now) const {
    return lastSeen == WallTime{} || isStale(lastSeen, intervalSeconds, now);
  }
};

FleetState::FleetState() = default;
FleetState::~FleetState() = default;

void FleetState::restoreProgress(const std::vector<AgentProgress>& progress) {
  std::unique_lock lock(nodesMutex_);
  for (const auto& entry : progress) forgotten_[entry.agentId] = entry;
}

FleetState::Session FleetState::agentConnected(const AgentIdentity& identity) {
  std::shared_ptr<NodeState> node;
  {
    std::unique_lock lock(nodesMutex_);
    auto& slot = nodes_[identity.agentId];
    if (!slot) {
      slot = std::make_shared<NodeState>();
      if (auto it = forgotten_.find(identity.agentId); it != forgotten_.end()) {
        slot->progress = it->second;
        slot->durableSequence = it->second.lastSequence;  // persisted, or long settled
        forgotten_.erase(it);
      }
    }
    node = slot;
  }
  std::lock_guard lock(node->mutex);
  node->identity = identity;
  node->progress.agentId = identity.agentId;
  node->progress.node = identity.node;
  node->progress.cluster = identity.cluster;
  node->connected = true;
  node->connectionId = nextConnectionId_++;
  return Session{node, node->connectionId, node->progress.lastSequence, node->durableSequence};
}

void FleetState::agentDisconnected(const Session& session) {
  if (!session.node) return;
  std::lock_guard lock(session.node->mutex);
  if (session.node->connectionId == session.connectionId) session.node->connected = false;
}

std::uint32_t FleetState::internWorkload(std::string_view namespaceName, std::string_view kind,
                                         std::string_view name) {
  WorkloadKey key{std::string(namespaceName), std::string(kind), std::string(name)};
  std::lock_guard lock(workloadsMutex_);
  auto [it, inserted] =
      workloadIds_.try_emplace(key, static_cast<std::uint32_t>(workloadKeys_.size()));
  if (inserted) workloadKeys_.push_back(std::move(key));
  return it->second;
}

FoldResult FleetState::applyBatch(const Session& session, BatchView& batch, WallTime receivedAt) {
  NodeState& node = *session.node;
  std::lock_guard lock(node.mutex);
  if (batch.sequence <= node.progress.lastSequence)
    return FoldResult{BatchOutcome::kDuplicate, {}, {}};
  auto invalid = [](std::string error) {
    return FoldResult{BatchOutcome::kInvalid, std::move(error), {}};
  };
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
        return invalid("batch names container " + std::string(id.substr(0, 64)) + " twice");
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
    if (auto result = completeSample(sample); !result.ok()) return invalid(result.error);
  }

  // Second pass: apply.
  auto intern = [this](std::string_view ns, std::string_view kind, std::string_view name) {
    return internWorkload(ns, kind, name);
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
  node.progress.lastSequence = batch.sequence;
  ++node.progress.batchesAccepted;
  node.progress.samplesAccepted += count;
  node.progress.lastSeenUnixMs = toUnixMillis(receivedAt);
  node.lastSeen = receivedAt;
  node.intervalSeconds = batch.intervalSeconds;
  node.totals = batch.node;
  return FoldResult{BatchOutcome::kAccepted, {}, node.progress};
}

std::uint64_t FleetState::lastAcceptedSequence(const std::string& agentId) const {
  std::shared_lock lock(nodesMutex_);
  if (auto it = nodes_.find(agentId); it != nodes_.end()) {
    std::lock_guard nodeLock(it->second->mutex);
    return it->second->progress.lastSequence;
  }
  if (auto it = forgotten_.find(agentId); it != forgotten_.end()) return it->second.lastSequence;
  return 0;
}

void FleetState::markDurable(const std::string& agentId, std::uint64_t sequence) {
  std::shared_lock lock(nodesMutex_);
  if (auto it = nodes_.find(agentId); it != nodes_.end()) {
    std::lock_guard nodeLock(it->second->mutex);
    it->second->durableSequence = std::max(it->second->durableSequence, sequence);
  }
}

std::vector<std::shared_ptr<NodeState>> FleetState::allNodes() const {
  std::shared_lock lock(nodesMutex_);
  std::vector<std::shared_ptr<NodeState>> out;
  out.reserve(nodes_.size());
  for (const auto& [id, node] : nodes_) out.push_back(node);
  return out;
}

std::vector<NodeInfo> FleetState::nodes(WallTime now) const {
  std::vector<NodeInfo> out;
  for (const auto& node : allNodes()) {
    std::lock_guard lock(node->mutex);
    out.push_back(NodeInfo{node->identity, node->connected, node->staleAt(now), node->progress,
                           node->lastSeen, node->intervalSeconds, node->totals,
                           node->containers.size()});
  }
  std::sort(out.begin(), out.end(), [](const NodeInfo& a, const NodeInfo& b) {
    return std::tie(a.identity.cluster, a.identity.node, a.identity.agentId) <
           std::tie(b.identity.cluster, b.identity.node, b.identity.agentId);
  });
  return out;
}

std::vector<ContainerInfo> FleetState::containers(const ContainerFilter& filter, WallTime now,
                                                  std::size_t limit) const {
  std::vector<ContainerInfo> out;
  for (const auto& node : allNodes()) {
    std::lock_guard lock(node->mutex);
    if (!filter.cluster.empty() && filter.cluster != node->identity.cluster) continue;
    if (!filter.node.empty() && filter.node != node->identity.node) continue;
    const bool stale = node->staleAt(now);
    for (const auto& record : node->containers) {
      if (!filter.namespaceName.empty() && filter.namespaceName != record.metadata(kNamespace)) {
        continue;
      }
      if (!filter.workload.empty() && filter.workload != record.metadata(kWorkload)) continue;
      ContainerInfo info = record.info();
      info.cluster = node->identity.cluster;
      info.node = node->identity.node;
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

FleetSnapshot FleetState::snapshot(WallTime now) const {
  FleetSnapshot out;
  out.takenAt = now;
  std::vector<NodeContribution> contributions;
  std::vector<std::vector<PodSample>> podsByWorkload;
  std::unordered_map<std::string_view, std::size_t> podIndex;  // within one node
  std::vector<std::pair<std::uint32_t, PodSample>> nodePods;
  const auto nodes = allNodes();
  contributions.reserve(nodes.size());
  for (const auto& node : nodes) {
    std::lock_guard lock(node->mutex);
    const bool stale = node->staleAt(now);
    const bool late = stale || isLate(node->lastSeen, node->intervalSeconds, now);
    NodeContribution contribution;
    contribution.cluster = node->identity.cluster;
    contribution.stale = stale;
    contribution.lastSeen = node->lastSeen;
    contribution.connected = node->connected;
    contribution.containers = static_cast<int>(node->containers.size());
    contribution.totals = node->totals;
    contributions.push_back(std::move(contribution));
    // Pods never span nodes, so containers group into pods node by node.
    podIndex.clear();
    nodePods.clear();
    for (const auto& record : node->containers) {
      if (record.workloadId() == kNoWorkload) continue;
      std::string_view podKey = record.metadata(kPodUid);
      if (podKey.empty()) podKey = record.metadata(kPod);
      if (podKey.empty()) podKey = record.id();  // no pod (a VM container): its own replica
      auto [it, inserted] = podIndex.try_emplace(podKey, nodePods.size());
      if (inserted) {
        PodSample pod;
        pod.cluster = node->identity.cluster;
        pod.node = node->identity.node;
        pod.pod = record.metadata(kPod).empty() ? record.id() : record.metadata(kPod);
        pod.stale = stale;
        pod.late = late;
        nodePods.emplace_back(record.workloadId(), std::move(pod));
      }
      nodePods[it->second].second.add(record.contribution());
    }
    for (auto& [workloadId, pod] : nodePods) {
      pod.finish();
      if (podsByWorkload.size() <= workloadId) podsByWorkload.resize(workloadId + 1);
      podsByWorkload[workloadId].push_back(std::move(pod));
    }
  }
  std::vector<WorkloadKey> keys;
  {
    std::lock_guard lock(workloadsMutex_);
    keys = workloadKeys_;
  }
  std::map<std::string, int> workloadsPerCluster;
  for (std::size_t id = 0; id < podsByWorkload.size(); ++id) {
    if (podsByWorkload[id].empty()) continue;
    out.workloads.push_back(rollupWorkload(keys[id], std::move(podsByWorkload[id])));
    for (const auto& cluster : out.workloads.back().clusters)
      ++workloadsPerCluster[cluster.cluster];
  }
  std::sort(out.workloads.begin(), out.workloads.end(),
            [](const WorkloadSnapshot& a, const WorkloadSnapshot& b) { return a.key < b.key; });
  out.clusters = summarizeClusters(contributions);
  for (auto& cluster : out.clusters) cluster.workloads = workloadsPerCluster[cluster.name];
  return out;
}

std::vector<AgentIdentity> FleetState::forgetSilentNodes(WallTime now,
                                                         std::chrono::nanoseconds after) {
  std::vector<AgentIdentity> dropped;
  std::unique_lock lock(nodesMutex_);
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    NodeState& node = *it->second;
    std::lock_guard nodeLock(node.mutex);
    if (!node.connected && now - node.lastSeen > after) {
      dropped.push_back(node.identity);
      forgotten_[it->first] = node.progress;
      it = nodes_.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

std::size_t FleetState::containerCount() const {
  std::size_t total = 0;
  for (const auto& node : allNodes()) {
    std::lock_guard lock(node->mutex);
    total += node->containers.size();
  }
  return total;
}

}  // namespace fleetscale::aggregator
