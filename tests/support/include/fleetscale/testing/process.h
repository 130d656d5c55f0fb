// Runs one of our binaries (or any program) as a real child process, for integration tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fleetscale::testing {

// Path of a built fleetscale binary ("fleetscale-agent", ...), from the build system.
std::string binaryPath(const std::string& name);
// Path of a file under tests/fixtures.
std::string fixturePath(const std::string& relative);

// A child process with stdout and stderr captured to files. Killed (SIGKILL) on destruction if
// still running.
class Process {
 public:
  Process(const std::string& program, std::vector<std::string> args,
          const std::map<std::string, std::string>& extraEnv = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signal` and waits up to `timeout` for exit; returns the exit status (or -signal),
  // std::nullopt when it did not exit in time.
  std::optional<int> stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits for the process to exit on its own.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::string output() const;  // stdout so far
  std::string errors() const;  // stderr so far

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string stdoutPath_;
  std::string stderrPath_;
};

// Runs a command to completion and returns {exit status, stdout}.
struct CommandResult {
  int status = -1;
  std::string output;
  std::string errors;
};
CommandResult runCommand(const std::string& program, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60),
                         const std::map<std::string, std::string>& extraEnv = {});

}  // namespace fleetscale::testing
