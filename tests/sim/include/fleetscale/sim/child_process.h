// A child process the simulator owns (an agent, the aggregator): output appended to a log
// file, its own process group, killed if the simulator dies (PR_SET_PDEATHSIG), and signals to
// freeze, thaw and stop it. FLEETSCALE_* variables of the simulator's environment are not
// passed on, so a child sees exactly the flags it is given.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/shared/result.h"

namespace fleetscale::sim {

// Thread-safe: the clock loop restarts agents while the control API reads their pids.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts `program` with `args`; stdout and stderr go to `logPath` (appended).
  Status start(const std::string& program, const std::vector<std::string>& args,
               const std::string& logPath);
  bool running();
  pid_t pid() const;
  // SIGSTOP / SIGCONT: the process stands still, sockets open, and carries on later.
  void freeze();
  void thaw();
  bool frozen() const;
  // Sends `signal` (thawing first) and waits up to `timeout`; SIGKILL after that. Returns the
  // exit status, or -signal when killed by one.
  std::optional<int> stop(int signal, std::chrono::milliseconds timeout);
  // The exit status once the process has ended.
  std::optional<int> exitStatus() const;

 private:
  void reapLocked(bool block);
  bool runningLocked();

  mutable std::mutex mutex_;
  pid_t pid_ = -1;
  bool frozen_ = false;
  std::optional<int> status_;
};

// Runs a program to completion and returns its stdout ("" when it could not run).
std::string captureOutput(const std::string& program, const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace fleetscale::sim
