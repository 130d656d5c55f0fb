#include "fleetscale/aggregator/api/fleet_routes.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/api/route_support.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

json number(double value) { return isPresent(value) ? json(value) : json(nullptr); }

template <typename T>
json optional(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

// 0 means "not known" in these fields.
json knownOrNull(std::uint32_t value) { return value > 0 ? json(value) : json(nullptr); }

json nodeJson(const NodeInfo& node) {
  const auto& t = node.totals;
  return json{{"agent_id", node.identity.agentId},
              {"node", node.identity.node},
              {"cluster", node.identity.cluster},
              {"cloud", node.identity.cloud},
              {"region", node.identity.region},
              {"zone", node.identity.zone},
              {"agent_version", node.identity.agentVersion},
              {"protocol_version", knownOrNull(node.identity.protocolVersion)},
              {"connected", node.connected},
              {"stale", node.stale},
              {"agent_restarts", node.agentRestarts},
              {"agents", node.agents},
              {"agent_started_unix_ms",
               node.identity.startedUnixMs > 0 ? json(node.identity.startedUnixMs) : json(nullptr)},
              {"last_sequence", node.progress.lastSequence},
              {"batches_accepted", node.progress.batchesAccepted},
              {"samples_accepted", node.progress.samplesAccepted},
              {"last_seen_unix_ms",
               node.lastSeen == WallTime{} ? json(nullptr) : json(toUnixMillis(node.lastSeen))},
              {"interval_seconds", node.intervalSeconds},
              {"containers", node.containers},
              {"cpu_capacity_cores", t.cpuCapacityCores},
              {"cpu_allocatable_cores", t.cpuAllocatableCores},
              {"cpu_usage_cores", number(t.cpuUsageCores)},
              {"memory_capacity_bytes", t.memoryCapacityBytes},
              {"memory_allocatable_bytes", t.memoryAllocatableBytes},
              {"memory_usage_bytes", t.memoryUsageBytes}};
}

json containerJson(const ContainerInfo& c) {
  const auto& m = c.metrics;
  return json{{"cluster", c.cluster},
              {"node", c.node},
              {"id", c.id},
              {"cgroup", c.cgroup},
              {"runtime", c.runtime},
              {"namespace", c.namespaceName},
              {"pod", c.pod},
              {"pod_uid", c.podUid},
              {"container", c.container},
              {"workload_kind", c.workloadKind},
              {"workload", c.workload},
              {"pod_phase", c.podPhase},
              {"qos_class", c.qosClass},
              {"image", c.image},
              {"ready", optional(c.ready)},
              {"restart_count", c.restartCount},
              {"stale", c.stale},
              {"last_seen_unix_ms", toUnixMillis(c.lastSeen)},
              {"cpu_cores", number(m.cpuCores)},
              {"cpu_request_cores", number(c.cpuRequestCores)},
              {"cpu_limit_cores", number(m.cpuLimitCores)},
              {"cpu_throttled_seconds_per_second", number(m.cpuThrottledSecondsPerSecond)},
              {"memory_usage_bytes", m.memoryUsageBytes},
              {"memory_working_set_bytes", m.memoryWorkingSetBytes},
              {"memory_rss_bytes", m.memoryRssBytes},
              {"memory_request_bytes", optional(c.memoryRequestBytes)},
              {"memory_limit_bytes", optional(m.memoryLimitBytes)},
              {"oom_kills_total", m.oomKillsTotal}};
}

// A workload's figures in a cluster: live (WorkloadRollup) or a 10 s average (RollupRow), which
// share their field names.
template <typename Figures>
json figuresJson(const Figures& f) {
  return json{{"cluster", f.cluster},
              {"replicas", f.replicasSeen},
              {"replicas_ready", f.replicasReady},
              {"cpu_usage_cores", f.cpuUsageCores},
              {"cpu_unmet_demand_cores", f.cpuUnmetDemandCores},
              {"cpu_request_cores", f.cpuRequestCores},
              {"cpu_utilization", number(f.cpuUtilization)},
              {"memory_usage_bytes", f.memoryUsageBytes},
              {"memory_request_bytes", f.memoryRequestBytes},
              {"memory_utilization", number(f.memoryUtilization)},
              {"load_share", number(f.loadShare)}};
}

json rollupJson(const WorkloadRollup& r) {
  json out = figuresJson(r);
  out["replicas_stale"] = r.replicasStale;
  out["replicas_pending"] = r.replicasPending;
  out["replicas_terminating"] = r.replicasTerminating;
  return out;
}

json workloadJson(const WorkloadSnapshot& w) {
  json out = rollupJson(w.total);
  out.erase("cluster");
  out.erase("load_share");
  out["namespace"] = w.key.namespaceName;
  out["kind"] = w.key.kind;
  out["name"] = w.key.name;
  json clusters = json::array();
  for (const auto& c : w.clusters) clusters.push_back(rollupJson(c));
  out["clusters"] = std::move(clusters);
  return out;
}

json podJson(const PodSample& p) {
  return json{{"cluster", p.cluster},
              {"node", p.node},
              {"pod", p.pod},
              {"stale", p.stale},
              {"ready", p.ready},
              {"pending", p.pending},
              {"terminating", p.deleting},
              {"containers", p.containers},
              {"cpu_usage_cores", number(p.cpuUsageCores)},
              {"cpu_request_cores", number(p.cpuRequestCores)},
              {"memory_usage_bytes", p.memoryUsageBytes},
              {"memory_request_bytes", number(p.memoryRequestBytes)},
              {"start_time_unix_ms", p.startTimeUnixMs},
              {"ready_time_unix_ms", p.podReadyTimeUnixMs},
              {"restarts", p.restarts}};
}

json historyJson(const RollupRow& r) {
  json out = figuresJson(r);
  out["bucket_start_unix_ms"] = r.bucketStartUnixMs;
  out["ticks"] = r.ticks;
  return out;
}

json clusterJson(const ClusterSnapshot& c) {
  return json{{"name", c.name},
              {"health", toString(c.reporting)},
              {"nodes", c.nodes},
              {"stale_nodes", c.staleNodes},
              {"agents_connected", c.connectedAgents},
              {"containers", c.containers},
              {"workloads", c.workloads},
              {"cpu_capacity_cores", c.cpuCapacityCores},
              {"cpu_allocatable_cores", c.cpuAllocatableCores},
              {"cpu_usage_cores", c.cpuUsageCores},
              {"memory_capacity_bytes", c.memoryCapacityBytes},
              {"memory_allocatable_bytes", c.memoryAllocatableBytes},
              {"memory_usage_bytes", c.memoryUsageBytes}};
}

HttpResponse clustersRoute(const ApiContext& c, HttpRequest& request) {
  const auto query = parseListQuery(request, c.clock.wallNow(), kMaxLimit);
  if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
  const auto snapshot = c.snapshots.get();
  json items = json::array();
  for (const auto& cluster : snapshot->clusters) {
    if (items.size() >= query.limit) break;
    items.push_back(clusterJson(cluster));
  }
  return jsonResponse(
      {{"snapshot_unix_ms", toUnixMillis(snapshot->takenAt)}, {"items", std::move(items)}});
}

HttpResponse nodesRoute(const ApiContext& c, HttpRequest& request) {
  const auto query = parseListQuery(request, c.clock.wallNow(), kMaxLimit);
  if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
  const std::string cluster = request.queryParam("cluster");
  json items = json::array();
  for (const auto& node : c.fleet.nodes(c.clock.wallNow())) {
    if (!cluster.empty() && node.identity.cluster != cluster) continue;
    if (items.size() >= query.limit) break;
    items.push_back(nodeJson(node));
  }
  return jsonResponse({{"items", std::move(items)}});
}

HttpResponse workloadsRoute(const ApiContext& c, HttpRequest& request) {
  const auto query = parseListQuery(request, c.clock.wallNow(), kMaxLimit);
  if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
  const std::string cluster = request.queryParam("cluster");
  const std::string ns = request.queryParam("namespace");
  const std::string kind = request.queryParam("kind");
  const auto snapshot = c.snapshots.get();
  json items = json::array();
  for (const auto& workload : snapshot->workloads) {
    if (items.size() >= query.limit) break;
    if (!ns.empty() && workload.key.namespaceName != ns) continue;
    if (!kind.empty() && workload.key.kind != kind) continue;
    if (!cluster.empty() &&
        std::none_of(workload.clusters.begin(), workload.clusters.end(),
                     [&](const WorkloadRollup& r) { return r.cluster == cluster; })) {
      continue;
    }
    items.push_back(workloadJson(workload));
  }
  return jsonResponse(
      {{"snapshot_unix_ms", toUnixMillis(snapshot->takenAt)}, {"items", std::move(items)}});
}

HttpResponse workloadRoute(const ApiContext& c, HttpRequest& request) {
  const WallTime now = c.clock.wallNow();
  const auto query = parseListQuery(request, now);
  if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
  const std::string& ns = request.pathParams["namespace"];
  const std::string& name = request.pathParams["name"];
  const std::string kind = request.queryParam("kind");
  const auto snapshot = c.snapshots.get();
  std::vector<const WorkloadSnapshot*> matches;
  for (const auto& workload : snapshot->workloads) {
    if (workload.key.namespaceName == ns && workload.key.name == name &&
        (kind.empty() || workload.key.kind == kind)) {
      matches.push_back(&workload);
    }
  }
  if (matches.empty()) {
    return HttpResponse::jsonError(404, "no workload " + ns + "/" + name + " is reporting");
  }
  if (matches.size() > 1) {
    return HttpResponse::jsonError(
        409, "several kinds of workload are named " + ns + "/" + name + "; pick one with ?kind=");
  }
  const WorkloadSnapshot& workload = *matches.front();
  json out = workloadJson(workload);
  json pods = json::array();
  for (const auto& pod : workload.pods) pods.push_back(podJson(pod));
  out["pods"] = std::move(pods);
  // History defaults to the last 15 minutes.
  const std::int64_t since =
      request.queryParam("since").empty() ? toUnixMillis(now) - 15 * 60 * 1000 : query.sinceUnixMs;
  json history = json::array();
  for (const auto& row : c.history.get(workload.key, since)) history.push_back(historyJson(row));
  out["history"] = std::move(history);
  out["snapshot_unix_ms"] = toUnixMillis(snapshot->takenAt);
  return jsonResponse(out);
}

HttpResponse containersRoute(const ApiContext& c, HttpRequest& request) {
  const WallTime now = c.clock.wallNow();
  const auto query = parseListQuery(request, now, 1000);
  if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
  ContainerFilter filter{request.queryParam("cluster"), request.queryParam("node"),
                         request.queryParam("namespace"), request.queryParam("workload")};
  json items = json::array();
  for (const auto& container : c.fleet.containers(filter, now, query.limit)) {
    items.push_back(containerJson(container));
  }
  return jsonResponse({{"items", std::move(items)}});
}

}  // namespace

void addFleetRoutes(HttpRouter& router, const ApiContext& context) {
  const ApiContext* c = &context;
  auto route = [c](HttpResponse (*handler)(const ApiContext&, HttpRequest&)) -> HttpHandler {
    return [c, handler](HttpRequest& request) { return handler(*c, request); };
  };
  router.add("GET", "/api/v1/clusters", route(clustersRoute));
  router.add("GET", "/api/v1/nodes", route(nodesRoute));
  router.add("GET", "/api/v1/workloads", route(workloadsRoute));
  router.add("GET", "/api/v1/workloads/{namespace}/{name}", route(workloadRoute));
  router.add("GET", "/api/v1/containers", route(containersRoute));
}

}  // namespace fleetscale::aggregator
