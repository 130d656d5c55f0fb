#include "fleetscale/aggregator/kube/kube_http_client.h"

#include <algorithm>
#include <cctype>

namespace fleetscale::aggregator {

KubeHttpClient::KubeHttpClient(TlsClientOptions tls, std::shared_ptr<CredentialSource> source,
                               HttpClientFactory factory)
    : tls_(std::move(tls)), source_(std::move(source)), factory_(std::move(factory)) {}

std::shared_ptr<HttpClient> KubeHttpClient::transportFor(const Credential& credential) {
  std::lock_guard lock(mutex_);
  if (!transport_ || transportCertPem_ != credential.clientCertPem) {
    TlsClientOptions tls = tls_;
    if (!credential.clientCertPem.empty()) {
      tls.clientCertFile.clear();
      tls.clientKeyFile.clear();
      tls.clientCertPem = credential.clientCertPem;
      tls.clientKeyPem = credential.clientKeyPem;
    }
    transport_ = factory_(tls);
    transportCertPem_ = credential.clientCertPem;
  }
  return transport_;
}

Result<HttpClientResponse> KubeHttpClient::send(const HttpClientRequest& request) {
  Result<HttpClientResponse> response = Error{"not sent"};
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto credential = source_->current();
    if (!credential) return Error{"credentials: " + credential.error().message};
    HttpClientRequest authenticated = request;
    // The source is the authority: a caller's header (a token read at start-up) gives way.
    std::erase_if(authenticated.headers, [](const auto& header) {
      std::string name = header.first;
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return name == "authorization";
    });
    if (!credential->bearerToken.empty()) {
      authenticated.headers.emplace_back("Authorization", "Bearer " + credential->bearerToken);
    }
    response = transportFor(*credential)->send(authenticated);
    if (!response || response->status != 401) return response;
    source_->rejected(*credential);
  }
  return response;
}

std::shared_ptr<CredentialSource> changingCredentials(const KubeCredentials& credentials,
                                                      const std::string& clusterName,
                                                      const Clock& clock) {
  if (credentials.exec) {
    std::optional<ExecClusterInfo> cluster;
    if (credentials.exec->provideClusterInfo) cluster = credentials.execCluster;
    return std::make_shared<ExecCredentialSource>(
        *credentials.exec, std::move(cluster), clusterName, clock, ExecCredentialSource::Options{});
  }
  if (!credentials.tokenFile.empty()) {
    return std::make_shared<TokenFileSource>(credentials.tokenFile);
  }
  return nullptr;
}

std::unique_ptr<HttpClient> makeClusterHttpClient(const KubeCredentials& credentials,
                                                  std::shared_ptr<CredentialSource> source,
                                                  const HttpClientFactory& factory) {
  if (!source) return factory(credentials.tls);
  return std::make_unique<KubeHttpClient>(credentials.tls, std::move(source), factory);
}

}  // namespace fleetscale::aggregator
