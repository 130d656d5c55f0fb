// Credentials for a cluster's Kubernetes API, from a kubeconfig file (as client-go's clientcmd
// reads it), a server URL with token and CA files, or the in-cluster ServiceAccount.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "fleetscale/aggregator/kube/exec_credential.h"
#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/shared/http_client.h"
#include "fleetscale/shared/options.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

struct KubeCredentials {
  std::string server;       // https://host:port, without a trailing slash
  TlsClientOptions tls;     // CA and optional client certificate
  std::string bearerToken;  // "" when authenticating by client certificate
  // A token in a file (tokenFile, a ServiceAccount's projected token): bearerToken holds what it
  // held at start-up, and a KubeHttpClient over a TokenFileSource (changingCredentials) sends
  // what it holds now instead.
  std::string tokenFile;
  // The user's credential plugin, whose output (parseExecCredential) supplies the token or client
  // certificate. nullopt also when the user has a token, tokenFile or client certificate too:
  // client-go then never runs the plugin (exec.Authenticator.UpdateTransportConfig), though the
  // exec settings must still be valid.
  std::optional<ExecConfig> exec;
  ExecClusterInfo execCluster;  // filled when exec->provideClusterInfo
};

// Parses kubeconfig text. `context` "" means current-context. Relative file paths are resolved
// against `baseDir` (the kubeconfig's directory), as clientcmd does. Supports
// certificate-authority(-data), client-certificate(-data), client-key(-data), token, tokenFile,
// insecure-skip-tls-verify, and exec plugins (exec_credential.h); a relative exec command that
// contains a '/' is resolved against `baseDir` too, one without is left for the $PATH lookup.
Result<KubeCredentials> parseKubeconfig(std::string_view yaml, std::string_view context,
                                        const std::string& baseDir);

// Resolves the credentials a cluster's access settings describe, reading the files they name.
// In-cluster: KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount token and CA under
// `serviceAccountDir` (default /var/run/secrets/kubernetes.io/serviceaccount).
Result<KubeCredentials> resolveCredentials(
    const ClusterAccess& access, const EnvLookup& env = processEnvironment,
    const std::string& serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace fleetscale::aggregator
