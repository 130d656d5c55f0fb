#include "fleetscale/aggregator/http_api.h"

#include <nlohmann/json.hpp>

#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

json optionalNumber(bool present, double value) { return present ? json(value) : json(nullptr); }

json nodeJson(const NodeSnapshot& node) {
  const auto& t = node.totals;
  return json{{"agent_id", node.identity.agentId},
              {"node", node.identity.node},
              {"cluster", node.identity.cluster},
              {"cloud", node.identity.cloud},
              {"region", node.identity.region},
              {"zone", node.identity.zone},
              {"agent_version", node.identity.agentVersion},
              {"connected", node.connected},
              {"last_sequence", node.lastSequence},
              {"last_seen_unix_ms", toUnixMillis(node.lastSeen)},
              {"containers", node.containers},
              {"cpu_capacity_cores", t.cpu_capacity_cores()},
              {"cpu_usage_cores", optionalNumber(t.has_cpu_usage_cores(), t.cpu_usage_cores())},
              {"memory_capacity_bytes", t.memory_capacity_bytes()},
              {"memory_usage_bytes", t.memory_usage_bytes()}};
}

json containerJson(const ContainerSnapshot& container) {
  const auto& s = container.sample;
  const auto& m = s.metadata();
  return json{{"cluster", container.cluster},
              {"node", container.node},
              {"id", s.id()},
              {"cgroup", s.cgroup()},
              {"runtime", s.runtime()},
              {"namespace", m.namespace_()},
              {"pod", m.pod()},
              {"pod_uid", m.pod_uid()},
              {"container", m.container()},
              {"workload_kind", m.workload_kind()},
              {"workload", m.workload()},
              {"last_seen_unix_ms", toUnixMillis(container.lastSeen)},
              {"cpu_cores", optionalNumber(s.has_cpu_cores(), s.cpu_cores())},
              {"cpu_limit_cores", optionalNumber(s.has_cpu_limit_cores(), s.cpu_limit_cores())},
              {"memory_usage_bytes", s.memory_usage_bytes()},
              {"memory_working_set_bytes", s.memory_working_set_bytes()},
              {"memory_limit_bytes",
               s.has_memory_limit_bytes() ? json(s.memory_limit_bytes()) : json(nullptr)}};
}

}  // namespace

void addApiRoutes(HttpRouter& router, const ApiContext& context) {
  router.add("GET", "/healthz", [](HttpRequest&) { return HttpResponse::text(200, "ok\n"); });
  router.add("GET", "/readyz", [&context](HttpRequest&) {
    return context.ready ? HttpResponse::text(200, "ready\n")
                         : HttpResponse::text(503, "not ready\n");
  });
  router.add("GET", "/metrics", [&context](HttpRequest&) {
    HttpResponse response = HttpResponse::text(200, context.metrics.render(context.fleet));
    response.contentType = "text/plain; version=0.0.4; charset=utf-8";
    return response;
  });
  router.add("GET", "/api/v1/nodes", [&context](HttpRequest&) {
    json items = json::array();
    for (const auto& node : context.fleet.nodes()) items.push_back(nodeJson(node));
    return HttpResponse::json(200, json{{"items", std::move(items)}}.dump());
  });
  router.add("GET", "/api/v1/containers", [&context](HttpRequest& request) {
    ContainerFilter filter{request.queryParam("cluster"), request.queryParam("node"),
                           request.queryParam("namespace"), request.queryParam("workload")};
    json items = json::array();
    for (const auto& container : context.fleet.containers(filter)) {
      items.push_back(containerJson(container));
    }
    return HttpResponse::json(200, json{{"items", std::move(items)}}.dump());
  });
}

}  // namespace fleetscale::aggregator
