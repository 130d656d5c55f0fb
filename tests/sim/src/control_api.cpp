#include "fleetscale/sim/control_api.h"

#include <memory>
#include <nlohmann/json.hpp>

#include "fleetscale/sim/fleet_simulator.h"

namespace fleetscale::sim {

HttpHandler makeControlHandler(FleetSimulator& simulator) {
  auto router = std::make_shared<HttpRouter>();
  router->add("GET", "/healthz", [](HttpRequest&) { return HttpResponse::text(200, "ok\n"); });
  router->add("GET", "/v1/state", [&simulator](HttpRequest&) {
    return HttpResponse::json(200, simulator.stateJson().dump());
  });
  router->add("GET", "/v1/endpoints", [&simulator](HttpRequest&) {
    return HttpResponse::json(200, simulator.endpointsJson().dump());
  });
  router->add("GET", "/v1/report", [&simulator](HttpRequest&) {
    return HttpResponse::json(200, simulator.reportJson().dump());
  });
  router->add("POST", "/v1/faults", [&simulator](HttpRequest& request) {
    auto fault = parseFault(request.body);
    if (!fault) return HttpResponse::jsonError(400, fault.error().message);
    if (Status status = simulator.inject(*fault); !status) {
      return HttpResponse::jsonError(409, status.message());
    }
    return HttpResponse::json(200, nlohmann::json{{"applied", std::string(toString(fault->kind))},
                                                  {"cluster", fault->cluster}}
                                       .dump());
  });
  router->add("POST", "/v1/finish", [&simulator](HttpRequest&) {
    simulator.requestFinish();
    return HttpResponse::json(200, R"({"finished":true})");
  });
  return [router](HttpRequest& request) { return router->handle(request); };
}

}  // namespace fleetscale::sim
