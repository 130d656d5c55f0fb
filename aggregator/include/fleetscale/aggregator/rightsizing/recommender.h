// The right-sizing recommender (docs/rightsizing.md): per workload and container name (a
// sidecar has its own figures, never blended into the app's), what each container should
// request and be limited to, from every replica's 1 s samples.
//
// - CPU: a decaying histogram of the 1 s demand (usage plus what throttling held back), each
//   sample weighted by the container's request as VPA does; target = P90 + 15%, lower bound P50
//   and upper bound P95 (+15%) widened by the confidence as VPA does.
// - Memory: the working set's peak per interval (24 h) over a window of intervals (8); target =
//   the highest peak in the window + 15%.
// - OOM kills (the agents' `oom_kills_total` rising, or a restart with the working set at its
//   limit) raise the memory target at once to max(+20%, +100Mi) over the memory at the kill
//   (its limit; the request or working set when no limit is known), and that floor stays for
//   the whole window. The bump is over the memory at the kill, never over an earlier bump, so
//   repeated kills at one limit do not ratchet the figure up (kubernetes/autoscaler #9521), and a
//   container killed before any sample counted still gets one (#4981).
//
// Time is passed in (no clock is read). Not thread-safe: one thread feeds it (the state loop),
// and readers go through a lock of the owner's.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/aggregator/rightsizing/decaying_histogram.h"
#include "fleetscale/aggregator/rightsizing/rightsizing_policy.h"
#include "fleetscale/aggregator/state/model.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator::rightsizing {

inline constexpr double kMebibyte = 1024.0 * 1024.0;

// The algorithm's constants. Defaults are VPA's, except where docs/rightsizing.md says why not.
struct RecommenderSettings {
  std::chrono::seconds cpuHalfLife = std::chrono::hours(24);
  double targetPercentile = 0.9;
  double lowerPercentile = 0.5;
  double upperPercentile = 0.95;
  double safetyMargin = 0.15;
  std::chrono::seconds memoryInterval = std::chrono::hours(24);
  int memoryIntervals = 8;  // the window: 8 days
  double oomBumpRatio = 1.2;
  double oomMinBumpBytes = 100 * kMebibyte;
  // A restart with the last working set at this share of the memory limit counts as an OOM kill
  // (a killed container's cgroup often goes before its agent reads the counter).
  double oomInferredShareOfLimit = 0.95;
  // The smallest recommendations per container (VPA: 25m and 250Mi per pod, spread over its
  // containers).
  double minCpuCores = 0.01;
  double minMemoryBytes = 16 * kMebibyte;
  // A CPU sample weighs the container's request, at least this (VPA's minSampleWeight).
  double minSampleWeight = 0.1;
  // A container instance (pod, container) not seen for this long is forgotten; its aggregate
  // stays until nothing has been seen of it for the whole memory window.
  std::chrono::seconds forgetInstancesAfter = std::chrono::minutes(10);
};

// One container instance's figures over one tick. Absent (NaN / nullopt) when not reported.
struct ContainerUsage {
  std::string_view cluster;
  std::string_view pod;
  std::string_view container;  // the pod spec's container name
  double cpuUsageCores = kAbsent;
  double cpuUnmetDemandCores = 0;  // throttled demand (rollup.h): usage + this = demand
  double cpuRequestCores = kAbsent;
  double cpuLimitCores = kAbsent;
  double memoryWorkingSetBytes = kAbsent;
  double memoryRequestBytes = kAbsent;
  double memoryLimitBytes = kAbsent;
  std::optional<std::uint64_t> oomKillsTotal;  // the cgroup's counter
  std::optional<std::uint32_t> restartCount;
};

// One interval of the memory window.
struct MemoryInterval {
  std::int64_t index = -1;   // floor(unix seconds / interval); -1 = unused
  double peakBytes = 0;      // the highest working set of any replica in it
  double oomFloorBytes = 0;  // the highest OOM-bumped figure of a kill in it
  std::uint32_t oomKills = 0;
};

// The latest OOM kill, for the reason.
struct OomEvent {
  double unixSeconds = 0;
  double memoryAtKillBytes = 0;
  bool atLimit = false;  // the memory at the kill is its limit (else request or working set)
  double bumpedBytes = 0;
};

// What is known of one (workload, container name) across its replicas.
class ContainerAggregate {
 public:
  explicit ContainerAggregate(const RecommenderSettings& settings);

  void addSample(const ContainerUsage& usage, double unixSeconds,
                 const RecommenderSettings& settings);
  void recordOom(double unixSeconds, double memoryAtKillBytes, bool atLimit,
                 const RecommenderSettings& settings);

  const DecayingHistogram& cpu() const { return cpu_; }
  const std::vector<MemoryInterval>& memory() const { return memory_; }
  std::uint64_t samples() const { return samples_; }
  double firstSampleUnixSeconds() const { return firstSample_; }
  double lastSampleUnixSeconds() const { return lastSample_; }
  double lastSeenUnixSeconds() const { return lastSeen_; }
  const std::optional<OomEvent>& lastOom() const { return lastOom_; }
  // The latest replica's requests and limits (cores, bytes; absent = none).
  double cpuRequestCores() const { return cpuRequest_; }
  double cpuLimitCores() const { return cpuLimit_; }
  double memoryRequestBytes() const { return memoryRequest_; }
  double memoryLimitBytes() const { return memoryLimit_; }

  // The stored form (docs/rightsizing.md, "Stored state"); read() returns false on a malformed
  // or other-version form and then leaves the aggregate as it was.
  std::string serialize() const;
  bool deserialize(std::string_view bytes, const RecommenderSettings& settings);
  std::size_t bytesHeld() const;

 private:
  MemoryInterval& intervalAt(double unixSeconds, const RecommenderSettings& settings);

  DecayingHistogram cpu_;
  std::vector<MemoryInterval> memory_;  // a ring: interval index mod size
  double firstSample_ = 0;              // unix seconds of the first and last CPU samples
  double lastSample_ = 0;
  double lastSeen_ = 0;  // of any figure or kill
  std::uint64_t samples_ = 0;
  std::optional<OomEvent> lastOom_;
  double cpuRequest_ = kAbsent, cpuLimit_ = kAbsent;
  double memoryRequest_ = kAbsent, memoryLimit_ = kAbsent;
};

struct ResourceRecommendation {
  bool controlled = true;  // false: the policy leaves this resource alone (target = current)
  double currentRequest = kAbsent;
  double currentLimit = kAbsent;
  // Absent when there is nothing to go by yet. Upper bound absent: no history to bound it.
  double target = kAbsent;
  double lowerBound = kAbsent;
  double upperBound = kAbsent;
  double limit = kAbsent;  // absent: no limit (none now, and the policy keeps it so)
};

struct ContainerRecommendation {
  WorkloadKey workload;
  std::string container;
  Mode mode = Mode::kRecommend;
  ResourceRecommendation cpu;     // cores
  ResourceRecommendation memory;  // bytes
  // VPA's confidence: days of history, min(span of the samples, samples / 86400), so a day of
  // one replica's 1 s samples is 1.
  double confidence = 0;
  std::uint64_t samples = 0;
  std::uint32_t oomKills = 0;  // within the memory window
  std::string reason;          // for people: where each figure comes from
};

// The recommendation for one aggregate under a policy, as of `unixSeconds`. Pure.
ContainerRecommendation recommend(const ContainerAggregate& aggregate,
                                  const RightsizingPolicy& policy,
                                  const RecommenderSettings& settings, double unixSeconds);

// The limit that goes with a recommended request (LimitsMode). Absent when there is to be none.
double recommendedLimit(double target, double currentRequest, double currentLimit, LimitsMode mode,
                        double configuredRatio);

// Every aggregate of the fleet, fed one container at a time.
class Recommender {
 public:
  explicit Recommender(RecommenderSettings settings = {});

  const RecommenderSettings& settings() const { return settings_; }

  // The figures of a workload's container instances (every replica's, every container's) for
  // the tick at `now`: one lookup of the workload, then one per container. Allocates only for a
  // workload, container name or instance seen for the first time.
  void observeWorkload(const WorkloadKey& workload, std::span<const ContainerUsage> containers,
                       WallTime now);
  // One container instance's figures (tests; the feed gives a workload's all at once).
  void observe(const WorkloadKey& workload, const ContainerUsage& usage, WallTime now) {
    observeWorkload(workload, std::span(&usage, 1), now);
  }
  // Forgets instances not seen for forgetInstancesAfter and aggregates with nothing seen for a
  // whole memory window. Cheap enough for once a minute.
  void forget(WallTime now);

  // Recommendations, sorted by workload and container, for the workloads `policy` gives a
  // policy for (nullopt: none, not recommended) and that `include` (when set) accepts; mode
  // kOff ones are left out.
  using PolicyLookup = std::function<std::optional<RightsizingPolicy>(const WorkloadKey&)>;
  std::vector<ContainerRecommendation> recommendations(
      const PolicyLookup& policy, WallTime now,
      const std::function<bool(const WorkloadKey&)>& include = {}) const;

  // The state that survives a restart, one entry per aggregate.
  struct Stored {
    WorkloadKey workload;
    std::string container;
    std::string state;  // ContainerAggregate::serialize()
  };
  std::vector<Stored> save() const;
  // Replaces the aggregates named; returns how many were restored (malformed ones are skipped).
  std::size_t restore(const std::vector<Stored>& stored);

  std::size_t aggregateCount() const;
  std::size_t instanceCount() const;
  // Approximate bytes held by the aggregates and the instances.
  std::size_t bytesHeld() const;

 private:
  // What the OOM detection remembers of one container instance (a replica's container).
  struct Instance {
    std::uint64_t id = 0;  // a hash of its cluster and pod
    std::uint64_t oomKills = 0;
    float lastWorkingSetBytes = 0;
    float memoryLimitBytes = 0;  // 0 = none known
    std::uint32_t restarts = 0;
    std::int32_t lastSeenSeconds = 0;  // relative to epochSeconds_
    bool knowsOomKills = false;
    bool knowsRestarts = false;
    // Its counter showed a kill since its last restart: that restart is the same kill.
    bool killCounted = false;
  };
  // One container name of a workload: its aggregate and its instances, kept in the order the
  // feed gives them (the snapshot's: by cluster, then pod), so that a tick finds each one at a
  // cursor that only moves forward, with no hashing of names into a fleet-wide map.
  struct Entry {
    std::string container;
    ContainerAggregate aggregate;
    std::vector<Instance> instances;
    std::size_t cursor = 0;
  };
  std::vector<Entry>& entriesFor(const WorkloadKey& workload);
  Entry& entryIn(std::vector<Entry>& entries, std::string_view container);
  Instance& instanceIn(Entry& entry, std::uint64_t id, bool& created);
  void detectOom(const ContainerUsage& usage, Entry& entry, double unixSeconds);

  RecommenderSettings settings_;
  std::map<WorkloadKey, std::vector<Entry>> workloads_;
  double epochSeconds_ = -1;  // the first observation's time
};

}  // namespace fleetscale::aggregator::rightsizing
