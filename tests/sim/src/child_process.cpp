#include "fleetscale/sim/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace fleetscale::sim {
namespace {

// Everything execve needs, built before fork: after fork only async-signal-safe calls are made.
struct ExecPlan {
  std::vector<std::string> argvStrings;
  std::vector<std::string> envStrings;
  std::vector<char*> argv;
  std::vector<char*> envp;

  ExecPlan(const std::string& program, const std::vector<std::string>& args) {
    argvStrings.push_back(program);
    argvStrings.insert(argvStrings.end(), args.begin(), args.end());
    for (char** entry = environ; entry && *entry; ++entry) {
      if (std::strncmp(*entry, "FLEETSCALE_", 11) != 0) envStrings.emplace_back(*entry);
    }
    for (auto& arg : argvStrings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    for (auto& env : envStrings) envp.push_back(env.data());
    envp.push_back(nullptr);
  }
};

[[noreturn]] void execChild(const ExecPlan& plan, int outputFd, pid_t parent) {
  // The parent may block signals to wait for them; a program starts with none blocked.
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
  if (outputFd >= 0) {
    ::dup2(outputFd, STDOUT_FILENO);
    ::dup2(outputFd, STDERR_FILENO);
  }
  const int devNull = ::open("/dev/null", O_RDONLY);
  if (devNull >= 0) ::dup2(devNull, STDIN_FILENO);
  // Nothing else crosses over: Asio opens its sockets without close-on-exec, and a listening
  // socket held by a child keeps its port busy after the simulator closes it.
  if (::close_range(3, ~0U, 0) != 0) {
    for (int fd = 3; fd < 65536; ++fd) ::close(fd);
  }
  ::execve(plan.argv[0], plan.argv.data(), plan.envp.data());
  ::_exit(127);
}

}  // namespace

ChildProcess::~ChildProcess() { stop(SIGKILL, std::chrono::seconds(5)); }

Status ChildProcess::start(const std::string& program, const std::vector<std::string>& args,
                           const std::string& logPath) {
  std::lock_guard lock(mutex_);
  if (runningLocked()) return Error{"already running"};
  const ExecPlan plan(program, args);
  const int fd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Error{logPath + ": " + std::strerror(errno), errno};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int code = errno;
    ::close(fd);
    return Error{std::string("fork: ") + std::strerror(code), code};
  }
  if (pid == 0) execChild(plan, fd, parent);
  ::close(fd);
  pid_ = pid;
  frozen_ = false;
  status_.reset();
  return {};
}

void ChildProcess::reapLocked(bool block) {
  if (pid_ <= 0 || status_) return;
  int status = 0;
  const pid_t result = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (result == pid_) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  } else if (result < 0 && errno == ECHILD) {
    status_ = -1;
  }
}

bool ChildProcess::runningLocked() {
  reapLocked(false);
  return pid_ > 0 && !status_;
}

bool ChildProcess::running() {
  std::lock_guard lock(mutex_);
  return runningLocked();
}

pid_t ChildProcess::pid() const {
  std::lock_guard lock(mutex_);
  return pid_;
}

bool ChildProcess::frozen() const {
  std::lock_guard lock(mutex_);
  return frozen_;
}

std::optional<int> ChildProcess::exitStatus() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void ChildProcess::freeze() {
  std::lock_guard lock(mutex_);
  if (runningLocked() && !frozen_) {
    ::kill(pid_, SIGSTOP);
    frozen_ = true;
  }
}

void ChildProcess::thaw() {
  std::lock_guard lock(mutex_);
  if (runningLocked() && frozen_) {
    ::kill(pid_, SIGCONT);
    frozen_ = false;
  }
}

std::optional<int> ChildProcess::stop(int signal, std::chrono::milliseconds timeout) {
  std::lock_guard lock(mutex_);
  if (!runningLocked()) return status_;
  ::kill(pid_, signal);
  if (frozen_) {
    ::kill(pid_, SIGCONT);  // a stopped process only handles its signals once it runs again
    frozen_ = false;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (runningLocked() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (runningLocked()) {
    ::kill(pid_, SIGKILL);
    reapLocked(true);
  }
  return status_;
}

std::string captureOutput(const std::string& program, const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout) {
  char path[] = "/tmp/fleetscale-sim-capture-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return "";
  ::close(fd);
  std::string output;
  {
    ChildProcess child;
    if (child.start(program, args, path)) {
      const auto deadline = std::chrono::steady_clock::now() + timeout;
      while (child.running() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      child.stop(SIGKILL, std::chrono::seconds(1));
      const int in = ::open(path, O_RDONLY | O_CLOEXEC);
      if (in >= 0) {
        char buffer[4096];
        ssize_t n;
        while ((n = ::read(in, buffer, sizeof(buffer))) > 0)
          output.append(buffer, static_cast<std::size_t>(n));
        ::close(in);
      }
    }
  }
  ::unlink(path);
  return output;
}

}  // namespace fleetscale::sim
