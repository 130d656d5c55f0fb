// Applying right-sizing recommendations (docs/rightsizing.md, "Applying"): the pure part. From a
// workload's recommendations and its pods (or its pod template) as the API server shows them,
// which pods to resize now and to what, whether the workload is done, waiting or stuck, and the
// strategic-merge patches that say it. No I/O: the applier (control/rightsizing_applier.h) reads
// and writes the clusters.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fleetscale/aggregator/rightsizing/recommender.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator::rightsizing {

// One container's requests and limits (cores, bytes); absent (NaN) = none set.
struct ContainerResources {
  std::string name;
  double cpuRequest = kAbsent;
  double cpuLimit = kAbsent;
  double memoryRequest = kAbsent;
  double memoryLimit = kAbsent;
};
bool sameResources(const ContainerResources& a, const ContainerResources& b);

enum class QosClass { kBestEffort, kBurstable, kGuaranteed };
// Kubernetes' rule, over the listed containers: Guaranteed when every one has CPU and memory
// limits equal to its requests, BestEffort when none has a request or limit, else Burstable.
QosClass qosClassOf(std::span<const ContainerResources> containers);

// A pod as the resizer needs it (parsePods() reads a PodList).
struct PodView {
  std::string name;
  bool running = false;  // phase Running and not being deleted
  bool ready = false;
  std::vector<ContainerResources> spec;    // spec.containers[].resources
  std::vector<ContainerResources> status;  // status.containerStatuses[].resources (actual)
  std::int64_t generation = 0;
  std::int64_t observedGeneration = 0;
  bool resizeInProgress = false;  // condition PodResizeInProgress
  std::string pendingReason;      // condition PodResizePending's reason: Deferred, Infeasible
  std::string resizeMessage;      // that condition's message
};
Result<std::vector<PodView>> parsePods(const std::string& podListJson);

// A workload's status condition ReplicaFailure while it is True: a Deployment copies it from its
// newest ReplicaSet when that cannot make its pods (reason FailedCreate; the message is the
// refused create's error: `pods "web-7c9d8f6b5-" is forbidden: maximum cpu usage per Container
// is 2, but limit is 3`).
struct ReplicaFailure {
  std::string reason;
  std::string message;
};

// A Deployment's or StatefulSet's selector and template resources.
struct WorkloadTemplate {
  // spec.selector (matchLabels and matchExpressions) as a list's labelSelector query:
  // "app=web,tier in (a,b),track notin (canary),release,!legacy".
  std::string selector;
  std::vector<ContainerResources> containers;
  std::optional<ReplicaFailure> replicaFailure;  // status.conditions[type=ReplicaFailure], True
};
// Fails, saying why, on a selector metav1.LabelSelectorAsSelector refuses (an unknown operator,
// In or NotIn without values, Exists or DoesNotExist with values, a malformed key or value) and
// on a missing or empty one (it would select every pod of the namespace).
Result<WorkloadTemplate> parseWorkloadTemplate(const std::string& workloadJson);

// Whether a request moves enough to act on: by more than `ratio` of the current figure and by
// at least `floor` (absolute), so a recommendation that wobbles does not resize pods each tick.
bool changesEnough(double current, double target, double ratio, double floor);

// The resources a container should get under its recommendation, or nullopt when it keeps what
// it has (within the band, nothing to go by, or no request to move). Requests stay at or below
// limits; a Guaranteed pod's containers keep request == limit. A resource without a request is
// left alone (giving it one would change the pod's QoS class).
std::optional<ContainerResources> resizeTarget(const ContainerResources& current,
                                               const ContainerRecommendation& recommendation,
                                               const RightsizingPolicy& policy, bool guaranteed);

// The resources every container of a pod (or template) should get, or nullopt when none moves or
// the change would alter the QoS class (`qosChange` then says so).
std::optional<std::vector<ContainerResources>> podTarget(
    std::span<const ContainerResources> containers,
    std::span<const ContainerRecommendation> recommendations, const RightsizingPolicy& policy,
    bool* qosChange = nullptr);

// How many pods may be resizing at once: max(1, floor(budgetShare x ready replicas)).
int resizeBudget(int readyReplicas, double budgetShare);

// Whether a pod is still between a resize and its end: a resize condition, an observedGeneration
// behind, or actual resources that differ from the spec.
bool resizing(const PodView& pod);

enum class ApplyState {
  kApplied,     // every running pod (or the template) has its recommendation, within the band
  kResizing,    // resizes under way; more to come
  kPending,     // a resize waits for room on its node (PodResizePending Deferred)
  kInfeasible,  // a pod's node can never fit it (PodResizePending Infeasible)
  kQosChange,   // the recommendation would change the pods' QoS class: not applied
};
std::string_view toString(ApplyState state);

struct PodResize {
  std::string pod;
  std::vector<ContainerResources> containers;  // the pod's containers with their new resources
};

struct ResizePlan {
  ApplyState state = ApplyState::kApplied;
  std::vector<PodResize> resizes;  // to patch now, in this order
  int inFlight = 0;                // pods still resizing
  int budget = 1;
  std::string message;  // for people: the pending or infeasible pod and the kubelet's words
};

// The next step for one workload in one cluster: pods already resizing use up the budget; the
// rest that need a resize are taken by name until it is spent. A pod whose node found the
// resize Infeasible stops the workload (the caller falls back or reports).
ResizePlan planResizes(std::span<const PodView> pods,
                       std::span<const ContainerRecommendation> recommendations,
                       const RightsizingPolicy& policy);

// The strategic-merge patch of spec.containers[name].resources for a pod's resize subresource
// (merged by container name: the other containers and fields stay as they are).
std::string podResizePatch(std::span<const ContainerResources> containers);
// The same under spec.template, for a Deployment's or StatefulSet's pod template.
std::string templatePatch(std::span<const ContainerResources> containers);

// Which admission plugin refused a write, from its 403 Status message: the LimitRanger
// ("limit-range": "maximum cpu usage per Container is 2, but limit is 4", "... max limit to
// request ratio per Container is ...") or the ResourceQuota plugin ("quota": "exceeded quota:
// compute, requested: ...", "failed quota: ..."); "" for any other 403 (RBAC's "... cannot patch
// resource ..."). Kubernetes gives all of them reason Forbidden: only the words differ.
std::string_view admissionRefusal(std::string_view forbiddenMessage);
// The same for a workload whose pods cannot be created (a rollout that stalls after the template
// was patched): "limit-range" or "quota" when its ReplicaFailure is a FailedCreate one of those
// plugins refused; "" otherwise (no failure, or another cause).
std::string_view podCreateRefusal(const WorkloadTemplate& workload);

// Kubernetes quantities as the patches write them: CPU in millicores ("250m"), memory in bytes.
std::string cpuQuantity(double cores);
std::string memoryQuantity(double bytes);

}  // namespace fleetscale::aggregator::rightsizing
