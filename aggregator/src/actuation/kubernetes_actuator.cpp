#include "fleetscale/aggregator/actuation/kubernetes_actuator.h"

#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/rightsizing/resize_plan.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

ActuationOutcome failure(ActuationError error, std::string message, int attempts) {
  ActuationOutcome outcome;
  outcome.error = error;
  outcome.message = std::move(message);
  outcome.attempts = attempts;
  return outcome;
}

bool parseScale(const std::string& body, json& scale, ScaleStatus& status) {
  scale = json::parse(body, nullptr, false);
  if (!scale.is_object() || !scale.contains("spec") || !scale["spec"].is_object()) return false;
  const auto& spec = scale["spec"];
  status.specReplicas = spec.contains("replicas") && spec["replicas"].is_number_integer()
                            ? spec["replicas"].get<std::int32_t>()
                            : 0;
  if (scale.contains("status") && scale["status"].is_object() &&
      scale["status"].contains("replicas") && scale["status"]["replicas"].is_number_integer()) {
    status.statusReplicas = scale["status"]["replicas"].get<std::int32_t>();
  }
  if (scale.contains("metadata") && scale["metadata"].is_object() &&
      scale["metadata"].contains("resourceVersion") &&
      scale["metadata"]["resourceVersion"].is_string()) {
    status.resourceVersion = scale["metadata"]["resourceVersion"].get<std::string>();
  }
  return true;
}

}  // namespace

KubernetesActuator::KubernetesActuator(std::unique_ptr<HttpClient> http,
                                       KubeCredentials credentials,
                                       KubernetesActuatorOptions options, Sleeper sleeper)
    : http_(std::move(http)),
      credentials_(std::move(credentials)),
      options_(std::move(options)),
      sleeper_(std::move(sleeper)) {}

std::string KubernetesActuator::workloadPath(const WorkloadKey& workload) {
  const std::string resource = workload.kind == "StatefulSet" ? "statefulsets" : "deployments";
  return "/apis/apps/v1/namespaces/" + workload.namespaceName + "/" + resource + "/" +
         workload.name;
}

std::string KubernetesActuator::scalePath(const WorkloadKey& workload) {
  return workloadPath(workload) + "/scale";
}

ActuationOutcome KubernetesActuator::send(const std::string& method, const std::string& path,
                                          const std::string& what, const std::string& body,
                                          std::string& responseBody, int& attempts,
                                          const ScaleRequest* write, std::string_view contentType) {
  HttpClientRequest request;
  request.method = method;
  request.url = credentials_.server + path;
  request.body = body;
  request.connectTimeout = options_.connectTimeout;
  request.totalTimeout = options_.requestTimeout;
  request.headers.emplace_back("Accept", "application/json");
  if (!body.empty()) request.headers.emplace_back("Content-Type", std::string(contentType));
  if (!credentials_.bearerToken.empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + credentials_.bearerToken);
  }
  if (!options_.userAgent.empty()) request.headers.emplace_back("User-Agent", options_.userAgent);
  // The API server's audit log then shows which leader term wrote each replica count.
  if (write != nullptr && write->fencingToken != 0) {
    request.headers.emplace_back(std::string(kFencingTokenHeader),
                                 std::to_string(write->fencingToken));
  }
  auto outcome =
      sendWithRetries(*http_, request, options_.retry, sleeper_,
                      method + " " + what + " at " + credentials_.server, responseBody, write);
  attempts += outcome.attempts;
  outcome.attempts = attempts;
  if (outcome.error == ActuationError::kUnauthorized) {
    outcome.message += " (check the cluster's token or client certificate)";
  }
  return outcome;
}

ActuationOutcome KubernetesActuator::sendScale(const std::string& method,
                                               const WorkloadKey& workload, const std::string& body,
                                               std::string& responseBody, int& attempts,
                                               const ScaleRequest* write) {
  auto outcome = send(method, scalePath(workload), workload.describe() + " scale", body,
                      responseBody, attempts, write);
  if (outcome.error == ActuationError::kForbidden) {
    outcome.message +=
        " (RBAC must allow get and update on " +
        std::string(workload.kind == "StatefulSet" ? "statefulsets" : "deployments") +
        "/scale in namespace " + workload.namespaceName + ")";
  }
  return outcome;
}

ActuationOutcome KubernetesActuator::get(const std::string& path, const std::string& what,
                                         std::string& body) {
  int attempts = 0;
  return send("GET", path, what, "", body, attempts);
}

AutoscalerListing KubernetesActuator::listAutoscalers(const std::string& namespaceName) {
  std::lock_guard lock(mutex_);
  AutoscalerListing listing;
  struct Source {
    const char* kind;
    std::string path;
    bool optional;  // a CRD that may not be installed
  };
  const Source sources[] = {
      {"HorizontalPodAutoscaler",
       "/apis/autoscaling/v2/namespaces/" + namespaceName + "/horizontalpodautoscalers", false},
      {"ScaledObject", "/apis/keda.sh/v1alpha1/namespaces/" + namespaceName + "/scaledobjects",
       true}};
  for (const auto& source : sources) {
    std::string body;
    const std::string what = std::string(source.kind) + "s in namespace " + namespaceName;
    auto outcome = get(source.path, what, body);
    if (outcome.error == ActuationError::kNotFound && source.optional) continue;
    if (!outcome.ok()) {
      listing.error = outcome.error;
      listing.message = outcome.message;
      if (outcome.error == ActuationError::kForbidden) {
        listing.message += " (RBAC must allow list on " + std::string(source.kind) + "s)";
      }
      return listing;
    }
    auto parsed = parseAutoscalerList(body, source.kind);
    if (!parsed) {
      listing.error = ActuationError::kInvalidResponse;
      listing.message = "GET " + what + ": " + parsed.error().message;
      return listing;
    }
    for (auto& autoscaler : *parsed) listing.autoscalers.push_back(std::move(autoscaler));
  }
  return listing;
}

ActuationOutcome KubernetesActuator::getScale(const WorkloadKey& workload) {
  std::lock_guard lock(mutex_);
  std::string body;
  int attempts = 0;
  auto outcome = sendScale("GET", workload, "", body, attempts);
  if (!outcome.ok()) return outcome;
  json scale;
  if (!parseScale(body, scale, outcome.status)) {
    return failure(ActuationError::kInvalidResponse,
                   "GET " + workload.describe() + " scale: not a Scale object", attempts);
  }
  outcome.attempts = attempts;
  return outcome;
}

std::string KubernetesActuator::autoscalerPath(const ForeignAutoscaler& autoscaler) {
  return autoscaler.kind == "ScaledObject"
             ? "/apis/keda.sh/v1alpha1/namespaces/" + autoscaler.namespaceName + "/scaledobjects/" +
                   autoscaler.name
             : "/apis/autoscaling/v2/namespaces/" + autoscaler.namespaceName +
                   "/horizontalpodautoscalers/" + autoscaler.name;
}

ActuationOutcome KubernetesActuator::pin(const ForeignAutoscaler& autoscaler,
                                         const ScaleRequest& request, int& attempts) {
  const std::string path = autoscalerPath(autoscaler);
  const std::string what = autoscaler.describe();
  for (int conflicts = 0;; ++conflicts) {
    std::string body;
    auto read = send("GET", path, what, "", body, attempts);
    if (!read.ok()) return read;
    auto pinned = pinAutoscaler(body, autoscaler.kind, request.replicas);
    if (!pinned) {
      return failure(ActuationError::kInvalidResponse,
                     "GET " + what + ": " + pinned.error().message, attempts);
    }
    if (!*pinned) return read;  // it already holds them
    std::string written;
    auto write = send("PUT", path, what, **pinned, written, attempts, &request);
    if (write.error == ActuationError::kForbidden) {
      write.message += " (--take-over-hpa needs RBAC update on " +
                       std::string(autoscaler.kind == "ScaledObject" ? "scaledobjects.keda.sh"
                                                                     : "horizontalpodautoscalers") +
                       " in namespace " + autoscaler.namespaceName + ")";
    }
    if (write.error != ActuationError::kConflict ||
        conflicts >= options_.retry.maxConflictRetries) {
      return write;
    }
  }
}

ActuationOutcome KubernetesActuator::setScale(const ScaleRequest& request) {
  std::lock_guard lock(mutex_);
  int attempts = 0;
  // Taken-over autoscalers first: once they hold the new count, none of them undoes the write.
  for (const auto& autoscaler : request.pin) {
    // An HPA leaves a target scaled to 0 alone; its bounds stay as they were.
    if (request.replicas == 0 && autoscaler.kind != "ScaledObject") continue;
    auto pinned = pin(autoscaler, request, attempts);
    if (!pinned.ok()) return pinned;
  }
  for (int conflicts = 0;; ++conflicts) {
    std::string body;
    auto read = sendScale("GET", request.workload, "", body, attempts);
    if (!read.ok()) return read;
    json scale;
    ScaleStatus current;
    if (!parseScale(body, scale, current)) {
      return failure(ActuationError::kInvalidResponse,
                     "GET " + request.workload.describe() + " scale: not a Scale object", attempts);
    }
    if (current.specReplicas == request.replicas) {
      ActuationOutcome same;
      same.status = current;
      same.attempts = attempts;
      return same;  // already there: nothing to write
    }
    // Optimistic concurrency: the PUT carries the resourceVersion we read.
    scale["spec"]["replicas"] = request.replicas;
    std::string written;
    auto write = sendScale("PUT", request.workload, scale.dump(), written, attempts, &request);
    if (write.ok()) {
      json updated;
      if (!parseScale(written, updated, write.status)) write.status.specReplicas = request.replicas;
      write.attempts = attempts;
      return write;
    }
    if (write.error != ActuationError::kConflict ||
        conflicts >= options_.retry.maxConflictRetries) {
      return write;
    }
    componentLogger("aggregator.actuator")
        ->debug("{}: conflict on resourceVersion {}, re-reading", request.workload.describe(),
                current.resourceVersion);
  }
}

// --- Right-sizing ------------------------------------------------------------------------------

namespace {

constexpr std::string_view kStrategicMerge = "application/strategic-merge-patch+json";

}  // namespace

ActuationOutcome KubernetesActuator::getWorkload(const WorkloadKey& workload, std::string& body) {
  std::lock_guard lock(mutex_);
  return get(workloadPath(workload), workload.describe(), body);
}

ActuationOutcome KubernetesActuator::listPods(const std::string& namespaceName,
                                              const std::string& selector, std::string& body) {
  std::lock_guard lock(mutex_);
  auto outcome =
      get("/api/v1/namespaces/" + namespaceName + "/pods?labelSelector=" + percentEncode(selector),
          "pods " + selector + " in namespace " + namespaceName, body);
  if (outcome.error == ActuationError::kForbidden) {
    outcome.message += " (RBAC must allow list on pods)";
  }
  return outcome;
}

ActuationOutcome KubernetesActuator::resizePod(const std::string& namespaceName,
                                               const std::string& pod, const std::string& patch) {
  std::lock_guard lock(mutex_);
  std::string body;
  int attempts = 0;
  auto outcome = send("PATCH", "/api/v1/namespaces/" + namespaceName + "/pods/" + pod + "/resize",
                      "pod " + namespaceName + "/" + pod + " resize", patch, body, attempts,
                      nullptr, kStrategicMerge);
  // A LimitRange or ResourceQuota refusing the value is a 403 as well: its words say enough.
  if (outcome.error == ActuationError::kForbidden &&
      rightsizing::admissionRefusal(outcome.message).empty()) {
    outcome.message += " (RBAC must allow patch on pods/resize)";
  } else if (outcome.error == ActuationError::kNotFound) {
    outcome.message += " (no pods/resize: a cluster before Kubernetes 1.33, or the pod is gone)";
  }
  return outcome;
}

ActuationOutcome KubernetesActuator::patchWorkload(const WorkloadKey& workload,
                                                   const std::string& patch) {
  std::lock_guard lock(mutex_);
  std::string body;
  int attempts = 0;
  auto outcome = send("PATCH", workloadPath(workload), workload.describe(), patch, body, attempts,
                      nullptr, kStrategicMerge);
  if (outcome.error == ActuationError::kForbidden) {
    outcome.message +=
        " (RBAC must allow patch on " +
        std::string(workload.kind == "StatefulSet" ? "statefulsets" : "deployments") + ")";
  }
  return outcome;
}

}  // namespace fleetscale::aggregator
