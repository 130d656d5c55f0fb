#include "fleetscale/sim/node_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "fleetscale/sim/fleet_model.h"

namespace fleetscale::sim {
namespace {

namespace fs = std::filesystem;

Error systemError(const std::string& what, int code) {
  return Error{what + ": " + std::strerror(code), code};
}

// Memory files are rewritten only when the working set moved this much: most ticks only CPU
// counters change.
bool memoryMoved(double before, double after) {
  return before < 0 || std::abs(after - before) >= std::max(256.0 * 1024, 0.002 * before);
}

}  // namespace

Status writeFileAtomic(const std::string& path, std::string_view content) {
  const auto slash = path.rfind('/');
  const std::string temp = path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return systemError(temp, errno);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int code = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      return systemError(temp, code);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
    const int code = errno;
    ::unlink(temp.c_str());
    return systemError(path, code);
  }
  return {};
}

NodeSnapshot snapshotNode(const ClusterModel& cluster, const NodeState& node, SimTime now) {
  NodeSnapshot snapshot;
  snapshot.cpus = static_cast<int>(std::ceil(node.capacity.cpuCores));
  snapshot.memoryBytes = node.capacity.memoryBytes;
  snapshot.busyNs = node.busyNs;
  snapshot.idleNs = node.idleNs;
  snapshot.memoryUsedBytes = node.memoryUsedBytes;
  for (const auto& pod : cluster.pods()) {
    // A container waiting out a crash back-off keeps its cgroup (see PodState::restartCount).
    if (pod.node != node.name || !pod.started(now)) continue;
    ContainerSnapshot app;
    app.podUid = pod.uid;
    app.qos = pod.qos;
    app.id = pod.containerId;
    app.limits = limitsOf(pod.actual);
    app.counters = pod.counters;
    if (cluster.spec().pauseContainers) {
      ContainerSnapshot pause;
      pause.podUid = pod.uid;
      pause.qos = pod.qos;
      pause.id = pod.sandboxId;
      pause.pause = true;
      pause.counters.memoryBytes = kPauseMemoryBytes;
      snapshot.containers.push_back(std::move(pause));
    }
    snapshot.containers.push_back(std::move(app));
  }
  return snapshot;
}

NodeWriter::NodeWriter(std::string hostRoot, CgroupDriver driver, int cgroupVersion,
                       WallTime bootTime)
    : hostRoot_(std::move(hostRoot)),
      driver_(driver),
      version_(cgroupVersion),
      bootTime_(bootTime) {}

std::vector<std::string> NodeWriter::hierarchies() const {
  const std::string root = cgroupRoot();
  if (version_ == 2) return {root};
  return {root + "/cpu,cpuacct", root + "/memory", root + "/pids"};
}

Status NodeWriter::write(const std::string& path, std::string_view content) {
  ++fileWrites_;
  return writeFileAtomic(path, content);
}

Status NodeWriter::ensureDirectory(const std::string& hierarchy, const std::string& relative) {
  // Each level is a cgroup of its own, with the files every cgroup has.
  std::string path = hierarchy;
  for (const auto& part : fs::path(relative)) {
    if (part == "/" || part.empty()) continue;
    // Appended in two steps: g++ 12 at -O3 flags `"/" + part.string()` with a false -Wrestrict.
    path += '/';
    path += part.string();
    std::error_code ec;
    if (fs::is_directory(path, ec)) continue;
    if (!fs::create_directory(path, ec) && ec) return systemError(path, ec.value());
    if (Status s = write(path + "/cgroup.procs", ""); !s) return s;
    if (version_ == 2) {
      if (Status s =
              write(path + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
          !s) {
        return s;
      }
    }
  }
  return {};
}

Status NodeWriter::initialize(const NodeSnapshot& node) {
  std::error_code ec;
  for (const char* dir : {"/proc/1", "/proc/self", "/etc", "/sys/fs/cgroup"}) {
    fs::create_directories(hostRoot_ + dir, ec);
    if (ec) return systemError(hostRoot_ + dir, ec.value());
  }
  const std::string mounts = mountinfo(version_);
  for (const char* file : {"/proc/1/mountinfo", "/proc/self/mountinfo"}) {
    if (Status s = write(hostRoot_ + file, mounts); !s) return s;
  }
  const std::string root = cgroupRoot();
  if (version_ == 2) {
    if (Status s =
            write(root + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
        !s)
      return s;
    if (Status s = write(root + "/cgroup.subtree_control", "cpuset cpu io memory pids\n"); !s)
      return s;
  } else {
    for (const char* controller : {"cpu,cpuacct", "memory", "pids", "systemd", "unified"}) {
      fs::create_directories(root + "/" + controller, ec);
      if (ec) return systemError(root + "/" + controller, ec.value());
    }
    // As on a real v1 host: cpu and cpuacct are links to the co-mounted hierarchy.
    for (const char* link : {"cpu", "cpuacct"}) {
      if (!fs::exists(root + "/" + link, ec))
        fs::create_directory_symlink("cpu,cpuacct", root + "/" + link, ec);
      if (ec) return systemError(root + "/" + link, ec.value());
    }
  }
  const std::string kubepods = driver_ == CgroupDriver::kSystemd ? "/kubepods.slice" : "/kubepods";
  for (const auto& hierarchy : hierarchies()) {
    for (const char* unit : {"/system.slice/containerd.service", "/system.slice/kubelet.service"}) {
      if (Status s = ensureDirectory(hierarchy, unit); !s) return s;
    }
    if (Status s = ensureDirectory(hierarchy, kubepods); !s) return s;
  }
  return sync(node);
}

Status NodeWriter::create(const ContainerSnapshot& container, Written& written) {
  written.limits = container.limits;
  written.podPath = podCgroupPath(driver_, container.qos, container.podUid);
  written.path = containerCgroupPath(driver_, container.qos, container.podUid, container.id);
  const auto hierarchy = hierarchies();
  for (const auto& root : hierarchy) {
    if (Status s = ensureDirectory(root, written.path); !s) return s;
  }
  if (version_ == 2) {
    const std::string dir = hierarchy[0] + written.path;
    for (const auto& [name, content] : v2StaticFiles(container.limits)) {
      if (Status s = write(dir + "/" + name, content); !s) return s;
    }
  } else {
    for (const auto& [name, content] : v1CpuStaticFiles(container.limits)) {
      if (Status s = write(hierarchy[0] + written.path + "/" + name, content); !s) return s;
    }
    for (const auto& [name, content] : v1MemoryStaticFiles(container.limits)) {
      if (Status s = write(hierarchy[1] + written.path + "/" + name, content); !s) return s;
    }
    if (Status s = write(hierarchy[2] + written.path + "/pids.current", "4\n"); !s) return s;
  }
  return {};
}

Status NodeWriter::writeLimits(const ContainerSnapshot& container, Written& written) {
  const auto hierarchy = hierarchies();
  auto rewrite = [&](const std::map<std::string, std::string>& files, const auto& names,
                     const std::string& dir) -> Status {
    for (const char* name : names) {
      if (Status s = write(dir + "/" + name, files.at(name)); !s) return s;
    }
    return {};
  };
  if (version_ == 2) {
    if (Status s =
            rewrite(v2StaticFiles(container.limits), kV2LimitFiles, hierarchy[0] + written.path);
        !s) {
      return s;
    }
  } else {
    if (Status s = rewrite(v1CpuStaticFiles(container.limits), kV1CpuLimitFiles,
                           hierarchy[0] + written.path);
        !s) {
      return s;
    }
    if (Status s = rewrite(v1MemoryStaticFiles(container.limits), kV1MemoryLimitFiles,
                           hierarchy[1] + written.path);
        !s) {
      return s;
    }
  }
  written.limits = container.limits;
  written.memoryBytes = -1;  // v1's memory.stat shows the limit too
  return {};
}

Status NodeWriter::writeCounters(const ContainerSnapshot& container, Written& written, int cpus) {
  const auto hierarchy = hierarchies();
  if (container.counters.oomKills != written.oomKills) {
    const std::uint64_t kills = container.counters.oomKills;
    Status s =
        version_ == 2
            ? write(hierarchy[0] + written.path + "/memory.events", v2MemoryEvents(kills))
            : write(hierarchy[1] + written.path + "/memory.oom_control", v1OomControl(kills));
    if (!s) return s;
    written.oomKills = kills;
  }
  const bool memory = memoryMoved(written.memoryBytes, container.counters.memoryBytes);
  if (version_ == 2) {
    const std::string dir = hierarchy[0] + written.path;
    if (Status s = write(dir + "/cpu.stat", v2CpuStat(container.counters)); !s) return s;
    if (container.counters.pressureSomeUs > 0 || written.memoryBytes < 0) {
      if (Status s = write(dir + "/cpu.pressure", v2CpuPressure(container.counters)); !s) return s;
    }
    if (memory) {
      const double ws = container.counters.memoryBytes;
      if (Status s = write(dir + "/memory.stat", v2MemoryStat(ws)); !s) return s;
      if (Status s = write(dir + "/memory.current", std::to_string(v2MemoryCurrent(ws)) + "\n"); !s)
        return s;
    }
  } else {
    const std::string cpu = hierarchy[0] + written.path;
    const auto usage = static_cast<std::uint64_t>(container.counters.cpuNs);
    if (Status s = write(cpu + "/cpuacct.usage", std::to_string(usage) + "\n"); !s) return s;
    if (Status s = write(cpu + "/cpuacct.stat", v1CpuacctStat(container.counters)); !s) return s;
    if (Status s =
            write(cpu + "/cpuacct.usage_percpu", v1CpuacctUsagePercpu(container.counters, cpus));
        !s)
      return s;
    if (Status s = write(cpu + "/cpu.stat", v1CpuStat(container.counters)); !s) return s;
    if (memory) {
      const std::string mem = hierarchy[1] + written.path;
      const double ws = container.counters.memoryBytes;
      const std::string usageText = std::to_string(v1MemoryUsage(ws)) + "\n";
      if (Status s =
              write(mem + "/memory.stat", v1MemoryStat(ws, container.limits.memoryLimitBytes));
          !s)
        return s;
      if (Status s = write(mem + "/memory.usage_in_bytes", usageText); !s) return s;
      if (Status s = write(mem + "/memory.max_usage_in_bytes", usageText); !s) return s;
    }
  }
  if (memory) written.memoryBytes = container.counters.memoryBytes;
  return {};
}

Status NodeWriter::sync(const NodeSnapshot& node) {
  std::set<std::string> present;
  for (const auto& container : node.containers) {
    present.insert(container.id);
    auto it = containers_.find(container.id);
    if (it == containers_.end()) {
      Written written;
      if (Status s = create(container, written); !s) return s;
      it = containers_.emplace(container.id, std::move(written)).first;
    } else if (container.pause) {
      continue;  // a sandbox's counters stand still
    } else if (container.limits != it->second.limits) {
      if (Status s = writeLimits(container, it->second); !s) return s;
    }
    if (Status s = writeCounters(container, it->second, node.cpus); !s) return s;
  }
  // Containers that stopped: their cgroups go, and their pod's once it is empty.
  for (auto it = containers_.begin(); it != containers_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    for (const auto& hierarchy : hierarchies()) {
      std::error_code ec;
      fs::remove_all(hierarchy + it->second.path, ec);
    }
    const std::string podPath = it->second.podPath;
    it = containers_.erase(it);
    bool podEmpty = true;
    for (const auto& [id, written] : containers_) podEmpty = podEmpty && written.podPath != podPath;
    if (podEmpty) {
      for (const auto& hierarchy : hierarchies()) {
        std::error_code ec;
        fs::remove_all(hierarchy + podPath, ec);
      }
    }
  }
  const auto boot = std::chrono::duration_cast<std::chrono::seconds>(bootTime_.time_since_epoch());
  if (Status s = write(hostRoot_ + "/proc/stat",
                       procStat(node.cpus, node.busyNs, node.idleNs, boot.count()));
      !s) {
    return s;
  }
  if (memoryMoved(lastMeminfoUsed_, node.memoryUsedBytes)) {
    if (Status s =
            write(hostRoot_ + "/proc/meminfo", procMeminfo(node.memoryBytes, node.memoryUsedBytes));
        !s) {
      return s;
    }
    lastMeminfoUsed_ = node.memoryUsedBytes;
  }
  return {};
}

std::string NodeWriter::cgroupOf(const std::string& containerId) const {
  const auto it = containers_.find(containerId);
  return it == containers_.end() ? "" : it->second.path;
}

}  // namespace fleetscale::sim
