// An HttpClient on Boost.Asio/Beast and OpenSSL: what the agent uses for the kubelet and the
// Docker/Podman APIs. The agent already links Asio and OpenSSL for its stream; libcurl's Debian
// build would add GnuTLS, LDAP and Kerberos to every node's memory (about 6 MiB of RSS).
#pragma once

#include "fleetscale/shared/http_client.h"

namespace fleetscale {

// One connection per request (the agent asks every few seconds). http:// and https:// URLs, or
// a unix socket (request.unixSocketPath). HTTP/1.1; chunked and length-delimited bodies. The
// server's certificate is verified against the CA and the URL's host name or IP address unless
// insecureSkipVerify. totalTimeout bounds the whole exchange, connectTimeout the connection.
// Thread-safe: no state is shared between calls.
class AsioHttpClient final : public HttpClient {
 public:
  explicit AsioHttpClient(TlsClientOptions tls = {});

  Result<HttpClientResponse> send(const HttpClientRequest& request) override;

 private:
  TlsClientOptions tls_;
};

}  // namespace fleetscale
