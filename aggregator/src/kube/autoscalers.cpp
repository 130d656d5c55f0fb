#include "fleetscale/aggregator/kube/autoscalers.h"

#include <nlohmann/json.hpp>

namespace fleetscale::aggregator {
namespace {

std::string stringAt(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

const nlohmann::json& objectAt(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  if (!object.is_object()) return kEmpty;
  const auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

}  // namespace

Result<std::vector<ForeignAutoscaler>> parseAutoscalerList(std::string_view json,
                                                           std::string_view kind) {
  const auto root = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (root.is_discarded() || !root.is_object()) {
    return Error{std::string(kind) + " list: not a JSON object"};
  }
  const auto items = root.find("items");
  if (items == root.end() || !(items->is_array() || items->is_null())) {
    return Error{std::string(kind) + " list: no items array"};
  }
  std::vector<ForeignAutoscaler> out;
  if (items->is_null()) return out;
  for (const auto& item : *items) {
    const auto& metadata = objectAt(item, "metadata");
    const auto& target = objectAt(objectAt(item, "spec"), "scaleTargetRef");
    ForeignAutoscaler autoscaler{std::string(kind), stringAt(metadata, "namespace"),
                                 stringAt(metadata, "name"), stringAt(target, "kind"),
                                 stringAt(target, "name")};
    if (autoscaler.targetName.empty()) continue;
    // KEDA's default target (its admission webhook fills it in the same way).
    if (autoscaler.targetKind.empty() && kind == "ScaledObject")
      autoscaler.targetKind = "Deployment";
    out.push_back(std::move(autoscaler));
  }
  return out;
}

}  // namespace fleetscale::aggregator
