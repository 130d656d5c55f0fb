// Reads one container cgroup's counters from a cgroup v1 or v2 hierarchy.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "fleetscale/agent/cgroup_layout.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::agent {

// Cumulative counters and current values of one cgroup, as read. Absent = the kernel does not
// provide it (or the file was unreadable); rates are computed later from two reads.
struct CgroupStats {
  std::uint64_t cpuUsageNs = 0;
  std::optional<std::uint64_t> cpuUserNs;
  std::optional<std::uint64_t> cpuSystemNs;
  std::optional<std::uint64_t> cpuPeriods;
  std::optional<std::uint64_t> cpuThrottledPeriods;
  std::optional<std::uint64_t> cpuThrottledNs;
  std::optional<double> cpuLimitCores;  // absent = unlimited
  std::optional<std::uint64_t> cpuWeight;

  std::uint64_t memoryUsageBytes = 0;
  std::uint64_t memoryWorkingSetBytes = 0;
  std::optional<std::uint64_t> memoryRssBytes;
  std::optional<std::uint64_t> memoryLimitBytes;  // absent = unlimited
  std::optional<std::uint64_t> oomKills;

  std::optional<std::uint64_t> cpuPressureSomeUs;
  std::optional<std::uint64_t> cpuPressureFullUs;
  std::optional<std::uint64_t> memoryPressureSomeUs;
  std::optional<std::uint64_t> memoryPressureFullUs;
};

// Thread-safety: a reader is used by one thread at a time.
class CgroupReader {
 public:
  virtual ~CgroupReader() = default;
  // `cgroupPath` is relative to the hierarchy root ("/kubepods.slice/..."). Fails when the
  // mandatory CPU or memory usage files cannot be read or parsed; Error::code is ENOENT when
  // the cgroup has vanished (the container exited between discovery and the read).
  virtual Result<CgroupStats> read(const std::string& cgroupPath) = 0;
};

std::unique_ptr<CgroupReader> makeCgroupReader(const CgroupLayout& layout);

}  // namespace fleetscale::agent
