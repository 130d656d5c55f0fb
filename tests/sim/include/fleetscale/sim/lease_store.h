// The coordination.k8s.io/v1 Leases one simulated API server stores (object_store.h has the
// semantics): leader election writes them with or without a resourceVersion.
#pragma once

#include "fleetscale/sim/lease_object.h"
#include "fleetscale/sim/object_store.h"

namespace fleetscale::sim {

class LeaseStore : public ObjectStore {
 public:
  explicit LeaseStore(std::uint64_t seed) : ObjectStore(kLeaseResource, seed) {}
};

}  // namespace fleetscale::sim
