#include "fleetscale/agent/container_discovery.h"

#include <algorithm>
#include <filesystem>

#include "fleetscale/shared/text.h"

namespace fleetscale::agent {
namespace {

constexpr std::size_t kContainerIdLength = 64;

struct ScopePrefix {
  std::string_view prefix;
  std::string_view runtime;
};

// systemd-driver scope names: "<prefix><64 hex>.scope".
constexpr ScopePrefix kScopePrefixes[] = {
    {"cri-containerd-", "containerd"},
    {"crio-", "cri-o"},
    {"docker-", "docker"},
    {"libpod-", "podman"},
};

std::vector<std::string_view> components(std::string_view path) { return splitFields(path, "/"); }

// Pod uid and QoS class from the kubepods part of the path, for either cgroup driver.
void fillPodFromPath(const std::vector<std::string_view>& parts, ContainerCgroup& container) {
  for (std::string_view part : parts) {
    // systemd: kubepods-burstable-pod<uid with _>.slice or kubepods-pod<uid>.slice
    if (part.rfind("kubepods", 0) == 0 && part.size() > 6 &&
        part.substr(part.size() - 6) == ".slice") {
      const std::string_view stem = part.substr(0, part.size() - 6);
      const auto podAt = stem.rfind("-pod");
      if (podAt != std::string_view::npos) {
        std::string uid(stem.substr(podAt + 4));
        std::replace(uid.begin(), uid.end(), '_', '-');
        container.podUid = uid;
      } else if (stem == "kubepods-burstable") {
        container.qosClass = "burstable";
      } else if (stem == "kubepods-besteffort") {
        container.qosClass = "besteffort";
      }
    } else if (part.rfind("pod", 0) == 0 && part.size() > 3 &&
               part.find('.') == std::string_view::npos) {
      // cgroupfs: kubepods/<qos>/pod<uid>
      container.podUid = std::string(part.substr(3));
    } else if (part == "burstable" || part == "besteffort") {
      container.qosClass = std::string(part);
    }
  }
  if (!container.podUid.empty() && container.qosClass.empty()) container.qosClass = "guaranteed";
}

bool underKubepods(const std::vector<std::string_view>& parts) {
  return std::any_of(parts.begin(), parts.end(),
                     [](std::string_view part) { return part.rfind("kubepods", 0) == 0; });
}

}  // namespace

std::optional<ContainerCgroup> classifyCgroup(std::string_view cgroupPath,
                                              const DiscoveryOptions& options) {
  const auto parts = components(cgroupPath);
  if (parts.empty()) return std::nullopt;
  const std::string_view name = parts.back();
  ContainerCgroup container;
  container.cgroup = std::string(cgroupPath);

  if (name.size() > 6 && name.substr(name.size() - 6) == ".scope") {
    const std::string_view stem = name.substr(0, name.size() - 6);
    for (const auto& [prefix, runtime] : kScopePrefixes) {
      if (stem.rfind(prefix, 0) != 0) continue;
      const std::string_view id = stem.substr(prefix.size());
      // conmon scopes (crio-conmon-<id>, libpod-conmon-<id>) hold the monitor, not the container.
      if (id.size() != kContainerIdLength || !isLowerHex(id)) return std::nullopt;
      container.id = std::string(id);
      container.runtime = std::string(runtime);
      fillPodFromPath(parts, container);
      return container;
    }
    return std::nullopt;
  }

  if (name.size() == kContainerIdLength && isLowerHex(name)) {
    // cgroupfs driver: kubepods/<qos>/pod<uid>/<id>, /docker/<id>, /machine/... .
    container.id = std::string(name);
    if (underKubepods(parts)) {
      container.runtime = "cri";
      fillPodFromPath(parts, container);
    } else if (parts.size() >= 2 && parts[parts.size() - 2] == "docker") {
      container.runtime = "docker";
    } else {
      container.runtime = "unknown";
    }
    return container;
  }

  if (options.includeSystemdServices && parts.size() == 2 && parts[0] == "system.slice" &&
      name.size() > 8 && name.substr(name.size() - 8) == ".service") {
    container.id = std::string(name);
    container.runtime = "systemd";
    return container;
  }
  return std::nullopt;
}

std::vector<ContainerCgroup> discoverContainers(const std::string& hierarchyRoot,
                                                const DiscoveryOptions& options) {
  namespace fs = std::filesystem;
  std::vector<ContainerCgroup> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(hierarchyRoot, fs::directory_options::skip_permission_denied,
                                      ec);
  if (ec) return found;
  const fs::recursive_directory_iterator end;
  while (it != end) {
    const fs::directory_entry& entry = *it;
    bool descend = false;
    if (entry.is_directory(ec) && !entry.is_symlink(ec)) {
      std::string relative = entry.path().string().substr(hierarchyRoot.size());
      if (relative.empty() || relative.front() != '/') relative.insert(relative.begin(), '/');
      if (auto container = classifyCgroup(relative, options)) {
        found.push_back(std::move(*container));
      } else {
        descend = it.depth() + 1 < options.maxDepth;
      }
    }
    if (!descend) it.disable_recursion_pending();
    it.increment(ec);
    if (ec) {
      // The directory vanished under us; skip it and carry on with its siblings.
      ec.clear();
      if (it == end) break;
    }
  }
  std::sort(found.begin(), found.end(),
            [](const ContainerCgroup& a, const ContainerCgroup& b) { return a.cgroup < b.cgroup; });
  return found;
}

}  // namespace fleetscale::agent
