#include "fleetscale/agent/sampler.h"

#include <cerrno>
#include <cmath>

#include "fleetscale/agent/cgroup_parsers.h"
#include "fleetscale/agent/rates.h"
#include "fleetscale/shared/logging.h"

namespace fleetscale::agent {
namespace {

constexpr double kNsPerSecond = 1e9;
constexpr std::chrono::minutes kReadErrorLogInterval{1};

// Rates travel as whole millionths: protocol version 2 encodes them so, which makes its deltas
// exact, and a millionth of a core (or of a throttled period per second) is far below anything a
// decision can see. Rounded for version 1 too, so both versions carry the same figures.
double toWholeMillionths(double value) { return std::round(value * 1e6) / 1e6; }

void setRate(std::optional<double> rate, double scale, auto&& setter) {
  if (rate) setter(toWholeMillionths(*rate / scale));
}

void setPressure(std::optional<std::uint64_t> totalUs, auto&& setter) {
  if (totalUs) setter(static_cast<double>(*totalUs));
}

// Copies what the metadata source knows about the container into the sample. False when the
// source does not list the container by id (not refreshed yet, a pod's sandbox, a container
// newer than the last refresh); the pod-level fields are still filled when the pod is known.
bool labelFromMetadata(v1::ContainerSample& out, const ContainerCgroup& cgroup,
                       const MetadataSnapshot* metadata) {
  if (metadata == nullptr) return false;
  if (auto known = metadata->containers.find(cgroup.id); known != metadata->containers.end()) {
    *out.mutable_metadata() = known->second.metadata;
    // Under the cgroupfs driver only the kubelet knows which runtime runs the container.
    if ((cgroup.runtime == "cri" || cgroup.runtime == "unknown") &&
        !known->second.runtime.empty()) {
      out.set_runtime(known->second.runtime);
    }
    return true;
  }
  if (auto pod = metadata->pods.find(cgroup.podUid); pod != metadata->pods.end()) {
    *out.mutable_metadata() = pod->second;
  }
  return false;
}

}  // namespace

bool memoryStatDue(const MemoryStatSchedule& schedule, std::optional<SteadyTime> lastReadAt,
                   std::uint64_t usageAtLastRead, std::uint64_t usageNow, SteadyTime now) {
  if (!lastReadAt || now - *lastReadAt >= schedule.maxAge) return true;
  const std::uint64_t drift =
      usageNow > usageAtLastRead ? usageNow - usageAtLastRead : usageAtLastRead - usageNow;
  return drift > schedule.driftBytes;
}

struct Sampler::Tracked {
  ContainerCgroup cgroup;
  std::unique_ptr<CgroupHandle> files;
  std::optional<CgroupCounters> previous;
  SteadyTime previousAt{};
  std::optional<MemoryStat> memoryStat;
  SteadyTime memoryStatAt{};
  std::uint64_t usageAtMemoryStat = 0;
  std::optional<CgroupLimits> limits;
  SteadyTime limitsAt{};
};

struct Sampler::NodeFiles {
  explicit NodeFiles(const std::string& hostRoot)
      : procRoot(underRoot(hostRoot, "/proc")), context(fileAccessFor(procRoot)) {}
  ~NodeFiles() {
    stat.close(context);
    meminfo.close(context);
  }
  std::string procRoot;
  FileReadContext context;
  ControlFile stat{"stat"};
  ControlFile meminfo{"meminfo"};
  std::optional<ProcStatCpu> previousCpu;
};

Sampler::Sampler(CgroupLayout layout, std::unique_ptr<CgroupReader> reader, SamplerOptions options,
                 const Clock& clock, const MetadataStore* metadata)
    : layout_(std::move(layout)),
      reader_(std::move(reader)),
      options_(std::move(options)),
      clock_(clock),
      metadata_(metadata),
      node_(std::make_unique<NodeFiles>(options_.hostRoot)),
      readErrorLog_(clock, kReadErrorLogInterval) {}

Sampler::~Sampler() = default;
Sampler::Sampler(Sampler&&) noexcept = default;

std::size_t Sampler::keptDescriptors() const {
  return reader_->keptDescriptors() + node_->context.keptDescriptors;
}

void Sampler::rediscover() {
  std::map<std::string, std::unique_ptr<Tracked>> next;
  for (auto& cgroup : discoverContainers(layout_.discoveryRoot(), options_.discovery)) {
    auto existing = containers_.find(cgroup.id);
    // A known id at the same path keeps its baseline and open files; a new id (or a recreated
    // cgroup at a new path) starts a fresh baseline.
    if (existing != containers_.end() && existing->second->cgroup.cgroup == cgroup.cgroup) {
      next.emplace(cgroup.id, std::move(existing->second));
      continue;
    }
    auto tracked = std::make_unique<Tracked>();
    tracked->files = reader_->open(cgroup.cgroup);
    tracked->cgroup = std::move(cgroup);
    std::string id = tracked->cgroup.id;
    next.emplace(std::move(id), std::move(tracked));
  }
  containers_ = std::move(next);  // containers no longer found close their files here
  ++counters_.discoveries;
}

void Sampler::sample(v1::SampleBatch& batch) {
  const SteadyTime now = clock_.now();
  const bool discovering = !lastDiscovery_ || now - *lastDiscovery_ >= options_.rediscoverEvery;
  if (discovering) {
    rediscover();
    lastDiscovery_ = now;
  }
  // One snapshot for the whole tick; a refresh published meanwhile applies from the next tick.
  const auto metadata = metadata_ != nullptr ? metadata_->current() : nullptr;
  batch.Clear();
  batch.set_timestamp_unix_ms(toUnixMillis(clock_.wallNow()));
  fillNode(*batch.mutable_node());
  batch.mutable_containers()->Reserve(static_cast<int>(containers_.size()));
  counters_.containersWithoutMetadata = 0;
  for (auto it = containers_.begin(); it != containers_.end();) {
    const bool refreshLimits =
        !it->second->limits || now - it->second->limitsAt >= options_.limitsEvery;
    if (sampleContainer(*it->second, now, refreshLimits, metadata.get(), batch)) {
      ++it;
    } else {
      it = containers_.erase(it);
    }
  }
  // Sent even when a cgroup of the pod has appeared since the refresh: it may be the pod's
  // sandbox, which exists while the images are pulled; the aggregator counts the pod once and
  // takes its requests from here.
  if (metadata && metadata_->stalenessSeconds() <=
                      std::chrono::duration<double>(options_.pendingPodsMaxAge).count()) {
    for (const auto& pod : metadata->pendingPods) *batch.add_pending_pods() = pod;
  }
  ++counters_.ticks;
  counters_.containersTracked = containers_.size();
}

bool Sampler::sampleContainer(Tracked& tracked, SteadyTime now, bool refreshLimits,
                              const MetadataSnapshot* metadata, v1::SampleBatch& batch) {
  auto counters = tracked.files->readCounters();
  if (counters &&
      memoryStatDue(options_.memoryStat,
                    tracked.memoryStat ? std::optional(tracked.memoryStatAt) : std::nullopt,
                    tracked.usageAtMemoryStat, counters->memoryUsageBytes, now)) {
    auto memory = tracked.files->readMemoryStat();
    ++counters_.memoryStatReads;
    if (memory) {
      tracked.memoryStat = *memory;
      tracked.memoryStatAt = now;
      tracked.usageAtMemoryStat = counters->memoryUsageBytes;
    } else {
      counters = memory.error();
    }
  }
  if (!counters) {
    if (counters.error().code == ENOENT) {
      // The container exited: expected churn, counted rather than logged.
      ++counters_.vanishedContainers;
      return false;
    }
    ++counters_.readErrors;
    std::uint64_t suppressed = 0;
    if (readErrorLog_.allow(&suppressed)) {
      componentLogger("agent.sampler")
          ->warn("container {} not sampled: {} ({} similar errors not logged)", tracked.cgroup.id,
                 counters.error().message, suppressed);
    }
    return true;  // kept: the next tick may read it again
  }
  if (refreshLimits) {
    tracked.limits = tracked.files->readLimits();
    tracked.limitsAt = now;
  }

  v1::ContainerSample& out = *batch.add_containers();
  const ContainerCgroup& cgroup = tracked.cgroup;
  out.set_id(cgroup.id);
  out.set_cgroup(cgroup.cgroup);
  out.set_runtime(cgroup.runtime);
  if (metadata_ != nullptr && !labelFromMetadata(out, cgroup, metadata)) {
    ++counters_.containersWithoutMetadata;
  }
  auto& meta = *out.mutable_metadata();
  if (meta.pod_uid().empty() && !cgroup.podUid.empty()) meta.set_pod_uid(cgroup.podUid);
  if (meta.qos_class().empty() && !cgroup.qosClass.empty()) meta.set_qos_class(cgroup.qosClass);

  const CgroupCounters& current = *counters;
  out.set_cpu_usage_ns_total(current.cpuUsageNs);
  if (tracked.previous) {
    const CgroupCounters& before = *tracked.previous;
    const auto elapsed = now - tracked.previousAt;
    setRate(ratePerSecond(before.cpuUsageNs, current.cpuUsageNs, elapsed), kNsPerSecond,
            [&](double v) { out.set_cpu_cores(v); });
    setRate(ratePerSecond(before.cpuUserNs, current.cpuUserNs, elapsed), kNsPerSecond,
            [&](double v) { out.set_cpu_user_cores(v); });
    setRate(ratePerSecond(before.cpuSystemNs, current.cpuSystemNs, elapsed), kNsPerSecond,
            [&](double v) { out.set_cpu_system_cores(v); });
    setRate(ratePerSecond(before.cpuThrottledPeriods, current.cpuThrottledPeriods, elapsed), 1.0,
            [&](double v) { out.set_cpu_throttled_periods_per_second(v); });
    setRate(ratePerSecond(before.cpuThrottledNs, current.cpuThrottledNs, elapsed), kNsPerSecond,
            [&](double v) { out.set_cpu_throttled_seconds_per_second(v); });
  }
  if (tracked.limits) {
    if (tracked.limits->cpuLimitCores) out.set_cpu_limit_cores(*tracked.limits->cpuLimitCores);
    if (tracked.limits->cpuWeight) out.set_cpu_weight(*tracked.limits->cpuWeight);
    if (tracked.limits->memoryLimitBytes) {
      out.set_memory_limit_bytes(*tracked.limits->memoryLimitBytes);
    }
  }
  out.set_memory_usage_bytes(current.memoryUsageBytes);
  out.set_memory_working_set_bytes(
      workingSet(current.memoryUsageBytes, tracked.memoryStat->inactiveFileBytes));
  if (tracked.memoryStat->rssBytes) out.set_memory_rss_bytes(*tracked.memoryStat->rssBytes);
  if (current.oomKills) out.set_oom_kills_total(*current.oomKills);
  setPressure(current.cpuPressureSomeUs, [&](double v) { out.set_cpu_pressure_some_total_us(v); });
  setPressure(current.cpuPressureFullUs, [&](double v) { out.set_cpu_pressure_full_total_us(v); });
  setPressure(current.memoryPressureSomeUs,
              [&](double v) { out.set_memory_pressure_some_total_us(v); });
  setPressure(current.memoryPressureFullUs,
              [&](double v) { out.set_memory_pressure_full_total_us(v); });

  tracked.previous = *counters;
  tracked.previousAt = now;
  return true;
}

void Sampler::fillNode(v1::NodeTotals& node) {
  NodeFiles& files = *node_;
  if (auto text = files.stat.read(files.procRoot, "", files.context)) {
    if (auto cpu = parseProcStat(*text)) {
      node.set_cpu_capacity_cores(cpu->cpuCount);
      node.set_cpu_allocatable_cores(cpu->cpuCount);
      const auto& previous = files.previousCpu;
      if (previous && cpu->totalTicks > previous->totalTicks &&
          cpu->idleTicks >= previous->idleTicks) {
        const double total = static_cast<double>(cpu->totalTicks - previous->totalTicks);
        const double idle = static_cast<double>(cpu->idleTicks - previous->idleTicks);
        const double busyShare = idle <= total ? (total - idle) / total : 0.0;
        node.set_cpu_usage_cores(busyShare * cpu->cpuCount);
      }
      files.previousCpu = *cpu;
    }
  }
  if (auto text = files.meminfo.read(files.procRoot, "", files.context)) {
    if (auto memory = parseMemInfo(*text)) {
      node.set_memory_capacity_bytes(memory->totalBytes);
      node.set_memory_allocatable_bytes(memory->totalBytes);
      node.set_memory_usage_bytes(memory->totalBytes > memory->availableBytes
                                      ? memory->totalBytes - memory->availableBytes
                                      : 0);
    }
  }
}

}  // namespace fleetscale::agent
