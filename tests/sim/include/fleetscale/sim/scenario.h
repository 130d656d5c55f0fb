// A simulated fleet described in YAML: clusters (cloud, region, nodes, node capacity, cgroup
// driver and version), workloads (kind, replicas per cluster, requests/limits, load curves) and
// a fault timeline. docs/simulator.md documents every key; tests/e2e/scenarios has examples.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/shared/result.h"
#include "fleetscale/sim/load_curve.h"

namespace fleetscale::sim {

enum class CgroupDriver { kSystemd, kCgroupfs };
enum class WorkloadKind { kDeployment, kStatefulSet };

// How the aggregator's kubeconfig of a cluster authenticates it (docs/simulator.md, "The
// aggregator's credentials"). The exec kinds reach the cluster only through a
// client.authentication.k8s.io/v1 exec credential plugin the simulator writes, as cloud
// providers' clusters (EKS, GKE, AKS) are reached.
enum class AggregatorAuth {
  kToken,            // the controller's bearer token in the kubeconfig
  kExecToken,        // the plugin prints that token, without an expiry
  kExecCertificate,  // the plugin prints a client certificate and key (CN = the controller)
  kExecExpiring,     // the plugin prints a token that expires and is revoked every lifetime
};

std::string_view toString(CgroupDriver driver);
std::string_view toString(WorkloadKind kind);
std::string_view toString(AggregatorAuth auth);
// A scenario's `aggregator-auth` value, or nullopt for an unknown one.
std::optional<AggregatorAuth> parseAggregatorAuth(std::string_view text);

struct NodeResources {
  double cpuCores = 4;
  double memoryBytes = 16.0 * 1024 * 1024 * 1024;
  int pods = 110;
};

// A LimitRange a cluster starts with (`limit-ranges`): one item of type Container. Quantities as
// written, keyed by resource (cpu, memory).
struct LimitRangeSpec {
  std::string namespaceName = "default";
  std::string name;
  std::map<std::string, std::string> min;
  std::map<std::string, std::string> max;
};

// A ResourceQuota a cluster starts with (`resource-quotas`): spec.hard, quantities as written.
struct ResourceQuotaSpec {
  std::string namespaceName = "default";
  std::string name;
  std::map<std::string, std::string> hard;
};

struct ClusterSpec {
  std::string name;
  std::string cloud;
  std::string region;
  std::string zone;  // "" = <region>-a style default chosen per cloud
  int nodes = 3;
  NodeResources capacity;
  NodeResources allocatable;  // defaults to capacity
  CgroupDriver driver = CgroupDriver::kSystemd;
  int cgroupVersion = 2;
  double schedulingDelaySeconds = 1;  // replica requested -> container running
  double readinessDelaySeconds = 2;   // container running -> Ready
  bool pauseContainers = true;        // a sandbox (pause) cgroup per pod, as containerd makes
  bool systemPods = true;             // a kube-proxy pod per node
  // v1.33 and later serve pods/{name}/resize; older versions answer 404 for it.
  std::string kubernetesVersion = "v1.34.2";
  // How long the runtime takes to apply an admitted resize (PodResizeInProgress meanwhile).
  double resizeDelaySeconds = 0.5;
  AggregatorAuth aggregatorAuth = AggregatorAuth::kToken;
  // kExecExpiring: how long each token lives; at its end the next one is minted and the old one
  // answered 401 from then on.
  double tokenLifetimeSeconds = 20;
  // Admission objects in the cluster from the start (docs/simulator.md, "LimitRanges and
  // ResourceQuotas"); more can be created through the API.
  std::vector<LimitRangeSpec> limitRanges;
  std::vector<ResourceQuotaSpec> resourceQuotas;
};

struct ContainerResources {
  std::optional<double> cpuRequest;  // cores
  std::optional<double> cpuLimit;
  std::optional<double> memoryRequest;  // bytes
  std::optional<double> memoryLimit;
  bool operator==(const ContainerResources&) const = default;
};

// A container's resizePolicy: which resources need a restart to be resized in place.
struct ResizePolicy {
  bool restartOnCpu = false;     // cpu: RestartContainer (else NotRequired)
  bool restartOnMemory = false;  // memory: RestartContainer
  bool shown = false;            // the spec names a resizePolicy (else the field is left out)
  bool operator==(const ResizePolicy&) const = default;
};

// How the aggregator scales a workload: the scenario's side of the policy file the simulator
// writes for it (docs/simulator.md, "Scaling"). Absent: the workload is only observed.
struct AutoscaleSpec {
  int minReplicas = 1;
  int maxReplicas = 10;
  std::optional<int> cpuUtilization;     // target, percent of the CPU request
  std::optional<int> memoryUtilization;  // target, percent of the memory request
  // Placement weight per cluster; empty = the initial replicas per cluster (the configured
  // placement is what the fleet starts with).
  std::map<std::string, double> weights;
  std::string behaviorYaml;  // the HPA `behavior` block, passed through verbatim; "" = none
  // Its scaleDown.stabilizationWindowSeconds (the HPA's default 300), for the measurements.
  double scaleDownWindowSeconds = 300;
  // More policy metrics (a YAML list of HPA MetricSpecs: Pods, Object, External, ...), passed
  // through verbatim after the CPU and memory targets; "" = none.
  std::string metricsYaml;
  std::string cooldown;    // the policy's `cooldown` (scale to zero), as written; "" = its default
  std::string demand;      // the policy's `demand` (usage, throttling-aware); "" = its default
  std::string predictive;  // the policy's `predictive` mode (off, observe, on); "" = off
  // The policy's predictive `downscaleStabilization` (e.g. "5m"); "" = the aggregator's default.
  std::string predictiveDownscaleStabilization;
  // The policy's `rightsizing` block, passed through verbatim; "" = none (the defaults).
  std::string rightsizingYaml;
};

// Another autoscaler that already targets a workload in some member clusters: its object is in
// those clusters' API servers from the start (autoscaler_objects.h), for the aggregator to find.
enum class ForeignAutoscalerKind { kHorizontalPodAutoscaler, kScaledObject };

std::string_view toString(ForeignAutoscalerKind kind);

struct ForeignAutoscalerSpec {
  ForeignAutoscalerKind kind = ForeignAutoscalerKind::kHorizontalPodAutoscaler;
  std::vector<std::string> clusters;  // never empty: defaults to every cluster of the workload
};

struct WorkloadSpec {
  std::string name;
  std::string namespaceName = "default";
  WorkloadKind kind = WorkloadKind::kDeployment;
  std::string image = "registry.k8s.io/e2e-test-images/agnhost:2.47";
  std::string containerName;            // defaults to the workload name
  std::map<std::string, int> replicas;  // cluster -> replicas at the start
  ContainerResources resources;
  LoadCurve cpu;     // total demand across the fleet, cores
  LoadCurve memory;  // total working set across the fleet, bytes
  // The working set every running replica wants, ready or not, bytes (`load.memory-per-replica`):
  // above the container's memory limit it is OOM-killed. Absent: only `memory` and the floor.
  std::optional<LoadCurve> memoryPerReplica;
  // `oom-on-shared-memory`: a replica's share of `memory` above its limit is OOM-killed too.
  // Default false: that share is capped at the limit (reclaimable, as page cache), as before
  // OOM kills were simulated.
  bool oomOnSharedMemory = false;
  ResizePolicy resizePolicy;          // `resize-policy`
  double idleCpuCores = 0.005;        // a running but not-ready replica, or one with no share
  double idleMemoryBytes = 16 << 20;  // floor for every running replica
  std::optional<double>
      capacityPerReplica;  // cores one ready replica serves; default: limit, else request
  std::optional<AutoscaleSpec> autoscale;
  // Requests per second that one core of CPU demand stands for. Set: every pod of the workload
  // serves a Prometheus endpoint (annotated for the agent to scrape) whose request counter
  // grows at the pod's share of the `cpu` curve times this (pod_metrics.h). Absent: no endpoint.
  std::optional<double> requestsPerCore;
  // An HPA or ScaledObject named after the workload, targeting it (`foreign-autoscaler`).
  std::optional<ForeignAutoscalerSpec> foreignAutoscaler;
  // Cores one ready replica counts for in the measurements.
  double replicaCapacity() const;
};

enum class FaultKind {
  kKillCluster,        // API server, kubelets and agents go silent; pods stop serving
  kReviveCluster,      // undo kill-cluster
  kPartitionApi,       // API server unreachable; agents and pods carry on
  kPartitionAgents,    // agents cannot reach the aggregator; API server works
  kSlowApi,            // every API response delayed by `latency`
  kFailingApi,         // a share `rate` of API requests answered with `status` (5xx)
  kConflictStorm,      // a share `rate` of API writes answered 409 Conflict
  kFlapAgents,         // agents on `nodes` killed and restarted every `period`
  kRolloutAgents,      // agents on `nodes` restarted one at a time, as a DaemonSet update does
  kKubeletGarbage,     // kubelets on `nodes` answer /pods with broken bodies (`mode`)
  kResizeUnsupported,  // the API server answers pods/{name}/resize 404, as before v1.33
  kResizeForbidden,    // the API server answers pods/{name}/resize 403 (RBAC denies it)
  kHeal,               // ends every fault on `cluster` (all clusters when empty) except kill
};

std::string_view toString(FaultKind kind);

struct FaultSpec {
  double atSeconds = 0;
  std::optional<double> forSeconds;  // reverted after this long (not for kill/revive/heal)
  FaultKind kind = FaultKind::kKillCluster;
  std::string cluster;
  std::vector<std::string> nodes;  // node names or indexes ("0", "3"); empty = all nodes
  double latencySeconds = 0;
  double rate = 1.0;
  int status = 503;
  double periodSeconds = 4;
  double pauseSeconds = 1;  // rollout: wait between one agent being back and the next restart
  std::string mode =
      "garbage";  // kubelet garbage: garbage, truncated, wrong-types, empty, status-500
};

struct AgentSettings {
  bool enabled = true;
  std::string interval = "1s";
  std::string rediscoverInterval = "2s";
  std::vector<std::string> extraArgs;
  // `auth: cluster-tokens`: each cluster's agents get their own token and the aggregator checks
  // it (--agent-tokens-dir); `shared-token` (the default): one --token-file for all.
  bool clusterTokens = false;
  // `protocol`: the stream protocol the agents offer: 2 (the default: what the agent offers
  // unless told otherwise), 1 (--max-protocol-version 1), or mixed: every second node of each
  // cluster offers only 1, as in a rollout of agents that speak version 2.
  enum class Protocol { kTwo, kOne, kMixed };
  Protocol protocol = Protocol::kTwo;
};

struct AggregatorSettings {
  bool enabled = true;
  // How many fleetscale-aggregator processes to start (aggregator-0, aggregator-1, ...); every
  // agent streams to all of them. 1 = the single aggregator of before, started as it always was.
  int instances = 1;
  // Placeholders expandAggregatorArg() replaces: {state}, {id}, {kubeconfig:CLUSTER}.
  std::vector<std::string> extraArgs;
  // The aggregator's cluster health thresholds and API probe interval (its --failed-after,
  // --healthy-after, --probe-interval); "" = the aggregator's defaults.
  std::string failedAfter;
  std::string healthyAfter;
  std::string probeInterval;
  // The policy's `prometheus` section (Object and External metrics), verbatim; "" = none.
  std::string prometheusYaml;
  // The HTTP API as in production (`secure-api: true`): HTTPS with a certificate of the
  // simulator's own CA, a viewer and an admin token in --api-tokens-file, no anonymous reads.
  // false (the default, a lab setting): plain HTTP and --http-anonymous-reads, so anything on the
  // machine reads the API without a token; writes need the admin token either way.
  bool secureApi = false;
};

struct Scenario {
  std::string name;
  std::string description;
  double durationSeconds = 60;
  double tickSeconds = 0.05;           // how often cgroup counters are rewritten
  double sampleIntervalSeconds = 0.5;  // measurement timeline resolution
  double loadChangeThreshold = 0.10;   // relative demand change that counts as a load change
  unsigned long long seed = 1;
  std::vector<ClusterSpec> clusters;
  std::vector<WorkloadSpec> workloads;
  std::vector<FaultSpec> faults;  // sorted by atSeconds
  AgentSettings agents;
  AggregatorSettings aggregator;

  const ClusterSpec* findCluster(std::string_view clusterName) const;
  // True when some workload has `autoscale`: the simulator then gives the aggregator a policy.
  bool autoscaled() const;
};

// Replaces the placeholders of an aggregator argument: "{state}" (the simulator's state
// directory), "{id}" (the instance's --aggregator-id) and "{kubeconfig:CLUSTER}" (the path of
// that cluster's aggregator kubeconfig), from `values` keyed "state", "id" and
// "kubeconfig:CLUSTER". Other braces are left alone; a {kubeconfig:...} of a cluster `values`
// does not have is an error naming it.
Result<std::string> expandAggregatorArg(std::string_view arg,
                                        const std::map<std::string, std::string>& values);

// Parses a scenario. `baseDir` resolves relative paths (recorded load CSV files). Errors name
// the line and the key.
Result<Scenario> parseScenario(std::string_view yaml, const std::string& baseDir = ".");
Result<Scenario> loadScenario(const std::string& path);

// Parses one fault entry given as JSON text (the control API's POST /faults body), with the
// same keys as a scenario's `faults` list.
Result<FaultSpec> parseFault(std::string_view yamlOrJson);

}  // namespace fleetscale::sim
