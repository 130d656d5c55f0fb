#include "fleetscale/aggregator/api/http_api.h"

#include "fleetscale/aggregator/api/fleet_routes.h"
#include "fleetscale/aggregator/api/health_routes.h"
#include "fleetscale/aggregator/api/history_routes.h"
#include "fleetscale/aggregator/api/metrics_routes.h"
#include "fleetscale/shared/token.h"

namespace fleetscale::aggregator {

HttpHandler requireAdmin(const AdminToken& token, HttpHandler handler) {
  return [&token, handler = std::move(handler)](HttpRequest& request) {
    const std::string expected = token.get();
    if (expected.empty()) {
      return HttpResponse::jsonError(403, "mutating endpoints are disabled: no --admin-token-file");
    }
    const std::string header = request.header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) {
      HttpResponse response = HttpResponse::jsonError(401, "admin token required");
      response.headers.emplace_back("WWW-Authenticate", "Bearer");
      return response;
    }
    if (!tokensEqual(expected, header.substr(kBearer.size()))) {
      return HttpResponse::jsonError(403, "wrong admin token");
    }
    return handler(request);
  };
}

void addApiRoutes(HttpRouter& router, const ApiContext& context) {
  addHealthRoutes(router, context);
  addMetricsRoutes(router, context);
  addFleetRoutes(router, context);
  addHistoryRoutes(router, context);
}

}  // namespace fleetscale::aggregator
