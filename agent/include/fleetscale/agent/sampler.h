// One tick of collection: find containers (every few ticks), read their cgroups, turn counters
// into rates against the previous tick, label them with the latest metadata, and produce the
// batch to send.
//
// What is read when (see cgroup_reader.h for the costs):
//   every tick       CPU and memory counters of every container, /proc/stat, /proc/meminfo
//   memory.stat      on a container's first tick, whenever its memory usage moved by more than
//                    MemoryStatSchedule::driftBytes since memory.stat was last read, and at least
//                    every MemoryStatSchedule::maxAge. Working set = usage (read every tick) -
//                    inactive_file (from that read), floored at 0, as kubelet/cAdvisor compute it:
//                    usage and inactive_file move together when file pages are added or dropped,
//                    so the re-read on drift keeps the result within driftBytes of a fresh read;
//                    only pages moving between the active and inactive lists without changing
//                    usage wait for maxAge. maxAge 0 reads memory.stat every tick.
//   limits, weight   on a container's first tick and every limitsEvery (they change on resize)
//   discovery        every rediscoverEvery
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "fleetscale/agent/cgroup_layout.h"
#include "fleetscale/agent/cgroup_reader.h"
#include "fleetscale/agent/container_discovery.h"
#include "fleetscale/agent/control_file.h"
#include "fleetscale/agent/metadata.h"
#include "fleetscale/agent/node_stats.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/log_throttle.h"
#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale::agent {

struct MemoryStatSchedule {
  std::chrono::nanoseconds maxAge{std::chrono::seconds(10)};
  std::uint64_t driftBytes = 1024 * 1024;
};

// Pure: whether memory.stat must be read this tick, given when it was last read (std::nullopt:
// never) and the memory usage then and now.
bool memoryStatDue(const MemoryStatSchedule& schedule, std::optional<SteadyTime> lastReadAt,
                   std::uint64_t usageAtLastRead, std::uint64_t usageNow, SteadyTime now);

struct SamplerOptions {
  DiscoveryOptions discovery;
  std::chrono::nanoseconds rediscoverEvery{std::chrono::seconds(5)};
  std::chrono::nanoseconds limitsEvery{std::chrono::seconds(5)};
  MemoryStatSchedule memoryStat;
  std::string hostRoot = "/";  // /proc/stat and /proc/meminfo are read under it
  // Pending pods are sent only while the metadata is at most this old: a pod deleted while
  // Pending has no cgroup whose disappearance would tell, so an old list would keep it alive.
  std::chrono::nanoseconds pendingPodsMaxAge{std::chrono::seconds(15)};
};

// Running totals a caller exports as metrics.
struct SamplerCounters {
  std::uint64_t ticks = 0;
  std::uint64_t vanishedContainers = 0;  // cgroup gone between discovery and read
  std::uint64_t readErrors = 0;          // unreadable or malformed cgroup files
  std::uint64_t discoveries = 0;
  std::uint64_t memoryStatReads = 0;
  std::size_t containersTracked = 0;
  std::size_t containersWithoutMetadata = 0;  // last tick, when a metadata source is configured
};

// Not thread-safe: one thread calls sample(). The metadata store is read, never waited on.
class Sampler {
 public:
  Sampler(CgroupLayout layout, std::unique_ptr<CgroupReader> reader, SamplerOptions options,
          const Clock& clock, const MetadataStore* metadata = nullptr);
  ~Sampler();
  Sampler(Sampler&&) noexcept;
  Sampler& operator=(Sampler&&) = delete;

  // Samples every known container and the node into `batch`, which is cleared first and whose
  // memory is reused (the agent refills one batch every tick), and lists the metadata's Pending
  // pods that have no container started (while the metadata is fresh). No sequence number yet.
  void sample(v1::SampleBatch& batch);
  v1::SampleBatch sample() {
    v1::SampleBatch batch;
    sample(batch);
    return batch;
  }

  const SamplerCounters& counters() const { return counters_; }
  // Descriptors held open for cgroup and /proc files.
  std::size_t keptDescriptors() const;

 private:
  struct Tracked;
  struct NodeFiles;

  void rediscover();
  void fillNode(v1::NodeTotals& node);
  // False when the container vanished and must be dropped.
  bool sampleContainer(Tracked& tracked, SteadyTime now, bool refreshLimits,
                       const MetadataSnapshot* metadata, v1::SampleBatch& batch);

  CgroupLayout layout_;
  std::unique_ptr<CgroupReader> reader_;
  SamplerOptions options_;
  const Clock& clock_;
  const MetadataStore* metadata_;
  std::map<std::string, std::unique_ptr<Tracked>> containers_;  // by container id
  std::optional<SteadyTime> lastDiscovery_;
  std::unique_ptr<NodeFiles> node_;
  LogThrottle readErrorLog_;
  SamplerCounters counters_;
};

}  // namespace fleetscale::agent
