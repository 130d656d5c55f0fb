// A daemon's startup as an ordered list of named steps, after Falco's: each step's start()
// answers ok (go on), exit (stop starting, nothing is wrong) or fatal (stop with an error), and
// the steps that started are stopped in reverse order whatever ended the run — a failed step, an
// exception, or the last step returning after a shutdown signal.
#pragma once

#include <spdlog/logger.h>

#include <functional>
#include <span>
#include <string>

namespace fleetscale::aggregator {

struct StepResult {
  enum class Kind { kOk, kExit, kFatal };
  Kind kind = Kind::kOk;
  int exitCode = 0;     // the process exit code for kExit and kFatal
  std::string message;  // kFatal: what went wrong, logged as it is

  static StepResult ok() { return {}; }
  static StepResult exit(int code) { return {Kind::kExit, code, {}}; }
  static StepResult fatal(int code, std::string message) {
    return {Kind::kFatal, code, std::move(message)};
  }
};

struct Step {
  std::string name;
  std::function<StepResult()> start;
  // Undoes start(); runs only if start() returned ok. Empty: nothing to undo.
  std::function<void()> stop = {};
};

struct StartupOutcome {
  int exitCode = 0;
  bool completed = false;  // every step returned ok
};

// Starts `steps` in order until one does not return ok (an exception thrown by start() is fatal
// with exit code 1 and its what()), logs a fatal step's message as an error, then stops every
// step that started, last first. An exception from stop() is logged and the others still stop.
StartupOutcome runSteps(std::span<const Step> steps, spdlog::logger& log);

}  // namespace fleetscale::aggregator
