#include "fleetscale/aggregator/kube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

// Finds the entry named `name` in a kubeconfig list (clusters, users, contexts) and returns its
// inner object (cluster, user, context).
YAML::Node findNamed(const YAML::Node& list, const std::string& name, const char* inner) {
  if (!list.IsSequence()) return YAML::Node();
  for (const auto& entry : list) {
    if (entry["name"] && entry["name"].as<std::string>() == name) return entry[inner];
  }
  return YAML::Node();
}

std::string scalar(const YAML::Node& node, const char* key) {
  const auto value = node[key];
  return value && value.IsScalar() ? value.Scalar() : "";
}

std::string resolvePath(const std::string& path, const std::string& baseDir) {
  if (path.empty() || path.front() == '/' || baseDir.empty()) return path;
  return (std::filesystem::path(baseDir) / path).string();
}

// clientcmd resolves an exec command only when it names a path; a bare name is for $PATH.
// filepath.Join cleans the result, hence lexically_normal.
std::string resolveCommand(const std::string& command, const std::string& baseDir) {
  if (command.find('/') == std::string::npos || command.front() == '/' || baseDir.empty()) {
    return command;
  }
  return (std::filesystem::path(baseDir) / command).lexically_normal().string();
}

// What the plugin learns of the cluster (client-go's rest.ConfigToExecCluster): the server as
// written, the CA as read, and the cluster's exec extension.
Result<ExecClusterInfo> execClusterInfo(const YAML::Node& cluster, const TlsClientOptions& tls) {
  ExecClusterInfo info;
  info.server = scalar(cluster, "server");
  info.certificateAuthorityPem = tls.caPem;
  info.insecureSkipTlsVerify = tls.insecureSkipVerify;
  info.tlsServerName = scalar(cluster, "tls-server-name");
  info.proxyUrl = scalar(cluster, "proxy-url");
  info.disableCompression = scalar(cluster, "disable-compression") == "true";
  const auto extensions = cluster["extensions"];
  if (!extensions || !extensions.IsSequence()) return info;
  for (const auto& entry : extensions) {
    if (!entry.IsMap() || scalar(entry, "name") != kExecClusterExtension) continue;
    const auto extension = entry["extension"];
    if (!extension || extension.IsNull()) return info;
    auto config = extensionJson(extension);
    if (!config) {
      return Error{"extensions[" + std::string(kExecClusterExtension) +
                   "]: " + config.error().message};
    }
    info.configJson = std::move(*config);
    return info;
  }
  return info;
}

// Inline "-data" (base64) wins over the file path, as in clientcmd.
Result<std::string> pemFrom(const YAML::Node& node, const char* fileKey, const std::string& dataKey,
                            const std::string& baseDir) {
  if (const std::string data = scalar(node, dataKey.c_str()); !data.empty()) {
    auto decoded = decodeBase64(data);
    if (!decoded) return Error{dataKey + ": " + decoded.error().message};
    return std::move(*decoded);
  }
  if (const std::string file = scalar(node, fileKey); !file.empty()) {
    auto text = readFile(resolvePath(file, baseDir));
    if (!text) return Error{std::string(fileKey) + ": " + text.error().message};
    return std::move(*text);
  }
  return std::string();
}

}  // namespace

Result<KubeCredentials> parseKubeconfig(std::string_view yaml, std::string_view context,
                                        const std::string& baseDir) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Error{"kubeconfig line " + std::to_string(e.mark.line + 1) + ": " + e.msg};
  }
  try {
    const std::string contextName =
        context.empty() ? scalar(root, "current-context") : std::string(context);
    if (contextName.empty()) return Error{"kubeconfig has no current-context; name a context"};
    const auto contextNode = findNamed(root["contexts"], contextName, "context");
    if (!contextNode) return Error{"kubeconfig has no context " + singleQuoted(contextName)};
    const std::string clusterName = scalar(contextNode, "cluster");
    const std::string userName = scalar(contextNode, "user");
    const auto cluster = findNamed(root["clusters"], clusterName, "cluster");
    if (!cluster)
      return Error{"kubeconfig context " + singleQuoted(contextName) + " names unknown cluster " +
                   singleQuoted(clusterName)};
    const auto user = userName.empty() ? YAML::Node() : findNamed(root["users"], userName, "user");
    if (!userName.empty() && !user)
      return Error{"kubeconfig has no user " + singleQuoted(userName)};

    KubeCredentials credentials;
    credentials.server = scalar(cluster, "server");
    while (!credentials.server.empty() && credentials.server.back() == '/')
      credentials.server.pop_back();
    if (credentials.server.empty())
      return Error{"kubeconfig cluster " + singleQuoted(clusterName) + " has no server"};
    credentials.tls.insecureSkipVerify = scalar(cluster, "insecure-skip-tls-verify") == "true";
    auto ca = pemFrom(cluster, "certificate-authority", "certificate-authority-data", baseDir);
    if (!ca) return ca.error();
    credentials.tls.caPem = std::move(*ca);
    if (user) {
      auto cert = pemFrom(user, "client-certificate", "client-certificate-data", baseDir);
      if (!cert) return cert.error();
      auto key = pemFrom(user, "client-key", "client-key-data", baseDir);
      if (!key) return key.error();
      if (cert->empty() != key->empty())
        return Error{"kubeconfig user " + singleQuoted(userName) +
                     " needs both a client certificate and key"};
      credentials.tls.clientCertPem = std::move(*cert);
      credentials.tls.clientKeyPem = std::move(*key);
      credentials.bearerToken = scalar(user, "token");
      const std::string tokenFile = scalar(user, "tokenFile");
      if (credentials.bearerToken.empty() && !tokenFile.empty()) {
        credentials.tokenFile = resolvePath(tokenFile, baseDir);
        auto token = readSecretFile(credentials.tokenFile);
        if (!token) return Error{"tokenFile: " + token.error().message};
        credentials.bearerToken = std::move(*token);
      }
      if (const auto exec = user["exec"]; exec && !exec.IsNull()) {
        auto config = parseExecConfig(exec);
        if (!config) {
          return Error{"kubeconfig user " + singleQuoted(userName) + ": " + config.error().message};
        }
        const bool staticCredentials = !credentials.bearerToken.empty() || !tokenFile.empty() ||
                                       !credentials.tls.clientCertPem.empty();
        if (!staticCredentials) {
          config->command = resolveCommand(config->command, baseDir);
          if (config->provideClusterInfo) {
            auto info = execClusterInfo(cluster, credentials.tls);
            if (!info) {
              return Error{"kubeconfig cluster " + singleQuoted(clusterName) + ": " +
                           info.error().message};
            }
            credentials.execCluster = std::move(*info);
          }
          credentials.exec = std::move(*config);
        }
      }
    }
    return credentials;
  } catch (const YAML::Exception& e) {
    return Error{"kubeconfig: " + e.msg};
  }
}

Result<KubeCredentials> resolveCredentials(const ClusterAccess& access, const EnvLookup& env,
                                           const std::string& serviceAccountDir) {
  switch (access.kind) {
    case ClusterAccess::Kind::kKubeconfig: {
      auto text = readFile(access.kubeconfig);
      if (!text) return text.error();
      auto credentials = parseKubeconfig(
          *text, access.context, std::filesystem::path(access.kubeconfig).parent_path().string());
      if (!credentials) return Error{access.kubeconfig + ": " + credentials.error().message};
      if (access.insecureSkipTlsVerify) {
        credentials->tls.insecureSkipVerify = true;
        // The plugin sees the connection as client-go would make it, override included.
        credentials->execCluster.insecureSkipTlsVerify =
            credentials->exec.has_value() && credentials->exec->provideClusterInfo;
      }
      return credentials;
    }
    case ClusterAccess::Kind::kServer: {
      KubeCredentials credentials;
      credentials.server = access.server;
      while (!credentials.server.empty() && credentials.server.back() == '/')
        credentials.server.pop_back();
      credentials.tls.caFile = access.caFile;
      credentials.tls.insecureSkipVerify = access.insecureSkipTlsVerify;
      auto token = readSecretFile(access.tokenFile);
      if (!token) return Error{"tokenFile: " + token.error().message};
      credentials.bearerToken = std::move(*token);
      credentials.tokenFile = access.tokenFile;
      return credentials;
    }
    case ClusterAccess::Kind::kInCluster: {
      const auto host = env("KUBERNETES_SERVICE_HOST");
      const auto port = env("KUBERNETES_SERVICE_PORT");
      if (!host || !port)
        return Error{"inCluster: KUBERNETES_SERVICE_HOST/PORT are not set (not running in a pod?)"};
      KubeCredentials credentials;
      const bool v6 = host->find(':') != std::string::npos;
      credentials.server = "https://" + (v6 ? "[" + *host + "]" : *host) + ":" + *port;
      credentials.tls.caFile = serviceAccountDir + "/ca.crt";
      // Projected ServiceAccount tokens are replaced about hourly: read the file as it changes.
      credentials.tokenFile = serviceAccountDir + "/token";
      auto token = readSecretFile(credentials.tokenFile);
      if (!token) return Error{"inCluster: " + token.error().message};
      credentials.bearerToken = std::move(*token);
      return credentials;
    }
    case ClusterAccess::Kind::kWebhook:
      break;
  }
  return Error{"a webhook cluster has no Kubernetes credentials"};
}

}  // namespace fleetscale::aggregator
