#include "fleetscale/aggregator/api/health_routes.h"

#include <nlohmann/json.hpp>

namespace fleetscale::aggregator {

void addHealthRoutes(HttpRouter& router, const ApiContext& context) {
  const ApiContext* c = &context;
  router.add("GET", "/healthz", [](HttpRequest&) { return HttpResponse::text(200, "ok\n"); });
  router.add("GET", "/readyz", [c](HttpRequest& request) {
    if (!c->leadership) {
      return c->ready ? HttpResponse::text(200, "ready\n") : HttpResponse::text(503, "not ready\n");
    }
    nlohmann::json body = c->leadership();
    const bool wantLeader = request.queryParam("role") == "leader";
    const bool ready = c->ready && (!wantLeader || body.value("role", "") == "leader");
    body["ready"] = ready;
    return HttpResponse::json(ready ? 200 : 503, body.dump());
  });
}

}  // namespace fleetscale::aggregator
