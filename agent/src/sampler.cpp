#include "fleetscale/agent/sampler.h"

#include <cerrno>

#include "fleetscale/agent/rates.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::agent {

Sampler::Sampler(CgroupLayout layout, std::unique_ptr<CgroupReader> reader, SamplerOptions options,
                 const Clock& clock)
    : layout_(std::move(layout)),
      reader_(std::move(reader)),
      options_(std::move(options)),
      clock_(clock) {}

void Sampler::rediscover() {
  std::map<std::string, Tracked> next;
  for (auto& cgroup : discoverContainers(layout_.discoveryRoot(), options_.discovery)) {
    auto existing = containers_.find(cgroup.id);
    // A known id at the same path keeps its baseline; a new id (or a recreated cgroup at a new
    // path) starts a fresh one.
    if (existing != containers_.end() && existing->second.cgroup.cgroup == cgroup.cgroup) {
      next.emplace(cgroup.id, std::move(existing->second));
    } else {
      std::string id = cgroup.id;
      next.emplace(std::move(id), Tracked{std::move(cgroup), std::nullopt, {}});
    }
  }
  containers_ = std::move(next);
  ++counters_.discoveries;
}

v1::SampleBatch Sampler::sample() {
  const SteadyTime now = clock_.now();
  if (!lastDiscovery_ || now - *lastDiscovery_ >= options_.rediscoverEvery) {
    rediscover();
    lastDiscovery_ = now;
  }
  v1::SampleBatch batch;
  batch.set_timestamp_unix_ms(toUnixMillis(clock_.wallNow()));
  fillNode(*batch.mutable_node(), now);
  for (auto it = containers_.begin(); it != containers_.end();) {
    Tracked& tracked = it->second;
    auto stats = reader_->read(tracked.cgroup.cgroup);
    if (!stats) {
      if (stats.error().code == ENOENT) {
        // The container exited; expected churn, so counted rather than logged.
        ++counters_.vanishedContainers;
        it = containers_.erase(it);
      } else {
        ++counters_.readErrors;
        componentLogger("agent.sampler")->debug("{}: {}", tracked.cgroup.id, stats.error().message);
        ++it;
      }
      continue;
    }
    const auto elapsed = tracked.previous ? now - tracked.previousAt : std::chrono::nanoseconds(0);
    fillContainer(*batch.add_containers(), tracked, *stats, elapsed);
    tracked.previous = *stats;
    tracked.previousAt = now;
    ++it;
  }
  ++counters_.ticks;
  counters_.containersTracked = containers_.size();
  return batch;
}

void Sampler::fillNode(v1::NodeTotals& node, SteadyTime now) {
  (void)now;
  if (auto text = readFile(underRoot(options_.hostRoot, "/proc/stat"))) {
    if (auto cpu = parseProcStat(*text)) {
      node.set_cpu_capacity_cores(cpu->cpuCount);
      node.set_cpu_allocatable_cores(cpu->cpuCount);
      if (previousNodeCpu_ && cpu->totalTicks > previousNodeCpu_->totalTicks &&
          cpu->idleTicks >= previousNodeCpu_->idleTicks) {
        const double total = static_cast<double>(cpu->totalTicks - previousNodeCpu_->totalTicks);
        const double idle = static_cast<double>(cpu->idleTicks - previousNodeCpu_->idleTicks);
        const double busyShare = total > 0 && idle <= total ? (total - idle) / total : 0.0;
        node.set_cpu_usage_cores(busyShare * cpu->cpuCount);
      }
      previousNodeCpu_ = *cpu;
    }
  }
  if (auto text = readFile(underRoot(options_.hostRoot, "/proc/meminfo"))) {
    if (auto memory = parseMemInfo(*text)) {
      node.set_memory_capacity_bytes(memory->totalBytes);
      node.set_memory_allocatable_bytes(memory->totalBytes);
      node.set_memory_usage_bytes(memory->totalBytes > memory->availableBytes
                                      ? memory->totalBytes - memory->availableBytes
                                      : 0);
    }
  }
}

void Sampler::fillContainer(v1::ContainerSample& out, const Tracked& tracked,
                            const CgroupStats& stats, std::chrono::nanoseconds elapsed) {
  out.set_id(tracked.cgroup.id);
  out.set_cgroup(tracked.cgroup.cgroup);
  out.set_runtime(tracked.cgroup.runtime);
  if (!tracked.cgroup.podUid.empty()) out.mutable_metadata()->set_pod_uid(tracked.cgroup.podUid);
  if (!tracked.cgroup.qosClass.empty()) {
    out.mutable_metadata()->set_qos_class(tracked.cgroup.qosClass);
  }
  out.set_cpu_usage_ns_total(stats.cpuUsageNs);
  if (tracked.previous) {
    const CgroupStats& before = *tracked.previous;
    constexpr double kNsPerSecond = 1e9;
    if (auto rate = ratePerSecond(before.cpuUsageNs, stats.cpuUsageNs, elapsed)) {
      out.set_cpu_cores(*rate / kNsPerSecond);
    }
    if (auto rate = ratePerSecond(before.cpuUserNs, stats.cpuUserNs, elapsed)) {
      out.set_cpu_user_cores(*rate / kNsPerSecond);
    }
    if (auto rate = ratePerSecond(before.cpuSystemNs, stats.cpuSystemNs, elapsed)) {
      out.set_cpu_system_cores(*rate / kNsPerSecond);
    }
    if (auto rate = ratePerSecond(before.cpuThrottledPeriods, stats.cpuThrottledPeriods, elapsed)) {
      out.set_cpu_throttled_periods_per_second(*rate);
    }
    if (auto rate = ratePerSecond(before.cpuThrottledNs, stats.cpuThrottledNs, elapsed)) {
      out.set_cpu_throttled_seconds_per_second(*rate / kNsPerSecond);
    }
  }
  if (stats.cpuLimitCores) out.set_cpu_limit_cores(*stats.cpuLimitCores);
  if (stats.cpuWeight) out.set_cpu_weight(*stats.cpuWeight);
  out.set_memory_usage_bytes(stats.memoryUsageBytes);
  out.set_memory_working_set_bytes(stats.memoryWorkingSetBytes);
  if (stats.memoryRssBytes) out.set_memory_rss_bytes(*stats.memoryRssBytes);
  if (stats.memoryLimitBytes) out.set_memory_limit_bytes(*stats.memoryLimitBytes);
  if (stats.oomKills) out.set_oom_kills_total(*stats.oomKills);
  if (stats.cpuPressureSomeUs)
    out.set_cpu_pressure_some_total_us(static_cast<double>(*stats.cpuPressureSomeUs));
  if (stats.cpuPressureFullUs)
    out.set_cpu_pressure_full_total_us(static_cast<double>(*stats.cpuPressureFullUs));
  if (stats.memoryPressureSomeUs) {
    out.set_memory_pressure_some_total_us(static_cast<double>(*stats.memoryPressureSomeUs));
  }
  if (stats.memoryPressureFullUs) {
    out.set_memory_pressure_full_total_us(static_cast<double>(*stats.memoryPressureFullUs));
  }
}

}  // namespace fleetscale::agent
