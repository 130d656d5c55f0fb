// An HttpClient that answers from a script, for tests of logic that talks HTTP (actuators, the
// retry loop) without a server. For the server side of a real exchange, see test_http_server.h.
#pragma once

#include <deque>
#include <vector>

#include "fleetscale/shared/http_client.h"

namespace fleetscale::testing {

// Not thread-safe: one caller at a time.
class ScriptedHttpClient final : public HttpClient {
 public:
  explicit ScriptedHttpClient(std::deque<Result<HttpClientResponse>> script);

  // The script's next answer; once it is used up, Error{"script exhausted"}.
  Result<HttpClientResponse> send(const HttpClientRequest& request) override;

  std::vector<HttpClientRequest> requests;  // every request sent, in order

 private:
  std::deque<Result<HttpClientResponse>> script_;
};

}  // namespace fleetscale::testing
