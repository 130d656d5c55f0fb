#include "fleetscale/aggregator/api/health_routes.h"

#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/api/route_support.h"

namespace fleetscale::aggregator {

void addHealthRoutes(HttpRouter& router, const ApiContext& context) {
  const ApiContext* c = &context;
  router.add("GET", "/healthz", [](HttpRequest&) { return HttpResponse::text(200, "ok\n"); });
  router.add("GET", "/readyz", [c](HttpRequest& request) {
    // A store that cannot commit (full disk) holds every agent's acks back: not ready.
    const std::optional<std::string> storeError =
        c->store != nullptr ? c->store->writeError() : std::nullopt;
    if (!c->leadership) {
      if (!c->ready) return HttpResponse::text(503, "not ready\n");
      if (storeError) return HttpResponse::text(503, "not ready: store: " + *storeError + "\n");
      return HttpResponse::text(200, "ready\n");
    }
    nlohmann::json body = c->leadership();
    const bool wantLeader = request.queryParam("role") == "leader";
    const bool ready =
        c->ready && !storeError && (!wantLeader || body.value("role", "") == "leader");
    body["ready"] = ready;
    if (storeError) body["storeError"] = *storeError;
    return jsonResponse(body, ready ? 200 : 503);
  });
}

}  // namespace fleetscale::aggregator
