#include "fleetscale/agent/cgroup_reader.h"

#include <unistd.h>

#include <cerrno>
#include <initializer_list>

#include "fleetscale/agent/cgroup_parsers.h"

namespace fleetscale::agent {
namespace {

// USER_HZ, the unit of cpuacct.stat.
std::uint64_t nanosecondsPerTick() {
  static const std::uint64_t value = [] {
    const long hz = ::sysconf(_SC_CLK_TCK);
    return hz > 0 ? 1'000'000'000ULL / static_cast<std::uint64_t>(hz) : 10'000'000ULL;
  }();
  return value;
}

std::optional<std::uint64_t> timesThousand(std::optional<std::uint64_t> value) {
  if (!value) return std::nullopt;
  return *value * 1000;
}

Error malformed(std::string_view root, std::string_view cgroupPath, const char* file,
                const std::string& what) {
  return Error{std::string(root) + std::string(cgroupPath) + "/" + file + ": " + what};
}

// The text of an optional file, or std::nullopt when it is missing or unreadable. A file the
// kernel does not have (ENOENT while the cgroup itself was just read) is not tried again.
std::optional<std::string_view> readOptional(ControlFile& file, std::string_view root,
                                             std::string_view cgroupPath,
                                             FileReadContext& context) {
  if (file.absent() || root.empty()) return std::nullopt;
  auto text = file.read(root, cgroupPath, context);
  if (!text) {
    if (text.error().code == ENOENT) file.markAbsent();
    return std::nullopt;
  }
  return *text;
}

Result<std::uint64_t> readSingleValue(ControlFile& file, std::string_view root,
                                      std::string_view cgroupPath, FileReadContext& context) {
  auto text = file.read(root, cgroupPath, context);
  if (!text) return text.error();
  auto value = parseSingleValue(*text);
  if (!value) return malformed(root, cgroupPath, file.name(), value.error().message);
  return *value;
}

void readPressure(ControlFile& file, std::string_view root, std::string_view cgroupPath,
                  FileReadContext& context, std::optional<std::uint64_t>& some,
                  std::optional<std::uint64_t>& full) {
  if (auto text = readOptional(file, root, cgroupPath, context)) {
    if (auto totals = parsePressure(*text)) {
      some = totals->someTotalUs;
      full = totals->fullTotalUs;
    }
  }
}

class CgroupV2Handle final : public CgroupHandle {
 public:
  CgroupV2Handle(const std::string& root, std::string cgroupPath, FileReadContext& context)
      : root_(root), path_(std::move(cgroupPath)), context_(context) {}
  ~CgroupV2Handle() override {
    for (ControlFile* file : {&cpuStat_, &memoryCurrent_, &memoryEvents_, &cpuPressure_,
                              &memoryPressure_, &memoryStat_, &cpuMax_, &cpuWeight_, &memoryMax_}) {
      file->close(context_);
    }
  }

  Result<CgroupCounters> readCounters() override {
    CgroupCounters out;
    auto cpuStat = cpuStat_.read(root_, path_, context_);
    if (!cpuStat) return cpuStat.error();
    static constexpr std::string_view kKeys[] = {"usage_usec", "user_usec",    "system_usec",
                                                 "nr_periods", "nr_throttled", "throttled_usec"};
    std::optional<std::uint64_t> values[std::size(kKeys)];
    findKeyedValues(*cpuStat, kKeys, values);
    if (!values[0]) return malformed(root_, path_, "cpu.stat", "no usage_usec");
    out.cpuUsageNs = *values[0] * 1000;
    out.cpuUserNs = timesThousand(values[1]);
    out.cpuSystemNs = timesThousand(values[2]);
    out.cpuPeriods = values[3];
    out.cpuThrottledPeriods = values[4];
    out.cpuThrottledNs = timesThousand(values[5]);

    auto usage = readSingleValue(memoryCurrent_, root_, path_, context_);
    if (!usage) return usage.error();
    out.memoryUsageBytes = *usage;
    if (auto events = readOptional(memoryEvents_, root_, path_, context_)) {
      out.oomKills = findKeyedValue(*events, "oom_kill");
    }
    readPressure(cpuPressure_, root_, path_, context_, out.cpuPressureSomeUs,
                 out.cpuPressureFullUs);
    readPressure(memoryPressure_, root_, path_, context_, out.memoryPressureSomeUs,
                 out.memoryPressureFullUs);
    return out;
  }

  Result<MemoryStat> readMemoryStat() override {
    auto text = memoryStat_.read(root_, path_, context_);
    if (!text) return text.error();
    static constexpr std::string_view kKeys[] = {"inactive_file", "anon"};
    std::optional<std::uint64_t> values[std::size(kKeys)];
    findKeyedValues(*text, kKeys, values);
    if (!values[0]) return malformed(root_, path_, "memory.stat", "no inactive_file");
    return MemoryStat{*values[0], values[1]};
  }

  CgroupLimits readLimits() override {
    CgroupLimits out;
    if (auto text = readOptional(cpuMax_, root_, path_, context_)) {
      if (auto max = parseCpuMax(*text)) out.cpuLimitCores = max->limitCores();
    }
    if (auto text = readOptional(cpuWeight_, root_, path_, context_)) {
      if (auto weight = parseSingleValue(*text)) out.cpuWeight = *weight;
    }
    if (auto text = readOptional(memoryMax_, root_, path_, context_)) {
      if (auto max = parseMemoryMax(*text)) out.memoryLimitBytes = *max;
    }
    return out;
  }

 private:
  const std::string& root_;
  std::string path_;
  FileReadContext& context_;
  ControlFile cpuStat_{"cpu.stat"};
  ControlFile memoryCurrent_{"memory.current"};
  ControlFile memoryEvents_{"memory.events"};
  ControlFile cpuPressure_{"cpu.pressure"};
  ControlFile memoryPressure_{"memory.pressure"};
  ControlFile memoryStat_{"memory.stat"};
  ControlFile cpuMax_{"cpu.max"};
  ControlFile cpuWeight_{"cpu.weight"};
  ControlFile memoryMax_{"memory.max"};
};

// v1 spreads a container over the cpu, cpuacct and memory hierarchies (cpu and cpuacct may be
// one co-mounted hierarchy). PSI files exist on v1 only when the kernel enables them there.
class CgroupV1Handle final : public CgroupHandle {
 public:
  CgroupV1Handle(const CgroupLayout& layout, std::string cgroupPath, FileReadContext& context)
      : layout_(layout), path_(std::move(cgroupPath)), context_(context) {}
  ~CgroupV1Handle() override {
    for (ControlFile* file :
         {&usage_, &cpuacctStat_, &cpuStat_, &memoryUsage_, &oomControl_, &cpuPressure_,
          &memoryPressure_, &memoryStat_, &quota_, &period_, &shares_, &memoryLimit_}) {
      file->close(context_);
    }
  }

  Result<CgroupCounters> readCounters() override {
    CgroupCounters out;
    auto usage = readSingleValue(usage_, layout_.cpuacct, path_, context_);
    if (!usage) return usage.error();
    out.cpuUsageNs = *usage;
    if (auto text = readOptional(cpuacctStat_, layout_.cpuacct, path_, context_)) {
      static constexpr std::string_view kKeys[] = {"user", "system"};
      std::optional<std::uint64_t> ticks[std::size(kKeys)];
      findKeyedValues(*text, kKeys, ticks);
      if (ticks[0]) out.cpuUserNs = *ticks[0] * nanosecondsPerTick();
      if (ticks[1]) out.cpuSystemNs = *ticks[1] * nanosecondsPerTick();
    }
    if (auto text = readOptional(cpuStat_, layout_.cpu, path_, context_)) {
      static constexpr std::string_view kKeys[] = {"nr_periods", "nr_throttled", "throttled_time"};
      std::optional<std::uint64_t> values[std::size(kKeys)];
      findKeyedValues(*text, kKeys, values);
      out.cpuPeriods = values[0];
      out.cpuThrottledPeriods = values[1];
      out.cpuThrottledNs = values[2];  // already nanoseconds on v1
    }
    readPressure(cpuPressure_, layout_.cpuacct, path_, context_, out.cpuPressureSomeUs,
                 out.cpuPressureFullUs);
    if (layout_.memory.empty()) return out;
    auto memoryUsage = readSingleValue(memoryUsage_, layout_.memory, path_, context_);
    if (!memoryUsage) return memoryUsage.error();
    out.memoryUsageBytes = *memoryUsage;
    if (auto text = readOptional(oomControl_, layout_.memory, path_, context_)) {
      out.oomKills = findKeyedValue(*text, "oom_kill");
    }
    readPressure(memoryPressure_, layout_.memory, path_, context_, out.memoryPressureSomeUs,
                 out.memoryPressureFullUs);
    return out;
  }

  Result<MemoryStat> readMemoryStat() override {
    if (layout_.memory.empty()) return MemoryStat{};
    auto text = memoryStat_.read(layout_.memory, path_, context_);
    if (!text) return text.error();
    // Hierarchical totals, as cAdvisor uses: a container's own cgroup may have children.
    static constexpr std::string_view kKeys[] = {"total_inactive_file", "total_rss"};
    std::optional<std::uint64_t> values[std::size(kKeys)];
    findKeyedValues(*text, kKeys, values);
    if (!values[0])
      return malformed(layout_.memory, path_, "memory.stat", "no total_inactive_file");
    return MemoryStat{*values[0], values[1]};
  }

  CgroupLimits readLimits() override {
    CgroupLimits out;
    const auto quota = readOptional(quota_, layout_.cpu, path_, context_);
    const auto quotaUs = quota ? parseSignedValue(*quota) : Result<std::int64_t>(Error{""});
    const auto period = readOptional(period_, layout_.cpu, path_, context_);
    const auto periodUs = period ? parseSingleValue(*period) : Result<std::uint64_t>(Error{""});
    if (quotaUs && periodUs && *quotaUs > 0 && *periodUs > 0) {
      out.cpuLimitCores = static_cast<double>(*quotaUs) / static_cast<double>(*periodUs);
    }
    if (auto text = readOptional(shares_, layout_.cpu, path_, context_)) {
      if (auto shares = parseSingleValue(*text)) out.cpuWeight = sharesToWeight(*shares);
    }
    if (auto text = readOptional(memoryLimit_, layout_.memory, path_, context_)) {
      if (auto limit = parseV1MemoryLimit(*text)) out.memoryLimitBytes = *limit;
    }
    return out;
  }

 private:
  const CgroupLayout& layout_;
  std::string path_;
  FileReadContext& context_;
  ControlFile usage_{"cpuacct.usage"};
  ControlFile cpuacctStat_{"cpuacct.stat"};
  ControlFile cpuStat_{"cpu.stat"};
  ControlFile memoryUsage_{"memory.usage_in_bytes"};
  ControlFile oomControl_{"memory.oom_control"};
  ControlFile cpuPressure_{"cpu.pressure"};
  ControlFile memoryPressure_{"memory.pressure"};
  ControlFile memoryStat_{"memory.stat"};
  ControlFile quota_{"cpu.cfs_quota_us"};
  ControlFile period_{"cpu.cfs_period_us"};
  ControlFile shares_{"cpu.shares"};
  ControlFile memoryLimit_{"memory.limit_in_bytes"};
};

class LayoutReader final : public CgroupReader {
 public:
  LayoutReader(CgroupLayout layout, const ReaderOptions& options)
      : layout_(std::move(layout)),
        context_(options.access.value_or(fileAccessFor(layout_.discoveryRoot())),
                 options.maxKeptDescriptors) {}

  std::unique_ptr<CgroupHandle> open(const std::string& cgroupPath) override {
    if (layout_.version == CgroupVersion::kV2) {
      return std::make_unique<CgroupV2Handle>(layout_.unified, cgroupPath, context_);
    }
    return std::make_unique<CgroupV1Handle>(layout_, cgroupPath, context_);
  }
  FileAccess access() const override { return context_.access; }
  std::size_t keptDescriptors() const override { return context_.keptDescriptors; }

 private:
  CgroupLayout layout_;
  FileReadContext context_;
};

}  // namespace

std::unique_ptr<CgroupReader> makeCgroupReader(const CgroupLayout& layout,
                                               const ReaderOptions& options) {
  return std::make_unique<LayoutReader>(layout, options);
}

std::uint64_t CgroupStats::workingSetBytes() const {
  return workingSet(counters.memoryUsageBytes, memory.inactiveFileBytes);
}

Result<CgroupStats> readCgroupOnce(CgroupReader& reader, const std::string& cgroupPath) {
  auto handle = reader.open(cgroupPath);
  CgroupStats stats;
  auto counters = handle->readCounters();
  if (!counters) return counters.error();
  stats.counters = *counters;
  auto memory = handle->readMemoryStat();
  if (!memory) return memory.error();
  stats.memory = *memory;
  stats.limits = handle->readLimits();
  return stats;
}

}  // namespace fleetscale::agent
