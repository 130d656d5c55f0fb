// Credentials for a cluster's Kubernetes API, from a kubeconfig file (as client-go's clientcmd
// reads it), a server URL with token and CA files, or the in-cluster ServiceAccount.
#pragma once

#include <string>
#include <string_view>

#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/shared/http_client.h"
#include "fleetscale/shared/options.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

struct KubeCredentials {
  std::string server;       // https://host:port, without a trailing slash
  TlsClientOptions tls;     // CA and optional client certificate
  std::string bearerToken;  // "" when authenticating by client certificate
};

// Parses kubeconfig text. `context` "" means current-context. Relative file paths are resolved
// against `baseDir` (the kubeconfig's directory), as clientcmd does. Supports
// certificate-authority(-data), client-certificate(-data), client-key(-data), token, tokenFile,
// insecure-skip-tls-verify.
Result<KubeCredentials> parseKubeconfig(std::string_view yaml, std::string_view context,
                                        const std::string& baseDir);

// Resolves the credentials a cluster's access settings describe, reading the files they name.
// In-cluster: KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount token and CA under
// `serviceAccountDir` (default /var/run/secrets/kubernetes.io/serviceaccount).
Result<KubeCredentials> resolveCredentials(
    const ClusterAccess& access, const EnvLookup& env = processEnvironment,
    const std::string& serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace fleetscale::aggregator
