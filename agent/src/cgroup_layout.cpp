#include "fleetscale/agent/cgroup_layout.h"

#include <algorithm>
#include <filesystem>

#include "fleetscale/shared/text.h"

namespace fleetscale::agent {
namespace {

constexpr std::string_view kDefaultCgroupMount = "/sys/fs/cgroup";

bool hasOption(const MountInfoEntry& mount, std::string_view option) {
  return std::find(mount.superOptions.begin(), mount.superOptions.end(), option) !=
         mount.superOptions.end();
}

bool isDirectory(const std::string& path) {
  std::error_code ec;
  return !path.empty() && std::filesystem::is_directory(path, ec);
}

bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

std::string rebase(const std::string& mountPoint, const std::string& cgroupRoot,
                   const std::string& hostRoot) {
  if (mountPoint == kDefaultCgroupMount) return cgroupRoot;
  if (mountPoint.rfind(std::string(kDefaultCgroupMount) + "/", 0) == 0) {
    return cgroupRoot + mountPoint.substr(kDefaultCgroupMount.size());
  }
  return underRoot(hostRoot, mountPoint);
}

bool layoutUsable(const CgroupLayout& layout) {
  if (layout.version == CgroupVersion::kV2) return isDirectory(layout.unified);
  return isDirectory(layout.discoveryRoot());
}

}  // namespace

std::string underRoot(const std::string& root, const std::string& path) {
  if (root.empty() || root == "/") return path;
  std::string joined = root;
  while (!joined.empty() && joined.back() == '/') joined.pop_back();
  return joined + (path.empty() || path.front() != '/' ? "/" : "") + path;
}

std::string CgroupLayout::describe() const {
  if (version == CgroupVersion::kV2) return "cgroup v2 at " + unified;
  return "cgroup v1 (cpu " + (cpu.empty() ? "-" : cpu) + ", cpuacct " +
         (cpuacct.empty() ? "-" : cpuacct) + ", memory " + (memory.empty() ? "-" : memory) + ")";
}

Result<CgroupLayout> layoutFromMounts(const std::vector<MountInfoEntry>& mounts,
                                      const std::string& cgroupRoot, const std::string& hostRoot) {
  CgroupLayout layout;
  auto take = [&](std::string& slot, const MountInfoEntry& mount) {
    if (slot.empty()) slot = rebase(mount.mountPoint, cgroupRoot, hostRoot);
  };
  for (const auto& mount : mounts) {
    if (mount.fsType == "cgroup2") {
      take(layout.unified, mount);
    } else if (mount.fsType == "cgroup") {
      if (hasOption(mount, "cpu")) take(layout.cpu, mount);
      if (hasOption(mount, "cpuacct")) take(layout.cpuacct, mount);
      if (hasOption(mount, "memory")) take(layout.memory, mount);
    }
  }
  if (!layout.memory.empty() || !layout.cpuacct.empty()) {
    layout.version = CgroupVersion::kV1;
  } else if (!layout.unified.empty()) {
    layout.version = CgroupVersion::kV2;
  } else {
    return Error{"no cgroup hierarchy in mountinfo"};
  }
  return layout;
}

Result<CgroupLayout> probeLayout(const std::string& cgroupRoot) {
  CgroupLayout layout;
  if (exists(cgroupRoot + "/cgroup.controllers")) {
    layout.version = CgroupVersion::kV2;
    layout.unified = cgroupRoot;
    return layout;
  }
  layout.version = CgroupVersion::kV1;
  for (const std::string comounted : {"cpu,cpuacct", "cpuacct,cpu"}) {
    if (isDirectory(cgroupRoot + "/" + comounted)) {
      layout.cpu = layout.cpuacct = cgroupRoot + "/" + comounted;
    }
  }
  if (layout.cpu.empty() && isDirectory(cgroupRoot + "/cpu")) layout.cpu = cgroupRoot + "/cpu";
  if (layout.cpuacct.empty() && isDirectory(cgroupRoot + "/cpuacct")) {
    layout.cpuacct = cgroupRoot + "/cpuacct";
  }
  if (isDirectory(cgroupRoot + "/memory")) layout.memory = cgroupRoot + "/memory";
  if (isDirectory(cgroupRoot + "/unified")) layout.unified = cgroupRoot + "/unified";
  if (layout.memory.empty() && layout.cpuacct.empty()) {
    return Error{cgroupRoot +
                 " holds neither cgroup v2 (cgroup.controllers) nor v1 controller "
                 "directories (cpu, cpuacct, memory)"};
  }
  return layout;
}

Result<CgroupLayout> detectLayout(const std::string& mountInfoPath, const std::string& cgroupRoot,
                                  const std::string& hostRoot) {
  if (auto text = readFile(mountInfoPath); text) {
    auto fromMounts = layoutFromMounts(parseMountInfo(*text), cgroupRoot, hostRoot);
    if (fromMounts && layoutUsable(*fromMounts)) return fromMounts;
  }
  return probeLayout(cgroupRoot);
}

}  // namespace fleetscale::agent
