// What the store recorded (docs/api.md); 503 when the aggregator runs without a store:
//   GET /api/v1/decisions   scaling decisions with their explanation (?namespace= ?workload=)
//   GET /api/v1/events      events (?kind= ?cluster= ?agent=)
// Both take ?since= and ?limit=, newest first.
#pragma once

#include "fleetscale/aggregator/api/http_api.h"

namespace fleetscale::aggregator {

void addHistoryRoutes(HttpRouter& router, const ApiContext& context);

}  // namespace fleetscale::aggregator
