#include "fleetscale/aggregator/api/scaling_routes.h"

#include <nlohmann/json.hpp>
#include <set>

#include "fleetscale/aggregator/api/route_support.h"
#include "fleetscale/aggregator/pipeline/decision_json.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

// `limit` caps the workloads and the clusters listed (drains are counted over every workload).
json statusJson(const ScalingApiContext& c, std::size_t limit) {
  json workloads = json::array();
  const auto statuses = c.scaling.status();
  for (const auto& w : statuses) {
    if (workloads.size() >= limit) break;
    json clusters = json::object();
    for (const auto& [name, r] : w.clusters) {
      clusters[name] = {{"desired", r.target},
                        {"current", r.current},
                        {"ready", r.ready},
                        {"lastResort", r.lastResort},
                        {"startupSeconds",
                         r.startupTime ? json(std::chrono::duration<double>(*r.startupTime).count())
                                       : json(nullptr)}};
    }
    json metrics = json::array();
    for (const auto& m : w.metrics) {
      metrics.push_back({{"name", m.name},
                         {"source", m.source},
                         {"type", m.type},
                         {"target", m.target},
                         {"current", m.current ? json(*m.current) : json(nullptr)},
                         {"proposedReplicas", m.proposal ? json(*m.proposal) : json(nullptr)}});
    }
    workloads.push_back(
        {{"namespace", w.namespaceName},
         {"name", w.name},
         {"kind", w.kind},
         {"minReplicas", w.minReplicas},
         {"maxReplicas", w.maxReplicas},
         {"currentReplicas", w.currentReplicas},
         {"desiredReplicas", w.desiredReplicas},
         {"unplacedReplicas", w.unplaced},
         {"unplacedReason", w.unplacedReason},
         {"clusters", std::move(clusters)},
         {"reason", w.reason},
         {"error", w.error},
         {"notes", w.notes},
         {"foreignAutoscalers", w.foreignAutoscalers},
         {"foreignAutoscalersPinned", w.foreignAutoscalersPinned},
         {"forecast", w.forecast ? forecastToJson(*w.forecast) : json(nullptr)},
         {"metrics", std::move(metrics)},
         {"decisionId", w.decisionId},
         {"decidedAt",
          w.decidedAt == WallTime{} ? json(nullptr) : json(formatRfc3339(w.decidedAt))}});
  }
  json clusters = json::array();
  json drains = json::array();
  for (const auto& cluster : c.clusters.status()) {
    if (cluster.draining) {
      const DrainProgress progress = drainProgress(statuses, cluster.name);
      drains.push_back({{"cluster", cluster.name},
                        {"workloads", progress.workloads},
                        {"workloadsDone", progress.workloadsDone},
                        {"replicasLeft", progress.replicasLeft},
                        {"readyLeft", progress.readyLeft},
                        {"complete", progress.complete()},
                        {"paused", progress.paused()},
                        {"pausedWorkloads", progress.pausedWorkloads}});
    }
    if (clusters.size() >= limit) continue;
    clusters.push_back({{"name", cluster.name},
                        {"cloud", cluster.cloud},
                        {"region", cluster.region},
                        {"state", std::string(scaling::healthStateName(cluster.health))},
                        {"since", formatRfc3339(cluster.healthSince)},
                        {"apiReachable", cluster.apiReachable},
                        {"hasApi", cluster.hasApi},
                        {"draining", cluster.draining},
                        {"error", cluster.error}});
  }
  json leadership =
      c.leadership ? c.leadership() : json{{"enabled", false}, {"role", "leader"}, {"term", 0}};
  const std::string role = leadership.value("role", "leader");
  return json{{"role", role},
              {"leadership", std::move(leadership)},
              {"workloads", std::move(workloads)},
              {"clusters", std::move(clusters)},
              {"drains", std::move(drains)},
              {"noClusterReachable", c.clusters.noClusterReachable()}};
}

HttpResponse statusRoute(const ScalingApiContext& c, const HttpRequest& request) {
  const auto query = parseListQuery(request, c.clock.wallNow(), kMaxLimit);
  if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
  return jsonResponse(statusJson(c, query.limit));
}

}  // namespace

bool setDraining(const ScalingApiContext& context, const std::string& cluster, bool draining) {
  if (!context.clusters.setDraining(cluster, draining)) return false;
  if (context.store != nullptr) {
    EventRecord event;
    event.timeUnixMs = toUnixMillis(context.clock.wallNow());
    event.kind = std::string(kEventClusterDrain);
    event.cluster = cluster;
    event.message =
        std::string(draining ? "drain" : "undrain") + " of cluster " + cluster + " requested";
    event.details = json{{"draining", draining}}.dump();
    context.store->recordEvent(std::move(event));
    // The drain outlives a crash right after the operator got the answer: restoreDrains reads it.
    context.store->flush();
  }
  return true;
}

void restoreDrains(ClusterRegistry& clusters, Store& store) {
  EventQuery query;
  query.kind = std::string(kEventClusterDrain);
  query.limit = 1000;
  auto events = store.events(query);  // newest first
  if (!events) return;
  std::set<std::string> seen;
  for (const auto& event : *events) {
    if (!seen.insert(event.cluster).second) continue;
    const auto details = json::parse(event.details, nullptr, false);
    if (details.is_object() && details.value("draining", false))
      clusters.setDraining(event.cluster, true);
  }
}

void addScalingRoutes(HttpRouter& router, const ScalingApiContext& context) {
  const ScalingApiContext* c = &context;
  router.add("GET", "/api/v1/status",
             [c](HttpRequest& request) { return statusRoute(*c, request); });
  router.add("POST", "/api/v1/reload", [c](HttpRequest&) {
    const Status status = c->reloadPolicy();
    if (!status) return HttpResponse::jsonError(400, status.message());
    return jsonResponse(json{{"reloaded", true}});
  });
  for (const bool draining : {true, false}) {
    router.add("POST",
               draining ? "/api/v1/clusters/{name}/drain" : "/api/v1/clusters/{name}/undrain",
               [c, draining](HttpRequest& request) {
                 const std::string& name = request.pathParams["name"];
                 if (!setDraining(*c, name, draining)) {
                   return HttpResponse::jsonError(
                       404, "no cluster " + singleQuoted(name) + " in the policy");
                 }
                 return jsonResponse(json{{"cluster", name}, {"draining", draining}});
               });
  }
}

void addAggregatorRoutes(HttpRouter& router, const ApiContext& api,
                         const ScalingApiContext& scaling) {
  addApiRoutes(router, api);
  addScalingRoutes(router, scaling);
}

}  // namespace fleetscale::aggregator
