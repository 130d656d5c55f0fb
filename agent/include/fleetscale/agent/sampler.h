// One tick of collection: find containers (every few ticks), read their cgroups, turn counters
// into rates against the previous tick, and produce the batch to send.
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
#include "fleetscale/agent/node_stats.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale::agent {

struct SamplerOptions {
  DiscoveryOptions discovery;
  std::chrono::nanoseconds rediscoverEvery{std::chrono::seconds(5)};
  std::string hostRoot = "/";  // /proc/stat and /proc/meminfo are read under it
};

// Running totals a caller exports as metrics.
struct SamplerCounters {
  std::uint64_t ticks = 0;
  std::uint64_t vanishedContainers = 0;  // cgroup gone between discovery and read
  std::uint64_t readErrors = 0;          // unreadable or malformed cgroup files
  std::uint64_t discoveries = 0;
  std::size_t containersTracked = 0;
};

// Not thread-safe: one thread calls sample().
class Sampler {
 public:
  Sampler(CgroupLayout layout, std::unique_ptr<CgroupReader> reader, SamplerOptions options,
          const Clock& clock);

  // Samples every known container and the node. The batch has no sequence number yet.
  v1::SampleBatch sample();

  const SamplerCounters& counters() const { return counters_; }

 private:
  struct Tracked {
    ContainerCgroup cgroup;
    std::optional<CgroupStats> previous;
    SteadyTime previousAt{};
  };

  void rediscover();
  void fillNode(v1::NodeTotals& node, SteadyTime now);
  static void fillContainer(v1::ContainerSample& out, const Tracked& tracked,
                            const CgroupStats& stats, std::chrono::nanoseconds elapsed);

  CgroupLayout layout_;
  std::unique_ptr<CgroupReader> reader_;
  SamplerOptions options_;
  const Clock& clock_;
  std::map<std::string, Tracked> containers_;  // by container id
  std::optional<SteadyTime> lastDiscovery_;
  std::optional<ProcStatCpu> previousNodeCpu_;
  SamplerCounters counters_;
};

}  // namespace fleetscale::agent
