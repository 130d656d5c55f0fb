#include "fleetscale/aggregator/api/metrics_routes.h"

namespace fleetscale::aggregator {

void addMetricsRoutes(HttpRouter& router, const ApiContext& context) {
  const AggregatorMetrics* metrics = &context.metrics;
  router.add("GET", "/metrics", [metrics](HttpRequest&) {
    HttpResponse response = HttpResponse::text(200, metrics->render());
    response.contentType = "text/plain; version=0.0.4; charset=utf-8";
    return response;
  });
}

}  // namespace fleetscale::aggregator
