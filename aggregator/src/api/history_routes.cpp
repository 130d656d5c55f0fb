#include "fleetscale/aggregator/api/history_routes.h"

#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/api/route_support.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

json eventJson(const EventRecord& e) {
  return json{{"id", e.id},
              {"time_unix_ms", e.timeUnixMs},
              {"kind", e.kind},
              {"cluster", e.cluster},
              {"agent_id", e.agentId},
              {"workload", e.workload},
              {"message", e.message},
              {"details", json::parse(e.details, nullptr, false)}};
}

json decisionJson(const DecisionRecord& d) {
  return json{{"id", d.id},
              {"time_unix_ms", d.timeUnixMs},
              {"namespace", d.workload.namespaceName},
              {"kind", d.workload.kind},
              {"name", d.workload.name},
              {"current_replicas", d.currentReplicas},
              {"desired_replicas", d.desiredReplicas},
              {"reason", d.reason},
              {"details", json::parse(d.details, nullptr, false)}};
}

HttpResponse storeUnavailable() {
  return HttpResponse::jsonError(503, "the aggregator runs without a store");
}

HttpResponse decisionsRoute(const ApiContext& c, HttpRequest& request) {
  if (c.store == nullptr) return storeUnavailable();
  const auto query = parseListQuery(request, c.clock.wallNow());
  if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
  auto rows = c.store->decisions(DecisionQuery{request.queryParam("namespace"),
                                               request.queryParam("workload"), query.sinceUnixMs,
                                               query.limit});
  if (!rows) return HttpResponse::jsonError(500, rows.error().message);
  json items = json::array();
  for (const auto& row : *rows) items.push_back(decisionJson(row));
  return jsonResponse({{"items", std::move(items)}});
}

HttpResponse eventsRoute(const ApiContext& c, HttpRequest& request) {
  if (c.store == nullptr) return storeUnavailable();
  const auto query = parseListQuery(request, c.clock.wallNow());
  if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
  auto rows =
      c.store->events(EventQuery{request.queryParam("kind"), request.queryParam("cluster"),
                                 request.queryParam("agent"), query.sinceUnixMs, query.limit});
  if (!rows) return HttpResponse::jsonError(500, rows.error().message);
  json items = json::array();
  for (const auto& row : *rows) items.push_back(eventJson(row));
  return jsonResponse({{"items", std::move(items)}});
}

}  // namespace

void addHistoryRoutes(HttpRouter& router, const ApiContext& context) {
  const ApiContext* c = &context;
  router.add("GET", "/api/v1/decisions",
             [c](HttpRequest& request) { return decisionsRoute(*c, request); });
  router.add("GET", "/api/v1/events",
             [c](HttpRequest& request) { return eventsRoute(*c, request); });
}

}  // namespace fleetscale::aggregator
