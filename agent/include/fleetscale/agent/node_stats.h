// Whole-node CPU and memory from /proc/stat and /proc/meminfo (read under --host-root).
#pragma once

#include <cstdint>
#include <string_view>

#include "fleetscale/shared/result.h"

namespace fleetscale::agent {

struct ProcStatCpu {
  std::uint64_t totalTicks = 0;  // sum of all fields of the aggregate "cpu" line
  std::uint64_t idleTicks = 0;   // idle + iowait
  int cpuCount = 0;              // number of "cpuN" lines
};
Result<ProcStatCpu> parseProcStat(std::string_view text);

struct MemInfo {
  std::uint64_t totalBytes = 0;
  std::uint64_t availableBytes = 0;
};
Result<MemInfo> parseMemInfo(std::string_view text);

}  // namespace fleetscale::agent
