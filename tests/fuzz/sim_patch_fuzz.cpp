// What the fake kube-apiserver reads from clients: PATCH bodies of every flavour applied to a
// Deployment (the first byte picks merge, strategic merge or JSON patch), Lease bodies, resource
// quantities, and recorded load CSV.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "fleetscale/sim/lease_object.h"
#include "fleetscale/sim/load_curve.h"
#include "fleetscale/sim/patch.h"
#include "fleetscale/sim/quantity.h"

namespace {

const nlohmann::json& deployment() {
  static const nlohmann::json object = nlohmann::json::parse(R"({
    "kind": "Deployment", "apiVersion": "apps/v1",
    "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7",
                 "labels": {"app": "web"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "app", "image": "web:1",
                                                   "resources": {"limits": {"cpu": "1"}}}]}}}})");
  return object;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  using fleetscale::sim::PatchType;
  constexpr PatchType kTypes[] = {PatchType::kMerge, PatchType::kStrategicMerge,
                                  PatchType::kJsonPatch};
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)fleetscale::sim::applyPatch(deployment(), body, kTypes[data[0] % 3]);
  const auto lease = fleetscale::sim::decodeLease(body, "fleetscale", data[0] % 2 ? "lock" : "");
  if (lease.ok() && !lease.object["metadata"].is_object()) __builtin_trap();
  if (auto quantity = fleetscale::sim::parseQuantity(body)) {
    if (*quantity < 0 || !std::isfinite(*quantity)) __builtin_trap();
    (void)fleetscale::sim::formatCpu(*quantity < 1e12 ? *quantity : 1e12);
    (void)fleetscale::sim::formatMemory(*quantity < 1e18 ? *quantity : 1e18);
  }
  if (auto points = fleetscale::sim::parseLoadCsv(body)) {
    for (std::size_t i = 1; i < points->size(); ++i) {
      if ((*points)[i].seconds <= (*points)[i - 1].seconds) __builtin_trap();  // times increase
    }
  }
  return 0;
}
