#include "fleetscale/testing/scripted_http_client.h"

namespace fleetscale::testing {

ScriptedHttpClient::ScriptedHttpClient(std::deque<Result<HttpClientResponse>> script)
    : script_(std::move(script)) {}

Result<HttpClientResponse> ScriptedHttpClient::send(const HttpClientRequest& request) {
  requests.push_back(request);
  if (script_.empty()) return Error{"script exhausted"};
  auto next = std::move(script_.front());
  script_.pop_front();
  return next;
}

}  // namespace fleetscale::testing
