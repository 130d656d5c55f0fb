// The coordination.k8s.io/v1 Leases one simulated API server stores, with the API server's write
// semantics: create answers 409 AlreadyExists for a taken name; update is optimistic (a stale
// metadata.resourceVersion is a 409 Conflict, none at all an unconditional write, as Leases
// allow) and keeps server-owned metadata; a write that changes nothing keeps the
// resourceVersion, any other takes a new one from the cluster's sequence; delete honours
// preconditions. Pure: time and resourceVersions are passed in. Not thread-safe; the simulator
// guards it with the fleet mutex.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "fleetscale/sim/cluster_model.h"
#include "fleetscale/sim/ids.h"

namespace fleetscale::sim {

class LeaseStore {
 public:
  // Hands out the next resourceVersion of the cluster (one sequence for every kind, as etcd's
  // revision is); called once per successful write.
  using NextVersion = std::function<std::uint64_t()>;

  explicit LeaseStore(std::uint64_t seed) : ids_(seed) {}

  // Stored leases in (namespace, name) order; `namespaceName` "" = every namespace.
  std::vector<nlohmann::json> list(const std::string& namespaceName) const;
  const nlohmann::json* find(const std::string& namespaceName, const std::string& name) const;

  // `body` as decodeLease() returns it. Returns the stored lease (201 on the wire).
  ApiResult create(const std::string& namespaceName, const nlohmann::json& body, WallTime now,
                   const NextVersion& nextVersion);
  ApiResult update(const std::string& namespaceName, const std::string& name,
                   const nlohmann::json& body, const NextVersion& nextVersion);
  // `options` is the request's DeleteOptions ({"preconditions": {"uid", "resourceVersion"}}), or
  // null. Returns the deleted lease.
  ApiResult remove(const std::string& namespaceName, const std::string& name,
                   const nlohmann::json& options, const NextVersion& nextVersion);

 private:
  IdGenerator ids_;
  std::map<std::pair<std::string, std::string>, nlohmann::json> leases_;
};

}  // namespace fleetscale::sim
