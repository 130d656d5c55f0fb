// Where the kubelet puts a container's cgroup (systemd or cgroupfs driver) and what the kernel's
// files in it look like (cgroup v1 and v2), plus the node files the agent reads under its host
// root (/proc/stat, /proc/meminfo, /proc/1/mountinfo). Pure text rendering.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "fleetscale/sim/cluster_model.h"

namespace fleetscale::sim {

// Path of a pod's cgroup relative to a hierarchy root, starting with '/':
// systemd:  /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice
// cgroupfs: /kubepods/burstable/pod<uid>      (Guaranteed pods sit right under kubepods)
std::string podCgroupPath(CgroupDriver driver, QosClass qos, const std::string& podUid);
// The container's cgroup inside its pod's: cri-containerd-<id>.scope (systemd) or <id>.
std::string containerCgroupPath(CgroupDriver driver, QosClass qos, const std::string& podUid,
                                const std::string& containerId);

// What the kubelet writes from a container's resources.
struct CgroupLimits {
  std::optional<double> cpuLimitCores;
  double cpuRequestCores = 0;
  std::optional<double> memoryLimitBytes;
  bool operator==(const CgroupLimits&) const = default;
};
CgroupLimits limitsOf(const ContainerResources& resources);

// Files that do not change while the container runs, by file name.
std::map<std::string, std::string> v2StaticFiles(const CgroupLimits& limits);
std::map<std::string, std::string> v1CpuStaticFiles(const CgroupLimits& limits);
std::map<std::string, std::string> v1MemoryStaticFiles(const CgroupLimits& limits);

// The files of those that a resize rewrites (the limits and weights), by hierarchy: v2's, then
// v1's cpu and memory controllers'.
inline constexpr const char* kV2LimitFiles[] = {"cpu.max", "cpu.weight", "memory.max"};
inline constexpr const char* kV1CpuLimitFiles[] = {"cpu.cfs_quota_us", "cpu.shares"};
inline constexpr const char* kV1MemoryLimitFiles[] = {"memory.limit_in_bytes"};

// Files that follow the counters.
// memory.events (v2) and memory.oom_control (v1) after `oomKills` OOM kills.
std::string v2MemoryEvents(std::uint64_t oomKills);
std::string v1OomControl(std::uint64_t oomKills);
std::string v2CpuStat(const ContainerCounters& counters);
std::string v2CpuPressure(const ContainerCounters& counters);
std::string v2MemoryStat(double workingSetBytes);
std::uint64_t v2MemoryCurrent(double workingSetBytes);
std::string v1CpuacctStat(const ContainerCounters& counters);
std::string v1CpuacctUsagePercpu(const ContainerCounters& counters, int cpus);
std::string v1CpuStat(const ContainerCounters& counters);
std::string v1MemoryStat(double workingSetBytes, const std::optional<double>& limitBytes);
std::uint64_t v1MemoryUsage(double workingSetBytes);

// Node files. `cpus` lines per CPU; busy/idle in nanoseconds since boot.
std::string procStat(int cpus, double busyNs, double idleNs, std::int64_t bootTimeUnix);
std::string procMeminfo(double totalBytes, double usedBytes);
// mountinfo of a host with the cgroup hierarchies at /sys/fs/cgroup: the unified hierarchy
// (v2), or cpu,cpuacct + memory + pids + a named systemd hierarchy (v1, as Ubuntu 20.04).
std::string mountinfo(int cgroupVersion);

// cpu.weight from a CPU request, via the kubelet's shares (milliCPU * 1024 / 1000, at least 2).
std::uint64_t cpuSharesOf(double requestCores);
std::uint64_t cpuWeightOf(double requestCores);

}  // namespace fleetscale::sim
