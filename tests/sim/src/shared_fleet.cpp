#include "fleetscale/sim/shared_fleet.h"

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "fleetscale/shared/text.h"
#include "fleetscale/sim/admission_objects.h"
#include "fleetscale/sim/autoscaler_objects.h"

namespace fleetscale::sim {

namespace {

using nlohmann::json;

// The token of an Authorization header ("Bearer <token>"), or nullopt for another scheme.
std::optional<std::string_view> bearerToken(std::string_view authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size()) return std::nullopt;
  // The scheme is case-insensitive (RFC 7235); the token is not.
  for (std::size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kBearer[i]))) {
      return std::nullopt;
    }
  }
  return authorization.substr(kBearer.size());
}

}  // namespace

SharedFleet::SharedFleet(const Scenario& scenario, const Clock& source,
                         std::uint16_t podMetricsPort)
    : clock(source), model(scenario, clock.origin(), podMetricsPort) {
  for (const auto& cluster : scenario.clusters) {
    const std::uint64_t seed = scenario.seed ^ fnv1a64(cluster.name);
    leases.emplace(cluster.name, LeaseStore(seed));
    // Seeds of their own, so adding one kind's objects leaves the other kinds' UIDs alone.
    horizontalPodAutoscalers.emplace(
        cluster.name, ObjectStore(kHorizontalPodAutoscalerResource, seed ^ fnv1a64("hpa")));
    scaledObjects.emplace(cluster.name,
                          ObjectStore(kScaledObjectResource, seed ^ fnv1a64("scaledobject")));
    limitRanges.emplace(cluster.name,
                        ObjectStore(kLimitRangeResource, seed ^ fnv1a64("limitrange")));
    resourceQuotas.emplace(cluster.name,
                           ObjectStore(kResourceQuotaResource, seed ^ fnv1a64("resourcequota")));
  }
  for (const auto& cluster : scenario.clusters) {
    ClusterModel* clusterModel = model.findCluster(cluster.name);
    const ObjectStore::NextVersion next = [clusterModel] {
      return clusterModel->nextResourceVersion();
    };
    auto create = [&](ObjectStore& store, const ApiResult& decoded, const std::string& ns) {
      if (!decoded.ok()) throw std::logic_error(cluster.name + ": " + decoded.error->message);
      const ApiResult created = store.create(ns, decoded.object, clusterModel->origin(), next);
      if (!created.ok()) throw std::logic_error(cluster.name + ": " + created.error->message);
    };
    // The pods its controllers create pass the cluster's LimitRanges and ResourceQuotas.
    clusterModel->setPodAdmission([this, name = cluster.name, clusterModel](
                                      const std::string& ns, const std::string& pod,
                                      const ContainerResources& resources) {
      return podCreateRefusal(pod, resources, limitRanges.at(name).list(ns),
                              resourceQuotas.at(name).list(ns), namespaceUsage(*clusterModel, ns));
    });
    for (const auto& spec : cluster.limitRanges) {
      create(limitRanges.at(cluster.name),
             decodeLimitRange(limitRangeBody(spec), spec.namespaceName, "", nullptr),
             spec.namespaceName);
    }
    for (const auto& spec : cluster.resourceQuotas) {
      create(resourceQuotas.at(cluster.name),
             decodeResourceQuota(resourceQuotaBody(spec), spec.namespaceName, "", nullptr),
             spec.namespaceName);
    }
  }
  for (const auto& workload : scenario.workloads) {
    if (!workload.foreignAutoscaler) continue;
    const ForeignAutoscalerKind kind = workload.foreignAutoscaler->kind;
    const json body = foreignAutoscalerBody(workload, kind);
    const ApiResult decoded =
        kind == ForeignAutoscalerKind::kHorizontalPodAutoscaler
            ? decodeHorizontalPodAutoscaler(body, workload.namespaceName, "", nullptr)
            : decodeScaledObject(body, workload.namespaceName, "", nullptr);
    if (!decoded.ok()) throw std::logic_error("foreign-autoscaler: " + decoded.error->message);
    for (const auto& clusterName : workload.foreignAutoscaler->clusters) {
      ClusterModel* cluster = model.findCluster(clusterName);
      if (!cluster) throw std::logic_error("foreign-autoscaler: no cluster " + clusterName);
      ObjectStore& store = kind == ForeignAutoscalerKind::kHorizontalPodAutoscaler
                               ? horizontalPodAutoscalers.at(clusterName)
                               : scaledObjects.at(clusterName);
      const ApiResult created =
          store.create(workload.namespaceName, decoded.object, cluster->origin(),
                       [cluster] { return cluster->nextResourceVersion(); });
      if (!created.ok()) throw std::logic_error("foreign-autoscaler: " + created.error->message);
    }
  }
}

ObjectStore* SharedFleet::objectStore(const ResourceType& type, const std::string& cluster) {
  auto find = [&](auto& stores) -> ObjectStore* {
    const auto it = stores.find(cluster);
    return it == stores.end() ? nullptr : &it->second;
  };
  if (type.kind == kLeaseResource.kind) return find(leases);
  if (type.kind == kHorizontalPodAutoscalerResource.kind) return find(horizontalPodAutoscalers);
  if (type.kind == kScaledObjectResource.kind) return find(scaledObjects);
  if (type.kind == kLimitRangeResource.kind) return find(limitRanges);
  if (type.kind == kResourceQuotaResource.kind) return find(resourceQuotas);
  return nullptr;
}

void TokenBook::add(const std::string& token, Identity identity) {
  std::unique_lock lock(mutex_);
  tokens_[token] = std::move(identity);
}

std::optional<Identity> TokenBook::authenticate(std::string_view authorization) const {
  const auto token = bearerToken(authorization);
  if (!token) return std::nullopt;
  std::shared_lock lock(mutex_);
  const auto it = tokens_.find(*token);
  if (it == tokens_.end()) return std::nullopt;
  return it->second;
}

std::string TokenBook::tokenFor(Role role) const {
  std::shared_lock lock(mutex_);
  for (const auto& [token, identity] : tokens_) {
    if (identity.role == role) return token;
  }
  return "";
}

Identity TokenBook::certificateIdentity(std::string_view commonName) const {
  std::shared_lock lock(mutex_);
  for (const auto& [token, identity] : tokens_) {
    if (identity.user == commonName) return identity;
  }
  return Identity{std::string(commonName), Role::kNone};
}

bool TokenBook::revoke(const std::string& token) {
  std::unique_lock lock(mutex_);
  if (tokens_.erase(token) == 0) return false;
  revoked_.push_back(token);
  if (revoked_.size() > kRememberedRevocations) revoked_.pop_front();
  return true;
}

bool TokenBook::wasRevoked(std::string_view authorization) const {
  const auto token = bearerToken(authorization);
  if (!token) return false;
  std::shared_lock lock(mutex_);
  return std::find(revoked_.begin(), revoked_.end(), *token) != revoked_.end();
}

bool mayAccessApi(Role role, std::string_view verb, std::string_view resource) {
  const bool read = verb == "get" || verb == "list" || verb == "watch";
  const bool workload =
      resource.rfind("deployments", 0) == 0 || resource.rfind("statefulsets", 0) == 0;
  const bool lease = resource == "leases";
  // In-place resize (issue 15): the aggregator's role needs its own rule for the subresource
  // (get, patch, update on pods/resize); the agents' read-only role has none.
  const bool resize = resource == "pods/resize";
  // As with docs/configuration.md's extra rule for --take-over-hpa: the aggregator may update
  // other autoscalers' objects (the shipped role alone only reads them).
  const bool autoscaler = resource == "horizontalpodautoscalers" || resource == "scaledobjects";
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kController:
      return (read && !resize) ||
             ((workload || autoscaler || resize) &&
              (verb == "get" || verb == "update" || verb == "patch")) ||
             (lease && (verb == "create" || verb == "update"));
    case Role::kAgent:
      return read && !lease && !resize;
    case Role::kNone:
      return false;
  }
  return false;
}

bool mayAccessKubelet(Role role) { return role == Role::kAdmin || role == Role::kAgent; }

nlohmann::json toJson(const WriteRecord& r) {
  nlohmann::json out = {{"cluster", r.cluster}, {"seconds", r.seconds},
                        {"method", r.method},   {"path", r.path},
                        {"user", r.user},       {"content_type", r.contentType},
                        {"status", r.status},   {"workload", r.workload},
                        {"kind", r.kind},       {"body", r.body}};
  out["user_agent"] = r.userAgent;
  // A decimal term as a number; anything else as sent, so a malformed token shows.
  const auto term = parseUint64(r.fencingToken);
  out["fencing_token"] = r.fencingToken.empty() ? nlohmann::json(nullptr)
                         : term                 ? nlohmann::json(*term)
                                                : nlohmann::json(r.fencingToken);
  out["replicas_before"] = r.replicasBefore ? nlohmann::json(*r.replicasBefore) : nullptr;
  out["replicas_after"] = r.replicasAfter ? nlohmann::json(*r.replicasAfter) : nullptr;
  return out;
}

void WriteLog::setFile(std::string path) {
  std::lock_guard lock(mutex_);
  file_ = std::move(path);
}

void WriteLog::append(WriteRecord record) {
  std::lock_guard lock(mutex_);
  if (!file_.empty()) {
    std::ofstream out(file_, std::ios::app);
    out << toJson(record).dump() << "\n";
  }
  records_.push_back(std::move(record));
}

std::vector<WriteRecord> WriteLog::records() const {
  std::lock_guard lock(mutex_);
  return records_;
}

std::vector<WriteRecord> WriteLog::recordsFrom(std::size_t index) const {
  std::lock_guard lock(mutex_);
  if (index >= records_.size()) return {};
  return {records_.begin() + static_cast<long>(index), records_.end()};
}

}  // namespace fleetscale::sim
