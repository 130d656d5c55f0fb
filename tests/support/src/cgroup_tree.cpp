#include "fleetscale/testing/cgroup_tree.h"

#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::testing {

void writeV2Container(const std::string& root, const std::string& cgroupPath,
                      const ContainerCounters& c) {
  writeFile(root + "/cgroup.controllers", "cpuset cpu io memory pids\n");
  const std::string dir = root + cgroupPath;
  const std::uint64_t usageUs = c.cpuUsageNs / 1000;
  writeFile(dir + "/cpu.stat", "usage_usec " + std::to_string(usageUs) + "\nuser_usec " +
                                   std::to_string(usageUs * 3 / 4) + "\nsystem_usec " +
                                   std::to_string(usageUs / 4) +
                                   "\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n");
  writeFile(dir + "/cpu.max", "max 100000\n");
  writeFile(dir + "/cpu.weight", "100\n");
  writeFile(dir + "/memory.current", std::to_string(c.memoryUsageBytes) + "\n");
  writeFile(dir + "/memory.stat", "anon " + std::to_string(c.rssBytes) + "\nfile " +
                                      std::to_string(c.inactiveFileBytes) + "\ninactive_file " +
                                      std::to_string(c.inactiveFileBytes) + "\nactive_file 0\n");
  writeFile(dir + "/memory.max", "max\n");
  writeFile(dir + "/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
}

void writeV1Container(const std::string& root, const std::string& cgroupPath,
                      const ContainerCounters& c) {
  const std::string cpuacct = root + "/cpuacct" + cgroupPath;
  writeFile(cpuacct + "/cpuacct.usage", std::to_string(c.cpuUsageNs) + "\n");
  writeFile(cpuacct + "/cpuacct.stat", "user " + std::to_string(c.cpuUsageNs / 10'000'000 * 3 / 4) +
                                           "\nsystem " +
                                           std::to_string(c.cpuUsageNs / 10'000'000 / 4) + "\n");
  const std::string cpu = root + "/cpu" + cgroupPath;
  writeFile(cpu + "/cpu.cfs_quota_us", "-1\n");
  writeFile(cpu + "/cpu.cfs_period_us", "100000\n");
  writeFile(cpu + "/cpu.shares", "1024\n");
  writeFile(cpu + "/cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n");
  const std::string memory = root + "/memory" + cgroupPath;
  writeFile(memory + "/memory.usage_in_bytes", std::to_string(c.memoryUsageBytes) + "\n");
  writeFile(memory + "/memory.stat", "cache " + std::to_string(c.inactiveFileBytes) + "\nrss " +
                                         std::to_string(c.rssBytes) + "\ninactive_file " +
                                         std::to_string(c.inactiveFileBytes) + "\ntotal_rss " +
                                         std::to_string(c.rssBytes) + "\ntotal_inactive_file " +
                                         std::to_string(c.inactiveFileBytes) + "\n");
  writeFile(memory + "/memory.limit_in_bytes", "9223372036854771712\n");
  writeFile(memory + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
}

}  // namespace fleetscale::testing
