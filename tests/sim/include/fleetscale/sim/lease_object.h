// A coordination.k8s.io/v1 Lease as a client sends it, checked and normalised the way the API
// server does before storing one: the body must decode as a Lease (types, MicroTime with exactly
// six fractional digits), pass validation (a DNS-subdomain name, leaseDurationSeconds > 0,
// leaseTransitions >= 0), and comes back with only the fields v1.30 keeps and every time in UTC.
// Also the Status errors the API server answers about leases. Pure; fuzzed (sim_patch_fuzz).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fleetscale/sim/api_resource.h"
#include "fleetscale/sim/cluster_model.h"

namespace fleetscale::sim {

inline constexpr std::string_view kLeaseGroup = "coordination.k8s.io";
inline constexpr std::string_view kLeaseApiVersion = "coordination.k8s.io/v1";
// Leases allow unconditional updates (leader election writes without a resourceVersion).
inline constexpr ResourceType kLeaseResource{.group = kLeaseGroup,
                                             .version = "v1",
                                             .kind = "Lease",
                                             .plural = "leases",
                                             .singular = "lease"};

// metav1.MicroTime on the wire: "2006-01-02T15:04:05.000000Z07:00" (exactly six fractional
// digits, "Z" or a ±hh:mm offset). Returns the same instant as the API server writes it back,
// in UTC ("...Z"); nullopt when `text` is not a MicroTime.
std::optional<std::string> normalizeMicroTime(std::string_view text);
std::string formatMicroTime(WallTime time);

// The Lease to store from a create (`urlName` "") or update body: kind and apiVersion (checked
// when present), metadata name, generateName, namespace, labels, annotations, resourceVersion
// and uid as sent, and the v1 spec fields holderIdentity, leaseDurationSeconds, acquireTime,
// renewTime and leaseTransitions; unknown fields are dropped, as the API server prunes them.
// Errors: 400 BadRequest when the body does not decode as a Lease or names another object,
// 422 Invalid when it fails validation.
ApiResult decodeLease(const nlohmann::json& body, const std::string& namespaceName,
                      const std::string& urlName);
// The same from request text (400 when it is not JSON).
ApiResult decodeLease(std::string_view body, const std::string& namespaceName,
                      const std::string& urlName);

// Status errors about one lease, worded as the API server words them.
ApiError leaseNotFound(const std::string& name);
ApiError leaseAlreadyExists(const std::string& name);
// `detail` "" = the stale-resourceVersion wording ("the object has been modified; ...").
ApiError leaseConflict(const std::string& name, const std::string& detail = "");
ApiError leaseInvalid(const std::string& name, const std::string& field, const std::string& reason,
                      const std::string& detail);

}  // namespace fleetscale::sim
