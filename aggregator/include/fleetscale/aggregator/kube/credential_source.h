// Credentials that change while the aggregator runs: token files that the kubelet rotates
// (projected ServiceAccount tokens, about hourly) and kubeconfig `exec` plugins (aws eks
// get-token, gke-gcloud-auth-plugin, kubelogin) whose answers expire. A CredentialSource gives
// what to authenticate with now; KubeHttpClient (kube_http_client.h) asks it for every request
// and tells it when the API server answered 401.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/aggregator/kube/exec_credential.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/log_throttle.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

struct Credential {
  std::string bearerToken;  // "" when the client certificate authenticates
  std::string clientCertPem;
  std::string clientKeyPem;
};

// Thread-safe: every HTTP client of a cluster (actuator, prober, lease) may share one.
class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // The credential to send now; an error names what failed (never the secret).
  virtual Result<Credential> current() = 0;
  // The API server refused `rejected` (401): a cached credential is not used again.
  virtual void rejected(const Credential& rejected) = 0;
};

// A bearer token in a file, re-read when the file changes (its modification time or size), so
// a rotated token is used from the next request on.
class TokenFileSource final : public CredentialSource {
 public:
  explicit TokenFileSource(std::string path) : path_(std::move(path)) {}
  Result<Credential> current() override;
  void rejected(const Credential& rejected) override;

 private:
  std::string path_;
  std::mutex mutex_;
  std::optional<std::string> token_;
  std::int64_t modifiedNs_ = 0;
  std::uintmax_t size_ = 0;
};

// What running a plugin gave.
struct ExecOutcome {
  int exitCode = -1;  // -1: killed (timeout, output too large) or not started
  std::string output;
  std::string errors;     // stderr, cut to a few KiB
  bool notFound = false;  // the command does not exist
  bool timedOut = false;
};

// Runs `command` with `args` and the extra environment, stdin from /dev/null, for at most
// `timeout`; stdout is read up to `maxOutputBytes` (the plugin is killed beyond).
using ExecRunner =
    std::function<ExecOutcome(const std::string& command, const std::vector<std::string>& args,
                              const std::vector<std::pair<std::string, std::string>>& env,
                              std::chrono::milliseconds timeout, std::size_t maxOutputBytes)>;
// The real runner: posix_spawnp, the aggregator's environment plus `env`.
ExecOutcome runExecPlugin(const std::string& command, const std::vector<std::string>& args,
                          const std::vector<std::pair<std::string, std::string>>& env,
                          std::chrono::milliseconds timeout, std::size_t maxOutputBytes);

// A kubeconfig user's `exec` plugin, run as client-go runs it: KUBERNETES_EXEC_INFO in its
// environment, never interactive. Its answer is cached until its expirationTimestamp (forever
// without one) or until the API server answers 401. A plugin that fails or hangs is an error for
// this cluster only, retried no more often than every `retryAfterFailure` (doubling to 16x while
// it keeps failing), and logged at most once a minute.
class ExecCredentialSource final : public CredentialSource {
 public:
  struct Options {
    std::chrono::milliseconds timeout{std::chrono::seconds(30)};
    std::chrono::milliseconds retryAfterFailure{std::chrono::seconds(1)};
    std::size_t maxOutputBytes = 1024 * 1024;
  };
  ExecCredentialSource(ExecConfig config, std::optional<ExecClusterInfo> cluster,
                       std::string clusterName, const Clock& clock, Options options,
                       ExecRunner runner = runExecPlugin);
  Result<Credential> current() override;
  void rejected(const Credential& rejected) override;

  std::uint64_t runs() const;

 private:
  Result<ExecCredential> run();

  ExecConfig config_;
  std::optional<ExecClusterInfo> cluster_;
  std::string clusterName_;
  const Clock& clock_;
  Options options_;
  ExecRunner runner_;
  mutable std::mutex mutex_;
  std::optional<ExecCredential> cached_;
  std::optional<Error> lastError_;
  std::optional<SteadyTime> retryAt_;
  int failures_ = 0;
  std::uint64_t runs_ = 0;
  LogThrottle failureLog_;
};

}  // namespace fleetscale::aggregator
