#include "fleetscale/agent/cgroup_reader.h"

#include <unistd.h>

#include <cerrno>

#include "fleetscale/agent/cgroup_parsers.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::agent {
namespace {

// USER_HZ for cpuacct.stat ticks.
std::uint64_t nanosecondsPerTick() {
  static const std::uint64_t value = [] {
    const long hz = ::sysconf(_SC_CLK_TCK);
    return hz > 0 ? 1'000'000'000ULL / static_cast<std::uint64_t>(hz) : 10'000'000ULL;
  }();
  return value;
}

// Reads an optional file: std::nullopt when it is missing or unreadable.
std::optional<std::string> readOptional(const std::string& path) {
  auto text = readFile(path);
  if (!text) return std::nullopt;
  return std::move(*text);
}

template <typename T>
std::optional<T> okOrNone(Result<T> result) {
  if (!result) return std::nullopt;
  return std::move(*result);
}

void readPressure(const std::string& path, std::optional<std::uint64_t>& some,
                  std::optional<std::uint64_t>& full) {
  if (auto text = readOptional(path)) {
    if (auto totals = parsePressure(*text)) {
      some = totals->someTotalUs;
      full = totals->fullTotalUs;
    }
  }
}

Error wrap(const std::string& what, const Error& error) {
  return Error{what + ": " + error.message, error.code};
}

class CgroupV2Reader final : public CgroupReader {
 public:
  explicit CgroupV2Reader(std::string root) : root_(std::move(root)) {}

  Result<CgroupStats> read(const std::string& cgroupPath) override {
    const std::string dir = root_ + cgroupPath;
    CgroupStats stats;
    auto cpuStat = readFile(dir + "/cpu.stat");
    if (!cpuStat) return cpuStat.error();
    const auto usageUs = findKeyedValue(*cpuStat, "usage_usec");
    if (!usageUs) return Error{dir + "/cpu.stat: no usage_usec"};
    stats.cpuUsageNs = *usageUs * 1000;
    if (auto v = findKeyedValue(*cpuStat, "user_usec")) stats.cpuUserNs = *v * 1000;
    if (auto v = findKeyedValue(*cpuStat, "system_usec")) stats.cpuSystemNs = *v * 1000;
    stats.cpuPeriods = findKeyedValue(*cpuStat, "nr_periods");
    stats.cpuThrottledPeriods = findKeyedValue(*cpuStat, "nr_throttled");
    if (auto v = findKeyedValue(*cpuStat, "throttled_usec")) stats.cpuThrottledNs = *v * 1000;

    auto current = readFile(dir + "/memory.current");
    if (!current) return current.error();
    auto usage = parseSingleValue(*current);
    if (!usage) return wrap(dir + "/memory.current", usage.error());
    stats.memoryUsageBytes = *usage;
    auto memoryStat = readFile(dir + "/memory.stat");
    if (!memoryStat) return memoryStat.error();
    const auto inactiveFile = findKeyedValue(*memoryStat, "inactive_file");
    if (!inactiveFile) return Error{dir + "/memory.stat: no inactive_file"};
    stats.memoryWorkingSetBytes = workingSet(*usage, *inactiveFile);
    stats.memoryRssBytes = findKeyedValue(*memoryStat, "anon");

    if (auto text = readOptional(dir + "/cpu.max")) {
      if (auto max = parseCpuMax(*text)) stats.cpuLimitCores = max->limitCores();
    }
    if (auto text = readOptional(dir + "/cpu.weight"))
      stats.cpuWeight = okOrNone(parseSingleValue(*text));
    if (auto text = readOptional(dir + "/memory.max")) {
      if (auto max = parseMemoryMax(*text)) stats.memoryLimitBytes = *max;
    }
    if (auto text = readOptional(dir + "/memory.events"))
      stats.oomKills = findKeyedValue(*text, "oom_kill");
    readPressure(dir + "/cpu.pressure", stats.cpuPressureSomeUs, stats.cpuPressureFullUs);
    readPressure(dir + "/memory.pressure", stats.memoryPressureSomeUs, stats.memoryPressureFullUs);
    return stats;
  }

 private:
  std::string root_;
};

class CgroupV1Reader final : public CgroupReader {
 public:
  explicit CgroupV1Reader(const CgroupLayout& layout)
      : cpu_(layout.cpu), cpuacct_(layout.cpuacct), memory_(layout.memory) {}

  Result<CgroupStats> read(const std::string& cgroupPath) override {
    CgroupStats stats;
    const std::string acct = cpuacct_ + cgroupPath;
    auto usageText = readFile(acct + "/cpuacct.usage");
    if (!usageText) return usageText.error();
    auto usage = parseSingleValue(*usageText);
    if (!usage) return wrap(acct + "/cpuacct.usage", usage.error());
    stats.cpuUsageNs = *usage;
    if (auto text = readOptional(acct + "/cpuacct.stat")) {
      if (auto user = findKeyedValue(*text, "user")) stats.cpuUserNs = *user * nanosecondsPerTick();
      if (auto sys = findKeyedValue(*text, "system"))
        stats.cpuSystemNs = *sys * nanosecondsPerTick();
    }

    if (!cpu_.empty()) {
      const std::string dir = cpu_ + cgroupPath;
      if (auto text = readOptional(dir + "/cpu.stat")) {
        stats.cpuPeriods = findKeyedValue(*text, "nr_periods");
        stats.cpuThrottledPeriods = findKeyedValue(*text, "nr_throttled");
        stats.cpuThrottledNs = findKeyedValue(*text, "throttled_time");
      }
      const auto quota = readOptional(dir + "/cpu.cfs_quota_us");
      const auto period = readOptional(dir + "/cpu.cfs_period_us");
      if (quota && period) {
        const auto quotaUs = parseSignedValue(*quota);
        const auto periodUs = parseSingleValue(*period);
        if (quotaUs && periodUs && *quotaUs > 0 && *periodUs > 0) {
          stats.cpuLimitCores = static_cast<double>(*quotaUs) / static_cast<double>(*periodUs);
        }
      }
      if (auto text = readOptional(dir + "/cpu.shares")) {
        if (auto shares = parseSingleValue(*text)) stats.cpuWeight = sharesToWeight(*shares);
      }
    }

    if (memory_.empty()) return stats;
    const std::string mem = memory_ + cgroupPath;
    auto memoryUsageText = readFile(mem + "/memory.usage_in_bytes");
    if (!memoryUsageText) return memoryUsageText.error();
    auto memoryUsage = parseSingleValue(*memoryUsageText);
    if (!memoryUsage) return wrap(mem + "/memory.usage_in_bytes", memoryUsage.error());
    stats.memoryUsageBytes = *memoryUsage;
    auto memoryStat = readFile(mem + "/memory.stat");
    if (!memoryStat) return memoryStat.error();
    // Hierarchical totals, as cAdvisor uses: a container's own cgroup may have children.
    const auto inactiveFile = findKeyedValue(*memoryStat, "total_inactive_file");
    if (!inactiveFile) return Error{mem + "/memory.stat: no total_inactive_file"};
    stats.memoryWorkingSetBytes = workingSet(*memoryUsage, *inactiveFile);
    stats.memoryRssBytes = findKeyedValue(*memoryStat, "total_rss");
    if (auto text = readOptional(mem + "/memory.limit_in_bytes")) {
      if (auto limit = parseV1MemoryLimit(*text)) stats.memoryLimitBytes = *limit;
    }
    if (auto text = readOptional(mem + "/memory.oom_control")) {
      stats.oomKills = findKeyedValue(*text, "oom_kill");
    }
    return stats;
  }

 private:
  std::string cpu_;
  std::string cpuacct_;
  std::string memory_;
};

}  // namespace

std::unique_ptr<CgroupReader> makeCgroupReader(const CgroupLayout& layout) {
  if (layout.version == CgroupVersion::kV2) return std::make_unique<CgroupV2Reader>(layout.unified);
  return std::make_unique<CgroupV1Reader>(layout);
}

}  // namespace fleetscale::agent
