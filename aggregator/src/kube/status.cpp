#include "fleetscale/aggregator/kube/status.h"

#include <nlohmann/json.hpp>

namespace fleetscale::aggregator {

// Kubernetes answers errors with a Status object; its message says what was wrong. Other
// servers' bodies are shown as they are, shortened.
std::string errorDetail(const std::string& body) {
  const auto status = nlohmann::json::parse(body, nullptr, false);
  if (status.is_object() && status.contains("message") && status["message"].is_string()) {
    return status["message"].get<std::string>();
  }
  return body.substr(0, 200);
}

}  // namespace fleetscale::aggregator
