#include "fleetscale/aggregator/api/http_api.h"

#include "fleetscale/aggregator/api/fleet_routes.h"
#include "fleetscale/aggregator/api/health_routes.h"
#include "fleetscale/aggregator/api/history_routes.h"
#include "fleetscale/aggregator/api/metrics_routes.h"

namespace fleetscale::aggregator {

void addApiRoutes(HttpRouter& router, const ApiContext& context) {
  addHealthRoutes(router, context);
  addMetricsRoutes(router, context);
  addFleetRoutes(router, context);
  addHistoryRoutes(router, context);
}

}  // namespace fleetscale::aggregator
