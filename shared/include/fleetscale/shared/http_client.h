// The HTTP client interface. Logic that talks HTTP (kubelet metadata, Kubernetes API actuator,
// webhooks) takes an HttpClient& so tests can hand it a fake or point it at a real test server.
// Implementations: CurlHttpClient (curl_http_client.h, the aggregator) and AsioHttpClient
// (asio_http_client.h, the agent).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fleetscale/shared/result.h"

namespace fleetscale {

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds connectTimeout{std::chrono::seconds(2)};
  std::chrono::milliseconds totalTimeout{std::chrono::seconds(5)};
  // Responses larger than this are an error, so a broken peer cannot exhaust memory.
  std::size_t maxResponseBytes = 64 * 1024 * 1024;
  // When set, connect to this unix socket instead of the URL's host (Docker and Podman APIs);
  // the URL still gives the path ("http://localhost/containers/json").
  std::string unixSocketPath;
};

struct HttpClientResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// Error::code of the transport failures a caller may tell apart (negative: errno values are not).
inline constexpr int kHttpTimedOut = -1;
inline constexpr int kHttpTooLarge = -2;
// Set by CurlHttpClient, so a caller can say what to fix: the server's certificate did not verify
// (unknown CA, a name it was not issued for, expired)...
inline constexpr int kHttpTlsVerifyFailed = -3;
// ...another TLS failure (the handshake: a peer that does not speak TLS, a refused or unusable
// client certificate; a CA, certificate or key file that cannot be used)...
inline constexpr int kHttpTlsFailed = -4;
// ...or a connection closed without an HTTP answer, or with one that is not HTTP (such as a TLS
// server's alert to a plain-HTTP request).
inline constexpr int kHttpNoAnswer = -5;

// Transport failures (DNS, connect, TLS, timeout, oversize) are Errors; any HTTP status,
// including 4xx/5xx, is a successful Result the caller interprets.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<HttpClientResponse> send(const HttpClientRequest& request) = 0;
};

struct TlsClientOptions {
  std::string caFile;          // verify the server against this CA bundle; "" = system CAs
  std::string clientCertFile;  // PEM client certificate for mutual TLS; "" = none
  std::string clientKeyFile;
  std::string caPem;          // inline CA (PEM), used when caFile is empty
  std::string clientCertPem;  // inline client certificate and key (PEM)
  std::string clientKeyPem;
  bool insecureSkipVerify = false;  // labs only; callers warn at startup
};

}  // namespace fleetscale
