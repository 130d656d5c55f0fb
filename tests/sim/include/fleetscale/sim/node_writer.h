// Writes one simulated node's host files under a directory the real agent reads through
// --host-root: /proc/stat, /proc/meminfo, /proc/1/mountinfo and the cgroup hierarchy at
// /sys/fs/cgroup (v1 or v2, systemd or cgroupfs driver) with one cgroup per running container
// (pause containers included), whose counters follow the model. Not thread-safe: one thread
// (the simulator's clock loop) owns each writer.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "fleetscale/shared/result.h"
#include "fleetscale/sim/cgroup_files.h"

namespace fleetscale::sim {

// One container as the writer needs it, copied out of the model under its lock.
struct ContainerSnapshot {
  std::string podUid;
  QosClass qos = QosClass::kBestEffort;
  std::string id;
  bool pause = false;
  CgroupLimits limits;
  ContainerCounters counters;
};

struct NodeSnapshot {
  int cpus = 1;
  double memoryBytes = 0;
  double busyNs = 0;
  double idleNs = 0;
  double memoryUsedBytes = 0;
  std::vector<ContainerSnapshot> containers;  // running containers only
};

// The containers of a node's running pods, with their counters, from the model.
NodeSnapshot snapshotNode(const ClusterModel& cluster, const NodeState& node, SimTime now);

class NodeWriter {
 public:
  NodeWriter(std::string hostRoot, CgroupDriver driver, int cgroupVersion, WallTime bootTime);

  // Creates the host files and the hierarchy skeleton, then syncs.
  Status initialize(const NodeSnapshot& node);
  // Makes the tree match `node`: cgroups appear for new containers and go for vanished ones;
  // CPU counters are rewritten every time, memory when it moved by more than a little, the
  // limit files when a resize changed them, the OOM counters when they grew.
  Status sync(const NodeSnapshot& node);

  const std::string& hostRoot() const { return hostRoot_; }
  std::string cgroupRoot() const { return hostRoot_ + "/sys/fs/cgroup"; }
  // The cgroup path (relative to a hierarchy root) of a container id the writer made.
  std::string cgroupOf(const std::string& containerId) const;
  std::size_t fileWrites() const { return fileWrites_; }

 private:
  struct Written {
    std::string path;     // container cgroup, relative
    std::string podPath;  // pod cgroup, relative
    double memoryBytes = -1;
    CgroupLimits limits;         // as last written
    std::uint64_t oomKills = 0;  // as last written
  };

  std::vector<std::string> hierarchies() const;  // absolute roots a container appears in
  Status ensureDirectory(const std::string& hierarchy, const std::string& relative);
  Status create(const ContainerSnapshot& container, Written& written);
  Status writeCounters(const ContainerSnapshot& container, Written& written, int cpus);
  // A resize changed the container's limits: its limit files follow.
  Status writeLimits(const ContainerSnapshot& container, Written& written);
  Status write(const std::string& path, std::string_view content);

  std::string hostRoot_;
  CgroupDriver driver_;
  int version_;
  WallTime bootTime_;
  std::map<std::string, Written> containers_;  // by container id
  double lastMeminfoUsed_ = -1;
  std::size_t fileWrites_ = 0;
};

// Writes `content` to `path` through a temporary file and rename(2), so a reader never sees a
// half-written file. Creates nothing but the file.
Status writeFileAtomic(const std::string& path, std::string_view content);

}  // namespace fleetscale::sim
