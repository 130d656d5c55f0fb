#include "fleetscale/sim/kube_objects.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "fleetscale/sim/quantity.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

constexpr const char* kContainerdVersion = "containerd://1.7.20";
constexpr const char* kServiceAccountMount = "/var/run/secrets/kubernetes.io/serviceaccount";

json condition(const std::string& type, bool status, const std::string& since,
               const std::string& reason = "", const std::string& message = "") {
  json c = {{"type", type},
            {"status", status ? "True" : "False"},
            {"lastProbeTime", nullptr},
            {"lastTransitionTime", since}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return c;
}

std::string imageRepository(const std::string& image) {
  const auto slash = image.rfind('/');
  const auto colon = image.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return image.substr(0, colon);
  }
  return image;
}

std::string kibibytes(double bytes) {
  return std::to_string(static_cast<long long>(bytes / 1024)) + "Ki";
}

json nodeResources(const NodeResources& r) {
  return {{"cpu", formatCpu(r.cpuCores)},
          {"memory", kibibytes(r.memoryBytes)},
          {"pods", std::to_string(r.pods)},
          {"ephemeral-storage", "101430960Ki"},
          {"hugepages-2Mi", "0"}};
}

std::string instanceType(const ClusterSpec& spec) {
  const int cpus = static_cast<int>(spec.capacity.cpuCores);
  if (spec.cloud == "aws")
    return cpus <= 2 ? "m6i.large" : cpus <= 4 ? "m6i.xlarge" : "m6i.2xlarge";
  if (spec.cloud == "gcp") return "e2-standard-" + std::to_string(std::max(2, cpus));
  if (spec.cloud == "azure") return "Standard_D" + std::to_string(std::max(2, cpus)) + "s_v5";
  return "sim-" + std::to_string(cpus) + "cpu";
}

json columns(const std::string& resource) {
  auto column = [](const std::string& name, const std::string& type, int priority = 0,
                   const std::string& format = "") {
    json c = {{"name", name},
              {"type", type},
              {"format", format},
              {"description", ""},
              {"priority", priority}};
    return c;
  };
  if (resource == "deployments") {
    return json::array({column("Name", "string", 0, "name"), column("Ready", "string"),
                        column("Up-to-date", "integer"), column("Available", "integer"),
                        column("Age", "string"), column("Containers", "string", 1),
                        column("Images", "string", 1), column("Selector", "string", 1)});
  }
  if (resource == "statefulsets") {
    return json::array({column("Name", "string", 0, "name"), column("Ready", "string"),
                        column("Age", "string"), column("Containers", "string", 1),
                        column("Images", "string", 1)});
  }
  if (resource == "pods") {
    return json::array({column("Name", "string", 0, "name"), column("Ready", "string"),
                        column("Status", "string"), column("Restarts", "string"),
                        column("Age", "string"), column("IP", "string", 1),
                        column("Node", "string", 1), column("Nominated Node", "string", 1),
                        column("Readiness Gates", "string", 1)});
  }
  if (resource == "nodes") {
    return json::array(
        {column("Name", "string", 0, "name"), column("Status", "string"), column("Roles", "string"),
         column("Age", "string"), column("Version", "string"), column("Internal-IP", "string", 1),
         column("External-IP", "string", 1), column("OS-Image", "string", 1),
         column("Kernel-Version", "string", 1), column("Container-Runtime", "string", 1)});
  }
  if (resource == "leases") {
    return json::array(
        {column("Name", "string", 0, "name"), column("Holder", "string"), column("Age", "string")});
  }
  if (resource == "horizontalpodautoscalers") {
    return json::array({column("Name", "string", 0, "name"), column("Reference", "string"),
                        column("Targets", "string"), column("MinPods", "string"),
                        column("MaxPods", "string"), column("Replicas", "string"),
                        column("Age", "string")});
  }
  if (resource == "limitranges") {
    return json::array({column("Name", "string", 0, "name"), column("Created At", "date")});
  }
  if (resource == "resourcequotas") {
    return json::array({column("Name", "string", 0, "name"), column("Age", "string"),
                        column("Request", "string"), column("Limit", "string")});
  }
  if (resource == "scaledobjects") {
    // KEDA's CRD's additionalPrinterColumns (the ones that do not need its operator's conditions).
    return json::array({column("Name", "string", 0, "name"), column("ScaleTargetKind", "string"),
                        column("ScaleTargetName", "string"), column("Min", "integer"),
                        column("Max", "integer"), column("Triggers", "string"),
                        column("Age", "date")});
  }
  return json::array(
      {column("Name", "string", 0, "name"), column("Status", "string"), column("Age", "string")});
}

WallTime parseTimestamp(const std::string& text) {
  std::tm utc{};
  if (!::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc)) return {};
  return std::chrono::system_clock::from_time_t(::timegm(&utc));
}

std::string ageOf(const json& metadata, WallTime now) {
  const WallTime created = parseTimestamp(metadata.value("creationTimestamp", std::string()));
  if (created == WallTime{}) return "<unknown>";
  return humanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - created));
}

// "app=checkout,tier=web" from spec.selector.matchLabels, as Scale.status.selector shows it.
std::string selectorOf(const WorkloadObject& workload) {
  const json labels = workload.object["spec"]["selector"].value("matchLabels", json::object());
  std::string selector;
  for (const auto& [key, value] : labels.items()) {
    selector += (selector.empty() ? "" : ",") + key + "=" + value.get<std::string>();
  }
  return selector;
}

}  // namespace

json statusJson(const ApiError& error) {
  json status = {{"kind", "Status"},    {"apiVersion", "v1"},       {"metadata", json::object()},
                 {"status", "Failure"}, {"message", error.message}, {"reason", error.reason},
                 {"code", error.code}};
  if (!error.details.empty()) status["details"] = error.details;
  return status;
}

WallTime wallAt(const ClusterModel& cluster, SimTime time) {
  return cluster.origin() + std::chrono::duration_cast<std::chrono::system_clock::duration>(time);
}

json podJson(const ClusterModel& cluster, const PodState& pod, SimTime now) {
  const std::string created = rfc3339(wallAt(cluster, pod.createdAt));
  const std::string tokenVolume = "kube-api-access-" + pod.uid.substr(0, 5);
  json annotations = pod.annotations;  // the template's, then what the kubelet adds
  annotations["kubernetes.io/config.seen"] = rfc3339(wallAt(cluster, pod.createdAt));
  annotations["kubernetes.io/config.source"] = "api";
  json metadata = {{"name", pod.name},
                   {"namespace", pod.namespaceName},
                   {"uid", pod.uid},
                   {"resourceVersion", std::to_string(pod.resourceVersion)},
                   {"creationTimestamp", created},
                   {"labels", pod.labels},
                   {"annotations", std::move(annotations)},
                   {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                                     {"kind", pod.ownerKind},
                                                     {"name", pod.ownerName},
                                                     {"uid", pod.ownerUid},
                                                     {"controller", true},
                                                     {"blockOwnerDeletion", true}}})}};
  if (pod.ownerKind != "StatefulSet") metadata["generateName"] = pod.ownerName + "-";
  metadata["generation"] = pod.generation;

  json container = {
      {"name", pod.container.name},
      {"image", pod.container.image},
      {"resources", resourcesJson(pod.container.resources)},
      {"volumeMounts",
       json::array(
           {{{"name", tokenVolume}, {"readOnly", true}, {"mountPath", kServiceAccountMount}}})},
      {"terminationMessagePath", "/dev/termination-log"},
      {"terminationMessagePolicy", "File"},
      {"imagePullPolicy", "IfNotPresent"}};
  if (pod.container.resizePolicy.shown) {
    container["resizePolicy"] = resizePolicyJson(pod.container.resizePolicy);
  }
  json spec = {
      {"volumes",
       json::array(
           {{{"name", tokenVolume},
             {"projected",
              {{"sources",
                json::array(
                    {{{"serviceAccountToken", {{"expirationSeconds", 3607}, {"path", "token"}}}},
                     {{"configMap",
                       {{"name", "kube-root-ca.crt"},
                        {"items", json::array({{{"key", "ca.crt"}, {"path", "ca.crt"}}})}}}}})},
               {"defaultMode", 420}}}}})},
      {"containers", json::array({container})},
      {"restartPolicy", "Always"},
      {"terminationGracePeriodSeconds", 30},
      {"dnsPolicy", "ClusterFirst"},
      {"serviceAccountName", "default"},
      {"serviceAccount", "default"},
      {"securityContext", json::object()},
      {"schedulerName", "default-scheduler"},
      {"tolerations", json::array({{{"key", "node.kubernetes.io/not-ready"},
                                    {"operator", "Exists"},
                                    {"effect", "NoExecute"},
                                    {"tolerationSeconds", 300}},
                                   {{"key", "node.kubernetes.io/unreachable"},
                                    {"operator", "Exists"},
                                    {"effect", "NoExecute"},
                                    {"tolerationSeconds", 300}}})},
      {"priority", 0},
      {"enableServiceLinks", true},
      {"preemptionPolicy", "PreemptLowerPriority"}};
  if (pod.bound()) spec["nodeName"] = pod.node;
  if (pod.ordinal >= 0) {
    spec["hostname"] = pod.name;
    spec["subdomain"] = pod.ownerName;
  }

  json status = {{"qosClass", std::string(toString(pod.qos))}};
  if (!pod.bound()) {
    int nodes = static_cast<int>(cluster.nodes().size());
    status["phase"] = "Pending";
    status["conditions"] = json::array({condition(
        "PodScheduled", false, created, "Unschedulable",
        "0/" + std::to_string(nodes) + " nodes are available: " + std::to_string(nodes) +
            " Insufficient cpu. preemption: 0/" + std::to_string(nodes) + " nodes are available: " +
            std::to_string(nodes) + " No preemption victims found for incoming pod.")});
  } else {
    const NodeState* node = cluster.findNode(pod.node);
    const std::string scheduled = rfc3339(wallAt(cluster, *pod.scheduledAt));
    const bool running = pod.running(now);
    const bool started = pod.started(now);  // running, or waiting to restart after a crash
    const bool ready = pod.ready(now);
    const std::string runningSince = running ? rfc3339(wallAt(cluster, *pod.runningAt))
                                     : started
                                         ? rfc3339(wallAt(cluster, pod.lastTermination->finishedAt))
                                         : scheduled;
    const std::string readySince = ready ? rfc3339(wallAt(cluster, *pod.readyAt)) : runningSince;
    const std::string notReady = "containers with unready status: [" + pod.container.name + "]";
    status["phase"] = started ? "Running" : "Pending";
    status["observedGeneration"] = pod.generation;
    status["conditions"] = json::array(
        {condition("PodReadyToStartContainers", started, runningSince),
         condition("Initialized", true, scheduled),
         ready ? condition("Ready", true, readySince)
               : condition("Ready", false, readySince, "ContainersNotReady", notReady),
         ready ? condition("ContainersReady", true, readySince)
               : condition("ContainersReady", false, readySince, "ContainersNotReady", notReady),
         condition("PodScheduled", true, scheduled)});
    if (node) {
      status["hostIP"] = node->internalIp;
      status["hostIPs"] = json::array({{{"ip", node->internalIp}}});
    }
    const ResizeStatus& resize = pod.resize;
    if (resize.pending != ResizePending::kNone) {
      json pending =
          condition("PodResizePending", true, rfc3339(wallAt(cluster, resize.pendingSince)),
                    resize.pending == ResizePending::kDeferred ? "Deferred" : "Infeasible",
                    resize.pendingMessage);
      pending["observedGeneration"] = resize.observedGeneration;
      status["conditions"].push_back(std::move(pending));
    }
    if (resize.actuateAt) {
      json progress =
          condition("PodResizeInProgress", true, rfc3339(wallAt(cluster, resize.inProgressSince)),
                    resize.inProgressError.empty() ? "" : "Error", resize.inProgressError);
      progress["observedGeneration"] = resize.observedGeneration;
      status["conditions"].push_back(std::move(progress));
    }
    if (started) {
      status["podIP"] = pod.podIp;
      status["podIPs"] = json::array({{{"ip", pod.podIp}}});
    }
    status["startTime"] = scheduled;
    json lastState = json::object();
    if (pod.lastTermination) {
      const Termination& end = *pod.lastTermination;
      lastState["terminated"] = {{"exitCode", end.exitCode},
                                 {"reason", end.reason},
                                 {"startedAt", rfc3339(wallAt(cluster, end.startedAt))},
                                 {"finishedAt", rfc3339(wallAt(cluster, end.finishedAt))},
                                 {"containerID", "containerd://" + pod.containerId}};
    }
    json containerStatus = {{"name", pod.container.name},
                            {"lastState", std::move(lastState)},
                            {"ready", ready},
                            {"restartCount", pod.restartCount},
                            {"image", pod.container.image},
                            {"started", running}};
    // What the kubelet admitted (requests) and what the runtime applied (requests and limits).
    const json allocated = resourcesJson(pod.allocated);
    if (allocated.contains("requests")) {
      containerStatus["allocatedResources"] = allocated["requests"];
    }
    containerStatus["resources"] = resourcesJson(pod.actual);
    if (started) {
      if (running) {
        containerStatus["state"] = {{"running", {{"startedAt", runningSince}}}};
      } else {
        const long long backOff = std::llround(toSeconds(crashBackOff(pod.crashes)));
        containerStatus["state"] = {
            {"waiting",
             {{"reason", "CrashLoopBackOff"},
              {"message", "back-off " + humanDuration(std::chrono::seconds(backOff)) +
                              " restarting failed container=" + pod.container.name + " pod=" +
                              pod.name + "_" + pod.namespaceName + "(" + pod.uid + ")"}}}};
      }
      containerStatus["imageID"] =
          imageRepository(pod.container.image) + "@sha256:" + pod.imageDigest;
      containerStatus["containerID"] = "containerd://" + pod.containerId;
    } else {
      containerStatus["state"] = {{"waiting", {{"reason", "ContainerCreating"}}}};
      containerStatus["imageID"] = "";
    }
    status["containerStatuses"] = json::array({std::move(containerStatus)});
  }
  return {
      {"metadata", std::move(metadata)}, {"spec", std::move(spec)}, {"status", std::move(status)}};
}

json nodeJson(const ClusterModel& cluster, const NodeState& node) {
  const ClusterSpec& spec = cluster.spec();
  const std::string created = rfc3339(cluster.origin() - std::chrono::hours(72));
  const std::string& zone = node.zone;
  std::string uidHex = node.uid;
  std::erase(uidHex, '-');
  std::string providerId = "sim://" + spec.name + "/" + node.name;
  if (spec.cloud == "aws") providerId = "aws:///" + zone + "/i-0" + uidHex.substr(0, 16);
  if (spec.cloud == "gcp") providerId = "gce://fleetscale-sim/" + zone + "/" + node.name;
  json labels = {{"beta.kubernetes.io/arch", "amd64"},
                 {"beta.kubernetes.io/os", "linux"},
                 {"kubernetes.io/arch", "amd64"},
                 {"kubernetes.io/hostname", node.name},
                 {"kubernetes.io/os", "linux"},
                 {"node.kubernetes.io/instance-type", instanceType(spec)},
                 {"topology.kubernetes.io/region", spec.region},
                 {"topology.kubernetes.io/zone", zone}};
  return {
      {"metadata",
       {{"name", node.name},
        {"uid", node.uid},
        {"resourceVersion", std::to_string(cluster.resourceVersion())},
        {"creationTimestamp", created},
        {"labels", labels},
        {"annotations",
         {{"node.alpha.kubernetes.io/ttl", "0"},
          {"volumes.kubernetes.io/controller-managed-attach-detach", "true"}}}}},
      {"spec",
       {{"podCIDR", podIpAddress(cluster.index(), node.index, 0) + "/24"},
        {"providerID", providerId}}},
      {"status",
       {{"capacity", nodeResources(node.capacity)},
        {"allocatable", nodeResources(node.allocatable)},
        {"conditions", json::array({{{"type", "MemoryPressure"},
                                     {"status", "False"},
                                     {"reason", "KubeletHasSufficientMemory"},
                                     {"message", "kubelet has sufficient memory available"},
                                     {"lastHeartbeatTime", created},
                                     {"lastTransitionTime", created}},
                                    {{"type", "DiskPressure"},
                                     {"status", "False"},
                                     {"reason", "KubeletHasNoDiskPressure"},
                                     {"message", "kubelet has no disk pressure"},
                                     {"lastHeartbeatTime", created},
                                     {"lastTransitionTime", created}},
                                    {{"type", "PIDPressure"},
                                     {"status", "False"},
                                     {"reason", "KubeletHasSufficientPID"},
                                     {"message", "kubelet has sufficient PID available"},
                                     {"lastHeartbeatTime", created},
                                     {"lastTransitionTime", created}},
                                    {{"type", "Ready"},
                                     {"status", "True"},
                                     {"reason", "KubeletReady"},
                                     {"message", "kubelet is posting ready status"},
                                     {"lastHeartbeatTime", created},
                                     {"lastTransitionTime", created}}})},
        {"addresses", json::array({{{"type", "InternalIP"}, {"address", node.internalIp}},
                                   {{"type", "Hostname"}, {"address", node.name}}})},
        {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", node.kubeletPort}}}}},
        {"nodeInfo",
         {{"machineID", uidHex},
          {"systemUUID", node.uid},
          {"bootID", node.uid},
          {"kernelVersion", spec.cgroupVersion == 2 ? "6.1.0-25-cloud-amd64" : "5.4.0-1103-gcp"},
          {"osImage",
           spec.cgroupVersion == 2 ? "Debian GNU/Linux 12 (bookworm)" : "Ubuntu 20.04.6 LTS"},
          {"containerRuntimeVersion", kContainerdVersion},
          {"kubeletVersion", spec.kubernetesVersion},
          {"kubeProxyVersion", spec.kubernetesVersion},
          {"operatingSystem", "linux"},
          {"architecture", "amd64"}}}}}};
}

json namespaceJson(const ClusterModel& cluster, const std::string& name) {
  return {{"metadata",
           {{"name", name},
            {"uid", "00000000-0000-4000-9000-" + std::string(12, '0')},
            {"resourceVersion", "1"},
            {"creationTimestamp", rfc3339(cluster.origin() - std::chrono::hours(72))},
            {"labels", {{"kubernetes.io/metadata.name", name}}}}},
          {"spec", {{"finalizers", json::array({"kubernetes"})}}},
          {"status", {{"phase", "Active"}}}};
}

json scaleJson(const WorkloadObject& workload) {
  const json& metadata = workload.object["metadata"];
  const std::string selector = selectorOf(workload);
  const json& status = workload.object["status"];
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata",
           {{"name", metadata["name"]},
            {"namespace", metadata["namespace"]},
            {"uid", metadata["uid"]},
            {"resourceVersion", metadata["resourceVersion"]},
            {"creationTimestamp", metadata["creationTimestamp"]}}},
          {"spec", {{"replicas", workload.replicas}}},
          {"status", {{"replicas", status.value("replicas", 0)}, {"selector", selector}}}};
}

json listJson(const std::string& listKind, const std::string& apiVersion,
              std::uint64_t resourceVersion, std::vector<json> items) {
  for (auto& item : items) {
    item.erase("kind");
    item.erase("apiVersion");
  }
  return {{"kind", listKind},
          {"apiVersion", apiVersion},
          {"metadata", {{"resourceVersion", std::to_string(resourceVersion)}}},
          {"items", std::move(items)}};
}

json versionJson(const ClusterSpec& spec) {
  std::string version = spec.kubernetesVersion;
  std::string major = "1", minor = "30";
  if (version.size() > 1 && version[0] == 'v') {
    const auto dot = version.find('.');
    const auto dot2 = version.find('.', dot + 1);
    if (dot != std::string::npos) {
      major = version.substr(1, dot - 1);
      minor =
          version.substr(dot + 1, dot2 == std::string::npos ? std::string::npos : dot2 - dot - 1);
    }
  }
  return {{"major", major},           {"minor", minor},
          {"gitVersion", version},    {"gitCommit", "fleetscale-sim"},
          {"gitTreeState", "clean"},  {"buildDate", "2024-08-14T19:29:05Z"},
          {"goVersion", "go1.22.5"},  {"compiler", "gc"},
          {"platform", "linux/amd64"}};
}

json apiVersionsJson(const std::string& serverAddress) {
  return {{"kind", "APIVersions"},
          {"versions", json::array({"v1"})},
          {"serverAddressByClientCIDRs",
           json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", serverAddress}}})}};
}

json apiGroupListJson() {
  auto group = [](const std::string& name, const std::string& version) {
    const json only = {{"groupVersion", name + "/" + version}, {"version", version}};
    return json{{"name", name}, {"versions", json::array({only})}, {"preferredVersion", only}};
  };
  // Built-in groups first, then the CRDs' (keda.sh), as the API server orders them.
  return {
      {"kind", "APIGroupList"},
      {"apiVersion", "v1"},
      {"groups", json::array({group("apps", "v1"), group("autoscaling", "v2"),
                              group("coordination.k8s.io", "v1"), group("keda.sh", "v1alpha1")})}};
}

json autoscalingResourceListJson() {
  return {
      {"kind", "APIResourceList"},
      {"apiVersion", "v1"},
      {"groupVersion", "autoscaling/v2"},
      {"resources",
       json::array({{{"name", "horizontalpodautoscalers"},
                     {"singularName", "horizontalpodautoscaler"},
                     {"namespaced", true},
                     {"kind", "HorizontalPodAutoscaler"},
                     {"verbs", json::array({"create", "delete", "get", "list", "patch", "update"})},
                     {"shortNames", json::array({"hpa"})},
                     {"categories", json::array({"all"})}}})}};
}

json kedaResourceListJson() {
  return {
      {"kind", "APIResourceList"},
      {"apiVersion", "v1"},
      {"groupVersion", "keda.sh/v1alpha1"},
      {"resources",
       json::array({{{"name", "scaledobjects"},
                     {"singularName", "scaledobject"},
                     {"namespaced", true},
                     {"kind", "ScaledObject"},
                     {"verbs", json::array({"create", "delete", "get", "list", "patch", "update"})},
                     {"shortNames", json::array({"so"})}}})}};
}

json coordinationResourceListJson() {
  return {
      {"kind", "APIResourceList"},
      {"apiVersion", "v1"},
      {"groupVersion", "coordination.k8s.io/v1"},
      {"resources",
       json::array({{{"name", "leases"},
                     {"singularName", "lease"},
                     {"namespaced", true},
                     {"kind", "Lease"},
                     {"verbs", json::array({"create", "delete", "get", "list", "patch", "update"})},
                     {"storageVersionHash", "gqkMMb/YqFM="}}})}};
}

json coreResourceListJson(bool podResize) {
  const json read = json::array({"get", "list"});
  json list = {{"kind", "APIResourceList"},
               {"groupVersion", "v1"},
               {"resources", json::array({{{"name", "namespaces"},
                                           {"singularName", "namespace"},
                                           {"namespaced", false},
                                           {"kind", "Namespace"},
                                           {"verbs", read},
                                           {"shortNames", json::array({"ns"})},
                                           {"storageVersionHash", "Q3oi5N2YM8M="}},
                                          {{"name", "nodes"},
                                           {"singularName", "node"},
                                           {"namespaced", false},
                                           {"kind", "Node"},
                                           {"verbs", read},
                                           {"shortNames", json::array({"no"})},
                                           {"storageVersionHash", "XwShjMxG9Fs="}},
                                          {{"name", "pods"},
                                           {"singularName", "pod"},
                                           {"namespaced", true},
                                           {"kind", "Pod"},
                                           {"verbs", read},
                                           {"shortNames", json::array({"po"})},
                                           {"categories", json::array({"all"})},
                                           {"storageVersionHash", "xPOwRZ+Yhw8="}}})}};
  const json stored = json::array({"create", "delete", "get", "list", "patch", "update"});
  list["resources"].push_back({{"name", "limitranges"},
                               {"singularName", "limitrange"},
                               {"namespaced", true},
                               {"kind", "LimitRange"},
                               {"verbs", stored},
                               {"shortNames", json::array({"limits"})}});
  list["resources"].push_back({{"name", "resourcequotas"},
                               {"singularName", "resourcequota"},
                               {"namespaced", true},
                               {"kind", "ResourceQuota"},
                               {"verbs", stored},
                               {"shortNames", json::array({"quota"})}});
  if (podResize) {
    list["resources"].push_back({{"name", "pods/resize"},
                                 {"singularName", ""},
                                 {"namespaced", true},
                                 {"kind", "Pod"},
                                 {"verbs", json::array({"get", "patch", "update"})}});
  }
  return list;
}

json appsResourceListJson() {
  const json verbs = json::array({"get", "list", "patch", "update"});
  auto workload = [&](const std::string& plural, const std::string& singular,
                      const std::string& kind, const std::string& shortName,
                      const std::string& hash) {
    return json::array({{{"name", plural},
                         {"singularName", singular},
                         {"namespaced", true},
                         {"kind", kind},
                         {"verbs", verbs},
                         {"shortNames", json::array({shortName})},
                         {"categories", json::array({"all"})},
                         {"storageVersionHash", hash}},
                        {{"name", plural + "/scale"},
                         {"singularName", ""},
                         {"namespaced", true},
                         {"group", "autoscaling"},
                         {"version", "v1"},
                         {"kind", "Scale"},
                         {"verbs", json::array({"get", "patch", "update"})}},
                        {{"name", plural + "/status"},
                         {"singularName", ""},
                         {"namespaced", true},
                         {"kind", kind},
                         {"verbs", json::array({"get"})}}});
  };
  json resources = workload("deployments", "deployment", "Deployment", "deploy", "8aSe+NMegvE=");
  for (auto& entry :
       workload("statefulsets", "statefulset", "StatefulSet", "sts", "H+vl74LkKdo=")) {
    resources.push_back(std::move(entry));
  }
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", "apps/v1"},
          {"resources", std::move(resources)}};
}

TableObject tableObjectOf(const std::string& includeObject) {
  if (includeObject == "None") return TableObject::kNone;
  if (includeObject == "Object") return TableObject::kObject;
  return TableObject::kMetadata;
}

json tableJson(const std::string& resource, std::uint64_t resourceVersion,
               const std::vector<TableRow>& rows, TableObject include) {
  json out = {{"kind", "Table"},
              {"apiVersion", "meta.k8s.io/v1"},
              {"metadata", {{"resourceVersion", std::to_string(resourceVersion)}}},
              {"columnDefinitions", columns(resource)},
              {"rows", json::array()}};
  for (const auto& row : rows) {
    json entry = {{"cells", row.cells}};
    if (include == TableObject::kObject) {
      entry["object"] = row.object;
    } else if (include == TableObject::kMetadata) {
      entry["object"] = {{"kind", "PartialObjectMetadata"},
                         {"apiVersion", "meta.k8s.io/v1"},
                         {"metadata", row.object.value("metadata", json::object())}};
    }
    out["rows"].push_back(std::move(entry));
  }
  return out;
}

std::vector<json> workloadCells(const WorkloadObject& workload, WallTime now) {
  const json& status = workload.object["status"];
  const json& container = workload.object["spec"]["template"]["spec"]["containers"][0];
  const std::string ready =
      std::to_string(status.value("readyReplicas", 0)) + "/" + std::to_string(workload.replicas);
  const std::string age = ageOf(workload.object["metadata"], now);
  const std::string names = container.value("name", std::string());
  const std::string images = container.value("image", std::string());
  if (workload.kind == WorkloadKind::kStatefulSet)
    return {workload.name(), ready, age, names, images};
  const std::string selector = selectorOf(workload);
  return {workload.name(),
          ready,
          status.value("updatedReplicas", 0),
          status.value("availableReplicas", 0),
          age,
          names,
          images,
          selector};
}

std::vector<json> podCells(const json& pod, WallTime now) {
  const json& status = pod["status"];
  int ready = 0, total = 0;
  long long restarts = 0;
  std::string reason = status.value("phase", std::string("Pending"));
  for (const auto& container : status.value("containerStatuses", json::array())) {
    ++total;
    if (container.value("ready", false)) ++ready;
    restarts += container.value("restartCount", 0LL);
    if (container.contains("state") && container["state"].contains("waiting")) {
      reason = container["state"]["waiting"].value("reason", reason);
    }
  }
  if (total == 0) total = static_cast<int>(pod["spec"]["containers"].size());
  return {pod["metadata"]["name"],
          std::to_string(ready) + "/" + std::to_string(total),
          reason,
          std::to_string(restarts),
          ageOf(pod["metadata"], now),
          status.value("podIP", std::string("<none>")),
          pod["spec"].value("nodeName", std::string("<none>")),
          "<none>",
          "<none>"};
}

std::vector<json> nodeCells(const json& node, WallTime now) {
  const json& info = node["status"]["nodeInfo"];
  std::string internalIp = "<none>";
  for (const auto& address : node["status"]["addresses"]) {
    if (address["type"] == "InternalIP") internalIp = address["address"];
  }
  return {node["metadata"]["name"],
          "Ready",
          "<none>",
          ageOf(node["metadata"], now),
          info["kubeletVersion"],
          internalIp,
          "<none>",
          info["osImage"],
          info["kernelVersion"],
          info["containerRuntimeVersion"]};
}

std::vector<json> namespaceCells(const json& ns, WallTime now) {
  return {ns["metadata"]["name"], "Active", ageOf(ns["metadata"], now)};
}

std::vector<json> leaseCells(const json& lease, WallTime now) {
  const json& spec = lease["spec"];
  return {lease["metadata"]["name"], spec.value("holderIdentity", std::string()),
          ageOf(lease["metadata"], now)};
}

std::vector<json> limitRangeCells(const json& limitRange, WallTime /*now*/) {
  return {limitRange["metadata"]["name"],
          limitRange["metadata"].value("creationTimestamp", std::string())};
}

std::vector<json> resourceQuotaCells(const json& quota, WallTime now) {
  // kubectl's printer: "<resource>: <used>/<hard>" per resource in name order, the limits.*
  // ones in LIMIT, the others in REQUEST.
  std::string requests, limits;
  const json status = quota.value("status", json::object());
  const json hard = status.value("hard", json::object());
  const json used = status.value("used", json::object());
  for (const auto& [name, value] : hard.items()) {
    std::string& column = name.rfind("limits.", 0) == 0 ? limits : requests;
    const json current = used.value(name, json("0"));
    const auto text = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    column += (column.empty() ? "" : ", ") + name + ": " + text(current) + "/" + text(value);
  }
  return {quota["metadata"]["name"], ageOf(quota["metadata"], now), requests, limits};
}

namespace {

// A quantity as the HPA printer shows it: strings as written, numbers as plain numbers.
std::string quantityText(const json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// One metric spec as kubectl's TARGETS column shows it; no controller reports current values,
// so the current side is always "<unknown>".
std::string hpaMetricTarget(const json& metric) {
  const std::string current = "<unknown>";
  const std::string type = metric.value("type", std::string());
  auto sourceOf = [&](const char* key) {
    return metric.contains(key) && metric[key].is_object() ? metric[key] : json::object();
  };
  auto targetOf = [](const json& source) {
    return source.contains("target") && source["target"].is_object() ? source["target"]
                                                                     : json::object();
  };
  if (type == "Resource" || type == "ContainerResource") {
    const json source = sourceOf(type == "Resource" ? "resource" : "containerResource");
    const json target = targetOf(source);
    const std::string name = source.value("name", std::string());
    if (target.contains("averageValue")) {
      return name + ": " + current + "/" + quantityText(target["averageValue"]);
    }
    const std::string wanted = target.contains("averageUtilization")
                                   ? target["averageUtilization"].dump() + "%"
                                   : std::string("<auto>");
    return name + ": " + current + "/" + wanted;
  }
  if (type == "Pods")
    return current + "/" + quantityText(targetOf(sourceOf("pods")).value("averageValue", json("")));
  if (type == "Object" || type == "External") {
    const json target = targetOf(sourceOf(type == "Object" ? "object" : "external"));
    if (target.contains("averageValue")) {
      return current + "/" + quantityText(target["averageValue"]) + " (avg)";
    }
    return current + "/" + quantityText(target.value("value", json("")));
  }
  return "<unknown type>";
}

}  // namespace

std::vector<json> horizontalPodAutoscalerCells(const json& hpa, WallTime now) {
  const json& spec = hpa["spec"];
  const json& target = spec["scaleTargetRef"];
  const std::string reference =
      target.value("kind", std::string()) + "/" + target.value("name", std::string());
  std::string targets = "<none>";
  if (spec.contains("metrics") && spec["metrics"].is_array() && !spec["metrics"].empty()) {
    // kubectl shows two and counts the rest.
    constexpr std::size_t kShown = 2;
    const json& metrics = spec["metrics"];
    targets.clear();
    for (std::size_t i = 0; i < std::min(kShown, metrics.size()); ++i) {
      targets += (i ? ", " : "") + hpaMetricTarget(metrics[i]);
    }
    if (metrics.size() > kShown) {
      targets += " + " + std::to_string(metrics.size() - kShown) + " more...";
    }
  }
  const json minPods = spec.contains("minReplicas") && spec["minReplicas"].is_number_integer()
                           ? spec["minReplicas"]
                           : json("<unset>");
  const json status = hpa.value("status", json::object());
  return {hpa["metadata"]["name"],
          reference,
          targets,
          minPods,
          spec.value("maxReplicas", 0),
          status.is_object() ? status.value("currentReplicas", 0) : 0,
          ageOf(hpa["metadata"], now)};
}

std::vector<json> scaledObjectCells(const json& scaledObject, WallTime now) {
  const json& spec = scaledObject["spec"];
  auto specValue = [&](const char* key) { return spec.contains(key) ? spec[key] : json(); };
  std::string triggers;
  for (const auto& trigger : spec.value("triggers", json::array())) {
    if (trigger.is_object() && trigger.contains("type") && trigger["type"].is_string()) {
      triggers += (triggers.empty() ? "" : ",") + trigger["type"].get<std::string>();
    }
  }
  const json status = scaledObject.value("status", json::object());
  return {
      scaledObject["metadata"]["name"],
      status.is_object() && status.contains("scaleTargetKind") ? status["scaleTargetKind"] : json(),
      spec["scaleTargetRef"].value("name", std::string()),
      specValue("minReplicaCount"),
      specValue("maxReplicaCount"),
      triggers.empty() ? json() : json(triggers),
      ageOf(scaledObject["metadata"], now)};
}

std::string humanDuration(std::chrono::seconds age) {
  const long long seconds = age.count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return std::to_string(seconds) + "s";
  const long long minutes = seconds / 60;
  if (minutes < 10) {
    const long long rest = seconds % 60;
    return std::to_string(minutes) + "m" + (rest ? std::to_string(rest) + "s" : "");
  }
  if (minutes < 180) return std::to_string(minutes) + "m";
  const long long hours = minutes / 60;
  if (hours < 8) {
    const long long rest = minutes % 60;
    return std::to_string(hours) + "h" + (rest ? std::to_string(rest) + "m" : "");
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    const long long rest = hours % 24;
    return std::to_string(hours / 24) + "d" + (rest ? std::to_string(rest) + "h" : "");
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  const long long years = hours / 24 / 365;
  if (hours < 24 * 365 * 8) {
    const long long days = (hours / 24) % 365;
    return std::to_string(years) + "y" + (days ? std::to_string(days) + "d" : "");
  }
  return std::to_string(years) + "y";
}

}  // namespace fleetscale::sim
