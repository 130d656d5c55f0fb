// HTTP helpers for tests that talk to a running server.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace fleetscale::testing {

struct HttpResult {
  long status = 0;  // 0 when the request failed at the transport level
  std::string body;
};

HttpResult httpGet(const std::string& url);
// GET and parse JSON; returns null json when the request fails or the body is not JSON.
nlohmann::json httpGetJson(const std::string& url);

}  // namespace fleetscale::testing
