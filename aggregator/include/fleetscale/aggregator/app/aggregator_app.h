// fleetscale-aggregator as a whole: its startup as ordered steps (startup_steps.h), serving until
// SIGINT or SIGTERM, and the teardown of every step that started. main() only calls
// aggregatorMain().
#pragma once

#include "fleetscale/aggregator/app/options.h"

namespace fleetscale::aggregator {

// Runs the aggregator until a shutdown signal. Returns the process exit code: 0 after a clean
// shutdown, 2 for wrong flags or policy, 1 when the store, a port or the ready file fails.
int runAggregator(const AggregatorOptions& options);

// The command line: `decide`, `replay`, or the aggregator itself.
int aggregatorMain(int argc, char** argv);

}  // namespace fleetscale::aggregator
