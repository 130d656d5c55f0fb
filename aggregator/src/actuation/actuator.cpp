#include "fleetscale/aggregator/actuation/actuator.h"

#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "fleetscale/aggregator/kube/status.h"
#include "fleetscale/shared/http_client.h"

namespace fleetscale::aggregator {

std::string_view actuationErrorName(ActuationError error) {
  switch (error) {
    case ActuationError::kNone:
      return "none";
    case ActuationError::kTransport:
      return "transport";
    case ActuationError::kServerError:
      return "server_error";
    case ActuationError::kConflict:
      return "conflict";
    case ActuationError::kUnauthorized:
      return "unauthorized";
    case ActuationError::kForbidden:
      return "forbidden";
    case ActuationError::kNotFound:
      return "not_found";
    case ActuationError::kInvalidResponse:
      return "invalid_response";
    case ActuationError::kRejected:
      return "rejected";
    case ActuationError::kUnsupported:
      return "unsupported";
    case ActuationError::kFenced:
      return "fenced";
  }
  return "unknown";
}

namespace {

ActuationOutcome unsupported(const std::string& what) {
  ActuationOutcome outcome;
  outcome.error = ActuationError::kUnsupported;
  outcome.message = what + ": this cluster's actuator does not reach pods (a webhook cluster)";
  return outcome;
}

}  // namespace

ActuationOutcome Actuator::getWorkload(const WorkloadKey& workload, std::string& body) {
  (void)body;
  return unsupported("GET " + workload.describe());
}

ActuationOutcome Actuator::listPods(const std::string& namespaceName, const std::string& selector,
                                    std::string& body) {
  (void)selector;
  (void)body;
  return unsupported("list pods in namespace " + namespaceName);
}

ActuationOutcome Actuator::resizePod(const std::string& namespaceName, const std::string& pod,
                                     const std::string& patch) {
  (void)patch;
  return unsupported("resize pod " + namespaceName + "/" + pod);
}

ActuationOutcome Actuator::patchWorkload(const WorkloadKey& workload, const std::string& patch) {
  (void)patch;
  return unsupported("patch " + workload.describe());
}

void sleepFor(std::chrono::milliseconds duration) { std::this_thread::sleep_for(duration); }

ActuationOutcome sendWithRetries(HttpClient& http, const HttpClientRequest& request,
                                 const RetryPolicy& retry, const Sleeper& sleeper,
                                 const std::string& what, std::string& responseBody,
                                 const ScaleRequest* fence) {
  thread_local std::mt19937 random(std::random_device{}());
  auto backoff = retry.initialBackoff;
  ActuationOutcome outcome;
  for (int attempt = 1;; ++attempt) {
    outcome = ActuationOutcome{};
    outcome.attempts = attempt;
    if (fence != nullptr && fence->stillLeader && !fence->stillLeader(request.totalTimeout)) {
      outcome.error = ActuationError::kFenced;
      outcome.message = what + ": not sent: this aggregator is no longer the leader of term " +
                        std::to_string(fence->fencingToken);
      outcome.attempts = attempt - 1;
      return outcome;
    }
    auto response = http.send(request);
    if (!response) {
      outcome.error = ActuationError::kTransport;
      outcome.message = what + ": " + response.error().message;
    } else {
      const long code = response->status;
      responseBody = response->body;
      if (code >= 200 && code < 300) return outcome;
      outcome.message =
          what + ": HTTP " + std::to_string(code) + ": " + errorDetail(response->body);
      switch (code) {
        case 401:
          outcome.error = ActuationError::kUnauthorized;
          return outcome;
        case 403:
          outcome.error = ActuationError::kForbidden;
          return outcome;
        case 404:
          outcome.error = ActuationError::kNotFound;
          return outcome;
        case 409:
          outcome.error = ActuationError::kConflict;
          return outcome;
        case 422:
          outcome.error = ActuationError::kRejected;
          return outcome;
        default:
          break;
      }
      if (code < 500 && code != 429) {
        outcome.error = ActuationError::kInvalidResponse;
        return outcome;
      }
      outcome.error = ActuationError::kServerError;
    }
    if (attempt >= retry.maxAttempts) return outcome;
    // Full jitter keeps many aggregators' retries from arriving together.
    std::uniform_int_distribution<long> pick(0, backoff.count());
    sleeper(std::chrono::milliseconds(pick(random)));
    backoff = std::min(backoff * 2, retry.maxBackoff);
  }
}

}  // namespace fleetscale::aggregator
