// LimitRanges and ResourceQuotas (core v1) as the simulated API server stores them, and what
// the LimitRanger and ResourceQuota admission plugins make of a pod's resize (they handle the
// pods/resize subresource since v1.33) and of a pod a controller creates: a 403 Forbidden Status,
// worded as the real plugins word it, e.g. `pods "web-0" is forbidden: maximum cpu usage per
// Container is 2, but limit is 4` or `pods "web-0" is forbidden: exceeded quota: compute,
// requested: requests.cpu=500m, used: requests.cpu=1500m, limited: requests.cpu=2`.
//
// Modelled: LimitRange items of type Container with min and max of cpu and memory (other types,
// default, defaultRequest and maxLimitRequestRatio are stored, not enforced); ResourceQuota hard
// limits on requests.cpu, requests.memory, limits.cpu, limits.memory (and cpu, memory, which
// mean the requests), over the namespace's pods that are not terminal. Scopes and scope
// selectors are not. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/sim/api_resource.h"
#include "fleetscale/sim/cluster_model.h"
#include "fleetscale/sim/scenario.h"

namespace fleetscale::sim {

inline constexpr ResourceType kLimitRangeResource{.group = "",
                                                  .version = "v1",
                                                  .kind = "LimitRange",
                                                  .plural = "limitranges",
                                                  .singular = "limitrange"};
inline constexpr ResourceType kResourceQuotaResource{.group = "",
                                                     .version = "v1",
                                                     .kind = "ResourceQuota",
                                                     .plural = "resourcequotas",
                                                     .singular = "resourcequota"};

// The LimitRange to store from a create (`urlName` "") or update body (`current`: the stored one,
// nullptr on create), kept as sent. Errors: 400 when the body does not decode (spec.limits not a
// list, a quantity that does not parse), 422 Invalid for a bad name, an item without a known
// type (Container, Pod, PersistentVolumeClaim), or a min above its max.
ApiResult decodeLimitRange(const nlohmann::json& body, const std::string& namespaceName,
                           const std::string& urlName, const nlohmann::json* current);

// The ResourceQuota to store, as above: spec.hard's quantities must parse (400), the name be
// valid (422). The status is the quota controller's, filled in when shown (withQuotaStatus).
ApiResult decodeResourceQuota(const nlohmann::json& body, const std::string& namespaceName,
                              const std::string& urlName, const nlohmann::json* current);

// The bodies a scenario's `limit-ranges` and `resource-quotas` entries stand for (to decode and
// store as if created through the API).
nlohmann::json limitRangeBody(const LimitRangeSpec& spec);
nlohmann::json resourceQuotaBody(const ResourceQuotaSpec& spec);

// What pods count against a quota: cores and bytes.
struct QuotaUsage {
  double requestsCpu = 0;
  double requestsMemory = 0;
  double limitsCpu = 0;
  double limitsMemory = 0;
  QuotaUsage& operator+=(const QuotaUsage& other);
};
// One container's: a request it lacks is its limit (as the API server defaults it), a limit it
// lacks counts nothing.
QuotaUsage quotaUsageOf(const ContainerResources& resources);
// The namespace's pods as a ResourceQuota counts them: all of them, since the simulator's pods
// are never terminal (a deleted one is gone).
QuotaUsage namespaceUsage(const ClusterModel& cluster, const std::string& namespaceName);

// `quota` with the status the quota controller keeps: hard (spec.hard) and used (from `used`,
// for the resources spec.hard names that are modelled; 0 for the others).
nlohmann::json withQuotaStatus(nlohmann::json quota, const QuotaUsage& used);

// The LimitRanger's refusal of pod `pod` whose container asks for `resources`, or nullopt. The
// first LimitRange (in name order) with a violated Container min or max answers, with every
// violation it finds ("[a, b]" when several).
std::optional<ApiError> limitRangeRefusal(const std::string& pod,
                                          const ContainerResources& resources,
                                          const std::vector<nlohmann::json>& limitRanges);

// The ResourceQuota plugin's refusal of pod `pod` going from `before` to `after`, or nullopt.
// `used`: the namespace's pods that are not terminal, this one as it is (at `before`). Only
// growth counts (a shrink is never refused); the first quota (in name order) the growth takes
// past its hard limit answers.
std::optional<ApiError> quotaRefusal(const std::string& pod, const ContainerResources& before,
                                     const ContainerResources& after,
                                     const std::vector<nlohmann::json>& quotas,
                                     const QuotaUsage& used);

// The plugins' refusal of a pod a controller creates (ClusterModel::PodAdmission): the
// LimitRanger's, then the ResourceQuota plugin's, with the whole pod as the growth. `pod` is
// the name the create carries (a ReplicaSet's generateName, "web-7c9d8f6b5-").
std::optional<ApiError> podCreateRefusal(const std::string& pod,
                                         const ContainerResources& resources,
                                         const std::vector<nlohmann::json>& limitRanges,
                                         const std::vector<nlohmann::json>& quotas,
                                         const QuotaUsage& used);

}  // namespace fleetscale::sim
