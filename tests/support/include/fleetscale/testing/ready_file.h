// The aggregator's --ready-file: the ports it bound once serving.
#pragma once

#include <string>

namespace fleetscale::testing {

struct ReadyPorts {
  int ingest = 0;  // 0 when the file did not appear in time
  int http = 0;
};

// Waits (up to 10 s) for the aggregator to write `path` and returns the ports in it.
ReadyPorts waitForReadyFile(const std::string& path);

}  // namespace fleetscale::testing
