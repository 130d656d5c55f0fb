// GET /metrics: every series of AggregatorMetrics in the Prometheus text format (docs/metrics.md).
#pragma once

#include "fleetscale/aggregator/api/http_api.h"

namespace fleetscale::aggregator {

void addMetricsRoutes(HttpRouter& router, const ApiContext& context);

}  // namespace fleetscale::aggregator
