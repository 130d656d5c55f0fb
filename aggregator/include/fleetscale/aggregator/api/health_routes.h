// Probes (docs/api.md):
//   GET /healthz   the process answers
//   GET /readyz    every listener is up and shutdown has not begun; with leader election the
//                  answer says who leads, and ?role=leader is ready only on the leader (for a
//                  Service that must reach the acting aggregator)
#pragma once

#include "fleetscale/aggregator/api/http_api.h"

namespace fleetscale::aggregator {

void addHealthRoutes(HttpRouter& router, const ApiContext& context);

}  // namespace fleetscale::aggregator
