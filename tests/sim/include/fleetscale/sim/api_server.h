// A fake kube-apiserver for one simulated cluster: HTTPS on loopback, bearer-token auth (401
// without a valid token, 403 for one without the rights), discovery (/version, /api, /apis,
// /apis/apps/v1, /apis/coordination.k8s.io/v1, /apis/autoscaling/v2, /apis/keda.sh/v1alpha1),
// Deployments and StatefulSets (GET, LIST, PUT, PATCH and the autoscaling/v1 scale subresource)
// with resourceVersion preconditions, coordination.k8s.io/v1 Leases (leader election),
// autoscaling/v2 HorizontalPodAutoscalers and keda.sh/v1alpha1 ScaledObjects (other
// autoscalers' objects, which nothing acts on) with GET, LIST, POST, PUT, PATCH and DELETE, pods,
// nodes and namespaces (read-only; pods' resources change through pods/{name}/resize, with the
// in-place resize semantics of Kubernetes 1.33+),
// server-side printing Tables for kubectl, Status objects for every error, /readyz and /livez,
// and a log of every write. Faults: latency, 5xx, 409 storms, unreachable (stop/start), the
// resize subresource missing (404) or forbidden (403).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "fleetscale/shared/http_server.h"
#include "fleetscale/sim/loopback_server.h"
#include "fleetscale/sim/shared_fleet.h"

namespace fleetscale::sim {

struct ApiFaults {
  std::chrono::milliseconds latency{0};
  double errorRate = 0;     // share of requests answered with errorStatus
  int errorStatus = 503;    // 500, 503, 429, 504
  double conflictRate = 0;  // share of writes answered 409 Conflict
  // pods/{name}/resize: answered 404 NotFound as by an API server before v1.33
  // (`resize-unsupported`), or 403 Forbidden as when RBAC denies it (`resize-forbidden`).
  bool resizeUnsupported = false;
  bool resizeForbidden = false;
};

// Current faults, consulted per request. Thread-safe.
class ApiFaultState {
 public:
  explicit ApiFaultState(std::uint64_t seed) : rng_(seed) {}
  void set(const ApiFaults& faults);
  ApiFaults get() const;
  // The status to fail this request with, if a fault hits it.
  std::optional<int> injectedFailure(bool isWrite);

 private:
  mutable std::mutex mutex_;
  ApiFaults faults_;
  std::mt19937_64 rng_;
};

// The requests an API server refused with 401 Unauthorized since it was made.
struct AuthRefusals {
  std::uint64_t unauthorized = 0;  // every 401: no credentials, unknown or revoked token
  std::uint64_t revokedToken = 0;  // of those, the ones whose token had been revoked (rotated)
};

// Answers Kubernetes API requests from the fleet model. Pure request -> response; the server
// below puts it on the network. Thread-safe.
class ApiHandler {
 public:
  ApiHandler(SharedFleet& fleet, std::string cluster, std::shared_ptr<const TokenBook> tokens,
             std::shared_ptr<WriteLog> writes, std::shared_ptr<ApiFaultState> faults);

  HttpResponse handle(HttpRequest& request);
  // The address discovery reports as the server's (host:port).
  void setServerAddress(std::string address);
  AuthRefusals authRefusals() const;

 private:
  struct Write;  // what a mutating request touched, for the write log
  HttpResponse route(HttpRequest& request, const Identity& identity, Write& write);
  HttpResponse workloads(HttpRequest& request, const Identity& identity, WorkloadKind kind,
                         const std::string& namespaceName, const std::string& name,
                         const std::string& subresource, Write& write);
  HttpResponse core(HttpRequest& request, const Identity& identity, const std::string& resource,
                    const std::string& namespaceName, const std::string& name);
  // pods/{name}/resize: GET, PATCH and PUT (Kubernetes 1.33+ in-place resize).
  HttpResponse podResize(HttpRequest& request, const Identity& identity,
                         const std::string& namespaceName, const std::string& name, Write& write);
  // Leases, HorizontalPodAutoscalers, ScaledObjects, LimitRanges and ResourceQuotas: kept whole
  // in an ObjectStore.
  HttpResponse storedObjects(HttpRequest& request, const Identity& identity,
                             const ResourceType& type, const std::string& namespaceName,
                             const std::string& name, Write& write);

  SharedFleet& fleet_;
  std::string cluster_;
  std::shared_ptr<const TokenBook> tokens_;
  std::shared_ptr<WriteLog> writes_;
  std::shared_ptr<ApiFaultState> faults_;
  std::mutex addressMutex_;
  std::string serverAddress_ = "127.0.0.1:6443";
  std::atomic<std::uint64_t> unauthorized_{0};
  std::atomic<std::uint64_t> revokedTokenRefusals_{0};
};

// The handler on an HTTPS listener that can go away and come back on the same port.
// Thread-safe.
class FakeApiServer {
 public:
  FakeApiServer(boost::asio::io_context& io, std::shared_ptr<boost::asio::ssl::context> tls,
                SharedFleet& fleet, std::string cluster, std::shared_ptr<const TokenBook> tokens,
                std::uint64_t seed);

  // Listens on 127.0.0.1:`port` (0 = any; later starts reuse the first port).
  void start(std::uint16_t port = 0);
  void stop() { server_.stop(); }
  bool running() const { return server_.running(); }
  std::uint16_t port() const { return server_.port(); }
  std::string url() const;  // https://127.0.0.1:<port>

  WriteLog& writes() { return *writes_; }
  ApiFaultState& faults() { return *faults_; }
  AuthRefusals authRefusals() const { return handler_->authRefusals(); }

 private:
  std::shared_ptr<WriteLog> writes_;
  std::shared_ptr<ApiFaultState> faults_;
  std::shared_ptr<ApiHandler> handler_;
  LoopbackServer server_;
};

}  // namespace fleetscale::sim
