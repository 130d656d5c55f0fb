#include "fleetscale/testing/http.h"

#include "fleetscale/shared/curl_http_client.h"

namespace fleetscale::testing {

HttpResult httpGet(const std::string& url) {
  CurlHttpClient client;
  HttpClientRequest request;
  request.url = url;
  auto response = client.send(request);
  if (!response) return {};
  return HttpResult{response->status, response->body};
}

nlohmann::json httpGetJson(const std::string& url) {
  const auto result = httpGet(url);
  if (result.status != 200) return nullptr;
  return nlohmann::json::parse(result.body, nullptr, false);
}

}  // namespace fleetscale::testing
