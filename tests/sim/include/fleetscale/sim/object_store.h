// The objects of one kind one simulated API server stores whole (Leases,
// HorizontalPodAutoscalers, ScaledObjects), with the API server's write semantics: create
// answers 409 AlreadyExists for a taken name; update is optimistic (a stale
// metadata.resourceVersion is a 409 Conflict; none at all an unconditional write where the kind
// allows it, a 422 where it does not) and keeps server-owned metadata; a write that changes
// nothing keeps the resourceVersion, any other takes a new one from the cluster's sequence;
// metadata.generation counts spec changes for the kinds that have one; delete honours
// preconditions. What the object may contain is the decoder's business (decodeLease, ...), not
// the store's. Pure: time and resourceVersions are passed in. Not thread-safe; the simulator
// guards it with the fleet mutex.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "fleetscale/sim/api_resource.h"
#include "fleetscale/sim/cluster_model.h"
#include "fleetscale/sim/ids.h"

namespace fleetscale::sim {

class ObjectStore {
 public:
  // Hands out the next resourceVersion of the cluster (one sequence for every kind, as etcd's
  // revision is); called once per successful write.
  using NextVersion = std::function<std::uint64_t()>;

  ObjectStore(const ResourceType& type, std::uint64_t seed) : type_(type), ids_(seed) {}

  const ResourceType& type() const { return type_; }

  // Stored objects in (namespace, name) order; `namespaceName` "" = every namespace.
  std::vector<nlohmann::json> list(const std::string& namespaceName) const;
  const nlohmann::json* find(const std::string& namespaceName, const std::string& name) const;

  // `body` as the kind's decoder returns it. Returns the stored object (201 on the wire).
  ApiResult create(const std::string& namespaceName, const nlohmann::json& body, WallTime now,
                   const NextVersion& nextVersion);
  ApiResult update(const std::string& namespaceName, const std::string& name,
                   const nlohmann::json& body, const NextVersion& nextVersion);
  // `options` is the request's DeleteOptions ({"preconditions": {"uid", "resourceVersion"}}), or
  // null. Returns the deleted object.
  ApiResult remove(const std::string& namespaceName, const std::string& name,
                   const nlohmann::json& options, const NextVersion& nextVersion);

 private:
  ResourceType type_;
  IdGenerator ids_;
  std::map<std::pair<std::string, std::string>, nlohmann::json> objects_;
};

}  // namespace fleetscale::sim
