// Actuators change a workload's replica count in one cluster: through the Kubernetes API's
// scale subresource, or through a webhook for VM fleets. The scaling loop only sees this
// interface, so decisions are testable without any cluster.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fleetscale/aggregator/kube/autoscalers.h"
#include "fleetscale/aggregator/state/model.h"

namespace fleetscale {
class HttpClient;
struct HttpClientRequest;
}  // namespace fleetscale

namespace fleetscale::aggregator {

struct ScaleRequest {
  WorkloadKey workload;  // its kind is Deployment or StatefulSet
  std::int32_t replicas = 0;
  std::string decisionId;  // ties the write to its stored decision
  std::string reason;
  std::uint64_t fencingToken = 0;  // the acting leader's term (0 without leader election)
  // With leader election: whether this aggregator is still the leader of `fencingToken`'s term
  // and will be for `within` more (its lease cannot expire before a request sent now ends).
  // Checked before every attempt to send the write; empty = always.
  std::function<bool(std::chrono::milliseconds within)> stillLeader;
  // --take-over-hpa: other autoscalers of the workload in this cluster, made to hold `replicas`
  // before the write (an HPA's bounds pinned, a ScaledObject paused at that count), so that
  // none of them undoes it. Empty: a plain write.
  std::vector<ForeignAutoscaler> pin = {};
};

struct ScaleStatus {
  std::int32_t specReplicas = 0;    // desired, as the API holds it
  std::int32_t statusReplicas = 0;  // observed by the workload's controller
  std::string resourceVersion;
};

enum class ActuationError {
  kNone,
  kTransport,        // connect, TLS, timeout: retried
  kServerError,      // 5xx or 429: retried
  kConflict,         // 409 beyond the re-read budget
  kUnauthorized,     // 401: the token or certificate is not accepted
  kForbidden,        // 403: authenticated, but RBAC does not allow scaling this workload
  kNotFound,         // 404: no such workload (or no scale subresource)
  kInvalidResponse,  // the server answered something that is not a Scale
  kRejected,         // 422: the API server refused the value (validation, LimitRange, quota)
  kUnsupported,      // this actuator cannot do that (a webhook cannot read the scale)
  kFenced,           // not sent: this aggregator is no longer the leader of the write's term
};
std::string_view actuationErrorName(ActuationError error);

struct ActuationOutcome {
  ActuationError error = ActuationError::kNone;
  std::string message;  // for people: what failed and what to check
  ScaleStatus status;   // after a successful get or set
  int attempts = 0;     // HTTP requests made
  bool ok() const { return error == ActuationError::kNone; }
};

// Retries for transient failures (transport errors, 5xx, 429), with jittered exponential backoff.
struct RetryPolicy {
  int maxAttempts = 4;
  std::chrono::milliseconds initialBackoff{200};
  std::chrono::milliseconds maxBackoff{std::chrono::seconds(2)};
  int maxConflictRetries = 5;  // 409 -> re-read and write again, this many times
};

// Waits between retries; tests pass one that returns at once.
using Sleeper = std::function<void(std::chrono::milliseconds)>;
void sleepFor(std::chrono::milliseconds duration);

// Sends one request, retrying transport errors, 5xx and 429 with jittered exponential backoff.
// 2xx -> ok (body in `responseBody`); 401, 403, 404, 409 and other 4xx -> their error at once.
// `what` prefixes messages ("PUT Deployment shop/web scale at https://..."). A write with a
// fencing check (`fence`) is sent only while it passes, before every attempt: else kFenced.
ActuationOutcome sendWithRetries(HttpClient& http, const HttpClientRequest& request,
                                 const RetryPolicy& retry, const Sleeper& sleeper,
                                 const std::string& what, std::string& responseBody,
                                 const ScaleRequest* fence = nullptr);

// The other autoscalers of one namespace, or why they could not be listed.
struct AutoscalerListing {
  ActuationError error = ActuationError::kNone;
  std::string message;
  std::vector<ForeignAutoscaler> autoscalers;
  bool ok() const { return error == ActuationError::kNone; }
};

// Thread-safety: implementations serialize their own calls; one actuator per cluster.
class Actuator {
 public:
  virtual ~Actuator() = default;
  virtual ActuationOutcome getScale(const WorkloadKey& workload) = 0;
  virtual ActuationOutcome setScale(const ScaleRequest& request) = 0;
  // Whether listAutoscalers() can say anything: false where the cluster has no other
  // autoscalers to find (a webhook's VM fleet).
  virtual bool listsAutoscalers() const { return false; }

  // Right-sizing (docs/rightsizing.md, "Applying"): whether the calls below reach pods and pod
  // templates; they answer kUnsupported otherwise. Bodies are the API server's JSON.
  virtual bool resizesPods() const { return false; }
  // GET the Deployment or StatefulSet itself (its selector and pod template).
  virtual ActuationOutcome getWorkload(const WorkloadKey& workload, std::string& body);
  // GET the pods of `namespaceName` matching the label selector "k=v,k2=v2" (a PodList).
  virtual ActuationOutcome listPods(const std::string& namespaceName, const std::string& selector,
                                    std::string& body);
  // PATCH (strategic merge) pods/{pod}/resize: an in-place resize (Kubernetes 1.33+).
  virtual ActuationOutcome resizePod(const std::string& namespaceName, const std::string& pod,
                                     const std::string& patch);
  // PATCH (strategic merge) the Deployment or StatefulSet: its pod template (a rolling update).
  virtual ActuationOutcome patchWorkload(const WorkloadKey& workload, const std::string& patch);
  // HorizontalPodAutoscalers and KEDA ScaledObjects in `namespaceName`; kUnsupported unless
  // listsAutoscalers().
  virtual AutoscalerListing listAutoscalers(const std::string& namespaceName) {
    (void)namespaceName;
    return {ActuationError::kUnsupported, "no autoscalers to list", {}};
  }
};

}  // namespace fleetscale::aggregator
