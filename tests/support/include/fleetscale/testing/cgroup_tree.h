// Writes cgroup trees in the kernel's file formats into a directory, so the real agent code can
// read them through --cgroup-root. Counters are set explicitly; tests advance them.
#pragma once

#include <cstdint>
#include <string>

namespace fleetscale::testing {

struct ContainerCounters {
  std::uint64_t cpuUsageNs = 0;
  std::uint64_t memoryUsageBytes = 0;
  std::uint64_t inactiveFileBytes = 0;
  std::uint64_t rssBytes = 0;
};

// cgroup v2: one unified tree under `root` (with cgroup.controllers at the top).
void writeV2Container(const std::string& root, const std::string& cgroupPath,
                      const ContainerCounters& counters);
// cgroup v1: cpu, cpuacct and memory hierarchies as subdirectories of `root`.
void writeV1Container(const std::string& root, const std::string& cgroupPath,
                      const ContainerCounters& counters);

}  // namespace fleetscale::testing
