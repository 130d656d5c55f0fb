// An HttpClient for one cluster's API that authenticates every request with what its
// CredentialSource gives now: a bearer token, or a client certificate (a new TLS client when the
// certificate changes). A 401 tells the source, which drops that credential, and the request is
// sent once more with the next one, as client-go's exec authenticator does.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "fleetscale/aggregator/kube/credential_source.h"
#include "fleetscale/aggregator/kube/kubeconfig.h"
#include "fleetscale/shared/http_client.h"

namespace fleetscale::aggregator {

// Makes the transport for TLS settings (CurlHttpClient in the aggregator, a fake in tests).
using HttpClientFactory = std::function<std::unique_ptr<HttpClient>(const TlsClientOptions&)>;

// Thread-safe when the transports are.
class KubeHttpClient final : public HttpClient {
 public:
  KubeHttpClient(TlsClientOptions tls, std::shared_ptr<CredentialSource> source,
                 HttpClientFactory factory);
  Result<HttpClientResponse> send(const HttpClientRequest& request) override;

 private:
  // The transport for `credential`'s client certificate.
  std::shared_ptr<HttpClient> transportFor(const Credential& credential);

  TlsClientOptions tls_;
  std::shared_ptr<CredentialSource> source_;
  HttpClientFactory factory_;
  std::mutex mutex_;
  std::shared_ptr<HttpClient> transport_;
  std::string transportCertPem_;
};

// The credentials of `credentials` that change while the aggregator runs: its exec plugin's or
// its token file's. Null for static ones (a token or certificate in the kubeconfig), which the
// transport and the caller's Authorization header carry as before.
std::shared_ptr<CredentialSource> changingCredentials(const KubeCredentials& credentials,
                                                      const std::string& clusterName,
                                                      const Clock& clock);

// A cluster's API client: a KubeHttpClient over `source` when there is one, else the plain
// transport for the credentials' TLS settings.
std::unique_ptr<HttpClient> makeClusterHttpClient(const KubeCredentials& credentials,
                                                  std::shared_ptr<CredentialSource> source,
                                                  const HttpClientFactory& factory);

}  // namespace fleetscale::aggregator
