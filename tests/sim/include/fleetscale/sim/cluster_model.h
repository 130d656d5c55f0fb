// The state of one simulated Kubernetes cluster and the controllers that act on it: the
// Deployments and StatefulSets the API server stores (as JSON, so clients can PUT and PATCH any
// field), their pods, the scheduler that binds pods to nodes with free allocatable, and the
// kubelet delays from binding to running to Ready. Pure: no I/O, time is passed in.
// Not thread-safe; the simulator guards it with one mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/shared/clock.h"
#include "fleetscale/sim/ids.h"
#include "fleetscale/sim/scenario.h"

namespace fleetscale::sim {

// Time since the simulation started.
using SimTime = std::chrono::nanoseconds;

inline double toSeconds(SimTime time) { return std::chrono::duration<double>(time).count(); }
inline SimTime fromSeconds(double seconds) {
  return std::chrono::duration_cast<SimTime>(std::chrono::duration<double>(seconds));
}

// An API error as the API server reports it in a Status object.
struct ApiError {
  int code = 500;
  std::string reason;   // "NotFound", "Conflict", "Invalid", ...
  std::string message;  // the human-readable text kubectl prints
  nlohmann::json details = nlohmann::json::object();
};

// The outcome of an API operation: an object, or an error. (clang-tidy 14 takes the implicit
// noexcept move of nlohmann::json members for throwing; nlohmann::json's move is noexcept.)
// NOLINTNEXTLINE(bugprone-exception-escape)
struct ApiResult {
  std::optional<ApiError> error;
  nlohmann::json object;
  bool ok() const { return !error; }
  static ApiResult fail(ApiError e) { return {std::move(e), nullptr}; }
};

// Cumulative counters of one container, as its cgroup files show them (and its requests, as its
// Prometheus endpoint does).
struct ContainerCounters {
  double cpuNs = 0;
  double throttledNs = 0;
  double periods = 0;
  double throttledPeriods = 0;
  double pressureSomeUs = 0;  // time some task waited for CPU (node contention)
  double memoryBytes = 0;
  double cpuCores = 0;  // rate during the last step, for display and measurements
  // Requests per second during the last step, and their integral: the `http_requests_total` of
  // a pod whose workload has requests-per-core (pod_metrics.h); 0 for every other pod.
  double requestsPerSecond = 0;
  double requests = 0;
  // OOM kills of the container since its pod started: memory.events' oom_kill (v2) and
  // memory.oom_control's (v1). Kept across the container's restarts (see PodState).
  std::uint64_t oomKills = 0;
};

struct NodeState {
  std::string name;
  std::string uid;
  std::string zone;
  std::string internalIp;  // the address the Node object shows (not where the kubelet listens)
  int index = 0;
  int kubeletPort = 10250;  // where this node's fake kubelet listens on loopback
  NodeResources capacity;
  NodeResources allocatable;
  double busyNs = 0;  // node CPU time spent, including system overhead
  double idleNs = 0;
  double memoryUsedBytes = 0;
};

enum class QosClass { kGuaranteed, kBurstable, kBestEffort };
std::string_view toString(QosClass qos);  // "Guaranteed", ...
QosClass qosClassOf(const ContainerResources& resources);

struct ContainerTemplate {
  std::string name;
  std::string image;
  ContainerResources resources;
  ResizePolicy resizePolicy;
};

// The kubelet's answer to a pod's last resize (KEP-1287, Kubernetes 1.33+): the conditions
// PodResizePending (reason Deferred or Infeasible) and PodResizeInProgress.
enum class ResizePending { kNone, kDeferred, kInfeasible };

struct ResizeStatus {
  ResizePending pending = ResizePending::kNone;
  std::string pendingMessage;
  SimTime pendingSince{};
  // PodResizeInProgress: allocated resources the runtime has not applied yet; it applies them
  // at actuateAt (the cluster's resize delay after the kubelet admitted the resize).
  std::optional<SimTime> actuateAt;
  SimTime inProgressSince{};
  // Reason Error: the runtime refused (a memory limit below the container's usage).
  std::string inProgressError;
  long long observedGeneration = 1;
  // The spec changed since the kubelet last looked: an Infeasible resize is looked at again.
  bool requested = false;
};

// How the container last ended (lastState.terminated).
struct Termination {
  std::string reason;  // "OOMKilled", "Completed"
  int exitCode = 0;
  SimTime startedAt{};
  SimTime finishedAt{};
};

struct PodState {
  std::string name;
  std::string namespaceName;
  std::string uid;
  std::string workload;  // owning workload name; "" for system pods
  WorkloadKind kind = WorkloadKind::kDeployment;
  std::string ownerKind;  // ReplicaSet, StatefulSet, DaemonSet
  std::string ownerName;
  std::string ownerUid;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;  // the pod template's, as the pod was made
  std::string templateHash;                        // of the workload template the pod was made from
  int ordinal = -1;                                // StatefulSet pods
  std::string node;                                // "" while unscheduled (Pending)
  int nodeIndex = -1;  // the node's index in the cluster's nodes, once bound
  int specIndex = -1;  // its workload's index in the scenario's workloads; -1 for system pods
  std::string podIp;   // podIpAddress(), or the node's address for hostNetwork pods
  ContainerTemplate container;
  QosClass qos = QosClass::kBestEffort;
  std::string containerId;  // 64 hex; assigned when bound
  std::string sandboxId;
  std::string imageDigest;
  std::uint64_t resourceVersion = 0;
  SimTime createdAt{};
  std::optional<SimTime> scheduledAt;
  std::optional<SimTime> runningAt;  // when the container starts (scheduled + scheduling delay)
  std::optional<SimTime> readyAt;    // when it turns Ready (running + readiness delay)
  int observedStage = 0;             // 0 unscheduled, 1 bound, 2 running, 3 ready
  ContainerCounters counters;
  // Desired (spec: container.resources) -> allocated (what the kubelet admitted) -> actual (what
  // the runtime applied: the cgroup limits, status.containerStatuses[].resources).
  ContainerResources allocated;
  ContainerResources actual;
  ResizeStatus resize;
  long long generation = 1;  // metadata.generation: a resize counts up
  // Restarts (OOM kills, RestartContainer resizes). The simulator keeps the container id and its
  // cgroup across them, so its counters (oom_kill among them) are cumulative.
  int restartCount = 0;
  std::optional<Termination> lastTermination;
  int crashes = 0;  // consecutive crashes, for the back-off
  std::optional<SimTime> lastCrashAt;

  bool bound() const { return !node.empty(); }
  // The container runs now (not before its first start, nor in a crash back-off).
  bool running(SimTime now) const { return runningAt && *runningAt <= now; }
  // The container has a cgroup: running, or waiting to be restarted.
  bool started(SimTime now) const { return running(now) || restartCount > 0; }
  // Waiting in CrashLoopBackOff (after a crash, before the restart).
  bool backingOff(SimTime now) const { return restartCount > 0 && !running(now); }
  bool ready(SimTime now) const { return readyAt && *readyAt <= now; }
  bool isSystem() const { return workload.empty(); }
};

// A Deployment or StatefulSet as stored, plus what the controllers derive from it.
// NOLINTNEXTLINE(bugprone-exception-escape): as ApiResult's (nlohmann::json's move is noexcept).
struct WorkloadObject {
  WorkloadKind kind = WorkloadKind::kDeployment;
  nlohmann::json object;  // full object with kind and apiVersion
  int replicas = 0;
  ContainerTemplate container;
  std::string templateHash;
  std::string ownerUid;  // the ReplicaSet's uid (Deployments) or the object's uid
  int specIndex = -1;    // the scenario's workload it was made from
  // Why the controller's last try to create a pod was refused (the admission error's message:
  // `pods "web-7c9d8f6b5-" is forbidden: ...`); "" once a pass creates what it needs. A
  // Deployment shows it as its ReplicaSet's ReplicaFailure condition (reason FailedCreate).
  std::string createRefusal;

  std::string name() const { return object["metadata"]["name"].get<std::string>(); }
  std::string namespaceName() const { return object["metadata"]["namespace"].get<std::string>(); }
  std::string uid() const { return object["metadata"]["uid"].get<std::string>(); }
  std::uint64_t resourceVersion() const;
  // "<deployment>-<hash>" for Deployments, "<statefulset>-<hash>" for StatefulSets.
  std::string revisionName() const { return name() + "-" + templateHash; }
};

// Which precondition a write carries.
enum class WriteTarget { kObject, kScale };

class ClusterModel {
 public:
  // `origin` is the wall-clock time of SimTime 0, for the timestamps objects carry.
  // `podMetricsPort` is where the simulator serves the pods' Prometheus endpoints: the port the
  // scrape annotations of workloads with requests-per-core name (0 when nothing serves them).
  ClusterModel(ClusterSpec spec, int clusterIndex, const std::vector<WorkloadSpec>& workloads,
               std::uint64_t seed, WallTime origin, std::uint16_t podMetricsPort = 0);

  const ClusterSpec& spec() const { return spec_; }
  const std::string& name() const { return spec_.name; }
  int index() const { return index_; }

  // Runs the controllers: creates or removes pods to match each workload's replicas, binds
  // Pending pods to nodes with room, and refreshes workload status. Does nothing while dead,
  // and nothing between changes: until a write, a revival, a pod waiting for a node or a pod's
  // next stage (running, Ready) the controllers would find everything as it was.
  void advance(SimTime now);

  // A dead cluster keeps its state but runs nothing; on revival every running pod goes
  // through the readiness delay again.
  void setAlive(bool alive, SimTime now);
  bool alive() const { return alive_; }

  std::uint64_t resourceVersion() const { return resourceVersion_; }
  // Takes the next resourceVersion, for objects the API server stores next to the model (Leases):
  // one sequence for every kind, as etcd's revision is.
  std::uint64_t nextResourceVersion() { return bumpVersion(); }

  // --- what the API server serves -----------------------------------------------------------
  // `kind` is "deployments" or "statefulsets"; `namespaceName` "" lists all namespaces.
  std::vector<const WorkloadObject*> list(WorkloadKind kind,
                                          const std::string& namespaceName) const;
  const WorkloadObject* find(WorkloadKind kind, const std::string& namespaceName,
                             const std::string& name) const;
  // Stores `updated` as the new object (PUT semantics: metadata.resourceVersion, when set, must
  // match; status and server-owned metadata are kept). Returns the stored object.
  ApiResult update(WorkloadKind kind, const std::string& namespaceName, const std::string& name,
                   const nlohmann::json& updated, SimTime now);
  // Sets spec.replicas through the scale subresource. `expectedVersion` "" = unconditional.
  ApiResult setReplicas(WorkloadKind kind, const std::string& namespaceName,
                        const std::string& name, long long replicas,
                        const std::string& expectedVersion, SimTime now);

  const std::vector<NodeState>& nodes() const { return nodes_; }
  std::vector<NodeState>& nodes() { return nodes_; }
  const NodeState* findNode(const std::string& name) const;
  const std::vector<PodState>& pods() const { return pods_; }
  std::vector<PodState>& pods() { return pods_; }
  std::vector<std::string> namespaces() const;
  WallTime origin() const { return origin_; }

  // Free allocatable on a node, after the requests of the pods bound to it, as the scheduler
  // counts them: max(spec unless Infeasible, allocated, actual).
  NodeResources freeOn(const std::string& node) const;

  // The resize subresource (PATCH/PUT pods/{name}/resize): takes `desired` (the whole pod as the
  // client wants it) and keeps only its containers' resources and resizePolicy; checks the
  // rules of the API server (requests <= limits, nothing removed, the QoS class unchanged; on
  // v1.33 no memory limit decrease without RestartContainer). The kubelet acts on it in the
  // next advance(). Returns the pod (podJson is the caller's). `admit`, when set, is asked last,
  // once the resize has passed those rules and changes something, as the API server's
  // validating admission plugins are: its error refuses the resize.
  using ResizeAdmission = std::function<std::optional<ApiError>(const PodState& pod,
                                                                const ContainerResources& resized)>;
  ApiResult resizePod(const std::string& namespaceName, const std::string& name,
                      const nlohmann::json& desired, const ResizeAdmission& admit = {});
  const PodState* findPod(const std::string& namespaceName, const std::string& name) const;
  // The validating admission plugins a pod the controllers create must pass (LimitRanger,
  // ResourceQuota): asked with the name the create carries (a ReplicaSet's generateName
  // "web-7c9d8f6b5-", a StatefulSet pod's own name) and the template's resources; their error
  // refuses the pod. A refused pod is not made; the controller tries again every step, as the
  // real ones requeue. Unset: every pod is admitted.
  using PodAdmission = std::function<std::optional<ApiError>(const std::string& namespaceName,
                                                             const std::string& podName,
                                                             const ContainerResources& resources)>;
  void setPodAdmission(PodAdmission admit) { admitPod_ = std::move(admit); }
  // The container of `pod` was OOM-killed at `now`: it restarts after the kubelet's back-off.
  void oomKill(PodState& pod, SimTime now);
  // Whether this cluster's API server has the resize subresource (v1.33 and later).
  bool servesResize() const;

 private:
  using Key = std::tuple<WorkloadKind, std::string, std::string>;

  void bootstrap();
  WorkloadObject makeObject(const WorkloadSpec& workload, int replicas);
  void deriveFromObject(WorkloadObject& workload);
  void reconcile(WorkloadObject& workload, SimTime now);
  void reconcileStatefulSet(WorkloadObject& workload, SimTime now);
  PodState newPod(const WorkloadObject& workload, SimTime now, int ordinal);
  // Adds a new pod of `workload` unless admission refuses it (workload.createRefusal then says
  // why); false when refused.
  bool createPod(WorkloadObject& workload, SimTime now, int ordinal);
  void addSystemPods();
  void schedule(SimTime now);
  void observeTransitions(SimTime now);
  // The kubelets' part of resizes: admit (or defer, or refuse) and apply them.
  void resizePods(SimTime now);
  bool admitResize(PodState& pod, SimTime now);
  void actuateResize(PodState& pod, SimTime now);
  void restartContainer(PodState& pod, SimTime restartAt, Termination ending);
  // Free allocatable on `pod`'s node as its kubelet counts it: the allocated requests of the
  // other pods there.
  NodeResources kubeletFree(const PodState& pod) const;
  void refreshStatus(WorkloadObject& workload, SimTime now);
  std::uint64_t bumpVersion() { return ++resourceVersion_; }
  // A pod address on `node` no pod has (next in turn, so a deleted pod's address is not given
  // out again at once); "" when all of the node's addresses are taken.
  std::string nextPodIp(const NodeState& node);

  ClusterSpec spec_;
  int index_ = 0;
  IdGenerator ids_;
  WallTime origin_{};
  bool alive_ = true;
  std::uint64_t resourceVersion_ = 1000;
  std::uint64_t statusVersion_ = 0;  // resourceVersion_ when statuses were last recomputed
  bool dirty_ = true;  // a write or a revival since the last advance, or a Pending pod
  std::optional<SimTime> nextChange_;  // the earliest pod stage change still to come
  bool rolling_ = false;               // a Deployment has pods of an old template
  std::vector<NodeState> nodes_;
  std::vector<PodState> pods_;
  std::map<Key, WorkloadObject> workloads_;
  std::map<std::string, int> podIpCounter_;
  std::uint16_t podMetricsPort_ = 0;
  PodAdmission admitPod_;
};

// Pod addresses: 127.<100 + cluster index>.<node index>.<host>, host 2..254, so that a process on
// this machine reaches every pod (Linux routes all of 127.0.0.0/8 to lo) and one simulator
// server can tell the pods apart by the address a client dialled (pod_metrics.h). hostNetwork
// pods (kube-proxy) have their node's address instead.
inline constexpr int kFirstPodHost = 2;
inline constexpr int kLastPodHost = 254;
std::string podIpAddress(int clusterIndex, int nodeIndex, int host);
// The index of the cluster whose pod range holds `address`, or -1 when no cluster's does.
int clusterOfPodIp(std::string_view address);

// "Deployment" etc. as the resource names the API uses.
std::string_view resourceName(WorkloadKind kind);  // "deployments" / "statefulsets"

// RFC 3339 in UTC with seconds, as metadata timestamps are written.
std::string rfc3339(WallTime time);

// The Kubernetes minor version of "v1.33.2" (33); nullopt when it does not parse.
std::optional<int> kubernetesMinor(std::string_view version);

// The kubelet's crash back-off before restart number `crashes` (1 = the first crash): none for
// the first, then 10 s doubling to 5 min.
SimTime crashBackOff(int crashes);
// A crash this long after the previous one starts the back-off over (the kubelet forgets a
// back-off entry after twice its 5 min maximum).
inline constexpr double kCrashBackOffResetSeconds = 600;

// A container's requests as the scheduler counts them (a missing request defaults to the limit).
double requestedCores(const ContainerResources& resources);
double requestedBytes(const ContainerResources& resources);

// Resource quantities of a container spec ("resources": {"requests": ..., "limits": ...}).
nlohmann::json resourcesJson(const ContainerResources& resources);
// The reverse; errors name the field.
std::optional<ContainerResources> resourcesFromJson(const nlohmann::json& resources,
                                                    std::string* error);
// A container's resizePolicy list (cpu and memory entries), and the reverse (null: none).
nlohmann::json resizePolicyJson(const ResizePolicy& policy);
std::optional<ResizePolicy> resizePolicyFromJson(const nlohmann::json& entries, std::string* error);

}  // namespace fleetscale::sim
