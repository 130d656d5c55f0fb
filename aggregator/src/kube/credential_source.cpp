#include "fleetscale/aggregator/kube/credential_source.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/text.h"

extern char** environ;

namespace fleetscale::aggregator {
namespace {

constexpr std::size_t kMaxErrorBytes = 4096;

// The plugin's stderr, one line for an error message.
std::string oneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return std::string(trim(text));
}

}  // namespace

Result<Credential> TokenFileSource::current() {
  struct stat info {};
  std::lock_guard lock(mutex_);
  if (::stat(path_.c_str(), &info) != 0) {
    // A token read before goes on being used while the file is briefly away (an atomic
    // rename by the kubelet); a file never read is an error.
    if (token_) return Credential{*token_, {}, {}};
    return Error{"token file " + path_ + ": " + std::strerror(errno)};
  }
  const std::int64_t modified =
      static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
  if (!token_ || modified != modifiedNs_ || static_cast<std::uintmax_t>(info.st_size) != size_) {
    auto token = readSecretFile(path_);
    if (!token) {
      if (token_) return Credential{*token_, {}, {}};
      return Error{"token file: " + token.error().message};
    }
    token_ = std::move(*token);
    modifiedNs_ = modified;
    size_ = static_cast<std::uintmax_t>(info.st_size);
  }
  return Credential{*token_, {}, {}};
}

void TokenFileSource::rejected(const Credential&) {
  // Read the file again on the next request, in case it was rewritten within one mtime tick.
  std::lock_guard lock(mutex_);
  modifiedNs_ = 0;
}

ExecOutcome runExecPlugin(const std::string& command, const std::vector<std::string>& args,
                          const std::vector<std::pair<std::string, std::string>>& env,
                          std::chrono::milliseconds timeout, std::size_t maxOutputBytes) {
  ExecOutcome outcome;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return outcome;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return outcome;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  // The environment: ours, with the plugin's variables replacing ours of the same name.
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::string_view name = text.substr(0, text.find('='));
    const bool replaced =
        std::any_of(env.begin(), env.end(), [&](const auto& pair) { return pair.first == name; });
    if (!replaced) environment.emplace_back(text);
  }
  for (const auto& [name, value] : env) environment.push_back(name + "=" + value);
  std::vector<char*> envp, argv;
  for (auto& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string program = command;
  std::vector<std::string> arguments = args;
  argv.push_back(program.data());
  for (auto& arg : arguments) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned =
      ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  if (spawned != 0) {
    outcome.notFound = spawned == ENOENT;
    outcome.errors = std::strerror(spawned);
    ::close(out[0]);
    ::close(err[0]);
    return outcome;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  bool killed = false;
  char buffer[16384];
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      outcome.timedOut = true;
      killed = true;
      break;
    }
    const int ready = ::poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof(buffer));
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        continue;
      }
      std::string& sink = i == 0 ? outcome.output : outcome.errors;
      const std::size_t cap = i == 0 ? maxOutputBytes + 1 : kMaxErrorBytes;
      sink.append(buffer, std::min(static_cast<std::size_t>(n), cap - std::min(cap, sink.size())));
    }
    if (outcome.output.size() > maxOutputBytes) {
      killed = true;
      break;
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  if (killed) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!killed && WIFEXITED(status)) outcome.exitCode = WEXITSTATUS(status);
  return outcome;
}

ExecCredentialSource::ExecCredentialSource(ExecConfig config,
                                           std::optional<ExecClusterInfo> cluster,
                                           std::string clusterName, const Clock& clock,
                                           Options options, ExecRunner runner)
    : config_(std::move(config)),
      cluster_(std::move(cluster)),
      clusterName_(std::move(clusterName)),
      clock_(clock),
      options_(options),
      runner_(std::move(runner)),
      failureLog_(clock, std::chrono::minutes(1)) {}

Result<ExecCredential> ExecCredentialSource::run() {
  ++runs_;
  auto env = config_.env;
  env.emplace_back("KUBERNETES_EXEC_INFO", execInfoJson(config_, cluster_ ? &*cluster_ : nullptr));
  const ExecOutcome outcome =
      runner_(config_.command, config_.args, env, options_.timeout, options_.maxOutputBytes);
  const std::string what = "exec plugin " + singleQuoted(config_.command);
  if (outcome.notFound) {
    return Error{what + " not found" +
                 (config_.installHint.empty() ? "" : ": " + oneLine(config_.installHint))};
  }
  if (outcome.timedOut) {
    return Error{what + ": no answer within " + formatDuration(options_.timeout)};
  }
  if (outcome.output.size() > options_.maxOutputBytes) {
    return Error{what + ": more than " + std::to_string(options_.maxOutputBytes) +
                 " bytes of output"};
  }
  if (outcome.exitCode != 0) {
    return Error{what + ": " +
                 (outcome.exitCode < 0 ? std::string("could not run it")
                                       : "exit status " + std::to_string(outcome.exitCode)) +
                 (outcome.errors.empty() ? "" : ": " + oneLine(outcome.errors))};
  }
  auto credential = parseExecCredential(outcome.output, config_.apiVersion);
  if (!credential) return Error{what + ": " + credential.error().message};
  return credential;
}

Result<Credential> ExecCredentialSource::current() {
  std::lock_guard lock(mutex_);
  const WallTime now = clock_.wallNow();
  if (cached_ && (!cached_->expiresAt || now < *cached_->expiresAt)) {
    return Credential{cached_->token, cached_->clientCertificatePem, cached_->clientKeyPem};
  }
  cached_.reset();
  if (retryAt_ && clock_.now() < *retryAt_ && lastError_) return *lastError_;
  auto credential = run();
  if (!credential) {
    failures_ = std::min(failures_ + 1, 5);
    retryAt_ = clock_.now() + options_.retryAfterFailure * (1 << (failures_ - 1));
    lastError_ = credential.error();
    std::uint64_t suppressed = 0;
    if (failureLog_.allow(&suppressed)) {
      componentLogger("kube")->warn("cluster {}: {} ({} more failures not logged)", clusterName_,
                                    credential.error().message, suppressed);
    }
    return credential.error();
  }
  failures_ = 0;
  retryAt_.reset();
  lastError_.reset();
  cached_ = std::move(*credential);
  return Credential{cached_->token, cached_->clientCertificatePem, cached_->clientKeyPem};
}

void ExecCredentialSource::rejected(const Credential& rejected) {
  std::lock_guard lock(mutex_);
  // Only the credential that was refused: another request may have fetched a new one already.
  if (cached_ && cached_->token == rejected.bearerToken &&
      cached_->clientCertificatePem == rejected.clientCertPem) {
    cached_.reset();
  }
}

std::uint64_t ExecCredentialSource::runs() const {
  std::lock_guard lock(mutex_);
  return runs_;
}

}  // namespace fleetscale::aggregator
