// `fleetscale-aggregator decide`: one offline decision from a JSON snapshot (docs/decide.md).
#pragma once

#include <ostream>
#include <string>

namespace fleetscale::aggregator {

// `fleetscale-aggregator decide --input snapshot.json [--config policy.yaml]`: prints
// {"workload", "decision", "history"} as JSON. Returns the process exit code.
int runDecideCommand(const std::string& inputPath, const std::string& configPath, std::ostream& out,
                     std::ostream& err);

// `fleetscale-aggregator decide [flags]`: parses the flags, runs runDecideCommand on stdout.
int decideMain(int argc, char** argv);

}  // namespace fleetscale::aggregator
