// Scales Deployments and StatefulSets through apps/v1 .../{name}/scale (autoscaling/v1 Scale):
// GET, then PUT with the read resourceVersion; a 409 re-reads and writes again.
#pragma once

#include <memory>
#include <mutex>

#include "fleetscale/aggregator/actuation/actuator.h"
#include "fleetscale/aggregator/kube/kubeconfig.h"
#include "fleetscale/shared/curl_http_client.h"

namespace fleetscale::aggregator {

// Every scale write carries the acting leader's term in this header (with leader election).
inline constexpr std::string_view kFencingTokenHeader = "X-Fleetscale-Fencing-Token";

struct KubernetesActuatorOptions {
  std::chrono::milliseconds connectTimeout{std::chrono::seconds(2)};
  std::chrono::milliseconds requestTimeout{std::chrono::seconds(5)};
  RetryPolicy retry;
  std::string userAgent;  // "fleetscale-aggregator/<version> <aggregator id>"; "" = curl's
};

class KubernetesActuator final : public Actuator {
 public:
  KubernetesActuator(std::unique_ptr<HttpClient> http, KubeCredentials credentials,
                     KubernetesActuatorOptions options = {}, Sleeper sleeper = sleepFor);

  ActuationOutcome getScale(const WorkloadKey& workload) override;
  ActuationOutcome setScale(const ScaleRequest& request) override;
  // GET autoscaling/v2 horizontalpodautoscalers and keda.sh/v1alpha1 scaledobjects; a 404 for
  // the latter is a cluster without KEDA (no ScaledObjects), not an error.
  bool listsAutoscalers() const override { return true; }
  AutoscalerListing listAutoscalers(const std::string& namespaceName) override;

  bool resizesPods() const override { return true; }
  ActuationOutcome getWorkload(const WorkloadKey& workload, std::string& body) override;
  ActuationOutcome listPods(const std::string& namespaceName, const std::string& selector,
                            std::string& body) override;
  ActuationOutcome resizePod(const std::string& namespaceName, const std::string& pod,
                             const std::string& patch) override;
  ActuationOutcome patchWorkload(const WorkloadKey& workload, const std::string& patch) override;

  // The Deployment's or StatefulSet's path: /apis/apps/v1/namespaces/{ns}/{resource}/{name}.
  static std::string workloadPath(const WorkloadKey& workload);
  // The scale subresource's path:
  // /apis/apps/v1/namespaces/{ns}/{deployments|statefulsets}/{name}/scale.
  static std::string scalePath(const WorkloadKey& workload);

 private:
  // One request to `path` with transient-failure retries; counts attempts. A `write` is fenced
  // and carries its fencing token. `what` names the object in messages.
  ActuationOutcome send(const std::string& method, const std::string& path, const std::string& what,
                        const std::string& body, std::string& responseBody, int& attempts,
                        const ScaleRequest* write = nullptr,
                        std::string_view contentType = "application/json");
  // send() for the workload's scale subresource, with the RBAC it needs in a 403's message.
  ActuationOutcome sendScale(const std::string& method, const WorkloadKey& workload,
                             const std::string& body, std::string& responseBody, int& attempts,
                             const ScaleRequest* write = nullptr);
  // --take-over-hpa: makes `autoscaler` hold request.replicas (pinAutoscaler): GET, then PUT with
  // the read resourceVersion; a 409 reads again.
  ActuationOutcome pin(const ForeignAutoscaler& autoscaler, const ScaleRequest& request,
                       int& attempts);
  static std::string autoscalerPath(const ForeignAutoscaler& autoscaler);

  // A GET of `path` with the same headers and retries as scale requests.
  ActuationOutcome get(const std::string& path, const std::string& what, std::string& body);

  std::mutex mutex_;  // CurlHttpClient is single-threaded
  std::unique_ptr<HttpClient> http_;
  KubeCredentials credentials_;
  KubernetesActuatorOptions options_;
  Sleeper sleeper_;
};

}  // namespace fleetscale::aggregator
