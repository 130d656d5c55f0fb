#include "fleetscale/aggregator/app/startup_steps.h"

#include <exception>

namespace fleetscale::aggregator {
namespace {

StepResult startStep(const Step& step, spdlog::logger& log) {
  log.debug("starting: {}", step.name);
  try {
    return step.start();
  } catch (const std::exception& e) {
    return StepResult::fatal(1, e.what());
  }
}

void stopStep(const Step& step, spdlog::logger& log) {
  if (!step.stop) return;
  log.debug("stopping: {}", step.name);
  try {
    step.stop();
  } catch (const std::exception& e) {
    log.error("stopping {}: {}", step.name, e.what());
  }
}

}  // namespace

StartupOutcome runSteps(std::span<const Step> steps, spdlog::logger& log) {
  StartupOutcome outcome{0, true};
  std::size_t started = 0;
  for (; started < steps.size(); ++started) {
    const StepResult result = startStep(steps[started], log);
    if (result.kind == StepResult::Kind::kOk) continue;
    if (result.kind == StepResult::Kind::kFatal) log.error("{}", result.message);
    outcome = StartupOutcome{result.exitCode, false};
    break;
  }
  while (started > 0) stopStep(steps[--started], log);
  return outcome;
}

}  // namespace fleetscale::aggregator
