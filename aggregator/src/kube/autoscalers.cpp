#include "fleetscale/aggregator/kube/autoscalers.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>

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

// The kind of the owner reference marked as the object's controller, if any.
std::string controllerKind(const nlohmann::json& metadata) {
  const auto owners = metadata.find("ownerReferences");
  if (owners == metadata.end() || !owners->is_array()) return "";
  for (const auto& owner : *owners) {
    const auto controller = owner.is_object() ? owner.find("controller") : owner.end();
    if (controller != owner.end() && controller->is_boolean() && controller->get<bool>()) {
      return stringAt(owner, "kind");
    }
  }
  return "";
}

// An integer field of `spec`, or `fallback` when absent; nullopt when it is not an int32.
std::optional<std::int32_t> int32At(const nlohmann::json& spec, const char* key,
                                    std::int32_t fallback) {
  const auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) return std::nullopt;
  const auto value = it->get<std::int64_t>();
  if (value < 0 || value > INT32_MAX) return std::nullopt;
  return static_cast<std::int32_t>(value);
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
    ForeignAutoscaler autoscaler{std::string(kind),          stringAt(metadata, "namespace"),
                                 stringAt(metadata, "name"), stringAt(target, "kind"),
                                 stringAt(target, "name"),   controllerKind(metadata)};
    if (autoscaler.targetName.empty()) continue;
    // KEDA's default target (its admission webhook fills it in the same way).
    if (autoscaler.targetKind.empty() && kind == "ScaledObject")
      autoscaler.targetKind = "Deployment";
    out.push_back(std::move(autoscaler));
  }
  return out;
}

Result<std::optional<std::string>> pinAutoscaler(std::string_view body, std::string_view kind,
                                                 std::int32_t replicas) {
  auto object = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  const std::string what(kind);
  if (object.is_discarded() || !object.is_object() || stringAt(object, "kind") != kind ||
      !object.contains("metadata") || !object["metadata"].is_object() || !object.contains("spec") ||
      !object["spec"].is_object()) {
    return Error{"not a " + what + " object"};
  }
  auto& metadata = object["metadata"];
  if (!metadata.contains("annotations") || !metadata["annotations"].is_object()) {
    metadata["annotations"] = nlohmann::json::object();
  }
  auto& annotations = metadata["annotations"];
  const std::string count = std::to_string(replicas);
  if (kind == "ScaledObject") {
    if (stringAt(annotations, std::string(kKedaPausedReplicasAnnotation).c_str()) == count) {
      return std::optional<std::string>();
    }
    annotations[std::string(kKedaPausedReplicasAnnotation)] = count;
    return std::optional<std::string>(object.dump());
  }
  if (replicas < 1) {
    return Error{"an HPA's minReplicas cannot be " + count + ": scale it through its target"};
  }
  auto& spec = object["spec"];
  const auto min = int32At(spec, "minReplicas", 1);
  const auto max = int32At(spec, "maxReplicas", 0);
  if (!min || !max) return Error{what + ": minReplicas or maxReplicas is not a replica count"};
  if (*min == replicas && *max == replicas) return std::optional<std::string>();
  // Its own bounds, the first time only: a second pin must not record fleetscale's.
  for (const auto& [key, value] : {std::pair{kOriginalMinReplicasAnnotation, *min},
                                   std::pair{kOriginalMaxReplicasAnnotation, *max}}) {
    if (!annotations.contains(std::string(key))) {
      annotations[std::string(key)] = std::to_string(value);
    }
  }
  spec["minReplicas"] = replicas;
  spec["maxReplicas"] = replicas;
  return std::optional<std::string>(object.dump());
}

}  // namespace fleetscale::aggregator
