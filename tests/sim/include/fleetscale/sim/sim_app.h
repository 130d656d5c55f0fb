// fleetscale-sim's command line: `run` a scenario (until its duration, or Ctrl-C), `check` a
// scenario file. Thin: the work is in FleetSimulator.
#pragma once

namespace fleetscale::sim {

int simMain(int argc, char** argv);

}  // namespace fleetscale::sim
