#include "fleetscale/aggregator/rightsizing/recommender.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <tuple>

namespace fleetscale::aggregator::rightsizing {

namespace {

constexpr double kSecondsPerDay = 86400;
// The stored form's version: bump it when the layout or the bucket scheme changes (older rows are
// then skipped, and the recommender starts that container over).
constexpr std::uint32_t kStateVersion = 1;

double unixSecondsOf(WallTime time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

std::int64_t intervalIndex(double unixSeconds, const RecommenderSettings& settings) {
  return static_cast<std::int64_t>(
      std::floor(unixSeconds / static_cast<double>(settings.memoryInterval.count())));
}

std::size_t intervalSlots(const RecommenderSettings& settings) {
  return static_cast<std::size_t>(std::max(1, settings.memoryIntervals));
}

double maxPresent(double a, double b) {
  if (!isPresent(a)) return b;
  if (!isPresent(b)) return a;
  return std::max(a, b);
}

std::string printf1(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}
std::string cores(double value) { return printf1("%.3g cores", value); }
std::string mebibytes(double value) { return printf1("%.0fMi", value / kMebibyte); }

std::string utcTime(double unixSeconds) {
  const auto seconds = static_cast<std::time_t>(unixSeconds);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%MZ", &parts);
  return buffer;
}

// VPA's confidence multipliers: the upper bound times (1 + 1/confidence) (no bound without
// history), the lower bound times (1 + 0.001/confidence)^-2 (0 without history).
double upperMultiplier(double confidence) { return confidence > 0 ? 1 + 1 / confidence : kAbsent; }
double lowerMultiplier(double confidence) {
  return confidence > 0 ? std::pow(1 + 0.001 / confidence, -2) : 0;
}

// Clamps a present figure into the policy's bounds and the floor; says in `note` what moved it.
double bound(double value, double floor, double minAllowed, double maxAllowed, std::string* note,
             const std::string& resource, std::string (*show)(double)) {
  if (!isPresent(value)) return value;
  double out = std::max(value, floor);
  if (isPresent(minAllowed) && out < minAllowed) {
    out = minAllowed;
    if (note != nullptr) *note += "; " + resource + " raised to minAllowed " + show(minAllowed);
  }
  if (isPresent(maxAllowed) && out > maxAllowed) {
    out = maxAllowed;
    if (note != nullptr) *note += "; " + resource + " capped at maxAllowed " + show(maxAllowed);
  }
  return out;
}

void order(ResourceRecommendation& r) {
  if (isPresent(r.lowerBound) && isPresent(r.target))
    r.lowerBound = std::min(r.lowerBound, r.target);
  if (isPresent(r.upperBound) && isPresent(r.target))
    r.upperBound = std::max(r.upperBound, r.target);
}

// A container instance within its (workload, container name) entry: its cluster and pod.
std::uint64_t instanceId(const ContainerUsage& usage) {
  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a
  const auto mix = [&hash](std::string_view text) {
    for (const char c : text) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 1099511628211ULL;
    }
    hash ^= 0xff;  // a separator no UTF-8 text contains
    hash *= 1099511628211ULL;
  };
  mix(usage.cluster);
  mix(usage.pod);
  return hash;
}

}  // namespace

// --- ContainerAggregate ------------------------------------------------------------------------

ContainerAggregate::ContainerAggregate(const RecommenderSettings& settings)
    : cpu_(settings.cpuHalfLife), memory_(intervalSlots(settings)) {}

MemoryInterval& ContainerAggregate::intervalAt(double unixSeconds,
                                               const RecommenderSettings& settings) {
  const std::int64_t index = intervalIndex(unixSeconds, settings);
  auto& slot = memory_[static_cast<std::size_t>(index) % memory_.size()];
  if (slot.index != index) slot = MemoryInterval{.index = index};
  return slot;
}

void ContainerAggregate::addSample(const ContainerUsage& usage, double unixSeconds,
                                   const RecommenderSettings& settings) {
  lastSeen_ = std::max(lastSeen_, unixSeconds);
  cpuRequest_ = usage.cpuRequestCores;
  cpuLimit_ = usage.cpuLimitCores;
  memoryRequest_ = usage.memoryRequestBytes;
  memoryLimit_ = usage.memoryLimitBytes;
  if (isPresent(usage.cpuUsageCores)) {
    const double unmet = isPresent(usage.cpuUnmetDemandCores) ? usage.cpuUnmetDemandCores : 0;
    // Weighted by the request, as VPA does: when the request grows, the history gathered under
    // the smaller one weighs less, so a starved container's new demand shows sooner.
    const double weight = std::max(isPresent(usage.cpuRequestCores) ? usage.cpuRequestCores : 0.0,
                                   settings.minSampleWeight);
    cpu_.add(usage.cpuUsageCores + std::max(unmet, 0.0), weight, unixSeconds);
    if (samples_ == 0 || unixSeconds < firstSample_) firstSample_ = unixSeconds;
    lastSample_ = std::max(lastSample_, unixSeconds);
    ++samples_;
  }
  if (isPresent(usage.memoryWorkingSetBytes) && usage.memoryWorkingSetBytes > 0) {
    auto& slot = intervalAt(unixSeconds, settings);
    slot.peakBytes = std::max(slot.peakBytes, usage.memoryWorkingSetBytes);
  }
}

void ContainerAggregate::recordOom(double unixSeconds, double memoryAtKillBytes, bool atLimit,
                                   const RecommenderSettings& settings) {
  lastSeen_ = std::max(lastSeen_, unixSeconds);
  const double memory = std::max(memoryAtKillBytes, 0.0);
  // Over the memory at the kill, never over an earlier bump: kills at one limit give one figure.
  const double bumped = std::max(memory * settings.oomBumpRatio, memory + settings.oomMinBumpBytes);
  auto& slot = intervalAt(unixSeconds, settings);
  slot.oomFloorBytes = std::max(slot.oomFloorBytes, bumped);
  ++slot.oomKills;
  if (!lastOom_ || unixSeconds >= lastOom_->unixSeconds) {
    lastOom_ = OomEvent{unixSeconds, memory, atLimit, bumped};
  }
}

std::size_t ContainerAggregate::bytesHeld() const {
  return sizeof(*this) + cpu_.bytesHeld() - sizeof(cpu_) +
         memory_.capacity() * sizeof(MemoryInterval);
}

// Version (u32), the CPU histogram, first and last sample and last seen (f64 seconds), samples
// (i64), the memory intervals (u32 count, then index i64, peak f64, OOM floor f64, kills u32),
// the latest OOM kill (u32 0/1, then time f64, memory f64, at limit u32, bumped f64), and the
// current requests and limits (4 x f64, NaN = none).
std::string ContainerAggregate::serialize() const {
  std::string out;
  out.reserve(128 + cpu_.storedBuckets() * 4 + memory_.size() * 28);
  putU32(out, kStateVersion);
  cpu_.write(out);
  putF64(out, firstSample_);
  putF64(out, lastSample_);
  putF64(out, lastSeen_);
  putI64(out, static_cast<std::int64_t>(samples_));
  std::uint32_t used = 0;
  for (const auto& slot : memory_) used += slot.index >= 0 ? 1 : 0;
  putU32(out, used);
  for (const auto& slot : memory_) {
    if (slot.index < 0) continue;
    putI64(out, slot.index);
    putF64(out, slot.peakBytes);
    putF64(out, slot.oomFloorBytes);
    putU32(out, slot.oomKills);
  }
  putU32(out, lastOom_ ? 1 : 0);
  if (lastOom_) {
    putF64(out, lastOom_->unixSeconds);
    putF64(out, lastOom_->memoryAtKillBytes);
    putU32(out, lastOom_->atLimit ? 1 : 0);
    putF64(out, lastOom_->bumpedBytes);
  }
  for (const double figure : {cpuRequest_, cpuLimit_, memoryRequest_, memoryLimit_}) {
    putF64(out, figure);
  }
  return out;
}

bool ContainerAggregate::deserialize(std::string_view in, const RecommenderSettings& settings) {
  ContainerAggregate read(settings);
  std::uint32_t version = 0;
  std::int64_t samples = 0;
  std::uint32_t intervals = 0;
  if (!getU32(in, version) || version != kStateVersion || !read.cpu_.read(in) ||
      !getF64(in, read.firstSample_) || !getF64(in, read.lastSample_) ||
      !getF64(in, read.lastSeen_) || !getI64(in, samples) || samples < 0 ||
      !getU32(in, intervals) || in.size() < std::size_t{intervals} * 28) {
    return false;
  }
  read.samples_ = static_cast<std::uint64_t>(samples);
  for (std::uint32_t i = 0; i < intervals; ++i) {
    MemoryInterval slot;
    getI64(in, slot.index);
    getF64(in, slot.peakBytes);
    getF64(in, slot.oomFloorBytes);
    getU32(in, slot.oomKills);
    if (slot.index < 0 || !std::isfinite(slot.peakBytes) || !std::isfinite(slot.oomFloorBytes)) {
      return false;
    }
    // The window may have another length now: each interval goes to its slot, the newest wins.
    auto& into = read.memory_[static_cast<std::size_t>(slot.index) % read.memory_.size()];
    if (slot.index > into.index) into = slot;
  }
  std::uint32_t hasOom = 0;
  if (!getU32(in, hasOom) || hasOom > 1) return false;
  if (hasOom == 1) {
    OomEvent event;
    std::uint32_t atLimit = 0;
    if (!getF64(in, event.unixSeconds) || !getF64(in, event.memoryAtKillBytes) ||
        !getU32(in, atLimit) || !getF64(in, event.bumpedBytes)) {
      return false;
    }
    event.atLimit = atLimit != 0;
    read.lastOom_ = event;
  }
  if (!getF64(in, read.cpuRequest_) || !getF64(in, read.cpuLimit_) ||
      !getF64(in, read.memoryRequest_) || !getF64(in, read.memoryLimit_) || !in.empty()) {
    return false;
  }
  *this = std::move(read);
  return true;
}

// --- The recommendation ------------------------------------------------------------------------

double recommendedLimit(double target, double currentRequest, double currentLimit, LimitsMode mode,
                        double configuredRatio) {
  if (!isPresent(target)) return kAbsent;
  if (mode == LimitsMode::kRatio && isPresent(configuredRatio)) {
    return target * std::max(configuredRatio, 1.0);
  }
  if (!isPresent(currentLimit)) return kAbsent;  // no limit now: none recommended
  if (mode == LimitsMode::kUnchanged) return std::max(currentLimit, target);
  // Kubernetes sets a request that is not given to the limit: the ratio is then 1.
  const double ratio =
      isPresent(currentRequest) && currentRequest > 0 ? currentLimit / currentRequest : 1.0;
  return target * std::max(ratio, 1.0);
}

namespace {

struct Confidence {
  double days = 0;
};

// A resource the policy does not control keeps what it has.
void leaveAlone(ResourceRecommendation& r) {
  r.controlled = false;
  r.target = r.currentRequest;
  r.limit = r.currentLimit;
}

Confidence confidenceOf(const ContainerAggregate& aggregate) {
  if (aggregate.samples() == 0) return {};
  const double span =
      (aggregate.lastSampleUnixSeconds() - aggregate.firstSampleUnixSeconds()) / kSecondsPerDay;
  const double amount = static_cast<double>(aggregate.samples()) / kSecondsPerDay;
  return {std::max(0.0, std::min(span, amount))};
}

void recommendCpu(const ContainerAggregate& aggregate, const RightsizingPolicy& policy,
                  const RecommenderSettings& settings, double confidence,
                  ContainerRecommendation& out) {
  auto& cpu = out.cpu;
  cpu.currentRequest = aggregate.cpuRequestCores();
  cpu.currentLimit = aggregate.cpuLimitCores();
  if (!policy.controlsCpu) {
    leaveAlone(cpu);
    out.reason += "cpu: not controlled";
    return;
  }
  if (aggregate.cpu().empty()) {
    out.reason += "cpu: no samples yet";
    return;
  }
  const double margin = 1 + settings.safetyMargin;
  const double p = aggregate.cpu().percentile(settings.targetPercentile);
  cpu.target = p * margin;
  cpu.lowerBound =
      aggregate.cpu().percentile(settings.lowerPercentile) * margin * lowerMultiplier(confidence);
  const double upper = upperMultiplier(confidence);
  cpu.upperBound = isPresent(upper)
                       ? aggregate.cpu().percentile(settings.upperPercentile) * margin * upper
                       : kAbsent;
  out.reason += "cpu: p" + printf1("%.0f", settings.targetPercentile * 100) + " " + cores(p) +
                " over " + printf1("%.2g", confidence) + " days of samples +" +
                printf1("%.0f", settings.safetyMargin * 100) + "%";
  std::string note;
  cpu.target = bound(cpu.target, settings.minCpuCores, policy.minAllowed.cpuCores,
                     policy.maxAllowed.cpuCores, &note, "cpu", cores);
  cpu.lowerBound = bound(cpu.lowerBound, 0, policy.minAllowed.cpuCores, policy.maxAllowed.cpuCores,
                         nullptr, "", cores);
  cpu.upperBound = bound(cpu.upperBound, settings.minCpuCores, policy.minAllowed.cpuCores,
                         policy.maxAllowed.cpuCores, nullptr, "", cores);
  out.reason += note;
  order(cpu);
  cpu.limit = recommendedLimit(cpu.target, cpu.currentRequest, cpu.currentLimit, policy.limits,
                               policy.limitRatio.cpuCores);
}

void recommendMemory(const ContainerAggregate& aggregate, const RightsizingPolicy& policy,
                     const RecommenderSettings& settings, double confidence, double unixSeconds,
                     ContainerRecommendation& out) {
  auto& memory = out.memory;
  memory.currentRequest = aggregate.memoryRequestBytes();
  memory.currentLimit = aggregate.memoryLimitBytes();
  // The intervals within the window as of now.
  const std::int64_t now = intervalIndex(unixSeconds, settings);
  const auto window = static_cast<std::int64_t>(aggregate.memory().size());
  std::vector<double> peaks;
  double oomFloor = 0;
  for (const auto& slot : aggregate.memory()) {
    if (slot.index < 0 || slot.index > now || slot.index <= now - window) continue;
    if (slot.peakBytes > 0) peaks.push_back(slot.peakBytes);
    oomFloor = std::max(oomFloor, slot.oomFloorBytes);
    out.oomKills += slot.oomKills;
  }
  if (!policy.controlsMemory) {
    leaveAlone(memory);
    out.reason += "; memory: not controlled";
    return;
  }
  if (peaks.empty() && oomFloor <= 0) {
    out.reason += "; memory: no samples yet";
    return;
  }
  const double margin = 1 + settings.safetyMargin;
  std::ranges::sort(peaks);
  const double highest = peaks.empty() ? 0 : peaks.back();
  const double median = peaks.empty() ? 0 : peaks[(peaks.size() - 1) / 2];
  memory.target = std::max(highest * margin, oomFloor);
  memory.lowerBound = std::max(median * margin * lowerMultiplier(confidence), oomFloor);
  const double upper = upperMultiplier(confidence);
  memory.upperBound = isPresent(upper) ? memory.target * upper : kAbsent;
  if (!peaks.empty()) {
    out.reason += "; memory: highest peak of " + std::to_string(peaks.size()) + " " +
                  printf1("%.0f", static_cast<double>(settings.memoryInterval.count()) / 3600) +
                  " h intervals " + mebibytes(highest) + " +" +
                  printf1("%.0f", settings.safetyMargin * 100) + "%";
  } else {
    out.reason += "; memory: no working set seen";
  }
  if (oomFloor > 0 && aggregate.lastOom()) {
    const auto& kill = *aggregate.lastOom();
    out.reason += "; " + std::to_string(out.oomKills) + " OOM kill(s), latest " +
                  utcTime(kill.unixSeconds) + " at " + mebibytes(kill.memoryAtKillBytes) +
                  (kill.atLimit ? " (its limit)" : " (no limit known)") + ": at least " +
                  mebibytes(oomFloor);
  }
  std::string note;
  memory.target = bound(memory.target, settings.minMemoryBytes, policy.minAllowed.memoryBytes,
                        policy.maxAllowed.memoryBytes, &note, "memory", mebibytes);
  memory.lowerBound = bound(memory.lowerBound, 0, policy.minAllowed.memoryBytes,
                            policy.maxAllowed.memoryBytes, nullptr, "", mebibytes);
  memory.upperBound =
      bound(memory.upperBound, settings.minMemoryBytes, policy.minAllowed.memoryBytes,
            policy.maxAllowed.memoryBytes, nullptr, "", mebibytes);
  if (oomFloor > memory.target) note += " (below what the OOM kills call for)";
  out.reason += note;
  order(memory);
  memory.limit = recommendedLimit(memory.target, memory.currentRequest, memory.currentLimit,
                                  policy.limits, policy.limitRatio.memoryBytes);
}

}  // namespace

ContainerRecommendation recommend(const ContainerAggregate& aggregate,
                                  const RightsizingPolicy& policy,
                                  const RecommenderSettings& settings, double unixSeconds) {
  ContainerRecommendation out;
  out.mode = policy.mode;
  out.samples = aggregate.samples();
  out.confidence = confidenceOf(aggregate).days;
  recommendCpu(aggregate, policy, settings, out.confidence, out);
  recommendMemory(aggregate, policy, settings, out.confidence, unixSeconds, out);
  return out;
}

// --- Recommender -------------------------------------------------------------------------------

Recommender::Recommender(RecommenderSettings settings) : settings_(settings) {}

std::vector<Recommender::Entry>& Recommender::entriesFor(const WorkloadKey& workload) {
  auto it = workloads_.find(workload);
  if (it == workloads_.end()) it = workloads_.emplace(workload, std::vector<Entry>{}).first;
  return it->second;
}

Recommender::Entry& Recommender::entryIn(std::vector<Entry>& entries, std::string_view container) {
  // A workload has a few containers: a linear search beats a map.
  for (auto& entry : entries) {
    if (entry.container == container) return entry;
  }
  entries.push_back(Entry{std::string(container), ContainerAggregate(settings_), {}, 0});
  return entries.back();
}

Recommender::Instance& Recommender::instanceIn(Entry& entry, std::uint64_t id, bool& created) {
  auto& instances = entry.instances;
  created = false;
  // The same order as last tick: the instance is at the cursor, or a few past it when some
  // replicas have gone.
  constexpr std::size_t kLookAhead = 8;
  const std::size_t end = std::min(instances.size(), entry.cursor + kLookAhead);
  for (std::size_t i = entry.cursor; i < end; ++i) {
    if (instances[i].id == id) {
      entry.cursor = i + 1;
      return instances[i];
    }
  }
  for (std::size_t i = 0; i < instances.size(); ++i) {
    if (instances[i].id == id) {
      entry.cursor = i + 1;
      return instances[i];
    }
  }
  created = true;
  const auto at = static_cast<std::ptrdiff_t>(std::min(entry.cursor, instances.size()));
  auto& instance = *instances.insert(instances.begin() + at, Instance{.id = id});
  entry.cursor = static_cast<std::size_t>(at) + 1;
  return instance;
}

void Recommender::observeWorkload(const WorkloadKey& workload,
                                  std::span<const ContainerUsage> containers, WallTime now) {
  if (containers.empty()) return;
  const double seconds = unixSecondsOf(now);
  if (epochSeconds_ < 0) epochSeconds_ = seconds;
  auto& entries = entriesFor(workload);
  for (auto& entry : entries) entry.cursor = 0;
  for (const auto& usage : containers) {
    auto& entry = entryIn(entries, usage.container);
    // Without a counter or restarts there is nothing to detect a kill from: no instance to keep.
    if (usage.oomKillsTotal || usage.restartCount) detectOom(usage, entry, seconds);
    entry.aggregate.addSample(usage, seconds, settings_);
  }
}

void Recommender::detectOom(const ContainerUsage& usage, Entry& entry, double unixSeconds) {
  bool first = false;
  Instance& instance = instanceIn(entry, instanceId(usage), first);
  auto& aggregate = entry.aggregate;
  if (!first) {
    const bool counted =
        usage.oomKillsTotal && instance.knowsOomKills && *usage.oomKillsTotal > instance.oomKills;
    const bool restarted =
        usage.restartCount && instance.knowsRestarts && *usage.restartCount > instance.restarts;
    const bool restartedAtLimit = restarted && !instance.killCounted &&
                                  instance.memoryLimitBytes > 0 &&
                                  instance.lastWorkingSetBytes >=
                                      settings_.oomInferredShareOfLimit * instance.memoryLimitBytes;
    if (counted || restartedAtLimit) {
      // The kill came at the limit it had then; without one, the request or the last working
      // set is the best figure for the memory at the kill.
      const double limit = isPresent(usage.memoryLimitBytes) && counted
                               ? usage.memoryLimitBytes
                               : static_cast<double>(instance.memoryLimitBytes);
      if (limit > 0) {
        aggregate.recordOom(unixSeconds, limit, true, settings_);
      } else {
        const double memory =
            maxPresent(maxPresent(usage.memoryRequestBytes, usage.memoryWorkingSetBytes),
                       static_cast<double>(instance.lastWorkingSetBytes));
        aggregate.recordOom(unixSeconds, isPresent(memory) ? memory : 0, false, settings_);
      }
    }
    if (restarted) instance.killCounted = false;
    if (counted) instance.killCounted = true;
  }
  // A new cgroup (a restarted container) starts its counter over: a lower value is a new baseline.
  instance.knowsOomKills = usage.oomKillsTotal.has_value();
  instance.oomKills = usage.oomKillsTotal.value_or(0);
  instance.knowsRestarts = usage.restartCount.has_value();
  instance.restarts = usage.restartCount.value_or(0);
  if (isPresent(usage.memoryWorkingSetBytes)) {
    instance.lastWorkingSetBytes = static_cast<float>(usage.memoryWorkingSetBytes);
  }
  instance.memoryLimitBytes =
      isPresent(usage.memoryLimitBytes) ? static_cast<float>(usage.memoryLimitBytes) : 0.0F;
  instance.lastSeenSeconds = static_cast<std::int32_t>(unixSeconds - epochSeconds_);
}

void Recommender::forget(WallTime now) {
  const double seconds = unixSecondsOf(now);
  const double cutoff =
      seconds - epochSeconds_ - static_cast<double>(settings_.forgetInstancesAfter.count());
  const double window = static_cast<double>(settings_.memoryInterval.count()) *
                        static_cast<double>(std::max(1, settings_.memoryIntervals));
  for (auto it = workloads_.begin(); it != workloads_.end();) {
    for (auto& entry : it->second) {
      std::erase_if(entry.instances, [cutoff](const Instance& instance) {
        return static_cast<double>(instance.lastSeenSeconds) < cutoff;
      });
    }
    std::erase_if(it->second, [&](const Entry& entry) {
      return entry.aggregate.lastSeenUnixSeconds() < seconds - window;
    });
    it = it->second.empty() ? workloads_.erase(it) : std::next(it);
  }
}

std::vector<ContainerRecommendation> Recommender::recommendations(
    const PolicyLookup& policy, WallTime now,
    const std::function<bool(const WorkloadKey&)>& include) const {
  std::vector<ContainerRecommendation> out;
  const double seconds = unixSecondsOf(now);
  for (const auto& [workload, entries] : workloads_) {
    if (include && !include(workload)) continue;
    const auto rules = policy(workload);
    if (!rules || rules->mode == Mode::kOff) continue;
    for (const auto& entry : entries) {
      auto recommendation = recommend(entry.aggregate, *rules, settings_, seconds);
      recommendation.workload = workload;
      recommendation.container = entry.container;
      out.push_back(std::move(recommendation));
    }
  }
  std::ranges::sort(out, [](const auto& a, const auto& b) {
    return std::tie(a.workload, a.container) < std::tie(b.workload, b.container);
  });
  return out;
}

std::vector<Recommender::Stored> Recommender::save() const {
  std::vector<Stored> out;
  for (const auto& [workload, entries] : workloads_) {
    for (const auto& entry : entries) {
      out.push_back({workload, entry.container, entry.aggregate.serialize()});
    }
  }
  return out;
}

std::size_t Recommender::restore(const std::vector<Stored>& stored) {
  std::size_t restored = 0;
  for (const auto& item : stored) {
    ContainerAggregate aggregate(settings_);
    if (!aggregate.deserialize(item.state, settings_)) continue;
    entryIn(entriesFor(item.workload), item.container).aggregate = std::move(aggregate);
    ++restored;
  }
  return restored;
}

std::size_t Recommender::aggregateCount() const {
  std::size_t count = 0;
  for (const auto& [workload, entries] : workloads_) count += entries.size();
  return count;
}

std::size_t Recommender::instanceCount() const {
  std::size_t count = 0;
  for (const auto& [workload, entries] : workloads_) {
    for (const auto& entry : entries) count += entry.instances.size();
  }
  return count;
}

std::size_t Recommender::bytesHeld() const {
  std::size_t bytes = 0;
  for (const auto& [workload, entries] : workloads_) {
    bytes += sizeof(workload) + workload.namespaceName.capacity() + workload.name.capacity() +
             workload.kind.capacity();
    for (const auto& entry : entries) {
      bytes += sizeof(Entry) - sizeof(ContainerAggregate) + entry.container.capacity() +
               entry.aggregate.bytesHeld() + entry.instances.capacity() * sizeof(Instance);
    }
  }
  return bytes;
}

}  // namespace fleetscale::aggregator::rightsizing
