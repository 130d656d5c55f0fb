#include "fleetscale/sim/object_store.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

// "Precondition failed: UID in precondition: a, UID in object meta: b" when `field` is set in
// `expected` and differs from `actual`.
std::string preconditionFailure(const json& expected, const char* field, const char* label,
                                const std::string& actual) {
  if (!expected.is_object() || !expected.contains(field) || !expected[field].is_string()) return "";
  const std::string wanted = expected[field].get<std::string>();
  if (wanted.empty() || wanted == actual) return "";
  return std::string("Precondition failed: ") + label + " in precondition: " + wanted + ", " +
         label + " in object meta: " + actual;
}

// The object without what the generation does not count: metadata and status.
json withoutMetadataAndStatus(json object) {
  object.erase("metadata");
  object.erase("status");
  return object;
}

}  // namespace

std::vector<json> ObjectStore::list(const std::string& namespaceName) const {
  std::vector<json> out;
  for (const auto& [key, object] : objects_) {
    if (namespaceName.empty() || key.first == namespaceName) out.push_back(object);
  }
  return out;
}

const json* ObjectStore::find(const std::string& namespaceName, const std::string& name) const {
  const auto it = objects_.find({namespaceName, name});
  return it == objects_.end() ? nullptr : &it->second;
}

ApiResult ObjectStore::create(const std::string& namespaceName, const json& body, WallTime now,
                              const NextVersion& nextVersion) {
  json object = body;
  json& meta = object["metadata"];
  if (meta.contains("resourceVersion")) {
    // The etcd store's answer (storage.ErrResourceVersionSetOnCreate).
    return ApiResult::fail({500, "InternalError",
                            "Internal error occurred: resourceVersion should not be set on objects "
                            "to be created",
                            json::object()});
  }
  if (!meta.contains("name"))
    meta["name"] = meta["generateName"].get<std::string>() + ids_.podSuffix();
  const std::string name = meta["name"].get<std::string>();
  if (objects_.contains({namespaceName, name})) {
    return ApiResult::fail(objectAlreadyExists(type_, name));
  }
  meta["uid"] = ids_.uid();
  meta["resourceVersion"] = std::to_string(nextVersion());
  meta["creationTimestamp"] = rfc3339(now);
  if (type_.tracksGeneration) {
    meta["generation"] = 1;
  } else {
    meta.erase("generation");
  }
  objects_[{namespaceName, name}] = object;
  return ApiResult{std::nullopt, std::move(object)};
}

ApiResult ObjectStore::update(const std::string& namespaceName, const std::string& name,
                              const json& body, const NextVersion& nextVersion) {
  const auto it = objects_.find({namespaceName, name});
  // No create on update: no kind served here allows it.
  if (it == objects_.end()) return ApiResult::fail(objectNotFound(type_, name));
  json& current = it->second;
  const json& currentMeta = current["metadata"];
  const json& sentMeta = body["metadata"];
  if (const std::string failure =
          preconditionFailure(sentMeta, "uid", "UID", currentMeta["uid"].get<std::string>());
      !failure.empty()) {
    return ApiResult::fail(objectConflict(type_, name, failure));
  }
  if (!type_.allowUnconditionalUpdate && !sentMeta.contains("resourceVersion")) {
    // The generic registry's answer (the resourceVersion printed as Go's %#v of uint64 0).
    return ApiResult::fail(objectInvalid(
        type_, name,
        {invalidField("metadata.resourceVersion", "0x0", "must be specified for an update")}));
  }
  if (sentMeta.contains("resourceVersion") &&
      sentMeta["resourceVersion"] != currentMeta["resourceVersion"]) {
    return ApiResult::fail(objectConflict(type_, name));
  }
  json next = body;
  json& nextMeta = next["metadata"];
  nextMeta.erase("generateName");
  nextMeta.erase("generation");
  for (const char* field :
       {"uid", "creationTimestamp", "resourceVersion", "generateName", "generation"}) {
    if (currentMeta.contains(field)) nextMeta[field] = currentMeta[field];
  }
  if (next == current) return ApiResult{std::nullopt, current};  // a no-op keeps its version
  if (type_.tracksGeneration &&
      withoutMetadataAndStatus(next) != withoutMetadataAndStatus(current)) {
    nextMeta["generation"] = currentMeta.value("generation", 0) + 1;
  }
  nextMeta["resourceVersion"] = std::to_string(nextVersion());
  current = std::move(next);
  return ApiResult{std::nullopt, current};
}

ApiResult ObjectStore::remove(const std::string& namespaceName, const std::string& name,
                              const json& options, const NextVersion& nextVersion) {
  const auto it = objects_.find({namespaceName, name});
  if (it == objects_.end()) return ApiResult::fail(objectNotFound(type_, name));
  const json& meta = it->second["metadata"];
  const json preconditions =
      options.is_object() && options.contains("preconditions") ? options["preconditions"] : json();
  for (const auto& [field, label] :
       {std::pair{"uid", "UID"}, std::pair{"resourceVersion", "ResourceVersion"}}) {
    if (const std::string failure =
            preconditionFailure(preconditions, field, label, meta[field].get<std::string>());
        !failure.empty()) {
      return ApiResult::fail(objectConflict(type_, name, failure));
    }
  }
  json deleted = std::move(it->second);
  objects_.erase(it);
  nextVersion();  // a deletion is a write
  return ApiResult{std::nullopt, std::move(deleted)};
}

}  // namespace fleetscale::sim
