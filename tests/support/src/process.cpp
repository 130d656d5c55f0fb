#include "fleetscale/testing/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::testing {
namespace {

std::string captureFile(const char* stream) {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("TMPDIR");
  return std::string(base != nullptr ? base : "/tmp") + "/fleetscale-proc-" +
         std::to_string(::getpid()) + "-" + std::to_string(counter++) + "." + stream;
}

}  // namespace

std::string binaryPath(const std::string& name) {
  return std::string(FLEETSCALE_BINARY_DIR) + "/" + name;
}

std::string fixturePath(const std::string& relative) {
  return std::string(FLEETSCALE_FIXTURES_DIR) + "/" + relative;
}

Process::Process(const std::string& program, std::vector<std::string> args,
                 const std::map<std::string, std::string>& extraEnv)
    : stdoutPath_(captureFile("out")), stderrPath_(captureFile("err")) {
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int out = ::open(stdoutPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(stderrPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    // Own process group, so a test's Ctrl-C handling does not reach children twice.
    ::setpgid(0, 0);
    for (const auto& [name, value] : extraEnv) ::setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> raw;
    for (auto& arg : argv) raw.push_back(arg.data());
    raw.push_back(nullptr);
    ::execv(program.c_str(), raw.data());
    ::_exit(127);
  }
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  ::unlink(stdoutPath_.c_str());
  ::unlink(stderrPath_.c_str());
}

bool Process::running() {
  if (status_) return false;
  int status = 0;
  const pid_t result = ::waitpid(pid_, &status, WNOHANG);
  if (result == pid_) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return false;
  }
  return result == 0;
}

std::optional<int> Process::stop(int signal, std::chrono::milliseconds timeout) {
  if (running()) ::kill(pid_, signal);
  return wait(timeout);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  waitFor([this] { return !running(); }, timeout, std::chrono::milliseconds(10));
  return status_;
}

std::string Process::output() const {
  auto text = readFile(stdoutPath_);
  return text ? *text : "";
}

std::string Process::errors() const {
  auto text = readFile(stderrPath_);
  return text ? *text : "";
}

CommandResult runCommand(const std::string& program, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout,
                         const std::map<std::string, std::string>& extraEnv) {
  Process process(program, args, extraEnv);
  CommandResult result;
  auto status = process.wait(timeout);
  if (!status) {
    process.stop(SIGKILL);
    result.status = -1;
  } else {
    result.status = *status;
  }
  result.output = process.output();
  result.errors = process.errors();
  return result;
}

}  // namespace fleetscale::testing
