// What the kubelet or a container engine says about the containers on this node, indexed the way
// the sampler looks it up: by runtime container id, and by pod uid for containers the source
// does not list by id (a pod's sandbox, a container that started after the last refresh).
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale::agent {

struct KnownContainer {
  // The runtime named by the source ("containerd", "cri-o", "docker", "podman"); "" if unknown.
  std::string runtime;
  v1::ContainerMetadata metadata;
};

// Immutable once published (see MetadataStore); copied into samples field by field.
struct MetadataSnapshot {
  std::unordered_map<std::string, KnownContainer> containers;   // by runtime container id
  std::unordered_map<std::string, v1::ContainerMetadata> pods;  // by pod uid; pod-level fields
  // Pods in phase Pending with no container started: no cgroup to sample, but replicas the HPA
  // counts as unready. Pod-level fields.
  std::vector<v1::ContainerMetadata> pendingPods;
  // Entries the source listed that could not be used (not an object, no uid, bad container id).
  std::size_t skippedEntries = 0;
};

}  // namespace fleetscale::agent
