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

// A pod that asks to be scraped: annotation fleetscale.io/scrape "true", with fleetscale.io/port
// (required) and fleetscale.io/path (default /metrics), and optionally fleetscale.io/metrics, the
// comma-separated names of the series to send (default: every series, up to the agent's cap).
struct ScrapeTarget {
  std::string podUid;
  std::string pod;
  std::string namespaceName;
  std::string url;                   // http://<podIP>:<port><path>
  std::vector<std::string> metrics;  // as named in the exposition (a counter with its _total)
};

// Immutable once published (see MetadataStore); copied into samples field by field.
struct MetadataSnapshot {
  std::unordered_map<std::string, KnownContainer> containers;   // by runtime container id
  std::unordered_map<std::string, v1::ContainerMetadata> pods;  // by pod uid; pod-level fields
  // Pods in phase Pending with no container started: no cgroup to sample, but replicas the HPA
  // counts as unready. Pod-level fields.
  std::vector<v1::ContainerMetadata> pendingPods;
  // Running pods that opted in to being scraped, with an IP.
  std::vector<ScrapeTarget> scrapeTargets;
  // Entries the source listed that could not be used (not an object, no uid, bad container id,
  // a scrape annotation with no valid port).
  std::size_t skippedEntries = 0;
};

}  // namespace fleetscale::agent
