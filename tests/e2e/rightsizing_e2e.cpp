#include "rightsizing_e2e.h"

#include <mutex>
#include <sstream>
#include <utility>

#include "fleetscale/testing/fleet_processes.h"

namespace fleetscale::e2e {
namespace {

struct WorkloadName {
  std::string namespaceName;
  std::string name;
};

// "shop/web" -> {"shop", "web"}. (A struct, not a pair: clang 14, which clang-tidy runs on,
// cannot capture structured bindings in a lambda.)
WorkloadName split(const std::string& workload) {
  const auto slash = workload.find('/');
  return {workload.substr(0, slash), workload.substr(slash + 1)};
}

}  // namespace

RightsizingScenario throttledWebScenario() {
  RightsizingScenario scenario;
  scenario.nodes = 2;
  scenario.replicas = "{aws-us-east-1: 2, gcp-europe-west1: 2}";
  scenario.cpuRequest = "500m";
  scenario.cpuLimit = "1";
  scenario.capacityPerReplica = "3500m";
  scenario.cpuLoad = "12";
  scenario.fixedReplicas = 4;
  scenario.averageValue = "4";
  return scenario;
}

std::string rightsizingScenario(const RightsizingScenario& scenario) {
  std::string clusters;
  for (const auto& cluster : scenario.clusters) clusters += "\n  - " + cluster;
  std::string yaml = R"(name: $name
seed: $seed
defaults:
  nodes: $nodes
  node-capacity: {cpu: 16, memory: 64Gi}
  scheduling-delay: 1s
  readiness-delay: 1s
  resize-delay: 300ms
agents: {args: ["--metadata-interval=1s"]}
clusters:$clusters
workloads:
  - name: web
    namespace: shop
    replicas: $replicas
    resources: {requests: {cpu: "$cpuRequest", memory: 256Mi}, limits: {cpu: "$cpuLimit", memory: 512Mi}}
    capacity-per-replica: $capacityPerReplica
    load: {cpu: $cpuLoad, memory: 300Mi}
    autoscale:
      min-replicas: $fixedReplicas
      max-replicas: $fixedReplicas
      # An AverageValue target reads no request, so right-sizing may move the CPU request
      # (docs/rightsizing.md, "Horizontal and vertical together").
      metrics:
        - {type: Resource, resource: {name: cpu, target: {type: AverageValue, averageValue: $averageValue}}}
      rightsizing: {$rightsizing, controlledResources: [cpu]}
)";
  // No placeholder is a prefix of another, so the order does not matter.
  const std::pair<std::string, std::string> values[] = {
      {"$capacityPerReplica", scenario.capacityPerReplica},
      {"$fixedReplicas", std::to_string(scenario.fixedReplicas)},
      {"$averageValue", scenario.averageValue},
      {"$rightsizing", scenario.rightsizing},
      {"$cpuRequest", scenario.cpuRequest},
      {"$cpuLimit", scenario.cpuLimit},
      {"$clusters", clusters},
      {"$replicas", scenario.replicas},
      {"$cpuLoad", scenario.cpuLoad},
      {"$nodes", std::to_string(scenario.nodes)},
      {"$name", scenario.name},
      {"$seed", std::to_string(scenario.seed)},
  };
  for (const auto& [key, value] : values) {
    for (auto at = yaml.find(key); at != std::string::npos;
         at = yaml.find(key, at + value.size())) {
      yaml.replace(at, key.size(), value);
    }
  }
  return yaml;
}

namespace {

// The workload's first item in GET /api/v1/recommendations (null when none).
nlohmann::json recommendationOf(const E2eFleet& fleet, const std::string& workload) {
  const WorkloadName w = split(workload);
  const auto body =
      fleet.get("/api/v1/recommendations?namespace=" + w.namespaceName + "&workload=" + w.name);
  if (!body.is_object() || body["items"].empty()) return nullptr;
  return body["items"][0];
}

}  // namespace

nlohmann::json applyIn(const E2eFleet& fleet, const std::string& workload,
                       const std::string& cluster) {
  const auto item = recommendationOf(fleet, workload);
  if (!item.is_object()) return nullptr;
  const auto& apply = item["apply"];
  return apply.contains(cluster) ? apply[cluster] : nlohmann::json();
}

double recommendedCpu(const E2eFleet& fleet, const std::string& workload) {
  const auto item = recommendationOf(fleet, workload);
  if (!item.is_object()) return 0;
  const auto& target = item["cpu_cores"]["target"];
  return target.is_number() ? target.get<double>() : 0;
}

std::string resultIn(const E2eFleet& fleet, const std::string& workload,
                     const std::string& cluster) {
  const auto apply = applyIn(fleet, workload, cluster);
  return apply.is_object() ? apply.value("result", "") : "";
}

std::vector<nlohmann::json> containersIn(const E2eFleet& fleet, const std::string& workload,
                                         const std::string& cluster) {
  const auto [namespaceName, name] = split(workload);
  const auto body = fleet.get("/api/v1/containers?namespace=" + namespaceName +
                              "&workload=" + name + "&cluster=" + cluster);
  std::vector<nlohmann::json> out;
  if (!body.is_object()) return out;
  for (const auto& item : body["items"]) {
    if (item.value("workload", "") == name && !item.value("stale", false) &&
        !item.value("container", "").empty()) {
      out.push_back(item);
    }
  }
  return out;
}

bool allRequest(const std::vector<nlohmann::json>& containers,
                const std::function<bool(double)>& ok, std::size_t count) {
  if (containers.size() != count) return false;
  for (const auto& c : containers) {
    if (!c["cpu_request_cores"].is_number() || !ok(c["cpu_request_cores"].get<double>())) {
      return false;
    }
  }
  return true;
}

std::optional<double> appliesTotal(const E2eFleet& fleet, const std::string& workload,
                                   const std::string& cluster, const std::string& mode,
                                   const std::string& result) {
  const auto [namespaceName, name] = split(workload);
  return testing::scrape(fleet.aggregatorUrl() + "/metrics",
                         "fleetscale_rightsizing_applies_total{namespace=\"" + namespaceName +
                             "\",workload=\"" + name + "\",cluster=\"" + cluster + "\",mode=\"" +
                             mode + "\",result=\"" + result + "\"}");
}

namespace {

// Calls `read` with the cluster's model (null when there is none), under the fleet's lock.
template <typename Read>
auto readCluster(E2eFleet& fleet, const std::string& cluster, Read read) {
  sim::SharedFleet& shared = fleet.simulator().fleet();
  std::lock_guard lock(shared.mutex);
  return read(shared.model.findCluster(cluster), shared.clock.now());
}

}  // namespace

std::optional<double> templateCpuRequest(E2eFleet& fleet, const std::string& workload,
                                         const std::string& cluster) {
  const WorkloadName w = split(workload);
  return readCluster(
      fleet, cluster, [&](const sim::ClusterModel* model, sim::SimTime) -> std::optional<double> {
        const sim::WorkloadObject* object =
            model ? model->find(sim::WorkloadKind::kDeployment, w.namespaceName, w.name) : nullptr;
        return object ? object->container.resources.cpuRequest : std::nullopt;
      });
}

nlohmann::json deploymentCondition(E2eFleet& fleet, const std::string& workload,
                                   const std::string& cluster, const std::string& type) {
  const WorkloadName w = split(workload);
  return readCluster(fleet, cluster, [&](const sim::ClusterModel* model, sim::SimTime) {
    const sim::WorkloadObject* object =
        model ? model->find(sim::WorkloadKind::kDeployment, w.namespaceName, w.name) : nullptr;
    if (object == nullptr) return nlohmann::json();
    for (const auto& condition :
         object->object["status"].value("conditions", nlohmann::json::array())) {
      if (condition.value("type", "") == type) return condition;
    }
    return nlohmann::json();
  });
}

std::vector<ApiPod> podsIn(E2eFleet& fleet, const std::string& workload,
                           const std::string& cluster) {
  const WorkloadName w = split(workload);
  return readCluster(fleet, cluster, [&](const sim::ClusterModel* model, sim::SimTime now) {
    std::vector<ApiPod> out;
    if (model == nullptr) return out;
    for (const auto& pod : model->pods()) {
      if (pod.namespaceName != w.namespaceName || pod.workload != w.name) continue;
      ApiPod view{pod.name, pod.node, pod.ready(now), pod.container.resources.cpuRequest, ""};
      if (pod.resize.pending == sim::ResizePending::kInfeasible) view.resizePending = "Infeasible";
      if (pod.resize.pending == sim::ResizePending::kDeferred) view.resizePending = "Deferred";
      out.push_back(std::move(view));
    }
    return out;
  });
}

std::string describe(const std::vector<ApiPod>& pods) {
  std::ostringstream out;
  for (const auto& pod : pods) {
    out << pod.name << " node=" << (pod.node.empty() ? "(none)" : pod.node)
        << " ready=" << pod.ready << " cpu=" << pod.cpuRequest.value_or(-1)
        << " resizePending=" << pod.resizePending << "\n";
  }
  return out.str();
}

std::vector<sim::WriteRecord> patchesEndingWith(E2eFleet& fleet, const std::string& cluster,
                                                const std::string& suffix) {
  std::vector<sim::WriteRecord> out;
  const sim::WriteLog* log = fleet.simulator().writes(cluster);
  if (log == nullptr) return out;
  for (auto& record : log->records()) {
    const std::string path = record.path.substr(0, record.path.find('?'));
    if (record.method == "PATCH" && path.ends_with(suffix)) out.push_back(std::move(record));
  }
  return out;
}

}  // namespace fleetscale::e2e
