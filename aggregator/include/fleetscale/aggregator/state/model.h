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
};

// What the fleet has accepted from one agent: the dedup key and exactly-once counters. Persisted
// by the store so a restarted aggregator neither re-counts nor re-acks a replayed batch.
struct AgentProgress {
  std::string agentId;
  std::string node;
  std::string cluster;
  std::uint64_t lastSequence = 0;     // highest sequence accepted
  std::uint64_t batchesAccepted = 0;  // distinct batches folded, over the agent's lifetime
  std::uint64_t samplesAccepted = 0;
  std::int64_t lastSeenUnixMs = 0;
};

// A workload's figures in one cluster averaged over one 10 s bucket.
struct RollupRow {
  std::int64_t bucketStartUnixMs = 0;
  WorkloadKey workload;
  std::string cluster;
  double replicasSeen = 0;
  double replicasReady = 0;
  double cpuUsageCores = 0;
  double cpuRequestCores = 0;
  double memoryUsageBytes = 0;
  double memoryRequestBytes = 0;
  double cpuUtilization = kAbsent;
  double memoryUtilization = kAbsent;
  double loadShare = kAbsent;
  int ticks = 0;  // snapshots averaged
};

}  // namespace fleetscale::aggregator
