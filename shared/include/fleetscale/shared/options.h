// Configuration handling shared by every fleetscale binary. One rule everywhere:
// command-line flags win over FLEETSCALE_* environment variables, which win over the YAML file
// named by --config (or FLEETSCALE_CONFIG), which wins over built-in defaults.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/result.h"

namespace fleetscale {

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Reads the process environment.
std::optional<std::string> processEnvironment(const std::string& name);

// "log-level" -> "FLEETSCALE_LOG_LEVEL".
std::string environmentName(const std::string& longOptionName);

// Returns `args` (without argv[0]) plus, for every long option of `app` not given in `args`,
// the value from the environment or else from the YAML config file, so that CLI11 parses the
// merged result. YAML keys may use kebab-case or snake_case. Keys listed in `sectionsForOthers`
// are structured sections owned by another loader and skipped here. Errors name the file, the
// line and the key.
Result<std::vector<std::string>> mergeEnvironmentAndConfig(
    const CLI::App& app, std::vector<std::string> args, const EnvLookup& env,
    const std::set<std::string>& sectionsForOthers = {});

// Options every binary has: --config, --log-level, --log-format.
struct CommonOptions {
  std::string configFile;
  std::string logLevel = "info";
  std::string logFormat = "text";
};
void addCommonOptions(CLI::App& app, CommonOptions& options);

// Applies --log-level/--log-format; returns an Error for bad values.
Status applyLogging(const CommonOptions& options);

// Parses argv with the precedence rule above. Returns std::nullopt on success, or the exit code
// main() should return (0 after --help/--version, 2 after a usage error, which it printed).
std::optional<int> parseCommandLine(CLI::App& app, int argc, char** argv,
                                    const std::set<std::string>& sectionsForOthers = {});

}  // namespace fleetscale
