// Scales VM fleets (systemd services, containers under Docker/Podman) by POSTing the desired
// count to an operator-provided webhook. Request body (JSON):
//   {"cluster", "namespace", "kind", "name", "desiredReplicas", "decisionId", "reason",
//    "fencingToken"}
// with "Authorization: Bearer <token>" when a token is configured. A 2xx answer accepts it; the
// body may report {"currentReplicas": N}. Transport errors, 5xx and 429 are retried.
#pragma once

#include <memory>
#include <mutex>

#include "fleetscale/aggregator/actuation/actuator.h"
#include "fleetscale/shared/http_client.h"

namespace fleetscale::aggregator {

struct WebhookActuatorOptions {
  std::string url;
  std::string bearerToken;
  std::string cluster;
  std::chrono::milliseconds requestTimeout{std::chrono::seconds(10)};
  RetryPolicy retry;
};

class WebhookActuator final : public Actuator {
 public:
  WebhookActuator(std::unique_ptr<HttpClient> http, WebhookActuatorOptions options,
                  Sleeper sleeper = sleepFor);

  // A webhook cannot be asked for the current count; replicas come from the agents.
  ActuationOutcome getScale(const WorkloadKey& workload) override;
  ActuationOutcome setScale(const ScaleRequest& request) override;

 private:
  std::mutex mutex_;
  std::unique_ptr<HttpClient> http_;
  WebhookActuatorOptions options_;
  Sleeper sleeper_;
};

}  // namespace fleetscale::aggregator
