#include "fleetscale/aggregator/api/http_api.h"

#include <cctype>

#include "fleetscale/aggregator/api/fleet_routes.h"
#include "fleetscale/aggregator/api/health_routes.h"
#include "fleetscale/aggregator/api/history_routes.h"
#include "fleetscale/aggregator/api/metrics_routes.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/shared/token.h"

namespace fleetscale::aggregator {

std::optional<std::string> bearerToken(std::string_view authorization) {
  // RFC 7235: credentials = auth-scheme 1*SP token68, the scheme compared without case.
  const auto space = authorization.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view scheme = authorization.substr(0, space);
  constexpr std::string_view kBearer = "bearer";
  if (scheme.size() != kBearer.size()) return std::nullopt;
  for (std::size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(scheme[i])) != kBearer[i]) return std::nullopt;
  }
  const std::string_view token = trim(authorization.substr(space + 1));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

HttpHandler requireAdmin(const AdminToken& token, HttpHandler handler) {
  return [&token, handler = std::move(handler)](HttpRequest& request) {
    const std::string expected = token.get();
    if (expected.empty()) {
      return HttpResponse::jsonError(403, "mutating endpoints are disabled: no --admin-token-file");
    }
    const auto given = bearerToken(request.header("authorization"));
    if (!given) {
      HttpResponse response = HttpResponse::jsonError(401, "admin token required");
      response.headers.emplace_back("WWW-Authenticate", "Bearer");
      return response;
    }
    if (!tokensEqual(expected, *given)) {
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
