#include "fleetscale/sim/cluster_model.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>
#include <utility>

#include "fleetscale/shared/text.h"
#include "fleetscale/sim/api_resource.h"
#include "fleetscale/sim/pod_metrics.h"
#include "fleetscale/sim/quantity.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

constexpr int kMaxReplicas = 100000;

std::string nodeName(const ClusterSpec& spec, int clusterIndex, int nodeIndex,
                     const std::string& poolId, IdGenerator& ids) {
  const std::string octets =
      std::to_string(10 + clusterIndex) + "-1-" + std::to_string(10 + nodeIndex);
  if (spec.cloud == "aws") {
    const std::string domain =
        spec.region == "us-east-1" ? "ec2.internal" : spec.region + ".compute.internal";
    return "ip-10-" + octets + "." + domain;
  }
  if (spec.cloud == "gcp") {
    return "gke-" + spec.name.substr(0, 20) + "-default-pool-" + poolId + "-" +
           ids.podSuffix().substr(0, 4);
  }
  if (spec.cloud == "azure") {
    char suffix[16];
    std::snprintf(suffix, sizeof(suffix), "%06d", nodeIndex);
    return "aks-nodepool1-" + std::to_string(10000000 + clusterIndex * 7919) + "-vmss" + suffix;
  }
  return spec.name + "-node-" + std::to_string(nodeIndex);
}

std::string zoneOf(const ClusterSpec& spec, int nodeIndex) {
  if (!spec.zone.empty()) return spec.zone;
  static constexpr char kLetters[] = {'a', 'b', 'c'};
  if (spec.cloud == "aws") return spec.region + kLetters[nodeIndex % 3];
  if (spec.cloud == "gcp") return spec.region + "-" + static_cast<char>('b' + nodeIndex % 3);
  if (spec.cloud == "azure") return spec.region + "-" + std::to_string(1 + nodeIndex % 3);
  return spec.region;
}

ApiError notFound(WorkloadKind kind, const std::string& name) {
  const std::string resource = std::string(resourceName(kind));
  return {404, "NotFound", resource + ".apps \"" + name + "\" not found",
          json{{"name", name}, {"group", "apps"}, {"kind", resource}}};
}

ApiError conflict(WorkloadKind kind, const std::string& name) {
  const std::string resource = std::string(resourceName(kind));
  return {409, "Conflict",
          "Operation cannot be fulfilled on " + resource + ".apps \"" + name +
              "\": the object has been modified; please apply your changes to the latest "
              "version and try again",
          json{{"name", name}, {"group", "apps"}, {"kind", resource}}};
}

ApiError invalid(WorkloadKind kind, const std::string& name, const std::string& field,
                 const std::string& detail) {
  const std::string kindName = std::string(toString(kind));
  return {422, "Invalid", kindName + ".apps \"" + name + "\" is invalid: " + field + ": " + detail,
          json{{"name", name},
               {"group", "apps"},
               {"kind", kindName},
               {"causes",
                json::array({json{
                    {"reason", "FieldValueInvalid"}, {"message", detail}, {"field", field}}})}}};
}

json containerJson(const ContainerTemplate& container) {
  json out = {{"name", container.name},
              {"image", container.image},
              {"resources", resourcesJson(container.resources)},
              {"terminationMessagePath", "/dev/termination-log"},
              {"terminationMessagePolicy", "File"},
              {"imagePullPolicy", "IfNotPresent"}};
  if (container.resizePolicy.shown) out["resizePolicy"] = resizePolicyJson(container.resizePolicy);
  return out;
}

ApiError podInvalid(const std::string& name, const std::string& field, const std::string& detail) {
  return {422, "Invalid", "Pod \"" + name + "\" is invalid: " + field + ": " + detail,
          json{{"name", name},
               {"kind", "Pod"},
               {"causes",
                json::array({json{
                    {"reason", "FieldValueInvalid"}, {"message", detail}, {"field", field}}})}}};
}

}  // namespace

json resizePolicyJson(const ResizePolicy& policy) {
  auto entry = [](const char* resource, bool restart) {
    return json{{"resourceName", resource},
                {"restartPolicy", restart ? "RestartContainer" : "NotRequired"}};
  };
  return json::array({entry("cpu", policy.restartOnCpu), entry("memory", policy.restartOnMemory)});
}

std::optional<ResizePolicy> resizePolicyFromJson(const json& entries, std::string* error) {
  ResizePolicy policy;
  if (entries.is_null()) return policy;
  if (!entries.is_array()) {
    *error = "resizePolicy: expected a list";
    return std::nullopt;
  }
  policy.shown = true;
  for (const auto& entry : entries) {
    const std::string resource = entry.is_object() ? entry.value("resourceName", "") : "";
    const std::string restart = entry.is_object() ? entry.value("restartPolicy", "") : "";
    if ((resource != "cpu" && resource != "memory") ||
        (restart != "NotRequired" && restart != "RestartContainer")) {
      *error =
          "resizePolicy: expected resourceName cpu or memory and restartPolicy NotRequired or "
          "RestartContainer";
      return std::nullopt;
    }
    (resource == "cpu" ? policy.restartOnCpu : policy.restartOnMemory) =
        restart == "RestartContainer";
  }
  return policy;
}

std::optional<int> kubernetesMinor(std::string_view version) {
  if (!version.empty() && version.front() == 'v') version.remove_prefix(1);
  const auto parts = splitFields(version, ".");
  if (parts.size() < 2 || parts[0] != "1") return std::nullopt;
  std::string_view minor = parts[1];
  const auto end = minor.find_first_not_of("0123456789");
  if (end != std::string_view::npos) minor = minor.substr(0, end);  // "33+" (EKS), "33-gke"
  const auto value = parseInt64(minor);
  if (!value) return std::nullopt;
  return static_cast<int>(*value);
}

SimTime crashBackOff(int crashes) {
  if (crashes <= 1) return SimTime{0};
  constexpr double kInitialSeconds = 10;
  constexpr double kMaxSeconds = 300;
  const double seconds = kInitialSeconds * std::pow(2.0, std::min(crashes - 2, 10));
  return fromSeconds(std::min(seconds, kMaxSeconds));
}

double requestedCores(const ContainerResources& r) {
  // Kubernetes defaults a missing request to the limit.
  return r.cpuRequest ? *r.cpuRequest : (r.cpuLimit ? *r.cpuLimit : 0);
}
double requestedBytes(const ContainerResources& r) {
  return r.memoryRequest ? *r.memoryRequest : (r.memoryLimit ? *r.memoryLimit : 0);
}

std::string_view resourceName(WorkloadKind kind) {
  return kind == WorkloadKind::kDeployment ? "deployments" : "statefulsets";
}

std::string_view toString(QosClass qos) {
  switch (qos) {
    case QosClass::kGuaranteed:
      return "Guaranteed";
    case QosClass::kBurstable:
      return "Burstable";
    case QosClass::kBestEffort:
      return "BestEffort";
  }
  return "BestEffort";
}

QosClass qosClassOf(const ContainerResources& r) {
  if (!r.cpuRequest && !r.cpuLimit && !r.memoryRequest && !r.memoryLimit) {
    return QosClass::kBestEffort;
  }
  // Guaranteed: limits for both, and requests (defaulted to limits) equal to them.
  if (r.cpuLimit && r.memoryLimit && requestedCores(r) == *r.cpuLimit &&
      requestedBytes(r) == *r.memoryLimit) {
    return QosClass::kGuaranteed;
  }
  return QosClass::kBurstable;
}

std::string rfc3339(WallTime time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

json resourcesJson(const ContainerResources& r) {
  json requests = json::object();
  json limits = json::object();
  if (r.cpuRequest) requests["cpu"] = formatCpu(*r.cpuRequest);
  if (r.memoryRequest) requests["memory"] = formatMemory(*r.memoryRequest);
  if (r.cpuLimit) limits["cpu"] = formatCpu(*r.cpuLimit);
  if (r.memoryLimit) limits["memory"] = formatMemory(*r.memoryLimit);
  json out = json::object();
  if (!limits.empty()) out["limits"] = std::move(limits);
  if (!requests.empty()) out["requests"] = std::move(requests);
  return out;
}

std::optional<ContainerResources> resourcesFromJson(const json& resources, std::string* error) {
  ContainerResources out;
  if (resources.is_null()) return out;
  if (!resources.is_object()) {
    *error = "resources: expected an object";
    return std::nullopt;
  }
  auto read = [&](const char* section, const char* name, std::optional<double>& slot) -> bool {
    const auto it = resources.find(section);
    if (it == resources.end() || it->is_null()) return true;
    if (!it->is_object()) {
      *error = std::string("resources.") + section + ": expected an object";
      return false;
    }
    const auto value = it->find(name);
    if (value == it->end() || value->is_null()) return true;
    Result<double> parsed = value->is_number()   ? Result<double>(value->get<double>())
                            : value->is_string() ? parseQuantity(value->get<std::string>())
                                                 : Result<double>(Error{"expected a quantity"});
    if (!parsed || *parsed < 0) {
      *error = std::string("resources.") + section + "." + name + ": " +
               (parsed ? "must be non-negative" : parsed.error().message);
      return false;
    }
    slot = *parsed;
    return true;
  };
  if (!read("requests", "cpu", out.cpuRequest) || !read("requests", "memory", out.memoryRequest) ||
      !read("limits", "cpu", out.cpuLimit) || !read("limits", "memory", out.memoryLimit)) {
    return std::nullopt;
  }
  return out;
}

std::uint64_t WorkloadObject::resourceVersion() const {
  const auto value = parseUint64(object["metadata"].value("resourceVersion", std::string()));
  return value ? *value : 0;
}

ClusterModel::ClusterModel(ClusterSpec spec, int clusterIndex,
                           const std::vector<WorkloadSpec>& workloads, std::uint64_t seed,
                           WallTime origin, std::uint16_t podMetricsPort)
    : spec_(std::move(spec)),
      index_(clusterIndex),
      ids_(seed ^ fnv1a64(spec_.name)),
      origin_(origin),
      podMetricsPort_(podMetricsPort) {
  const std::string poolId = ids_.hex(8);  // GKE node pools name their nodes after an id
  for (int i = 0; i < spec_.nodes; ++i) {
    NodeState node;
    node.index = i;
    node.name = nodeName(spec_, clusterIndex, i, poolId, ids_);
    node.uid = ids_.uid();
    node.zone = zoneOf(spec_, i);
    node.internalIp = "10." + std::to_string(10 + clusterIndex) + ".1." + std::to_string(10 + i);
    node.capacity = spec_.capacity;
    node.allocatable = spec_.allocatable;
    nodes_.push_back(std::move(node));
  }
  if (spec_.systemPods) addSystemPods();
  for (std::size_t index = 0; index < workloads.size(); ++index) {
    const WorkloadSpec& workload = workloads[index];
    const auto replicas = workload.replicas.find(spec_.name);
    if (replicas == workload.replicas.end()) continue;
    WorkloadObject object = makeObject(workload, replicas->second);
    object.specIndex = static_cast<int>(index);
    const Key key{workload.kind, workload.namespaceName, workload.name};
    workloads_.emplace(key, std::move(object));
  }
  bootstrap();
}

void ClusterModel::bootstrap() {
  // The cluster has been running for a while when the simulation starts: the initial replicas
  // exist and are Ready (those that fit; the rest stay Pending).
  const SimTime past = -std::chrono::hours(1);
  for (auto& [key, workload] : workloads_) {
    for (int i = 0; i < workload.replicas; ++i) {
      pods_.push_back(newPod(workload, past, workload.kind == WorkloadKind::kStatefulSet ? i : -1));
    }
  }
  schedule(past);
  for (auto& pod : pods_) {
    if (!pod.bound()) continue;
    pod.runningAt = pod.scheduledAt;
    pod.readyAt = pod.scheduledAt;
  }
  observeTransitions(past);
  for (auto& [key, workload] : workloads_) refreshStatus(workload, past);
}

std::string podIpAddress(int clusterIndex, int nodeIndex, int host) {
  return "127." + std::to_string(100 + clusterIndex) + "." + std::to_string(nodeIndex) + "." +
         std::to_string(host);
}

int clusterOfPodIp(std::string_view address) {
  const auto octets = splitFields(address, ".");
  if (octets.size() != 4 || octets[0] != "127") return -1;
  const auto second = parseInt64(octets[1]);
  if (!second || *second < 100 || *second > 255) return -1;
  return static_cast<int>(*second - 100);
}

std::string ClusterModel::nextPodIp(const NodeState& node) {
  std::set<std::string> taken;
  for (const auto& pod : pods_) {
    if (pod.nodeIndex == node.index) taken.insert(pod.podIp);
  }
  constexpr int kHosts = kLastPodHost - kFirstPodHost + 1;
  int& next = podIpCounter_[node.name];  // the host to try first, counted from kFirstPodHost
  for (int tries = 0; tries < kHosts; ++tries) {
    std::string address = podIpAddress(index_, node.index, kFirstPodHost + next);
    next = (next + 1) % kHosts;
    if (!taken.contains(address)) return address;
  }
  return "";
}

void ClusterModel::addSystemPods() {
  const std::string dsUid = ids_.uid();
  const ContainerResources resources{0.1, std::nullopt, std::nullopt, std::nullopt};
  for (const auto& node : nodes_) {
    PodState pod;
    pod.name = "kube-proxy-" + ids_.podSuffix();
    pod.namespaceName = "kube-system";
    pod.uid = ids_.uid();
    pod.ownerKind = "DaemonSet";
    pod.ownerName = "kube-proxy";
    pod.ownerUid = dsUid;
    pod.labels = {{"k8s-app", "kube-proxy"},
                  {"controller-revision-hash", "7cd8b5f8d9"},
                  {"pod-template-generation", "1"}};
    pod.node = node.name;
    pod.nodeIndex = node.index;
    pod.podIp = node.internalIp;  // hostNetwork
    pod.container = {"kube-proxy", "registry.k8s.io/kube-proxy:" + spec_.kubernetesVersion,
                     resources, ResizePolicy{}};
    pod.qos = qosClassOf(resources);
    pod.allocated = resources;
    pod.actual = resources;
    pod.containerId = ids_.containerId();
    pod.sandboxId = ids_.containerId();
    pod.imageDigest = ids_.hex(64);
    pod.resourceVersion = bumpVersion();
    pod.createdAt = -std::chrono::hours(72);  // the node has been up for days
    pod.scheduledAt = pod.createdAt;
    pod.runningAt = pod.createdAt;
    pod.readyAt = pod.createdAt;
    pod.observedStage = 3;
    pods_.push_back(std::move(pod));
  }
}

WorkloadObject ClusterModel::makeObject(const WorkloadSpec& workload, int replicas) {
  WorkloadObject object;
  object.kind = workload.kind;
  const json labels = {{"app", workload.name}};
  ContainerTemplate container{
      workload.containerName.empty() ? workload.name : workload.containerName, workload.image,
      workload.resources, workload.resizePolicy};
  json templateSpec = {{"containers", json::array({containerJson(container)})},
                       {"restartPolicy", "Always"},
                       {"terminationGracePeriodSeconds", 30},
                       {"dnsPolicy", "ClusterFirst"},
                       {"securityContext", json::object()},
                       {"schedulerName", "default-scheduler"}};
  json templateMetadata = {{"creationTimestamp", nullptr}, {"labels", labels}};
  if (workload.requestsPerCore) {
    templateMetadata["annotations"] = podMetricsAnnotations(podMetricsPort_);
  }
  json spec = {
      {"replicas", replicas},
      {"selector", {{"matchLabels", labels}}},
      {"template", {{"metadata", std::move(templateMetadata)}, {"spec", std::move(templateSpec)}}},
      {"revisionHistoryLimit", 10}};
  json metadata = {
      {"name", workload.name}, {"namespace", workload.namespaceName},
      {"uid", ids_.uid()},     {"resourceVersion", std::to_string(bumpVersion())},
      {"generation", 1},       {"creationTimestamp", rfc3339(origin_ - std::chrono::hours(24))},
      {"labels", labels}};
  if (workload.kind == WorkloadKind::kDeployment) {
    metadata["annotations"] = {{"deployment.kubernetes.io/revision", "1"}};
    spec["strategy"] = {{"type", "RollingUpdate"},
                        {"rollingUpdate", {{"maxUnavailable", "25%"}, {"maxSurge", "25%"}}}};
    spec["progressDeadlineSeconds"] = 600;
    object.object = {{"kind", "Deployment"}, {"apiVersion", "apps/v1"}};
  } else {
    spec["serviceName"] = workload.name;
    spec["podManagementPolicy"] = "OrderedReady";
    spec["updateStrategy"] = {{"type", "RollingUpdate"}, {"rollingUpdate", {{"partition", 0}}}};
    spec["persistentVolumeClaimRetentionPolicy"] = {{"whenDeleted", "Retain"},
                                                    {"whenScaled", "Retain"}};
    object.object = {{"kind", "StatefulSet"}, {"apiVersion", "apps/v1"}};
  }
  object.object["metadata"] = std::move(metadata);
  object.object["spec"] = std::move(spec);
  object.object["status"] = json::object();
  deriveFromObject(object);
  return object;
}

void ClusterModel::deriveFromObject(WorkloadObject& workload) {
  const json& spec = workload.object["spec"];
  workload.replicas = spec.value("replicas", 1);
  const json& templ = spec["template"];
  const json& container = templ["spec"]["containers"][0];
  workload.container.name = container.value("name", std::string("app"));
  workload.container.image = container.value("image", std::string());
  std::string ignored;
  if (auto resources = resourcesFromJson(container.value("resources", json()), &ignored)) {
    workload.container.resources = *resources;
  }
  if (auto policy = resizePolicyFromJson(container.value("resizePolicy", json()), &ignored)) {
    workload.container.resizePolicy = *policy;
  }
  const std::string previousHash = workload.templateHash;
  workload.templateHash = podTemplateHash(templ.dump());
  if (workload.kind == WorkloadKind::kStatefulSet) {
    workload.ownerUid = workload.uid();
  } else if (previousHash != workload.templateHash) {
    workload.ownerUid = ids_.uid();  // a new template makes a new ReplicaSet
  }
}

const WorkloadObject* ClusterModel::find(WorkloadKind kind, const std::string& namespaceName,
                                         const std::string& name) const {
  const auto it = workloads_.find(Key{kind, namespaceName, name});
  return it == workloads_.end() ? nullptr : &it->second;
}

std::vector<const WorkloadObject*> ClusterModel::list(WorkloadKind kind,
                                                      const std::string& namespaceName) const {
  std::vector<const WorkloadObject*> out;
  for (const auto& [key, workload] : workloads_) {
    if (std::get<0>(key) != kind) continue;
    if (!namespaceName.empty() && std::get<1>(key) != namespaceName) continue;
    out.push_back(&workload);
  }
  return out;
}

std::vector<std::string> ClusterModel::namespaces() const {
  // "fleetscale" holds the agents' and the aggregator's service accounts (and its Lease).
  std::vector<std::string> out = {"default", "fleetscale", "kube-node-lease", "kube-public",
                                  "kube-system"};
  for (const auto& [key, workload] : workloads_) {
    if (std::find(out.begin(), out.end(), std::get<1>(key)) == out.end()) {
      out.push_back(std::get<1>(key));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

const NodeState* ClusterModel::findNode(const std::string& nodeName) const {
  for (const auto& node : nodes_) {
    if (node.name == nodeName) return &node;
  }
  return nullptr;
}

ApiResult ClusterModel::update(WorkloadKind kind, const std::string& namespaceName,
                               const std::string& name, const json& updated, SimTime now) {
  const auto it = workloads_.find(Key{kind, namespaceName, name});
  if (it == workloads_.end()) return ApiResult::fail(notFound(kind, name));
  WorkloadObject& current = it->second;
  if (!updated.is_object() || !updated.contains("metadata") || !updated["metadata"].is_object()) {
    return ApiResult::fail(badRequest("the object has no metadata"));
  }
  const json& metadata = updated["metadata"];
  const std::string kindName = std::string(toString(kind));
  if (updated.contains("kind") && updated["kind"] != kindName) {
    return ApiResult::fail(badRequest("the kind of the object (" + updated["kind"].dump() +
                                      ") does not match " + kindName));
  }
  if (updated.contains("apiVersion") && updated["apiVersion"] != "apps/v1") {
    return ApiResult::fail(badRequest("the API version of the object (" +
                                      updated["apiVersion"].dump() + ") is not apps/v1"));
  }
  if (metadata.value("name", name) != name) {
    return ApiResult::fail(badRequest("the name of the object (" + metadata.value("name", "") +
                                      ") does not match the name on the URL (" + name + ")"));
  }
  if (metadata.value("namespace", namespaceName) != namespaceName) {
    return ApiResult::fail(badRequest(
        "the namespace of the provided object does not match the namespace sent on the request"));
  }
  const json& rv = metadata.contains("resourceVersion") ? metadata["resourceVersion"] : json();
  if (!rv.is_null() && !(rv.is_string() && rv.get<std::string>().empty())) {
    if (!rv.is_string() || rv.get<std::string>() != current.object["metadata"]["resourceVersion"]) {
      return ApiResult::fail(conflict(kind, name));
    }
  }
  if (!updated.contains("spec") || !updated["spec"].is_object()) {
    return ApiResult::fail(invalid(kind, name, "spec", "Required value"));
  }
  const json& spec = updated["spec"];
  const json replicas = spec.contains("replicas") ? spec["replicas"] : json(1);
  if (!replicas.is_number_integer() || replicas.get<long long>() < 0) {
    return ApiResult::fail(
        invalid(kind, name, "spec.replicas",
                "Invalid value: " + replicas.dump() + ": must be greater than or equal to 0"));
  }
  if (replicas.get<long long>() > kMaxReplicas) {
    return ApiResult::fail(invalid(kind, name, "spec.replicas",
                                   "Invalid value: " + replicas.dump() + ": too many replicas"));
  }
  if (spec.value("selector", json()) != current.object["spec"]["selector"]) {
    return ApiResult::fail(invalid(
        kind, name, "spec.selector",
        "Invalid value: " + spec.value("selector", json()).dump() + ": field is immutable"));
  }
  const json& containers = spec.contains("template") && spec["template"].is_object() &&
                                   spec["template"].contains("spec") &&
                                   spec["template"]["spec"].is_object()
                               ? spec["template"]["spec"].value("containers", json())
                               : json();
  if (!containers.is_array() || containers.empty() || !containers[0].is_object()) {
    return ApiResult::fail(invalid(kind, name, "spec.template.spec.containers", "Required value"));
  }
  // What the controllers and printers read later must have the right types now: a stored
  // object they cannot read would break every later GET and tick.
  auto stringMap = [](const json& value) {
    if (value.is_null()) return true;
    if (!value.is_object()) return false;
    for (const auto& [key, entry] : value.items()) {
      if (!entry.is_string()) return false;
    }
    return true;
  };
  for (const char* field : {"labels", "annotations"}) {
    if (metadata.contains(field) && !stringMap(metadata[field])) {
      return ApiResult::fail(invalid(kind, name, std::string("metadata.") + field,
                                     "Invalid value: must be a map of strings"));
    }
  }
  const json& templateMeta = spec["template"].value("metadata", json::object());
  if (!templateMeta.is_object()) {
    return ApiResult::fail(
        invalid(kind, name, "spec.template.metadata", "Invalid value: must be an object"));
  }
  for (const char* field : {"labels", "annotations"}) {
    if (!stringMap(templateMeta.value(field, json()))) {
      return ApiResult::fail(invalid(kind, name, std::string("spec.template.metadata.") + field,
                                     "Invalid value: must be a map of strings"));
    }
  }
  const json containerName = containers[0].value("name", json());
  if (!containerName.is_string() || containerName.get<std::string>().empty()) {
    return ApiResult::fail(
        invalid(kind, name, "spec.template.spec.containers[0].name", "Required value"));
  }
  if (containers[0].contains("image") && !containers[0]["image"].is_string()) {
    return ApiResult::fail(invalid(kind, name, "spec.template.spec.containers[0].image",
                                   "Invalid value: must be a string"));
  }
  std::string resourceError;
  if (!resourcesFromJson(containers[0].value("resources", json()), &resourceError) ||
      !resizePolicyFromJson(containers[0].value("resizePolicy", json()), &resourceError)) {
    return ApiResult::fail(
        invalid(kind, name, "spec.template.spec.containers[0]." + resourceError, "Invalid value"));
  }

  json next = updated;
  next["kind"] = kindName;
  next["apiVersion"] = "apps/v1";
  json& nextMeta = next["metadata"];
  const json& currentMeta = current.object["metadata"];
  // Server-owned fields survive any client write.
  for (const char* field : {"uid", "creationTimestamp", "generation", "namespace", "name"}) {
    nextMeta[field] = currentMeta[field];
  }
  next["status"] = current.object["status"];
  next["spec"]["replicas"] = replicas;
  if (next["spec"] != current.object["spec"]) {
    nextMeta["generation"] = currentMeta.value("generation", 1) + 1;
  }
  if (next == current.object ||
      (next["spec"] == current.object["spec"] &&
       nextMeta.value("labels", json()) == currentMeta.value("labels", json()) &&
       nextMeta.value("annotations", json()) == currentMeta.value("annotations", json()))) {
    // A no-op write leaves the resourceVersion alone, as the API server does.
    return ApiResult{std::nullopt, current.object};
  }
  nextMeta["resourceVersion"] = std::to_string(bumpVersion());
  current.object = std::move(next);
  deriveFromObject(current);
  dirty_ = true;
  refreshStatus(current, now);
  return ApiResult{std::nullopt, current.object};
}

ApiResult ClusterModel::setReplicas(WorkloadKind kind, const std::string& namespaceName,
                                    const std::string& name, long long replicas,
                                    const std::string& expectedVersion, SimTime now) {
  const WorkloadObject* current = find(kind, namespaceName, name);
  if (!current) return ApiResult::fail(notFound(kind, name));
  json next = current->object;
  next["metadata"]["resourceVersion"] = expectedVersion;
  if (replicas < 0 || replicas > kMaxReplicas) {
    return ApiResult::fail(invalid(
        kind, name, "spec.replicas",
        "Invalid value: " + std::to_string(replicas) + ": must be greater than or equal to 0"));
  }
  next["spec"]["replicas"] = replicas;
  return update(kind, namespaceName, name, next, now);
}

NodeResources ClusterModel::freeOn(const std::string& node) const {
  const NodeState* state = findNode(node);
  if (!state) return {};
  NodeResources free = state->allocatable;
  for (const auto& pod : pods_) {
    if (pod.node != node) continue;
    const bool infeasible = pod.resize.pending == ResizePending::kInfeasible;
    const ContainerResources& spec = pod.container.resources;
    free.cpuCores -= std::max({infeasible ? 0.0 : requestedCores(spec),
                               requestedCores(pod.allocated), requestedCores(pod.actual)});
    free.memoryBytes -= std::max({infeasible ? 0.0 : requestedBytes(spec),
                                  requestedBytes(pod.allocated), requestedBytes(pod.actual)});
    free.pods -= 1;
  }
  return free;
}

NodeResources ClusterModel::kubeletFree(const PodState& resized) const {
  const NodeState* state = findNode(resized.node);
  if (!state) return {};
  NodeResources free = state->allocatable;
  for (const auto& pod : pods_) {
    if (pod.node != resized.node || &pod == &resized) continue;
    free.cpuCores -= requestedCores(pod.allocated);
    free.memoryBytes -= requestedBytes(pod.allocated);
  }
  return free;
}

const PodState* ClusterModel::findPod(const std::string& namespaceName,
                                      const std::string& name) const {
  for (const auto& pod : pods_) {
    if (pod.namespaceName == namespaceName && pod.name == name) return &pod;
  }
  return nullptr;
}

bool ClusterModel::servesResize() const {
  const auto minor = kubernetesMinor(spec_.kubernetesVersion);
  return !minor || *minor >= 33;
}

ApiResult ClusterModel::resizePod(const std::string& namespaceName, const std::string& name,
                                  const json& desired, const ResizeAdmission& admit) {
  auto it = std::find_if(pods_.begin(), pods_.end(), [&](const PodState& pod) {
    return pod.namespaceName == namespaceName && pod.name == name;
  });
  if (it == pods_.end()) {
    return ApiResult::fail({404, "NotFound", "pods \"" + name + "\" not found",
                            json{{"name", name}, {"kind", "pods"}}});
  }
  PodState& pod = *it;
  if (!desired.is_object()) return ApiResult::fail(badRequest("the object is not a Pod"));
  const json metadata = desired.value("metadata", json::object());
  if (metadata.is_object() && metadata.value("name", name) != name) {
    return ApiResult::fail(badRequest("the name of the object (" + metadata.value("name", "") +
                                      ") does not match the name on the URL (" + name + ")"));
  }
  const json& rv = metadata.is_object() && metadata.contains("resourceVersion")
                       ? metadata["resourceVersion"]
                       : json();
  if (rv.is_string() && !rv.get<std::string>().empty() &&
      rv.get<std::string>() != std::to_string(pod.resourceVersion)) {
    return ApiResult::fail({409, "Conflict",
                            "Operation cannot be fulfilled on pods \"" + name +
                                "\": the object has been modified; please apply your changes to "
                                "the latest version and try again",
                            json{{"name", name}, {"kind", "pods"}}});
  }
  // As the API server's resize strategy: only containers' resources and resizePolicy are taken,
  // matched by name; everything else in the body is dropped.
  const json spec = desired.value("spec", json::object());
  const json containers = spec.is_object() ? spec.value("containers", json::array()) : json();
  ContainerResources resources = pod.container.resources;
  ResizePolicy policy = pod.container.resizePolicy;
  for (const auto& container : containers.is_array() ? containers : json::array()) {
    if (!container.is_object() || container.value("name", "") != pod.container.name) continue;
    const std::string field = "spec.containers[0]";
    std::string problem;
    auto parsed = resourcesFromJson(container.value("resources", json()), &problem);
    if (!parsed) return ApiResult::fail(podInvalid(name, field + "." + problem, "Invalid value"));
    auto parsedPolicy = resizePolicyFromJson(container.value("resizePolicy", json()), &problem);
    if (!parsedPolicy) {
      return ApiResult::fail(podInvalid(name, field + "." + problem, "Invalid value"));
    }
    if (container.contains("resizePolicy")) policy = *parsedPolicy;
    const ContainerResources& before = pod.container.resources;
    // A JSON merge patch replaces the containers list: it must repeat every quantity it keeps.
    const bool requestRemoved = (before.cpuRequest && !parsed->cpuRequest) ||
                                (before.memoryRequest && !parsed->memoryRequest);
    const bool limitRemoved =
        (before.cpuLimit && !parsed->cpuLimit) || (before.memoryLimit && !parsed->memoryLimit);
    if (requestRemoved || limitRemoved) {
      const char* what = requestRemoved ? "requests" : "limits";
      return ApiResult::fail(
          podInvalid(name, field + ".resources." + what,
                     std::string("Forbidden: resource ") + what + " cannot be removed"));
    }
    if (parsed->cpuRequest && parsed->cpuLimit && *parsed->cpuRequest > *parsed->cpuLimit + 1e-12) {
      return ApiResult::fail(podInvalid(name, field + ".resources.requests",
                                        "Invalid value: \"" + formatCpu(*parsed->cpuRequest) +
                                            "\": must be less than or equal to cpu limit of " +
                                            formatCpu(*parsed->cpuLimit)));
    }
    if (parsed->memoryRequest && parsed->memoryLimit &&
        *parsed->memoryRequest > *parsed->memoryLimit + 0.5) {
      return ApiResult::fail(podInvalid(name, field + ".resources.requests",
                                        "Invalid value: \"" + formatMemory(*parsed->memoryRequest) +
                                            "\": must be less than or equal to memory limit of " +
                                            formatMemory(*parsed->memoryLimit)));
    }
    resources = *parsed;
  }
  const QosClass qos = qosClassOf(resources);
  if (qos != pod.qos) {
    return ApiResult::fail(podInvalid(name, "spec",
                                      "Invalid value: \"" + std::string(toString(qos)) +
                                          "\": Pod QOS Class may not change as a result of "
                                          "resizing"));
  }
  // v1.33 refused memory limit decreases without a restart outright; v1.34 made them a
  // best-effort step of the kubelet (actuateResize).
  const auto minor = kubernetesMinor(spec_.kubernetesVersion);
  const auto& oldLimit = pod.container.resources.memoryLimit;
  if (minor && *minor == 33 && !policy.restartOnMemory && oldLimit && resources.memoryLimit &&
      *resources.memoryLimit < *oldLimit - 0.5) {
    return ApiResult::fail(
        podInvalid(name, "spec.containers[0].resources.limits[memory]",
                   "Forbidden: memory limits cannot be decreased unless resizePolicy is "
                   "RestartContainer"));
  }
  if (resources == pod.container.resources && policy == pod.container.resizePolicy) {
    return ApiResult{};  // a no-op leaves the resourceVersion alone
  }
  if (admit) {
    if (auto refused = admit(pod, resources)) return ApiResult::fail(*refused);
  }
  pod.container.resources = resources;
  pod.container.resizePolicy = policy;
  ++pod.generation;
  pod.resize.requested = true;
  pod.resourceVersion = bumpVersion();
  dirty_ = true;
  return ApiResult{};
}

void ClusterModel::resizePods(SimTime now) {
  // Resizes that ask for no more come first: they always fit (the kubelet's order).
  for (const bool growing : {false, true}) {
    for (auto& pod : pods_) {
      if (pod.bound() && pod.container.resources == pod.allocated &&
          pod.resize.pending != ResizePending::kNone) {
        pod.resize.pending = ResizePending::kNone;  // reverted to what the kubelet has
        pod.resize.pendingMessage.clear();
        pod.resourceVersion = bumpVersion();
      }
      if (!pod.bound() || pod.container.resources == pod.allocated) continue;
      const ContainerResources& spec = pod.container.resources;
      const bool grows = requestedCores(spec) > requestedCores(pod.allocated) + 1e-12 ||
                         requestedBytes(spec) > requestedBytes(pod.allocated) + 0.5;
      if (grows != growing) continue;
      if (admitResize(pod, now)) pod.resourceVersion = bumpVersion();
    }
  }
  for (auto& pod : pods_) {
    if (pod.resize.actuateAt && *pod.resize.actuateAt <= now) actuateResize(pod, now);
  }
}

bool ClusterModel::admitResize(PodState& pod, SimTime now) {
  ResizeStatus& resize = pod.resize;
  if (resize.pending == ResizePending::kInfeasible && !resize.requested) return false;
  resize.requested = false;
  const ContainerResources& spec = pod.container.resources;
  const NodeState& node = *findNode(pod.node);
  const double cpu = requestedCores(spec);
  const double memory = requestedBytes(spec);
  auto pend = [&](ResizePending reason, std::string message) {
    const bool changed = resize.pending != reason || resize.pendingMessage != message;
    if (resize.pending != reason) resize.pendingSince = now;
    resize.pending = reason;
    resize.pendingMessage = std::move(message);
    resize.observedGeneration = pod.generation;
    return changed;
  };
  if (cpu > node.allocatable.cpuCores + 1e-9) {
    return pend(
        ResizePending::kInfeasible,
        "Node didn't have enough capacity: cpu, requested: " + std::to_string(toMilliCores(cpu)) +
            ", capacity: " + std::to_string(toMilliCores(node.allocatable.cpuCores)));
  }
  if (memory > node.allocatable.memoryBytes + 0.5) {
    return pend(ResizePending::kInfeasible,
                "Node didn't have enough capacity: memory, requested: " +
                    std::to_string(static_cast<long long>(memory)) + ", capacity: " +
                    std::to_string(static_cast<long long>(node.allocatable.memoryBytes)));
  }
  const NodeResources free = kubeletFree(pod);
  if (cpu > free.cpuCores + 1e-9 || memory > free.memoryBytes + 0.5) {
    const bool cpuShort = cpu > free.cpuCores + 1e-9;
    return pend(
        ResizePending::kDeferred,
        std::string("Node didn't have enough resource: ") + (cpuShort ? "cpu" : "memory") +
            ", requested: " +
            (cpuShort ? std::to_string(toMilliCores(cpu))
                      : std::to_string(static_cast<long long>(memory))) +
            ", used: " +
            (cpuShort ? std::to_string(toMilliCores(node.allocatable.cpuCores - free.cpuCores))
                      : std::to_string(static_cast<long long>(node.allocatable.memoryBytes -
                                                              free.memoryBytes))) +
            ", capacity: " +
            (cpuShort ? std::to_string(toMilliCores(node.allocatable.cpuCores))
                      : std::to_string(static_cast<long long>(node.allocatable.memoryBytes))));
  }
  // Admitted.
  resize.pending = ResizePending::kNone;
  resize.pendingMessage.clear();
  const ContainerResources before = pod.actual;
  pod.allocated = spec;
  resize.observedGeneration = pod.generation;
  const bool cpuChanged = before.cpuRequest != spec.cpuRequest || before.cpuLimit != spec.cpuLimit;
  const bool memoryChanged =
      before.memoryRequest != spec.memoryRequest || before.memoryLimit != spec.memoryLimit;
  const ResizePolicy& policy = pod.container.resizePolicy;
  if (!pod.running(now)) {
    // Nothing runs (not started yet, or in a crash back-off): the next start takes the new
    // resources.
    pod.actual = pod.allocated;
    resize.actuateAt.reset();
    resize.inProgressError.clear();
  } else if ((cpuChanged && policy.restartOnCpu) || (memoryChanged && policy.restartOnMemory)) {
    pod.actual = pod.allocated;
    resize.actuateAt.reset();
    resize.inProgressError.clear();
    restartContainer(pod, now, Termination{"Completed", 0, *pod.runningAt, now});
  } else {
    if (!resize.actuateAt) resize.inProgressSince = now;
    resize.actuateAt = now + fromSeconds(spec_.resizeDelaySeconds);
    if (!nextChange_ || *resize.actuateAt < *nextChange_) nextChange_ = *resize.actuateAt;
  }
  return true;
}

void ClusterModel::actuateResize(PodState& pod, SimTime now) {
  ResizeStatus& resize = pod.resize;
  const auto& target = pod.allocated.memoryLimit;
  const auto& applied = pod.actual.memoryLimit;
  const bool shrinking = target && (!applied || *target < *applied - 0.5);
  if (shrinking && pod.running(now) && pod.counters.memoryBytes > *target) {
    // Best effort against OOM kills (KEP-1287, v1.34): a memory limit is not set below what the
    // container uses; the resize stays in progress with an error and is tried again.
    std::string message = "attempting to resize memory limit (" +
                          std::to_string(static_cast<long long>(*target)) +
                          ") below memory usage (" +
                          std::to_string(static_cast<long long>(pod.counters.memoryBytes)) + ")";
    if (message != resize.inProgressError) {
      resize.inProgressError = std::move(message);
      pod.resourceVersion = bumpVersion();
    }
    return;
  }
  pod.actual = pod.allocated;
  resize.actuateAt.reset();
  resize.inProgressError.clear();
  pod.resourceVersion = bumpVersion();
}

void ClusterModel::restartContainer(PodState& pod, SimTime restartAt, Termination ending) {
  ++pod.restartCount;
  pod.lastTermination = std::move(ending);
  pod.runningAt = restartAt;
  pod.readyAt = restartAt + fromSeconds(spec_.readinessDelaySeconds);
  pod.counters.cpuCores = 0;  // the working set stays as it was at the end until the next step
  pod.resourceVersion = bumpVersion();
  dirty_ = true;
}

void ClusterModel::oomKill(PodState& pod, SimTime now) {
  ++pod.counters.oomKills;
  if (pod.lastCrashAt && toSeconds(now - *pod.lastCrashAt) > kCrashBackOffResetSeconds) {
    pod.crashes = 0;
  }
  ++pod.crashes;
  pod.lastCrashAt = now;
  const SimTime startedAt = pod.runningAt ? *pod.runningAt : now;
  // The kubelet applies what it allocated when it starts the container again.
  pod.actual = pod.allocated;
  pod.resize.actuateAt.reset();
  pod.resize.inProgressError.clear();
  restartContainer(pod, now + crashBackOff(pod.crashes),
                   Termination{"OOMKilled", 137, startedAt, now});
}

PodState ClusterModel::newPod(const WorkloadObject& workload, SimTime now, int ordinal) {
  PodState pod;
  pod.namespaceName = workload.namespaceName();
  pod.workload = workload.name();
  pod.kind = workload.kind;
  pod.uid = ids_.uid();
  pod.container = workload.container;
  pod.qos = qosClassOf(pod.container.resources);
  const json& templateMetadata = workload.object["spec"]["template"]["metadata"];
  pod.labels =
      templateMetadata.value("labels", json::object()).get<std::map<std::string, std::string>>();
  // update() let in string maps only; null is none.
  const json annotations = templateMetadata.value("annotations", json::object());
  if (annotations.is_object()) {
    pod.annotations = annotations.get<std::map<std::string, std::string>>();
  }
  if (workload.kind == WorkloadKind::kDeployment) {
    pod.ownerKind = "ReplicaSet";
    pod.ownerName = workload.revisionName();
    pod.name = pod.ownerName + "-" + ids_.podSuffix();
    pod.labels["pod-template-hash"] = workload.templateHash;
  } else {
    pod.ownerKind = "StatefulSet";
    pod.ownerName = workload.name();
    pod.ordinal = ordinal;
    pod.name = workload.name() + "-" + std::to_string(ordinal);
    pod.labels["controller-revision-hash"] = workload.revisionName();
    pod.labels["statefulset.kubernetes.io/pod-name"] = pod.name;
    pod.labels["apps.kubernetes.io/pod-index"] = std::to_string(ordinal);
  }
  pod.ownerUid = workload.ownerUid;
  pod.specIndex = workload.specIndex;
  pod.templateHash = workload.templateHash;
  pod.imageDigest = podTemplateHash(pod.container.image) + ids_.hex(54);
  pod.createdAt = now;
  pod.resourceVersion = bumpVersion();
  return pod;
}

bool ClusterModel::createPod(WorkloadObject& workload, SimTime now, int ordinal) {
  if (admitPod_) {
    // The name the create carries: a ReplicaSet's pods have only a generateName then.
    const std::string requested = workload.kind == WorkloadKind::kDeployment
                                      ? workload.revisionName() + "-"
                                      : workload.name() + "-" + std::to_string(ordinal);
    if (auto refused =
            admitPod_(workload.namespaceName(), requested, workload.container.resources)) {
      workload.createRefusal = refused->message;
      return false;
    }
  }
  pods_.push_back(newPod(workload, now, ordinal));
  return true;
}

void ClusterModel::reconcile(WorkloadObject& workload, SimTime now) {
  if (workload.kind == WorkloadKind::kStatefulSet) {
    reconcileStatefulSet(workload, now);
    return;
  }
  const std::string ns = workload.namespaceName();
  const std::string name = workload.name();
  std::vector<std::size_t> mine;
  for (std::size_t i = 0; i < pods_.size(); ++i) {
    const PodState& pod = pods_[i];
    if (pod.kind == WorkloadKind::kDeployment && pod.workload == name && pod.namespaceName == ns) {
      mine.push_back(i);
    }
  }
  const int have = static_cast<int>(mine.size());
  if (have < workload.replicas) {
    for (int i = have; i < workload.replicas; ++i) {
      if (!createPod(workload, now, -1)) break;  // as the ReplicaSet's batch: a refusal ends it
    }
    return;
  }
  // A rolling update after a template change, one pod at a time (maxSurge 1, maxUnavailable 0):
  // a pod of the new template first, then, once it is Ready, one of the old ones goes.
  int outdated = 0;
  int newNotReady = 0;
  for (std::size_t index : mine) {
    const PodState& pod = pods_[index];
    if (pod.templateHash != workload.templateHash) {
      ++outdated;
    } else if (!pod.ready(now)) {
      ++newNotReady;
    }
  }
  if (outdated > 0) rolling_ = true;
  if (outdated > 0 && have == workload.replicas) {
    if (newNotReady == 0) createPod(workload, now, -1);
    return;
  }
  if (outdated > 0 && have == workload.replicas + 1 && newNotReady > 0) return;
  if (have == workload.replicas) return;
  // Which pods a ReplicaSet deletes first: unscheduled, then not running, then not ready, then
  // the most recently ready, then the newest (ActivePodsWithRanks, without the per-node rank).
  std::sort(mine.begin(), mine.end(), [&](std::size_t a, std::size_t b) {
    const PodState& x = pods_[a];
    const PodState& y = pods_[b];
    const bool xOld = x.templateHash != workload.templateHash;
    const bool yOld = y.templateHash != workload.templateHash;
    if (xOld != yOld) return xOld;  // the old ReplicaSet's pods go first
    if (x.bound() != y.bound()) return !x.bound();
    if (x.running(now) != y.running(now)) return !x.running(now);
    if (x.ready(now) != y.ready(now)) return !x.ready(now);
    if (x.readyAt != y.readyAt) return x.readyAt > y.readyAt;
    return x.createdAt > y.createdAt;
  });
  std::vector<std::size_t> victims(mine.begin(), mine.begin() + (have - workload.replicas));
  std::sort(victims.rbegin(), victims.rend());
  for (std::size_t index : victims) pods_.erase(pods_.begin() + static_cast<long>(index));
  bumpVersion();  // a deletion is a write
}

void ClusterModel::reconcileStatefulSet(WorkloadObject& workload, SimTime now) {
  const std::string ns = workload.namespaceName();
  const std::string name = workload.name();
  auto isMine = [&](const PodState& pod) {
    return pod.kind == WorkloadKind::kStatefulSet && pod.workload == name &&
           pod.namespaceName == ns;
  };
  // Scale down: the highest ordinals go.
  std::erase_if(
      pods_, [&](const PodState& pod) { return isMine(pod) && pod.ordinal >= workload.replicas; });
  // Scale up, OrderedReady: ordinal i only once 0..i-1 are Running and Ready.
  for (int ordinal = 0; ordinal < workload.replicas; ++ordinal) {
    const auto it = std::find_if(pods_.begin(), pods_.end(), [&](const PodState& pod) {
      return isMine(pod) && pod.ordinal == ordinal;
    });
    if (it == pods_.end()) {
      createPod(workload, now, ordinal);
      return;
    }
    if (!it->ready(now)) return;
  }
}

void ClusterModel::schedule(SimTime now) {
  for (auto& pod : pods_) {
    if (pod.bound()) continue;
    const double cpu = requestedCores(pod.container.resources);
    const double memory = requestedBytes(pod.container.resources);
    const NodeState* best = nullptr;
    double bestScore = -1;
    for (const auto& node : nodes_) {
      const NodeResources free = freeOn(node.name);
      if (free.pods < 1 || free.cpuCores + 1e-9 < cpu || free.memoryBytes + 0.5 < memory) continue;
      // LeastAllocated: prefer the node with the largest free share after placing the pod.
      const double score = (free.cpuCores - cpu) / node.allocatable.cpuCores +
                           (free.memoryBytes - memory) / node.allocatable.memoryBytes;
      if (score > bestScore + 1e-12) {
        best = &node;
        bestScore = score;
      }
    }
    if (!best) continue;  // stays Pending: no node has room
    std::string podIp = nextPodIp(*best);
    if (podIp.empty()) continue;  // the node's addresses are all taken (253 pods on it)
    pod.node = best->name;
    pod.nodeIndex = best->index;
    pod.podIp = std::move(podIp);
    pod.containerId = ids_.containerId();
    pod.sandboxId = ids_.containerId();
    pod.scheduledAt = now;
    pod.allocated = pod.container.resources;  // the kubelet admits the pod as it is
    pod.actual = pod.allocated;
    pod.runningAt = now + fromSeconds(spec_.schedulingDelaySeconds);
    pod.readyAt = *pod.runningAt + fromSeconds(spec_.readinessDelaySeconds);
  }
}

void ClusterModel::observeTransitions(SimTime now) {
  for (auto& pod : pods_) {
    const int stage = pod.ready(now) ? 3 : pod.running(now) ? 2 : pod.bound() ? 1 : 0;
    if (stage != pod.observedStage) {
      pod.observedStage = stage;
      pod.resourceVersion = bumpVersion();
    }
  }
}

void ClusterModel::refreshStatus(WorkloadObject& workload, SimTime now) {
  const std::string ns = workload.namespaceName();
  const std::string name = workload.name();
  int replicas = 0, ready = 0, updated = 0;
  for (const auto& pod : pods_) {
    if (pod.workload != name || pod.namespaceName != ns || pod.kind != workload.kind) continue;
    ++replicas;
    if (pod.ready(now)) ++ready;
    if (pod.templateHash == workload.templateHash) ++updated;
  }
  json& object = workload.object;
  const json& previous = object["status"];
  json status = json::object();
  const auto generation = object["metadata"].value("generation", 1);
  status["observedGeneration"] = generation;
  const std::string timestamp =
      rfc3339(origin_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(now));
  if (workload.kind == WorkloadKind::kDeployment) {
    // Zero counts are omitted, as the API server's JSON does (omitempty).
    if (replicas) status["replicas"] = replicas;
    if (updated) status["updatedReplicas"] = updated;
    if (ready) status["readyReplicas"] = ready;
    if (ready) status["availableReplicas"] = ready;
    if (replicas - ready > 0) status["unavailableReplicas"] = replicas - ready;
    const bool available = ready >= workload.replicas - workload.replicas / 4;
    json conditions = json::array();
    auto condition = [&](const std::string& type, bool value, const std::string& reason,
                         const std::string& message) {
      std::string since = timestamp;
      for (const auto& old : previous.value("conditions", json::array())) {
        if (old.value("type", "") == type &&
            old.value("status", "") == (value ? "True" : "False")) {
          since = old.value("lastTransitionTime", timestamp);
        }
      }
      conditions.push_back({{"type", type},
                            {"status", value ? "True" : "False"},
                            {"lastUpdateTime", since},
                            {"lastTransitionTime", since},
                            {"reason", reason},
                            {"message", message}});
    };
    condition("Available", available,
              available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
              available ? "Deployment has minimum availability."
                        : "Deployment does not have minimum availability.");
    condition("Progressing", true,
              ready == workload.replicas ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
              ready == workload.replicas
                  ? "ReplicaSet \"" + workload.revisionName() + "\" has successfully progressed."
                  : "ReplicaSet \"" + workload.revisionName() + "\" is progressing.");
    // The new ReplicaSet's ReplicaFailure, as the Deployment controller copies it. (A
    // StatefulSet's controller records only events for a refused pod: no condition.)
    if (!workload.createRefusal.empty()) {
      condition("ReplicaFailure", true, "FailedCreate", workload.createRefusal);
    }
    status["conditions"] = std::move(conditions);
  } else {
    status["replicas"] = replicas;
    if (ready) status["readyReplicas"] = ready;
    if (replicas) status["currentReplicas"] = replicas;
    if (updated) status["updatedReplicas"] = updated;
    status["currentRevision"] = workload.revisionName();
    status["updateRevision"] = workload.revisionName();
    status["collisionCount"] = 0;
    status["availableReplicas"] = ready;
  }
  if (status == previous) return;
  object["status"] = std::move(status);
  object["metadata"]["resourceVersion"] = std::to_string(bumpVersion());
}

void ClusterModel::advance(SimTime now) {
  if (!alive_) return;
  if (!dirty_ && (!nextChange_ || now < *nextChange_)) return;
  rolling_ = false;
  bool refused = false;
  for (auto& [key, workload] : workloads_) {
    std::string before = std::exchange(workload.createRefusal, "");
    reconcile(workload, now);
    if (workload.createRefusal.empty()) {
      if (!before.empty()) bumpVersion();  // the ReplicaSet drops its ReplicaFailure condition
      continue;
    }
    refused = true;
    if (before.empty()) {
      bumpVersion();  // the ReplicaSet gets the condition
    } else {
      // The ReplicaSet sets the condition only when it has none: the first words stay.
      workload.createRefusal = std::move(before);
    }
  }
  schedule(now);
  resizePods(now);
  observeTransitions(now);
  // What can change without a write: a Pending pod may find room (it is tried every step), a
  // bound one starts running, then turns Ready; a StatefulSet adds its next ordinal then.
  // A rolling update goes on at the next step; a refused pod is asked for again (the admission
  // objects may have changed, and they are no write to the model).
  dirty_ = rolling_ || refused;
  nextChange_.reset();
  for (const auto& pod : pods_) {
    // A Deferred resize is tried again every step (room may have come free), as is a memory
    // limit the runtime could not yet lower.
    if (!pod.bound() || pod.resize.pending == ResizePending::kDeferred ||
        !pod.resize.inProgressError.empty()) {
      dirty_ = true;
    }
    for (const auto& at : {pod.runningAt, pod.readyAt, pod.resize.actuateAt}) {
      if (at && *at > now && (!nextChange_ || *at < *nextChange_)) nextChange_ = *at;
    }
  }
  // Every change that moves a status (a pod made, removed or changing stage, a write) takes a
  // resourceVersion; without one there is nothing to recompute.
  if (resourceVersion_ == statusVersion_) return;
  for (auto& [key, workload] : workloads_) refreshStatus(workload, now);
  statusVersion_ = resourceVersion_;
}

void ClusterModel::setAlive(bool alive, SimTime now) {
  if (alive == alive_) return;
  alive_ = alive;
  dirty_ = true;
  if (!alive) return;
  const SimTime readyAgain = now + fromSeconds(spec_.readinessDelaySeconds);
  for (auto& pod : pods_) {
    if (pod.running(now) && !pod.isSystem()) pod.readyAt = readyAgain;
  }
  observeTransitions(now);
}

}  // namespace fleetscale::sim
