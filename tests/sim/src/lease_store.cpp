#include "fleetscale/sim/lease_store.h"

#include "fleetscale/sim/lease_object.h"

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

}  // namespace

std::vector<json> LeaseStore::list(const std::string& namespaceName) const {
  std::vector<json> out;
  for (const auto& [key, lease] : leases_) {
    if (namespaceName.empty() || key.first == namespaceName) out.push_back(lease);
  }
  return out;
}

const json* LeaseStore::find(const std::string& namespaceName, const std::string& name) const {
  const auto it = leases_.find({namespaceName, name});
  return it == leases_.end() ? nullptr : &it->second;
}

ApiResult LeaseStore::create(const std::string& namespaceName, const json& body, WallTime now,
                             const NextVersion& nextVersion) {
  json lease = body;
  json& meta = lease["metadata"];
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
  if (leases_.contains({namespaceName, name})) return ApiResult::fail(leaseAlreadyExists(name));
  meta["uid"] = ids_.uid();
  meta["resourceVersion"] = std::to_string(nextVersion());
  meta["creationTimestamp"] = rfc3339(now);
  leases_[{namespaceName, name}] = lease;
  return ApiResult{std::nullopt, std::move(lease)};
}

ApiResult LeaseStore::update(const std::string& namespaceName, const std::string& name,
                             const json& body, const NextVersion& nextVersion) {
  const auto it = leases_.find({namespaceName, name});
  if (it == leases_.end()) return ApiResult::fail(leaseNotFound(name));  // no create on update
  json& current = it->second;
  const json& currentMeta = current["metadata"];
  const json& sentMeta = body["metadata"];
  if (const std::string failure =
          preconditionFailure(sentMeta, "uid", "UID", currentMeta["uid"].get<std::string>());
      !failure.empty()) {
    return ApiResult::fail(leaseConflict(name, failure));
  }
  if (sentMeta.contains("resourceVersion") &&
      sentMeta["resourceVersion"] != currentMeta["resourceVersion"]) {
    return ApiResult::fail(leaseConflict(name));
  }
  json next = body;
  json& nextMeta = next["metadata"];
  nextMeta.erase("generateName");
  for (const char* field : {"uid", "creationTimestamp", "resourceVersion", "generateName"}) {
    if (currentMeta.contains(field)) nextMeta[field] = currentMeta[field];
  }
  if (next == current) return ApiResult{std::nullopt, current};  // a no-op keeps its version
  nextMeta["resourceVersion"] = std::to_string(nextVersion());
  current = std::move(next);
  return ApiResult{std::nullopt, current};
}

ApiResult LeaseStore::remove(const std::string& namespaceName, const std::string& name,
                             const json& options, const NextVersion& nextVersion) {
  const auto it = leases_.find({namespaceName, name});
  if (it == leases_.end()) return ApiResult::fail(leaseNotFound(name));
  const json& meta = it->second["metadata"];
  const json preconditions =
      options.is_object() && options.contains("preconditions") ? options["preconditions"] : json();
  for (const auto& [field, label] :
       {std::pair{"uid", "UID"}, std::pair{"resourceVersion", "ResourceVersion"}}) {
    if (const std::string failure =
            preconditionFailure(preconditions, field, label, meta[field].get<std::string>());
        !failure.empty()) {
      return ApiResult::fail(leaseConflict(name, failure));
    }
  }
  json deleted = std::move(it->second);
  leases_.erase(it);
  nextVersion();  // a deletion is a write
  return ApiResult{std::nullopt, std::move(deleted)};
}

}  // namespace fleetscale::sim
