#include "fleetscale/sim/cgroup_files.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "fleetscale/sim/quantity.h"

namespace fleetscale::sim {
namespace {

constexpr std::uint64_t kV1Unlimited = 9223372036854771712ULL;
constexpr double kUserHz = 100;  // USER_HZ: cpuacct.stat and /proc/stat count in 10 ms ticks

std::string qosSegment(QosClass qos) {
  return qos == QosClass::kBurstable    ? "burstable"
         : qos == QosClass::kBestEffort ? "besteffort"
                                        : "";
}

std::uint64_t whole(double value) { return value > 0 ? static_cast<std::uint64_t>(value) : 0; }

std::string line(const char* key, std::uint64_t value) {
  return std::string(key) + " " + std::to_string(value) + "\n";
}

// How a working set splits into the kernel's memory categories: 80% anonymous, 2% kernel, the
// rest active page cache, plus an inactive page cache of 5% (+1 MiB) that is not working set.
struct MemorySplit {
  std::uint64_t anon, kernel, activeFile, inactiveFile;
  std::uint64_t file() const { return activeFile + inactiveFile; }
  std::uint64_t current() const { return anon + kernel + file(); }
};

MemorySplit splitOf(double workingSet) {
  const std::uint64_t ws = whole(workingSet) / 4096 * 4096;
  MemorySplit split;
  split.anon = ws * 8 / 10 / 4096 * 4096;
  split.kernel = ws * 2 / 100 / 4096 * 4096;
  split.activeFile = ws - split.anon - split.kernel;
  split.inactiveFile = (ws / 20 + (1u << 20)) / 4096 * 4096;
  return split;
}

}  // namespace

std::string podCgroupPath(CgroupDriver driver, QosClass qos, const std::string& podUid) {
  const std::string qosName = qosSegment(qos);
  if (driver == CgroupDriver::kCgroupfs) {
    return "/kubepods" + (qosName.empty() ? "" : "/" + qosName) + "/pod" + podUid;
  }
  std::string uid = podUid;
  std::replace(uid.begin(), uid.end(), '-', '_');  // '-' separates systemd slice levels
  if (qosName.empty()) return "/kubepods.slice/kubepods-pod" + uid + ".slice";
  return "/kubepods.slice/kubepods-" + qosName + ".slice/kubepods-" + qosName + "-pod" + uid +
         ".slice";
}

std::string containerCgroupPath(CgroupDriver driver, QosClass qos, const std::string& podUid,
                                const std::string& containerId) {
  const std::string pod = podCgroupPath(driver, qos, podUid);
  if (driver == CgroupDriver::kCgroupfs) return pod + "/" + containerId;
  return pod + "/cri-containerd-" + containerId + ".scope";
}

CgroupLimits limitsOf(const ContainerResources& r) {
  CgroupLimits limits;
  limits.cpuLimitCores = r.cpuLimit;
  limits.cpuRequestCores = r.cpuRequest ? *r.cpuRequest : (r.cpuLimit ? *r.cpuLimit : 0);
  limits.memoryLimitBytes = r.memoryLimit;
  return limits;
}

std::uint64_t cpuSharesOf(double requestCores) {
  const auto shares = static_cast<std::uint64_t>(toMilliCores(requestCores) * 1024 / 1000);
  return std::max<std::uint64_t>(shares, 2);
}

std::uint64_t cpuWeightOf(double requestCores) {
  const std::uint64_t shares = std::min<std::uint64_t>(cpuSharesOf(requestCores), 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

std::map<std::string, std::string> v2StaticFiles(const CgroupLimits& limits) {
  std::map<std::string, std::string> files;
  files["cgroup.controllers"] = "cpuset cpu io memory hugetlb pids rdma misc\n";
  files["cgroup.type"] = "domain\n";
  files["cgroup.procs"] = "";
  files["cpu.max"] =
      limits.cpuLimitCores
          ? std::to_string(std::max<long long>(toMilliCores(*limits.cpuLimitCores) * 100, 1000)) +
                " 100000\n"
          : "max 100000\n";
  files["cpu.max.burst"] = "0\n";
  files["cpu.weight"] = std::to_string(cpuWeightOf(limits.cpuRequestCores)) + "\n";
  files["memory.max"] =
      limits.memoryLimitBytes ? std::to_string(whole(*limits.memoryLimitBytes)) + "\n" : "max\n";
  files["memory.high"] = "max\n";
  files["memory.low"] = "0\n";
  files["memory.min"] = "0\n";
  files["memory.swap.max"] = "0\n";
  files["memory.swap.current"] = "0\n";
  files["memory.events"] = v2MemoryEvents(0);
  files["memory.pressure"] =
      "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 "
      "total=0\n";
  files["pids.max"] = "max\n";
  files["pids.current"] = "4\n";
  return files;
}

std::map<std::string, std::string> v1CpuStaticFiles(const CgroupLimits& limits) {
  return {{"cpu.cfs_period_us", "100000\n"},
          {"cpu.cfs_quota_us", limits.cpuLimitCores
                                   ? std::to_string(std::max<long long>(
                                         toMilliCores(*limits.cpuLimitCores) * 100, 1000)) +
                                         "\n"
                                   : "-1\n"},
          {"cpu.shares", std::to_string(cpuSharesOf(limits.cpuRequestCores)) + "\n"},
          {"cgroup.procs", ""},
          {"tasks", ""}};
}

std::map<std::string, std::string> v1MemoryStaticFiles(const CgroupLimits& limits) {
  return {
      {"memory.limit_in_bytes",
       std::to_string(limits.memoryLimitBytes ? whole(*limits.memoryLimitBytes) : kV1Unlimited) +
           "\n"},
      {"memory.soft_limit_in_bytes", std::to_string(kV1Unlimited) + "\n"},
      {"memory.failcnt", "0\n"},
      {"memory.oom_control", v1OomControl(0)},
      {"memory.swappiness", "60\n"},
      {"cgroup.procs", ""},
      {"tasks", ""}};
}

std::string v2MemoryEvents(std::uint64_t oomKills) {
  // Each kill followed the cgroup reaching memory.max and an OOM event.
  return line("low", 0) + line("high", 0) + line("max", oomKills) + line("oom", oomKills) +
         line("oom_kill", oomKills) + line("oom_group_kill", 0);
}

std::string v1OomControl(std::uint64_t oomKills) {
  return line("oom_kill_disable", 0) + line("under_oom", 0) + line("oom_kill", oomKills);
}

std::string v2CpuStat(const ContainerCounters& c) {
  const std::uint64_t usage = whole(c.cpuNs / 1000);
  const std::uint64_t user = usage * 4 / 5;
  return line("usage_usec", usage) + line("user_usec", user) + line("system_usec", usage - user) +
         line("nr_periods", whole(c.periods)) + line("nr_throttled", whole(c.throttledPeriods)) +
         line("throttled_usec", whole(c.throttledNs / 1000)) + line("nr_bursts", 0) +
         line("burst_usec", 0);
}

std::string v2CpuPressure(const ContainerCounters& c) {
  return "some avg10=0.00 avg60=0.00 avg300=0.00 total=" + std::to_string(whole(c.pressureSomeUs)) +
         "\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=" +
         std::to_string(whole(c.pressureSomeUs / 2)) + "\n";
}

std::uint64_t v2MemoryCurrent(double workingSetBytes) { return splitOf(workingSetBytes).current(); }

std::string v2MemoryStat(double workingSetBytes) {
  const MemorySplit m = splitOf(workingSetBytes);
  std::string out;
  out += line("anon", m.anon);
  out += line("file", m.file());
  out += line("kernel", m.kernel);
  out += line("kernel_stack", m.kernel / 8);
  out += line("pagetables", m.kernel / 4);
  out += line("sec_pagetables", 0);
  out += line("percpu", 192);
  out += line("sock", 0);
  out += line("vmalloc", 0);
  out += line("shmem", 0);
  out += line("zswap", 0);
  out += line("zswapped", 0);
  out += line("file_mapped", m.activeFile / 2);
  out += line("file_dirty", 0);
  out += line("file_writeback", 0);
  out += line("swapcached", 0);
  out += line("anon_thp", 0);
  out += line("file_thp", 0);
  out += line("shmem_thp", 0);
  out += line("inactive_anon", m.anon);
  out += line("active_anon", 0);
  out += line("inactive_file", m.inactiveFile);
  out += line("active_file", m.activeFile);
  out += line("unevictable", 0);
  out += line("slab_reclaimable", m.kernel / 4);
  out += line("slab_unreclaimable", m.kernel / 4);
  out += line("slab", m.kernel / 2);
  for (const char* key :
       {"workingset_refault_anon", "workingset_refault_file", "workingset_activate_anon",
        "workingset_activate_file", "workingset_restore_anon", "workingset_restore_file",
        "workingset_nodereclaim", "pgscan", "pgsteal", "pgscan_kswapd", "pgscan_direct",
        "pgsteal_kswapd", "pgsteal_direct"}) {
    out += line(key, 0);
  }
  out += line("pgfault", m.anon / 4096);
  out += line("pgmajfault", 0);
  for (const char* key : {"pgrefill", "pgactivate", "pgdeactivate", "pglazyfree", "pglazyfreed",
                          "zswpin", "zswpout", "thp_fault_alloc", "thp_collapse_alloc"}) {
    out += line(key, 0);
  }
  return out;
}

std::string v1CpuacctStat(const ContainerCounters& c) {
  const std::uint64_t ticks = whole(c.cpuNs / 1e9 * kUserHz);
  return line("user", ticks * 4 / 5) + line("system", ticks - ticks * 4 / 5);
}

std::string v1CpuacctUsagePercpu(const ContainerCounters& c, int cpus) {
  std::string out;
  const std::uint64_t total = whole(c.cpuNs);
  const int n = std::max(cpus, 1);
  for (int i = 0; i < n; ++i) {
    const std::uint64_t share = total / n + (i == 0 ? total % n : 0);
    out += std::to_string(share) + " ";
  }
  out += "\n";
  return out;
}

std::string v1CpuStat(const ContainerCounters& c) {
  return line("nr_periods", whole(c.periods)) + line("nr_throttled", whole(c.throttledPeriods)) +
         line("throttled_time", whole(c.throttledNs));
}

std::uint64_t v1MemoryUsage(double workingSetBytes) {
  return splitOf(workingSetBytes).current();  // rss + cache, kernel pages counted as cache
}

std::string v1MemoryStat(double workingSetBytes, const std::optional<double>& limitBytes) {
  const MemorySplit m = splitOf(workingSetBytes);
  const std::uint64_t limit = limitBytes ? whole(*limitBytes) : kV1Unlimited;
  // v1 working set = usage - total_inactive_file; fold the kernel share into cache so that
  // usage - inactive_file equals the working set as in v2.
  const std::uint64_t activeFile = m.activeFile + m.kernel;
  const std::uint64_t cache = activeFile + m.inactiveFile;
  std::string own;
  own += line("cache", cache);
  own += line("rss", m.anon);
  own += line("rss_huge", 0);
  own += line("shmem", 0);
  own += line("mapped_file", activeFile / 2);
  own += line("dirty", 0);
  own += line("writeback", 0);
  own += line("swap", 0);
  own += line("pgpgin", (m.anon + cache) / 4096);
  own += line("pgpgout", 0);
  own += line("pgfault", m.anon / 4096);
  own += line("pgmajfault", 0);
  own += line("inactive_anon", 0);
  own += line("active_anon", m.anon);
  own += line("inactive_file", m.inactiveFile);
  own += line("active_file", activeFile);
  own += line("unevictable", 0);
  std::string out = own;
  out += line("hierarchical_memory_limit", limit);
  out += line("hierarchical_memsw_limit", kV1Unlimited);
  // A container cgroup has no children: the totals equal its own counts.
  std::size_t pos = 0;
  while (pos < own.size()) {
    const std::size_t end = own.find('\n', pos);
    out += "total_" + own.substr(pos, end - pos) + "\n";
    pos = end + 1;
  }
  return out;
}

std::string procStat(int cpus, double busyNs, double idleNs, std::int64_t bootTimeUnix) {
  const double nsPerTick = 1e9 / kUserHz;
  const int n = std::max(cpus, 1);
  auto cpuLine = [&](const std::string& name, double busy, double idle) {
    const std::uint64_t busyTicks = whole(busy / nsPerTick);
    const std::uint64_t user = busyTicks * 3 / 4;
    const std::uint64_t system = busyTicks - user;
    char text[160];
    std::snprintf(text, sizeof(text), "%s %llu 0 %llu %llu 0 0 0 0 0 0\n", name.c_str(),
                  static_cast<unsigned long long>(user), static_cast<unsigned long long>(system),
                  static_cast<unsigned long long>(whole(idle / nsPerTick)));
    return std::string(text);
  };
  std::string out = cpuLine("cpu ", busyNs, idleNs);
  for (int i = 0; i < n; ++i) out += cpuLine("cpu" + std::to_string(i), busyNs / n, idleNs / n);
  out += "intr 0\nctxt 0\nbtime " + std::to_string(bootTimeUnix) +
         "\nprocesses 1\nprocs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n";
  return out;
}

std::string procMeminfo(double totalBytes, double usedBytes) {
  const std::uint64_t totalKb = whole(totalBytes / 1024);
  const std::uint64_t usedKb = std::min(whole(usedBytes / 1024), totalKb);
  const std::uint64_t availableKb = totalKb - usedKb;
  char text[512];
  std::snprintf(text, sizeof(text),
                "MemTotal:       %llu kB\nMemFree:        %llu kB\nMemAvailable:   %llu kB\n"
                "Buffers:        0 kB\nCached:         %llu kB\nSwapCached:     0 kB\n"
                "SwapTotal:      0 kB\nSwapFree:       0 kB\n",
                static_cast<unsigned long long>(totalKb),
                static_cast<unsigned long long>(availableKb * 3 / 4),
                static_cast<unsigned long long>(availableKb),
                static_cast<unsigned long long>(availableKb / 4));
  return text;
}

std::string mountinfo(int cgroupVersion) {
  std::string out =
      "22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,discard,errors=remount-ro\n"
      "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
      "24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n";
  if (cgroupVersion == 2) {
    out +=
        "25 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:8 - cgroup2 "
        "cgroup2 rw,nsdelegate,memory_recursiveprot\n";
  } else {
    out +=
        "30 24 0:25 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
        "31 30 0:26 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 "
        "cgroup2 rw,nsdelegate\n"
        "32 30 0:27 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup "
        "cgroup rw,xattr,name=systemd\n"
        "35 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - "
        "cgroup cgroup rw,cpu,cpuacct\n"
        "36 30 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup "
        "cgroup rw,memory\n"
        "37 30 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup "
        "cgroup rw,pids\n";
  }
  return out;
}

}  // namespace fleetscale::sim
