// Finding container cgroups by the names container runtimes and the kubelet give them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetscale::agent {

struct ContainerCgroup {
  std::string id;        // runtime container id (64 hex), or the unit name for systemd services
  std::string runtime;   // "containerd", "cri-o", "docker", "podman", "systemd", "cri"
  std::string cgroup;    // path relative to the hierarchy root, starting with '/'
  std::string podUid;    // from the kubepods path, with dashes; "" outside Kubernetes
  std::string qosClass;  // "guaranteed", "burstable", "besteffort" under kubepods, else ""
};

struct DiscoveryOptions {
  // Treat plain systemd services under system.slice as containers (VM fleets).
  bool includeSystemdServices = false;
  // How deep below the hierarchy root to look.
  int maxDepth = 8;
};

// Decides from a cgroup path (relative to the hierarchy root) whether it is a container and
// which. Pure; the table tests in container_discovery_test.cpp cover every layout.
std::optional<ContainerCgroup> classifyCgroup(std::string_view cgroupPath,
                                              const DiscoveryOptions& options);

// Walks `hierarchyRoot` and returns every container cgroup, in path order. Does not descend into
// a container's own cgroup. Directories that vanish during the walk are skipped.
std::vector<ContainerCgroup> discoverContainers(const std::string& hierarchyRoot,
                                                const DiscoveryOptions& options);

}  // namespace fleetscale::agent
