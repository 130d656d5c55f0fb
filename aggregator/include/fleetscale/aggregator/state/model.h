// The aggregator's shared vocabulary: how a workload and an agent are identified, what the fleet
// has accepted from an agent, and one row of workload history. Plain data, no behaviour beyond
// formatting, so every component may include it (docs/architecture.md).
#pragma once

#include <compare>
#include <cstdint>
#include <string>

#include "fleetscale/shared/batch_view.h"

namespace fleetscale::aggregator {

// A workload, the same in every cluster: the policy names it, agents report it, actuators scale
// it, the store keys its decisions and history by it.
struct WorkloadKey {
  std::string namespaceName;
  std::string kind;  // Deployment, StatefulSet, ...; "" when the agent does not know
  std::string name;
  auto operator<=>(const WorkloadKey&) const = default;
  std::string toString() const { return namespaceName + "/" + kind + "/" + name; }
  // For people: "Deployment shop/web".
  std::string describe() const { return kind + " " + namespaceName + "/" + name; }
};

// Who an agent says it is (its hello).
struct AgentIdentity {
  std::string agentId;
  std::string node;
  std::string cluster;
  std::string cloud;
  std::string region;
  std::string zone;
  std::string agentVersion;
  // The sequence space its batches are numbered in (docs/protocol.md): kept by a spool, new for
  // each start of an agent without one. 0: an agent that predates epochs.
  std::uint64_t sequenceEpoch = 0;
  std::int64_t startedUnixMs = 0;     // when the agent process started; 0 = not said
  std::uint64_t queueCapacity = 0;    // unacked batches it keeps; 0 = not said
  bool clockAlignedSampling = false;  // samples in the fleet's rounds (Hello)
  // The protocol version its connection negotiated (1 or 2); 0 = not known (restored from the
  // store, never connected since).
  std::uint32_t protocolVersion = 0;
};

// What the fleet has accepted from one agent id: the dedup key and exactly-once counters.
// Persisted by the store so a restarted aggregator neither re-counts nor re-acks a replayed batch.
struct AgentProgress {
  std::string agentId;
  std::string node;
  std::string cluster;
  std::uint64_t lastSequence = 0;     // highest sequence accepted within sequenceEpoch
  std::uint64_t batchesAccepted = 0;  // distinct batches accepted, over the agent id's lifetime:
                                      // only grows, so it orders two progress records
  std::uint64_t samplesAccepted = 0;
  std::int64_t lastSeenUnixMs = 0;  // when its latest batch was accepted
  std::uint64_t sequenceEpoch = 0;  // the space lastSequence counts in
};

// Which agent process reports for a node, and how often that changed. Persisted so a restarted
// aggregator keeps the node's view and its restart count instead of letting the first hello win.
struct NodeRecord {
  std::string cluster;
  std::string node;
  std::string agentId;  // the current agent
  std::uint64_t sequenceEpoch = 0;
  std::int64_t agentStartedUnixMs = 0;
  std::uint64_t agentRestarts = 0;  // times another agent process took the node over
};

// A workload's figures in one cluster averaged over one 10 s bucket.
struct RollupRow {
  std::int64_t bucketStartUnixMs = 0;
  WorkloadKey workload;
  std::string cluster;
  double replicasSeen = 0;
  double replicasReady = 0;
  double cpuUsageCores = 0;
  double cpuUnmetDemandCores = 0;  // usage + this = throttling-aware demand (0 in older stores)
  double cpuRequestCores = 0;
  double memoryUsageBytes = 0;
  double memoryRequestBytes = 0;
  double cpuUtilization = kAbsent;
  double memoryUtilization = kAbsent;
  double loadShare = kAbsent;
  int ticks = 0;  // snapshots averaged
};

}  // namespace fleetscale::aggregator
