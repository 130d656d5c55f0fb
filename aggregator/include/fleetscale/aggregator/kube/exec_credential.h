// The pure half of client-go's exec credential plugins (client.authentication.k8s.io v1 and
// v1beta1): the kubeconfig's `exec` settings, the KUBERNETES_EXEC_INFO value handed to the plugin,
// and the ExecCredential the plugin prints. Running the plugin and caching what it returns live
// elsewhere. Semantics follow client-go's plugin/pkg/client/auth/exec/exec.go and clientcmd.
// Thread-safety: free functions without shared state.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/result.h"

// yaml-cpp's, declared rather than included: only parseExecConfig's callers need its headers.
namespace YAML {  // NOLINT(readability-identifier-naming)
class Node;
}  // namespace YAML

namespace fleetscale::aggregator {

inline constexpr std::string_view kExecApiV1 = "client.authentication.k8s.io/v1";
inline constexpr std::string_view kExecApiV1beta1 = "client.authentication.k8s.io/v1beta1";
// The name of the cluster extension whose value the plugin receives as spec.cluster.config.
inline constexpr std::string_view kExecClusterExtension = "client.authentication.k8s.io/exec";

// users[].user.exec of a kubeconfig.
struct ExecConfig {
  std::string apiVersion;  // kExecApiV1 or kExecApiV1beta1 (v1alpha1 is refused as removed)
  // As written; parseKubeconfig resolves a relative path containing '/' against the kubeconfig's
  // directory. Without a '/', the runner looks it up in $PATH.
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to the plugin's environment
  // Shown when the command is not found. Control characters other than \t..\r are replaced with
  // U+XXXX, as clientcmd does, so a kubeconfig cannot send escape sequences to a terminal.
  std::string installHint;
  bool provideClusterInfo = false;
  // Never or IfAvailable: required for v1, IfAvailable by default for v1beta1. Always is refused:
  // it needs a terminal on stdin, which the aggregator never has (client-go would fail every run).
  std::string interactiveMode;
};

// What KUBERNETES_EXEC_INFO carries for the cluster when provideClusterInfo (spec.cluster).
struct ExecClusterInfo {
  std::string server;                   // as the kubeconfig writes it
  std::string certificateAuthorityPem;  // sent base64-encoded as certificate-authority-data
  bool insecureSkipTlsVerify = false;
  std::string tlsServerName;
  std::string proxyUrl;
  bool disableCompression = false;
  // The cluster's extensions[kExecClusterExtension] as compact JSON; "" = none (sent as null).
  std::string configJson;
};

struct ExecCredential {
  std::string token;  // "" when the plugin returned only a client certificate
  std::string clientCertificatePem;
  std::string clientKeyPem;
  // nullopt: no expirationTimestamp (or Go's zero time, which client-go also treats as none): the
  // credential is kept until a request is refused with 401. Times outside what WallTime holds
  // (years 1678 to 2262) saturate to WallTime::min()/max().
  std::optional<WallTime> expiresAt;
};

// Parses a kubeconfig user's `exec` node; errors name the field ("exec.apiVersion: ...").
// Unknown keys are ignored, as clientcmd's decoder does.
Result<ExecConfig> parseExecConfig(const YAML::Node& exec);

// The value of a cluster extension as the compact JSON client-go passes on (object keys sorted,
// YAML 1.1 plain scalars resolved to numbers, booleans and null as go-yaml resolves them).
Result<std::string> extensionJson(const YAML::Node& extension);

// The KUBERNETES_EXEC_INFO value client-go sets, byte for byte (Go's encoding/json: key order of
// the Go structs, HTML-safe escapes, trailing newline):
// {"kind":"ExecCredential","apiVersion":..,"spec":{["cluster":{...},]"interactive":false}}
// `cluster` is sent only when config.provideClusterInfo; the aggregator never runs plugins
// interactively.
std::string execInfoJson(const ExecConfig& config, const ExecClusterInfo* cluster);

// Output beyond this is refused unread; a real credential is a few kilobytes.
inline constexpr std::size_t kMaxExecCredentialBytes = 1 << 20;

// Parses the plugin's stdout as client-go does: JSON when it starts with '{' (after whitespace),
// YAML otherwise; an ExecCredential of exactly `apiVersion` (a missing kind defaults to
// ExecCredential, as in client-go); status present; a token, a client certificate and key, or
// both (client-go sends the token and presents the certificate); certificate and key together
// or not at all, each a PEM block of the right type; expirationTimestamp as Go's RFC 3339.
// Errors are single lines that never quote the token, certificate or key.
Result<ExecCredential> parseExecCredential(std::string_view output, std::string_view apiVersion);

}  // namespace fleetscale::aggregator
