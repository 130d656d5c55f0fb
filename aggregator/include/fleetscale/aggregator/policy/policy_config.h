// The aggregator's policy file: the clusters it may act on and how to reach their APIs, and the
// workloads it scales with their HPA-style policies (docs/configuration.md). Parsing is pure:
// text in, a validated configuration or an error naming the file, line and field out.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/aggregator/rightsizing/rightsizing_policy.h"
#include "fleetscale/aggregator/scaling/decision.h"
#include "fleetscale/aggregator/state/model.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

// How to reach a cluster's Kubernetes API (exactly one way), or a webhook for VM fleets.
struct ClusterAccess {
  enum class Kind { kKubeconfig, kServer, kInCluster, kWebhook };
  Kind kind = Kind::kKubeconfig;
  std::string kubeconfig;  // kKubeconfig: path
  std::string context;     // kKubeconfig: context name, "" = current-context
  std::string server;      // kServer: https://host:port
  std::string tokenFile;   // kServer, kWebhook: bearer token file
  std::string caFile;      // kServer: CA bundle
  bool insecureSkipTlsVerify = false;
  std::string webhookUrl;  // kWebhook
};

struct ClusterConfig {
  std::string name;
  std::string cloud;
  std::string region;
  ClusterAccess access;
};

// One cluster a workload may run in, and how much of the fleet-wide total goes there.
struct WorkloadCluster {
  std::string name;
  // Share of the total among the weighted clusters. 0 = standby: it gets replicas (beyond its
  // minimum) only when the weighted clusters cannot take them: failed, draining or full.
  double weight = 1;
  std::int32_t minReplicas = 0;
  std::optional<std::int32_t> maxReplicas;
  // Lower goes first: minimums, rounding ties, and last to shrink. Default: position in the list.
  int preference = 0;
  // Cap the replicas at what the cluster's free allocatable CPU and memory (reported by its
  // agents) can hold at the workload's per-pod requests. Off by default, so a cluster
  // autoscaler can still add nodes for pending pods.
  bool fitToAllocatable = false;
};

struct WorkloadConfig {
  std::string namespaceName;
  std::string name;
  std::string kind = "Deployment";  // Deployment or StatefulSet
  scaling::WorkloadPolicy policy;
  std::vector<WorkloadCluster> clusters;       // where it runs; empty = every configured cluster
  rightsizing::RightsizingPolicy rightsizing;  // its requests and limits (docs/rightsizing.md)
  WorkloadKey key() const { return {namespaceName, kind, name}; }
};

// The Prometheus that Object and External metrics are queried from (its HTTP API).
struct PrometheusConfig {
  std::string url;        // http(s)://host:port, the API's base
  std::string tokenFile;  // bearer token, read at each query (rotated tokens are picked up)
  std::string caFile;
  bool insecureSkipTlsVerify = false;
  std::chrono::milliseconds interval{std::chrono::seconds(1)};  // how often every query runs
  std::chrono::milliseconds timeout{std::chrono::seconds(2)};   // per query
  // A value older than this is no value: the metric is invalid (blocks scale-down only).
  std::chrono::milliseconds staleness{std::chrono::seconds(60)};
};

struct PolicyConfig {
  std::optional<PrometheusConfig> prometheus;
  std::vector<ClusterConfig> clusters;
  std::vector<WorkloadConfig> workloads;
  const WorkloadConfig* findWorkload(std::string_view namespaceName, std::string_view name) const;
  const ClusterConfig* findCluster(std::string_view name) const;
  // A workload's right-sizing policy: its own, or the default one (recommend) for a workload the
  // file does not name, so the whole fleet gets recommendations unless a workload says `off`.
  rightsizing::RightsizingPolicy rightsizingFor(const WorkloadKey& workload) const;
};

// Limits on the policy file: its size, and the length of each name (cluster, cloud, region,
// namespace, workload) and of any other string (paths, URLs).
inline constexpr std::size_t kMaxPolicyBytes = 1024 * 1024;
inline constexpr std::size_t kMaxPolicyNameBytes = 253;
inline constexpr std::size_t kMaxPolicyStringBytes = 4096;

// Parses and validates. `source` names the file in error messages ("policy.yaml:12: ...").
// Refused: more than kMaxPolicyBytes, bytes that are not UTF-8, an empty document (write
// `workloads: []` for none), strings with control characters or over their length limit, and
// every schema error.
Result<PolicyConfig> parsePolicyConfig(std::string_view yaml, std::string_view source);

// Reads and parses a file (a file over kMaxPolicyBytes is refused without reading all of it).
Result<PolicyConfig> loadPolicyConfig(const std::string& path);

}  // namespace fleetscale::aggregator
