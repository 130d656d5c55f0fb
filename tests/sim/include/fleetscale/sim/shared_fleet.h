// What the simulator's servers share: the fleet model behind one mutex, the clock that turns
// steady time into simulation time, the bearer tokens each cluster accepts, and the log of
// every write the API servers received.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/shared/clock.h"
#include "fleetscale/sim/fleet_model.h"
#include "fleetscale/sim/lease_store.h"

namespace fleetscale::sim {

// Simulation time from a Clock: zero when the simulation starts. Thread-safe (read-only).
class SimClock {
 public:
  explicit SimClock(const Clock& clock)
      : clock_(clock), start_(clock.now()), origin_(clock.wallNow()) {}
  SimTime now() const { return std::chrono::duration_cast<SimTime>(clock_.now() - start_); }
  WallTime origin() const { return origin_; }

 private:
  const Clock& clock_;
  SteadyTime start_;
  WallTime origin_;
};

// The fleet model and the mutex every reader and writer takes.
struct SharedFleet {
  // `podMetricsPort`: where the pods' metrics endpoints are served (pod_metrics.h).
  // Every workload's `foreign-autoscaler` is in its clusters' stores from the start.
  SharedFleet(const Scenario& scenario, const Clock& source, std::uint16_t podMetricsPort = 0);
  const SimClock clock;
  std::mutex mutex;
  FleetModel model;  // guarded by mutex
  // coordination.k8s.io Leases by cluster, guarded by mutex. Kept apart from the model, which
  // knows nothing of them; they outlive a killed cluster, as etcd's data does.
  std::map<std::string, LeaseStore> leases;
  // Other autoscalers' objects by cluster (autoscaler_objects.h), guarded by mutex; kept like
  // the leases.
  std::map<std::string, ObjectStore> horizontalPodAutoscalers;
  std::map<std::string, ObjectStore> scaledObjects;
  // LimitRanges and ResourceQuotas by cluster (admission_objects.h), guarded by mutex; kept like
  // the leases. The pods/resize handler enforces them, and so do the clusters' controllers when
  // they create pods (ClusterModel::setPodAdmission).
  std::map<std::string, ObjectStore> limitRanges;
  std::map<std::string, ObjectStore> resourceQuotas;

  // The store of `type` (a Lease, HorizontalPodAutoscaler, ScaledObject, LimitRange or
  // ResourceQuota) in `cluster`, or nullptr. Call with mutex held.
  ObjectStore* objectStore(const ResourceType& type, const std::string& cluster);
};

// What a bearer token may do. Kubernetes' RBAC, cut down to the four parties the simulation
// has: an administrator (kubectl), the aggregator (reads and scales workloads), the agents
// (read the kubelet and the API) and a token bound to no role at all.
enum class Role { kAdmin, kController, kAgent, kNone };

struct Identity {
  std::string user;  // "system:serviceaccount:fleetscale:fleetscale-agent", ...
  Role role = Role::kNone;
};

// Bearer tokens a cluster accepts. Thread-safe: every request reads it (under a shared lock,
// uncontended but for the rare rotation), and the clock loop adds and revokes expiring tokens.
class TokenBook {
 public:
  void add(const std::string& token, Identity identity);
  // The identity for an Authorization header ("Bearer <token>"), or nullopt. A copy: the token
  // may be revoked while the request is still being answered.
  std::optional<Identity> authenticate(std::string_view authorization) const;
  // The token issued for a role (the lexically first of its tokens), or "".
  std::string tokenFor(Role role) const;
  // Who a verified client certificate with this common name is. As in Kubernetes the CN is the
  // user name: a user some token also belongs to gets that identity's rights, anyone else is
  // authenticated with no rights at all.
  Identity certificateIdentity(std::string_view commonName) const;
  // Stops accepting `token`: from the return on, requests with it are answered 401, as an
  // expired token is. False when the book does not have it.
  bool revoke(const std::string& token);
  // Whether the Authorization header carries a token this book revoked (one of the last
  // kRememberedRevocations), so a 401 can be told apart from a token that never was valid.
  bool wasRevoked(std::string_view authorization) const;

  static constexpr std::size_t kRememberedRevocations = 16;

 private:
  mutable std::shared_mutex mutex_;
  std::map<std::string, Identity, std::less<>> tokens_;  // guarded by mutex_
  std::deque<std::string> revoked_;                      // guarded by mutex_, oldest first
};

// RBAC decisions. `verb` is get, list, update, patch, ...; `resource` may carry a subresource
// ("deployments/scale"). Leases are the aggregator's leader election: the controller may get,
// list, watch, create and update them (what client-go's leader election needs), the agents may
// not touch them. Other autoscalers' HorizontalPodAutoscalers and ScaledObjects are the
// controller's to read (get, list, watch: it must leave a workload they target alone), never to
// write; only the administrator creates, changes or deletes them. pods/resize (in-place resize)
// is the controller's to get, patch and update; the agents may not touch it.
bool mayAccessApi(Role role, std::string_view verb, std::string_view resource);
// The kubelet's /pods is nodes/proxy in RBAC terms.
bool mayAccessKubelet(Role role);

// One mutating request an API server received, whatever its outcome.
struct WriteRecord {
  std::string cluster;
  double seconds = 0;  // simulation time
  std::string method;
  std::string path;
  std::string user;  // "" when unauthenticated
  std::string contentType;
  std::string userAgent;  // the User-Agent header ("fleetscale-aggregator/0.1.0 aggregator-0")
  // The X-Fleetscale-Fencing-Token header as sent: the acting leader's term, in decimal; "" when
  // absent. Lets a test check that every write came from the leader of the moment.
  std::string fencingToken;
  int status = 0;
  // "namespace/name" when the target was a workload or an object stored whole (Lease, ...)
  std::string workload;
  std::string kind;  // Deployment, StatefulSet, Lease, HorizontalPodAutoscaler, ScaledObject
  std::optional<int> replicasBefore;
  std::optional<int> replicasAfter;
  std::string body;  // first 4 KiB
};

nlohmann::json toJson(const WriteRecord& record);

// Append-only, thread-safe. With a file set, each record is also appended to it as one JSON line.
class WriteLog {
 public:
  void setFile(std::string path);
  void append(WriteRecord record);
  std::vector<WriteRecord> records() const;
  // Records from `index` on; for incremental readers.
  std::vector<WriteRecord> recordsFrom(std::size_t index) const;

 private:
  mutable std::mutex mutex_;
  std::vector<WriteRecord> records_;
  std::string file_;
};

}  // namespace fleetscale::sim
