// The aggregator's exec credential plugins: what the simulator writes so that a cluster is
// reached only through a client.authentication.k8s.io/v1 ExecCredential plugin, as client-go
// runs them (the kubeconfig's `exec` block, KUBERNETES_EXEC_INFO in the environment, the
// credential JSON on stdout). The plugin is a POSIX sh script that prints a credential file the
// simulator keeps current (and replaces atomically when an expiring token rotates), so what it
// prints is decided in process and the script stays trivial. docs/simulator.md, "The
// aggregator's credentials". Pure text; the simulator does the writing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fleetscale/shared/clock.h"

namespace fleetscale::sim {

inline constexpr std::string_view kExecCredentialApiVersion = "client.authentication.k8s.io/v1";
// Set by the kubeconfig's exec.env to the cluster's name; the plugin fails when it is not, so a
// client that drops exec.env is caught.
inline constexpr std::string_view kExecClusterEnv = "FLEETSCALE_SIM_CLUSTER";
// The plugin's arguments are {kExecCredentialFileFlag, <file>}, from the kubeconfig's exec.args.
inline constexpr std::string_view kExecCredentialFileFlag = "--credential-file";

// The plugin script for one cluster. It fails (exit 1, the reason on stderr) unless
// KUBERNETES_EXEC_INFO holds a client.authentication.k8s.io/v1 ExecCredential, kExecClusterEnv
// names `cluster` (a DNS label) and its arguments are `--credential-file FILE`; otherwise it
// prints FILE.
std::string execPluginScript(std::string_view cluster);

// ExecCredential answers (one line of JSON). A token, with its expiry when it has one.
std::string execTokenCredentialJson(const std::string& token,
                                    std::optional<WallTime> expiry = std::nullopt);
// A client certificate and its key, PEM (newlines escaped as JSON requires).
std::string execCertificateCredentialJson(const std::string& certificatePem,
                                          const std::string& keyPem);

// RFC 3339 in UTC to the second, as client-go writes an ExecCredential's expirationTimestamp
// ("2026-11-27T12:00:05Z"); sub-second parts are dropped.
std::string rfc3339Seconds(WallTime time);

struct ExecPlugin {
  std::string command;  // absolute path of the plugin
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // name, value
  std::string installHint;
};

// The kubeconfig `user:` body that runs `plugin` (indented to sit under "  user:\n").
std::string execUserYaml(const ExecPlugin& plugin);
// The kubeconfig `user:` body with a bearer token.
std::string tokenUserYaml(const std::string& token);

}  // namespace fleetscale::sim
