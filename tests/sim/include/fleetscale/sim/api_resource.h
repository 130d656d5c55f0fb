// What the simulated API server knows about each kind it stores as a whole object (Leases,
// HorizontalPodAutoscalers, KEDA ScaledObjects): its names on the wire, the write semantics its
// real registry has, and the Status errors the API server answers about one object of it,
// worded as apimachinery words them. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/sim/cluster_model.h"

namespace fleetscale::sim {

struct ResourceType {
  std::string_view group;     // "coordination.k8s.io"; "" for the core group
  std::string_view version;   // "v1"
  std::string_view kind;      // "Lease"
  std::string_view plural;    // "leases": the URL segment and the RBAC resource
  std::string_view singular;  // "lease"
  // Whether a PUT without metadata.resourceVersion overwrites (built-in kinds mostly allow it);
  // custom resources refuse it with 422.
  bool allowUnconditionalUpdate = true;
  // Whether metadata.generation is 1 on create and counts changes outside metadata and status.
  bool tracksGeneration = false;
  // What DELETE answers: the deleted object (custom resources) or a Status "Success".
  bool deleteReturnsObject = false;
  // Whether the kind is a CustomResourceDefinition's: such kinds refuse strategic merge patches.
  bool custom = false;

  std::string apiVersion() const {
    return group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
  }
};

// One field.Error: `field` "spec.maxReplicas", `reason` "FieldValueInvalid", `detail` the
// message without the field ("Invalid value: 0: must be greater than 0").
struct FieldError {
  std::string field;
  std::string reason;
  std::string detail;
};
FieldError requiredField(std::string field, const std::string& why = "");
// `shown` is the value as Go's %#v prints it ("0", "\"web\"").
FieldError invalidField(std::string field, const std::string& shown, const std::string& why);

ApiError objectNotFound(const ResourceType& type, const std::string& name);
ApiError objectAlreadyExists(const ResourceType& type, const std::string& name);
// `detail` "" = the stale-resourceVersion wording ("the object has been modified; ...").
ApiError objectConflict(const ResourceType& type, const std::string& name,
                        const std::string& detail = "");
// 422 Invalid with one cause per error; `errors` must not be empty.
ApiError objectInvalid(const ResourceType& type, const std::string& name,
                       const std::vector<FieldError>& errors);
// 400 BadRequest, the decoder's "<Kind> in version "<v>" cannot be handled as a <Kind>: <why>".
ApiError objectUndecodable(const ResourceType& type, const std::string& why);

// 400 BadRequest with `message`.
ApiError badRequest(const std::string& message);
// The body's metadata put in the request's scope, as the API server's handlers do: a name that
// differs from the URL's, or a namespace from the request's, is a 400; then both are the
// request's. `urlName` "" (a create): the body's name stays.
std::optional<ApiError> scopeToRequest(nlohmann::json& metadata, const std::string& namespaceName,
                                       const std::string& urlName);

// The words of encoding/json's type error, as the API server's decoder reports it: "json:
// cannot unmarshal <the JSON type> into <into>".
std::string cannotUnmarshal(const nlohmann::json& value, const std::string& into);

// Kind, apiVersion and metadata of any stored kind, checked as the API server's decoder and
// request checks do: the object comes back with kind and apiVersion set and metadata.namespace
// (and, on update, metadata.name) taken from the URL; everything else as sent.
ApiResult decodeEnvelope(const ResourceType& type, const nlohmann::json& body,
                         const std::string& namespaceName, const std::string& urlName);

// ValidateObjectMeta's name checks (a name or generateName; a DNS subdomain), appended to
// `errors`.
void validateName(const nlohmann::json& metadata, std::vector<FieldError>& errors);

// apimachinery's IsDNS1123Subdomain: "" when `name` is one, else why not.
std::string dnsSubdomainProblem(const std::string& name);

}  // namespace fleetscale::sim
