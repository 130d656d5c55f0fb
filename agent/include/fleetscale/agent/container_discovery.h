// Finding container cgroups by the names container runtimes and the kubelet give them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetscale::agent {

struct ContainerCgroup {
  std::string id;  // runtime container id (64 hex), or the unit name for systemd services
  // "containerd", "cri-o", "docker", "podman", "systemd"; "cri" for a Kubernetes container under
  // the cgroupfs driver, whose path does not name the runtime (the kubelet's metadata does);
  // "unknown" for a bare 64-hex cgroup elsewhere.
  std::string runtime;
  std::string cgroup;    // path relative to the hierarchy root, starting with '/'
  std::string podUid;    // from the kubepods path, with dashes; "" outside Kubernetes
  std::string qosClass;  // "Guaranteed", "Burstable", "BestEffort" under kubepods, else ""
};

struct DiscoveryOptions {
  // Treat systemd services under system.slice (nested slices included) as containers: on a VM
  // fleet a unit is what gets scaled.
  bool includeSystemdServices = false;
  // How deep below the hierarchy root to look.
  int maxDepth = 8;
};

// Decides from a cgroup path (relative to the hierarchy root) whether it is a container and
// which. Pure; the table tests in container_discovery_test.cpp cover every layout:
//   Kubernetes, systemd driver: [<root>.slice/]<root->kubepods.slice/<..>-kubepods-<qos>.slice/
//     <..>-kubepods-<qos>-pod<uid with _>.slice/<runtime>-<id>.scope (Guaranteed pods directly
//     under the kubepods slice); runtimes cri-containerd-, crio- (not crio-conmon-), docker-
//   Kubernetes, cgroupfs driver: [/<root>]/kubepods/<qos>/pod<uid>/<id> or .../crio-<id>
//   VMs: /system.slice/docker-<id>.scope, /docker/<id>, /machine.slice/libpod-<id>.scope,
//     /libpod_parent/libpod-<id>, and with includeSystemdServices /system.slice/.../<unit>.service
std::optional<ContainerCgroup> classifyCgroup(std::string_view cgroupPath,
                                              const DiscoveryOptions& options);

// Walks `hierarchyRoot` and returns every container cgroup, in path order. Does not descend into
// a container's own cgroup. Directories that vanish during the walk are skipped.
std::vector<ContainerCgroup> discoverContainers(const std::string& hierarchyRoot,
                                                const DiscoveryOptions& options);

}  // namespace fleetscale::agent
