// Where the cgroup hierarchies the agent reads are, on this host: cgroup v2 (unified), v1 with
// controllers mounted separately or together (cpu,cpuacct), or hybrid (v1 controllers plus a
// unified hierarchy holding no cpu/memory controllers).
#pragma once

#include <string>
#include <vector>

#include "fleetscale/agent/mountinfo.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::agent {

enum class CgroupVersion { kV1, kV2 };

struct CgroupLayout {
  CgroupVersion version = CgroupVersion::kV2;
  // Absolute directories (host root and cgroup root applied). For v2 only `unified` is used.
  std::string unified;
  std::string cpu;      // v1: quota, period, shares, throttling (cpu.stat)
  std::string cpuacct;  // v1: usage counters
  std::string memory;   // v1: usage, stat, limit
  // The hierarchy that discovery walks to find container cgroups.
  const std::string& discoveryRoot() const {
    return version == CgroupVersion::kV2 ? unified : (memory.empty() ? cpuacct : memory);
  }
  std::string describe() const;
};

// Builds the layout from mountinfo entries. Mount points under /sys/fs/cgroup are rebased onto
// `cgroupRoot` (so --cgroup-root can point at a copy of the tree); others get `hostRoot`
// prefixed. v1 is chosen when a v1 memory or cpuacct hierarchy is mounted; v2 when only the
// unified hierarchy is. Errors when neither is present.
Result<CgroupLayout> layoutFromMounts(const std::vector<MountInfoEntry>& mounts,
                                      const std::string& cgroupRoot, const std::string& hostRoot);

// Builds the layout by looking at `cgroupRoot` itself: cgroup.controllers at the top means v2;
// controller directories (cpu, cpuacct, "cpu,cpuacct", memory) mean v1. For fixture trees and
// hosts whose mountinfo cannot be read.
Result<CgroupLayout> probeLayout(const std::string& cgroupRoot);

// mountinfo first (read from `mountInfoPath`), falling back to probing when it names no usable
// cgroup hierarchy that exists on disk.
Result<CgroupLayout> detectLayout(const std::string& mountInfoPath, const std::string& cgroupRoot,
                                  const std::string& hostRoot);

// Joins a host-root prefix and an absolute path: ("/host", "/proc/stat") -> "/host/proc/stat".
std::string underRoot(const std::string& root, const std::string& path);

}  // namespace fleetscale::agent
