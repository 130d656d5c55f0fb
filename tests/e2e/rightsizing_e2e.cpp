#include "rightsizing_e2e.h"

#include <mutex>
#include <sstream>
#include <utility>

#include "fleetscale/testing/fleet_processes.h"

namespace fleetscale::e2e {
namespace {

// "shop/web" -> {"shop", "web"}.
std::pair<std::string, std::string> split(const std::string& workload) {
  const auto slash = workload.find('/');
  return {workload.substr(0, slash), workload.substr(slash + 1)};
}

}  // namespace

nlohmann::json applyIn(const E2eFleet& fleet, const std::string& workload,
                       const std::string& cluster) {
  const auto [namespaceName, name] = split(workload);
  const auto body =
      fleet.get("/api/v1/recommendations?namespace=" + namespaceName + "&workload=" + name);
  if (!body.is_object() || body["items"].empty()) return nullptr;
  const auto& apply = body["items"][0]["apply"];
  return apply.contains(cluster) ? apply[cluster] : nlohmann::json();
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

std::optional<double> templateCpuRequest(E2eFleet& fleet, const std::string& workload,
                                         const std::string& cluster) {
  const auto [namespaceName, name] = split(workload);
  sim::SharedFleet& shared = fleet.simulator().fleet();
  std::lock_guard lock(shared.mutex);
  const sim::ClusterModel* model = shared.model.findCluster(cluster);
  const sim::WorkloadObject* object =
      model ? model->find(sim::WorkloadKind::kDeployment, namespaceName, name) : nullptr;
  return object ? object->container.resources.cpuRequest : std::nullopt;
}

std::vector<ApiPod> podsIn(E2eFleet& fleet, const std::string& workload,
                           const std::string& cluster) {
  const auto [namespaceName, name] = split(workload);
  sim::SharedFleet& shared = fleet.simulator().fleet();
  std::lock_guard lock(shared.mutex);
  const sim::ClusterModel* model = shared.model.findCluster(cluster);
  std::vector<ApiPod> out;
  if (model == nullptr) return out;
  const sim::SimTime now = shared.clock.now();
  for (const auto& pod : model->pods()) {
    if (pod.namespaceName != namespaceName || pod.workload != name) continue;
    ApiPod view{pod.name, pod.node, pod.ready(now), pod.container.resources.cpuRequest, ""};
    if (pod.resize.pending == sim::ResizePending::kInfeasible) view.resizePending = "Infeasible";
    if (pod.resize.pending == sim::ResizePending::kDeferred) view.resizePending = "Deferred";
    out.push_back(std::move(view));
  }
  return out;
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
