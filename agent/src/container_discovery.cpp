#include "fleetscale/agent/container_discovery.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "fleetscale/shared/text.h"

namespace fleetscale::agent {
namespace {

constexpr std::size_t kContainerIdLength = 64;

struct RuntimePrefix {
  std::string_view prefix;
  std::string_view runtime;
};

// Container cgroup names "<prefix><64 hex>", with ".scope" under the systemd driver and without
// it under cgroupfs (CRI-O's "crio-<id>", Podman's "libpod-<id>"). Monitor cgroups
// (crio-conmon-<id>, libpod-conmon-<id>) do not match: what follows the prefix is not an id.
constexpr RuntimePrefix kRuntimePrefixes[] = {
    {"cri-containerd-", "containerd"},
    {"crio-", "cri-o"},
    {"docker-", "docker"},
    {"libpod-", "podman"},
};

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool isContainerId(std::string_view text) {
  return text.size() == kContainerIdLength && isLowerHex(text);
}

// The kubelet names pod cgroups from the parts {<cgroup root parts>..., "kubepods", [qos],
// "pod<uid>"}: under the systemd driver joined with '-' into nested slices
// ("kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/
// kubelet-kubepods-burstable-pod<uid with _>.slice" for --cgroup-root=/kubelet.slice), under
// cgroupfs as directories ("/kubelet/kubepods/burstable/pod<uid>"). Both reduce to the same
// sequence of parts, which this walks.
struct KubepodsPath {
  bool underKubepods = false;
  std::string podUid;
  std::string qosClass;
};

void addKubeletPart(std::string_view part, KubepodsPath& out) {
  if (part == "kubepods") {
    out.underKubepods = true;
  } else if (!out.underKubepods) {
    return;
  } else if (part == "burstable") {
    out.qosClass = "Burstable";
  } else if (part == "besteffort") {
    out.qosClass = "BestEffort";
  } else if (part.size() > 3 && part.substr(0, 3) == "pod") {
    out.podUid = std::string(part.substr(3));
  }
}

KubepodsPath parseKubepodsPath(const std::vector<std::string_view>& components) {
  KubepodsPath out;
  for (std::string_view component : components) {
    if (endsWith(component, ".slice")) {
      // Only the last slice of a nesting carries every part; earlier ones repeat its prefixes.
      KubepodsPath slice;
      for (std::string_view part : splitFields(component.substr(0, component.size() - 6), "-")) {
        addKubeletPart(part, slice);
      }
      if (slice.underKubepods) {
        out.underKubepods = true;
        if (!slice.qosClass.empty()) out.qosClass = slice.qosClass;
        if (!slice.podUid.empty()) {
          out.podUid = slice.podUid;
          std::replace(out.podUid.begin(), out.podUid.end(), '_', '-');
        }
      }
    } else {
      addKubeletPart(component, out);
    }
  }
  if (!out.podUid.empty() && out.qosClass.empty()) out.qosClass = "Guaranteed";
  return out;
}

std::optional<ContainerCgroup> container(std::string_view cgroupPath, std::string_view id,
                                         std::string_view runtime,
                                         const std::vector<std::string_view>& components) {
  ContainerCgroup out;
  out.id = std::string(id);
  out.runtime = std::string(runtime);
  out.cgroup = std::string(cgroupPath);
  const KubepodsPath pod = parseKubepodsPath(components);
  out.podUid = pod.podUid;
  out.qosClass = pod.qosClass;
  return out;
}

bool underSystemSlice(const std::vector<std::string_view>& components) {
  return components.size() >= 2 && components.front() == "system.slice";
}

}  // namespace

std::optional<ContainerCgroup> classifyCgroup(std::string_view cgroupPath,
                                              const DiscoveryOptions& options) {
  const auto components = splitFields(cgroupPath, "/");
  if (components.empty()) return std::nullopt;
  const std::string_view name = components.back();
  const std::string_view stem = endsWith(name, ".scope") ? name.substr(0, name.size() - 6) : name;

  for (const auto& [prefix, runtime] : kRuntimePrefixes) {
    if (stem.substr(0, prefix.size()) != prefix) continue;
    const std::string_view id = stem.substr(prefix.size());
    if (!isContainerId(id)) return std::nullopt;
    return container(cgroupPath, id, runtime, components);
  }
  if (isContainerId(name)) {
    // cgroupfs driver: kubepods/<qos>/pod<uid>/<id> (which runtime the kubelet says), or
    // Docker's /docker/<id>.
    const bool docker = components.size() >= 2 && components[components.size() - 2] == "docker";
    const bool kubernetes = parseKubepodsPath(components).underKubepods;
    return container(cgroupPath, name,
                     docker       ? "docker"
                     : kubernetes ? "cri"
                                  : "unknown",
                     components);
  }
  if (options.includeSystemdServices && endsWith(name, ".service") && name.size() > 8 &&
      underSystemSlice(components)) {
    return container(cgroupPath, name, "systemd", components);
  }
  return std::nullopt;
}

namespace {

// Depth-first over directories only, with one path buffer for the whole walk: the cgroup tree
// holds some thirty control files per directory, which readdir's d_type lets us skip without a
// stat or an allocation each.
void walk(std::string& path, std::size_t rootLength, int depth, const DiscoveryOptions& options,
          std::vector<ContainerCgroup>& found) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return;  // vanished during the walk, or unreadable: skip it
  while (const dirent* entry = ::readdir(dir)) {
    const unsigned char type = entry->d_type;
    if (type != DT_DIR && type != DT_UNKNOWN) continue;  // files and symlinks
    const std::string_view name(entry->d_name);
    if (name == "." || name == "..") continue;
    const std::size_t parentLength = path.size();
    path.push_back('/');
    path.append(name);
    struct stat info {};
    if (type == DT_UNKNOWN && (::lstat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))) {
      path.resize(parentLength);
      continue;
    }
    const std::string_view relative(path.data() + rootLength, path.size() - rootLength);
    if (auto container = classifyCgroup(relative, options)) {
      found.push_back(std::move(*container));  // never descend into a container's own cgroup
    } else if (depth + 1 < options.maxDepth) {
      walk(path, rootLength, depth + 1, options, found);
    }
    path.resize(parentLength);
  }
  ::closedir(dir);
}

}  // namespace

std::vector<ContainerCgroup> discoverContainers(const std::string& hierarchyRoot,
                                                const DiscoveryOptions& options) {
  std::vector<ContainerCgroup> found;
  std::string path = hierarchyRoot;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const std::size_t rootLength = path.size();  // relative paths keep their leading '/'
  path.reserve(4096);
  walk(path, rootLength, 0, options, found);
  std::sort(found.begin(), found.end(),
            [](const ContainerCgroup& a, const ContainerCgroup& b) { return a.cgroup < b.cgroup; });
  return found;
}

}  // namespace fleetscale::agent
