// Reads one container cgroup's counters from a cgroup v1 or v2 hierarchy, through handles that
// keep the container's control files open (see control_file.h).
//
// What is read when is the sampler's decision; the reader offers three reads of different cost:
//   readCounters()   every tick: CPU usage and split, throttling, memory usage, OOM kills, PSI
//   readMemoryStat() memory.stat, the file the kernel generates on each read (about ten times
//                    the cost of the others); working set and RSS come from it
//   readLimits()     CPU quota and weight, memory limit: configuration, changed only by a resize
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "fleetscale/agent/cgroup_layout.h"
#include "fleetscale/agent/control_file.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::agent {

// Cumulative counters and current usage. Absent = the kernel does not provide it.
struct CgroupCounters {
  std::uint64_t cpuUsageNs = 0;
  std::optional<std::uint64_t> cpuUserNs;
  std::optional<std::uint64_t> cpuSystemNs;
  std::optional<std::uint64_t> cpuPeriods;
  std::optional<std::uint64_t> cpuThrottledPeriods;
  std::optional<std::uint64_t> cpuThrottledNs;
  std::uint64_t memoryUsageBytes = 0;  // memory.current (v2) / memory.usage_in_bytes (v1)
  std::optional<std::uint64_t> oomKills;
  std::optional<std::uint64_t> cpuPressureSomeUs;
  std::optional<std::uint64_t> cpuPressureFullUs;
  std::optional<std::uint64_t> memoryPressureSomeUs;
  std::optional<std::uint64_t> memoryPressureFullUs;
};

struct MemoryStat {
  // inactive_file (v2) / total_inactive_file (v1: hierarchical, as cAdvisor reads it).
  std::uint64_t inactiveFileBytes = 0;
  std::optional<std::uint64_t> rssBytes;  // anon (v2) / total_rss (v1)
};

struct CgroupLimits {
  std::optional<double> cpuLimitCores;            // absent = unlimited
  std::optional<std::uint64_t> cpuWeight;         // v2 weight, or v1 shares converted to weight
  std::optional<std::uint64_t> memoryLimitBytes;  // absent = unlimited
};

// One container's open control files. Not thread-safe; must not outlive its reader.
class CgroupHandle {
 public:
  virtual ~CgroupHandle() = default;
  // Fails when a mandatory file (CPU usage, memory usage) is unreadable or malformed.
  // Error::code is ENOENT when the cgroup has vanished (the container exited).
  virtual Result<CgroupCounters> readCounters() = 0;
  // Fails when memory.stat is unreadable or has no inactive_file.
  virtual Result<MemoryStat> readMemoryStat() = 0;
  // Missing or malformed files leave the field absent.
  virtual CgroupLimits readLimits() = 0;
};

struct ReaderOptions {
  // Default: decided from the hierarchy's filesystem (fileAccessFor).
  std::optional<FileAccess> access;
  std::size_t maxKeptDescriptors = FileReadContext::defaultMaxKeptDescriptors();
};

// Thread-safety: one thread uses a reader and its handles.
class CgroupReader {
 public:
  virtual ~CgroupReader() = default;
  // `cgroupPath` is relative to the hierarchy root ("/kubepods.slice/..."). Opening is lazy: files
  // are opened on their first read, so this never fails.
  virtual std::unique_ptr<CgroupHandle> open(const std::string& cgroupPath) = 0;
  virtual FileAccess access() const = 0;
  // Descriptors the reader's handles keep open right now.
  virtual std::size_t keptDescriptors() const = 0;
};

std::unique_ptr<CgroupReader> makeCgroupReader(const CgroupLayout& layout,
                                               const ReaderOptions& options = {});

// Everything about one cgroup at once (counters, memory.stat, limits), for --once-style tools
// and tests.
struct CgroupStats {
  CgroupCounters counters;
  MemoryStat memory;
  CgroupLimits limits;
  std::uint64_t workingSetBytes() const;
};
Result<CgroupStats> readCgroupOnce(CgroupReader& reader, const std::string& cgroupPath);

}  // namespace fleetscale::agent
