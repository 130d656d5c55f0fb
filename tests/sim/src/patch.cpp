#include "fleetscale/sim/patch.h"

#include <algorithm>
#include <string>

#include "fleetscale/shared/text.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

// The patchMergeKey Kubernetes declares for the lists a workload carries; other lists are
// replaced whole.
std::string_view mergeKeyOf(std::string_view field) {
  if (field == "containers" || field == "initContainers" || field == "ephemeralContainers" ||
      field == "env" || field == "volumes" || field == "imagePullSecrets") {
    return "name";
  }
  if (field == "ports") return "containerPort";
  if (field == "volumeMounts") return "mountPath";
  if (field == "conditions") return "type";
  return {};
}

json mergeList(const json& target, const json& patch, std::string_view key) {
  json result = target;
  for (const auto& item : patch) {
    if (!item.is_object() || !item.contains(key)) {
      return patch;  // not keyed: the patch list replaces the original
    }
    const json& id = item[std::string(key)];
    auto it = std::find_if(result.begin(), result.end(), [&](const json& existing) {
      return existing.is_object() && existing.contains(key) && existing[std::string(key)] == id;
    });
    const bool remove = item.value("$patch", std::string()) == "delete";
    if (it == result.end()) {
      if (!remove) {
        json added = item;
        added.erase("$patch");
        result.push_back(std::move(added));
      }
    } else if (remove) {
      result.erase(it);
    } else {
      *it = strategicMerge(*it, item);
    }
  }
  return result;
}

}  // namespace

PatchType patchTypeOf(std::string_view contentType) {
  const std::string_view type = trim(contentType.substr(0, contentType.find(';')));
  if (type == "application/merge-patch+json") return PatchType::kMerge;
  if (type == "application/strategic-merge-patch+json") return PatchType::kStrategicMerge;
  if (type == "application/json-patch+json") return PatchType::kJsonPatch;
  if (type == "application/apply-patch+yaml" || type == "application/apply-patch+cbor") {
    return PatchType::kApply;
  }
  return PatchType::kUnknown;
}

json strategicMerge(const json& target, const json& patch) {
  if (!patch.is_object()) return patch;
  if (patch.value("$patch", std::string()) == "replace") {
    json replaced = patch;
    replaced.erase("$patch");
    return replaced;
  }
  json result = target.is_object() ? target : json::object();
  for (const auto& [key, value] : patch.items()) {
    // Directives ($setElementOrder/..., $retainKeys, $deleteFromPrimitiveList/...) order or
    // prune lists kubectl apply computed; without them the merge result is the same here.
    if (!key.empty() && key.front() == '$') continue;
    if (value.is_null()) {
      result.erase(key);
    } else if (value.is_object() && result.contains(key) && result[key].is_object()) {
      result[key] = strategicMerge(result[key], value);
    } else if (value.is_array() && result.contains(key) && result[key].is_array() &&
               !mergeKeyOf(key).empty()) {
      result[key] = mergeList(result[key], value, mergeKeyOf(key));
    } else {
      result[key] = strategicMerge(json(), value);
    }
  }
  return result;
}

Result<json> applyPatch(const json& target, std::string_view patchText, PatchType type) {
  if (type == PatchType::kApply) return Error{"server-side apply is not supported"};
  if (type == PatchType::kUnknown) return Error{"unsupported patch content type"};
  const json patch = json::parse(patchText, nullptr, false);
  if (patch.is_discarded()) return Error{"the patch is not valid JSON"};
  try {
    switch (type) {
      case PatchType::kMerge: {
        if (!patch.is_object()) return Error{"a merge patch must be a JSON object"};
        json result = target;
        result.merge_patch(patch);
        return result;
      }
      case PatchType::kStrategicMerge:
        if (!patch.is_object()) return Error{"a strategic merge patch must be a JSON object"};
        return strategicMerge(target, patch);
      case PatchType::kJsonPatch:
        if (!patch.is_array()) return Error{"a JSON patch must be an array of operations"};
        return target.patch(patch);
      default:
        break;
    }
  } catch (const json::exception& e) {
    return Error{std::string("the patch could not be applied: ") + e.what()};
  }
  return Error{"unsupported patch content type"};
}

}  // namespace fleetscale::sim
