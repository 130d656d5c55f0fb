#include "fleetscale/agent/pod_list.h"

#include <algorithm>
#include <iterator>

#include "fleetscale/shared/quantity.h"
#include "fleetscale/shared/text.h"
#include "json_access.h"

namespace fleetscale::agent {
namespace {

using namespace json_access;

// Every member name parsePodList reads, at any depth. Everything else is dropped by the parser
// callback before it is stored.
constexpr std::string_view kKeptKeys[] = {
    "kind",
    "items",
    "metadata",
    "name",
    "namespace",
    "uid",
    "deletionTimestamp",
    "labels",
    "pod-template-hash",
    "ownerReferences",
    "controller",
    "spec",
    "containers",
    "initContainers",
    "resources",
    "requests",
    "limits",
    "cpu",
    "memory",
    "status",
    "phase",
    "qosClass",
    "startTime",
    "conditions",
    "type",
    "lastTransitionTime",
    "containerStatuses",
    "initContainerStatuses",
    "containerID",
    "ready",
    "restartCount",
    "state",
    "running",
    "startedAt",
    "image",
    "annotations",
    "podIP",
    "fleetscale.io/scrape",
    "fleetscale.io/port",
    "fleetscale.io/path",
    "fleetscale.io/metrics",
};
// A PodList nests about eight levels deep; anything far deeper is not one.
constexpr int kMaxDepth = 32;

bool keepMember(int depth, Json::parse_event_t event, Json& parsed) {
  switch (event) {
    case Json::parse_event_t::object_start:
    case Json::parse_event_t::array_start:
      return depth <= kMaxDepth;
    case Json::parse_event_t::key:
      return parsed.is_string() &&
             std::find(std::begin(kKeptKeys), std::end(kKeptKeys),
                       parsed.get_ref<const std::string&>()) != std::end(kKeptKeys);
    default:
      return true;
  }
}

// Kubernetes' rand.SafeEncodeString: each byte mapped onto an alphabet without vowels.
std::string safeEncode(std::string_view text) {
  constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  out.reserve(text.size());
  for (char c : text) out.push_back(kAlphabet[static_cast<unsigned char>(c) % kAlphabet.size()]);
  return out;
}

void setTime(const Json& object, const char* key, auto&& setter) {
  const std::string text = stringAt(object, key);
  if (text.empty()) return;
  if (auto millis = parseRfc3339Millis(text)) setter(*millis);
}

// The controller owner reference (controller: true), else the first one.
const Json* controllerOwner(const Json& metadata) {
  const Json& owners = arrayAt(metadata, "ownerReferences");
  const Json* first = nullptr;
  for (const auto& owner : owners) {
    if (!owner.is_object()) continue;
    if (boolAt(owner, "controller").value_or(false)) return &owner;
    if (first == nullptr) first = &owner;
  }
  return first;
}

v1::ContainerMetadata podLevelMetadata(const Json& pod) {
  const Json& metadata = objectAt(pod, "metadata");
  const Json& status = objectAt(pod, "status");
  v1::ContainerMetadata out;
  out.set_pod(stringAt(metadata, "name"));
  out.set_pod_uid(stringAt(metadata, "uid"));
  out.set_namespace_(stringAt(metadata, "namespace"));
  if (const Json* owner = controllerOwner(metadata)) {
    const Workload workload =
        resolveWorkload(stringAt(*owner, "kind"), stringAt(*owner, "name"),
                        stringAt(objectAt(metadata, "labels"), "pod-template-hash"));
    out.set_workload_kind(workload.kind);
    out.set_workload(workload.name);
  }
  setTime(metadata, "deletionTimestamp", [&](std::int64_t ms) { out.set_deletion_unix_ms(ms); });
  out.set_pod_phase(stringAt(status, "phase"));
  out.set_qos_class(stringAt(status, "qosClass"));
  setTime(status, "startTime", [&](std::int64_t ms) { out.set_start_time_unix_ms(ms); });
  for (const auto& condition : arrayAt(status, "conditions")) {
    if (stringAt(condition, "type") == "Ready" && stringAt(condition, "status") == "True") {
      setTime(condition, "lastTransitionTime",
              [&](std::int64_t ms) { out.set_pod_ready_time_unix_ms(ms); });
    }
  }
  return out;
}

// The spec entry (containers or initContainers) named `name`.
const Json* containerSpec(const Json& spec, const std::string& name) {
  for (const char* list : {"containers", "initContainers"}) {
    for (const auto& container : arrayAt(spec, list)) {
      if (stringAt(container, "name") == name) return &container;
    }
  }
  return nullptr;
}

void fillResources(const Json& container, v1::ContainerMetadata& out) {
  const Json& resources = objectAt(container, "resources");
  const Json& requests = objectAt(resources, "requests");
  const Json& limits = objectAt(resources, "limits");
  if (auto cpu = parseQuantity(stringAt(requests, "cpu")); cpu && *cpu >= 0) {
    out.set_cpu_request_cores(*cpu);
  }
  if (auto memory = parseQuantityCeil(stringAt(requests, "memory"))) {
    out.set_memory_request_bytes(*memory);
  }
  if (auto cpu = parseQuantity(stringAt(limits, "cpu")); cpu && *cpu >= 0) {
    out.set_cpu_limit_cores(*cpu);
  }
  if (auto memory = parseQuantityCeil(stringAt(limits, "memory"))) {
    out.set_memory_limit_bytes(*memory);
  }
}

// The pod's requests as the HPA sums them: over spec.containers, unknown when one lacks it.
v1::ContainerMetadata withPodRequests(v1::ContainerMetadata pod, const Json& spec) {
  double cpu = 0;
  std::uint64_t memory = 0;
  bool cpuKnown = true, memoryKnown = true;
  for (const auto& container : arrayAt(spec, "containers")) {
    v1::ContainerMetadata one;
    fillResources(container, one);
    cpuKnown &= one.has_cpu_request_cores();
    memoryKnown &= one.has_memory_request_bytes();
    cpu += one.cpu_request_cores();
    memory = one.memory_request_bytes() > UINT64_MAX - memory ? UINT64_MAX
                                                              : memory + one.memory_request_bytes();
  }
  if (arrayAt(spec, "containers").empty()) cpuKnown = memoryKnown = false;
  if (cpuKnown) pod.set_cpu_request_cores(cpu);
  if (memoryKnown) pod.set_memory_request_bytes(memory);
  return pod;
}

// False when the status names no started container (no containerID yet).
bool indexContainer(const Json& containerStatus, const Json& spec, const v1::ContainerMetadata& pod,
                    MetadataSnapshot& snapshot) {
  const std::string containerId = stringAt(containerStatus, "containerID");
  if (containerId.empty()) return false;  // not started yet: no cgroup to label either
  auto id = parseContainerId(containerId);
  if (!id) {
    ++snapshot.skippedEntries;
    return true;
  }
  KnownContainer known{id->runtime, pod};
  v1::ContainerMetadata& out = known.metadata;
  out.set_container(stringAt(containerStatus, "name"));
  out.set_image(stringAt(containerStatus, "image"));
  if (auto ready = boolAt(containerStatus, "ready")) out.set_ready(*ready);
  if (auto restarts = integerAt(containerStatus, "restartCount"); restarts && *restarts >= 0) {
    out.set_restart_count(
        static_cast<std::uint32_t>(std::min<std::int64_t>(*restarts, UINT32_MAX)));
  }
  const Json& running = objectAt(objectAt(containerStatus, "state"), "running");
  setTime(running, "startedAt", [&](std::int64_t ms) { out.set_start_time_unix_ms(ms); });
  if (const Json* container = containerSpec(spec, out.container())) fillResources(*container, out);
  snapshot.containers.insert_or_assign(std::move(id->id), std::move(known));
  return true;
}

// The pod's scrape target when it opted in; counts a bad annotation as a skipped entry.
std::optional<ScrapeTarget> scrapeTargetOf(const Json& pod, const v1::ContainerMetadata& podLevel,
                                           MetadataSnapshot& snapshot) {
  const Json& annotations = objectAt(objectAt(pod, "metadata"), "annotations");
  if (stringAt(annotations, "fleetscale.io/scrape") != "true") return std::nullopt;
  const std::string ip = stringAt(objectAt(pod, "status"), "podIP");
  if (podLevel.pod_phase() != "Running" || ip.empty() || podLevel.deletion_unix_ms() > 0) {
    return std::nullopt;  // nothing to scrape yet, or not any more
  }
  const std::string port = stringAt(annotations, "fleetscale.io/port");
  const std::string path = stringAt(annotations, "fleetscale.io/path");
  const auto portNumber = parseUint64(port);
  const bool ipOk = ip.find_first_not_of("0123456789abcdefABCDEF.:") == std::string::npos;
  if (!portNumber || *portNumber == 0 || *portNumber > 65535 || !ipOk ||
      (!path.empty() &&
       (path.front() != '/' || path.find_first_of(" \r\n#") != std::string::npos))) {
    ++snapshot.skippedEntries;
    return std::nullopt;
  }
  ScrapeTarget target{podLevel.pod_uid(), podLevel.pod(), podLevel.namespace_(), "", {}};
  const bool ipv6 = ip.find(':') != std::string::npos;
  target.url = "http://" + (ipv6 ? "[" + ip + "]" : ip) + ":" + std::to_string(*portNumber) +
               (path.empty() ? "/metrics" : path);
  const std::string metrics = stringAt(annotations, "fleetscale.io/metrics");
  for (const auto name : splitFields(metrics, ", \t")) {
    target.metrics.emplace_back(name);
  }
  return target;
}

}  // namespace

Result<MetadataSnapshot> parsePodList(std::string_view json) {
  const Json root = Json::parse(json.begin(), json.end(), keepMember, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) return Error{"/pods: not a JSON object"};
  const std::string kind = stringAt(root, "kind");
  if (!kind.empty() && kind != "PodList")
    return Error{"/pods: kind is " + fleetscale::singleQuoted(kind)};
  const Json* items = member(root, "items");
  if (items == nullptr || !(items->is_array() || items->is_null())) {
    return Error{"/pods: no items array"};
  }
  MetadataSnapshot snapshot;
  for (const auto& pod : arrayAt(root, "items")) {
    const v1::ContainerMetadata podLevel = podLevelMetadata(pod);
    if (podLevel.pod_uid().empty()) {
      ++snapshot.skippedEntries;
      continue;
    }
    const Json& spec = objectAt(pod, "spec");
    const Json& status = objectAt(pod, "status");
    bool anyStarted = false;
    for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
      for (const auto& containerStatus : arrayAt(status, list)) {
        anyStarted |= indexContainer(containerStatus, spec, podLevel, snapshot);
      }
    }
    if (!anyStarted && podLevel.pod_phase() == "Pending") {
      snapshot.pendingPods.push_back(withPodRequests(podLevel, spec));
    }
    if (auto target = scrapeTargetOf(pod, podLevel, snapshot)) {
      snapshot.scrapeTargets.push_back(std::move(*target));
    }
    snapshot.pods.insert_or_assign(podLevel.pod_uid(), podLevel);
  }
  return snapshot;
}

Workload resolveWorkload(std::string_view ownerKind, std::string_view ownerName,
                         std::string_view podTemplateHash) {
  if (ownerKind == "ReplicaSet" && !podTemplateHash.empty()) {
    for (const std::string& suffix : {std::string(podTemplateHash), safeEncode(podTemplateHash)}) {
      if (ownerName.size() > suffix.size() + 1 &&
          ownerName.substr(ownerName.size() - suffix.size()) == suffix &&
          ownerName[ownerName.size() - suffix.size() - 1] == '-') {
        return {"Deployment",
                std::string(ownerName.substr(0, ownerName.size() - suffix.size() - 1))};
      }
    }
  }
  return {std::string(ownerKind), std::string(ownerName)};
}

std::optional<RuntimeContainerId> parseContainerId(std::string_view kubeletContainerId) {
  const auto scheme = kubeletContainerId.find("://");
  if (scheme == std::string_view::npos || scheme == 0) return std::nullopt;
  const std::string_view id = kubeletContainerId.substr(scheme + 3);
  if (id.empty() || id.find('/') != std::string_view::npos) return std::nullopt;
  return RuntimeContainerId{std::string(kubeletContainerId.substr(0, scheme)), std::string(id)};
}

Result<std::int64_t> parseRfc3339Millis(std::string_view text) {
  auto time = parseRfc3339(text);
  if (!time) return time.error();
  return std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count();
}

}  // namespace fleetscale::agent
