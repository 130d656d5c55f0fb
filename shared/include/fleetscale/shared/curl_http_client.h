// The libcurl HttpClient, for the aggregator (Kubernetes APIs, webhooks) and the test tools.
// A separate library (fleetscale::curl_http) so the agent does not load libcurl.
#pragma once

#include "fleetscale/shared/http_client.h"

namespace fleetscale {

// One reused curl easy handle (keep-alive). Not thread-safe: one client per thread or user.
class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(TlsClientOptions tls = {});
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  Result<HttpClientResponse> send(const HttpClientRequest& request) override;

 private:
  TlsClientOptions tls_;
  void* curl_;  // CURL*, kept opaque so users need not include curl.h
};

}  // namespace fleetscale
