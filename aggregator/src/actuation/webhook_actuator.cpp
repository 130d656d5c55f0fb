#include "fleetscale/aggregator/actuation/webhook_actuator.h"

#include <nlohmann/json.hpp>

namespace fleetscale::aggregator {

WebhookActuator::WebhookActuator(std::unique_ptr<HttpClient> http, WebhookActuatorOptions options,
                                 Sleeper sleeper)
    : http_(std::move(http)), options_(std::move(options)), sleeper_(std::move(sleeper)) {}

ActuationOutcome WebhookActuator::getScale(const WorkloadKey& workload) {
  ActuationOutcome outcome;
  outcome.error = ActuationError::kUnsupported;
  outcome.message = "webhook for " + workload.describe() + " cannot report the current count";
  return outcome;
}

ActuationOutcome WebhookActuator::setScale(const ScaleRequest& request) {
  std::lock_guard lock(mutex_);
  HttpClientRequest http;
  http.method = "POST";
  http.url = options_.url;
  http.totalTimeout = options_.requestTimeout;
  http.headers.emplace_back("Content-Type", "application/json");
  if (!options_.bearerToken.empty())
    http.headers.emplace_back("Authorization", "Bearer " + options_.bearerToken);
  http.body = nlohmann::json{{"cluster", options_.cluster},
                             {"namespace", request.workload.namespaceName},
                             {"kind", request.workload.kind},
                             {"name", request.workload.name},
                             {"desiredReplicas", request.replicas},
                             {"decisionId", request.decisionId},
                             {"reason", request.reason},
                             {"fencingToken", request.fencingToken}}
                  .dump();
  std::string body;
  auto outcome = sendWithRetries(*http_, http, options_.retry, sleeper_, "webhook " + options_.url,
                                 body, &request);
  if (!outcome.ok()) return outcome;
  outcome.status.specReplicas = request.replicas;
  const auto answer = nlohmann::json::parse(body, nullptr, false);
  if (answer.is_object() && answer.contains("currentReplicas") &&
      answer["currentReplicas"].is_number_integer()) {
    outcome.status.statusReplicas = answer["currentReplicas"].get<std::int32_t>();
  }
  return outcome;
}

}  // namespace fleetscale::aggregator
