#include "fleetscale/sim/api_resource.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

// "leases.coordination.k8s.io", as the resource is named in NotFound and Conflict messages.
std::string qualifiedResource(const ResourceType& type) {
  return type.group.empty() ? std::string(type.plural)
                            : std::string(type.plural) + "." + std::string(type.group);
}

// "Lease.coordination.k8s.io", as the kind is named in Invalid messages.
std::string qualifiedKind(const ResourceType& type) {
  return type.group.empty() ? std::string(type.kind)
                            : std::string(type.kind) + "." + std::string(type.group);
}

json detailsOf(const ResourceType& type, const std::string& name, std::string_view kind) {
  return json{{"name", name}, {"group", type.group}, {"kind", kind}};
}

bool isDnsLabelCharacter(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool present(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && !object[key].is_null();
}

}  // namespace

std::string cannotUnmarshal(const json& value, const std::string& into) {
  return std::string("json: cannot unmarshal ") + value.type_name() + " into " + into;
}

ApiResult decodeEnvelope(const ResourceType& type, const json& body,
                         const std::string& namespaceName, const std::string& urlName) {
  const std::string apiVersion = type.apiVersion();
  if (!body.is_object()) {
    return ApiResult::fail(objectUndecodable(
        type, cannotUnmarshal(body, "Go value of type " + std::string(type.version) + "." +
                                        std::string(type.kind))));
  }
  if (body.contains("kind") && body["kind"] != type.kind) {
    return ApiResult::fail(badRequest("the kind of the object (" + body["kind"].dump() +
                                      ") does not match " + std::string(type.kind)));
  }
  if (body.contains("apiVersion") && body["apiVersion"] != apiVersion) {
    return ApiResult::fail(badRequest("the API version of the object (" +
                                      body["apiVersion"].dump() + ") is not " + apiVersion));
  }
  json object = body;
  object["kind"] = type.kind;
  object["apiVersion"] = apiVersion;
  if (!present(object, "metadata")) object["metadata"] = json::object();
  json& meta = object["metadata"];
  if (!meta.is_object()) {
    return ApiResult::fail(
        objectUndecodable(type, cannotUnmarshal(meta, "Go struct field " + std::string(type.kind) +
                                                          ".metadata of type v1.ObjectMeta")));
  }
  for (const char* key : {"name", "generateName", "namespace", "resourceVersion", "uid"}) {
    if (!present(meta, key)) {
      meta.erase(key);
      continue;
    }
    if (!meta[key].is_string()) {
      return ApiResult::fail(objectUndecodable(
          type, cannotUnmarshal(meta[key], std::string("Go struct field ObjectMeta.metadata.") +
                                               key + " of type string")));
    }
    if (meta[key].get<std::string>().empty()) meta.erase(key);
  }
  for (const char* key : {"labels", "annotations"}) {
    if (!present(meta, key)) continue;
    if (!meta[key].is_object()) {
      return ApiResult::fail(objectUndecodable(
          type, cannotUnmarshal(meta[key], std::string("Go struct field ObjectMeta.metadata.") +
                                               key + " of type map[string]string")));
    }
    for (const auto& [name, value] : meta[key].items()) {
      if (!value.is_string()) {
        return ApiResult::fail(objectUndecodable(
            type, cannotUnmarshal(value, std::string("Go struct field ObjectMeta.metadata.") + key +
                                             " of type string")));
      }
    }
  }
  if (auto problem = scopeToRequest(meta, namespaceName, urlName)) {
    return ApiResult::fail(*problem);
  }
  return ApiResult{std::nullopt, std::move(object)};
}

void validateName(const json& meta, std::vector<FieldError>& errors) {
  const std::string name = meta.value("name", "");
  if (name.empty() && !meta.contains("generateName")) {
    errors.push_back(requiredField("metadata.name", "name or generateName is required"));
  } else if (!name.empty()) {
    if (const std::string problem = dnsSubdomainProblem(name); !problem.empty()) {
      errors.push_back(invalidField("metadata.name", json(name).dump(), problem));
    }
  }
}

FieldError requiredField(std::string field, const std::string& why) {
  return {std::move(field), "FieldValueRequired",
          why.empty() ? "Required value" : "Required value: " + why};
}

FieldError invalidField(std::string field, const std::string& shown, const std::string& why) {
  return {std::move(field), "FieldValueInvalid", "Invalid value: " + shown + ": " + why};
}

ApiError objectNotFound(const ResourceType& type, const std::string& name) {
  return {404, "NotFound", qualifiedResource(type) + " \"" + name + "\" not found",
          detailsOf(type, name, type.plural)};
}

ApiError objectAlreadyExists(const ResourceType& type, const std::string& name) {
  return {409, "AlreadyExists", qualifiedResource(type) + " \"" + name + "\" already exists",
          detailsOf(type, name, type.plural)};
}

ApiError objectConflict(const ResourceType& type, const std::string& name,
                        const std::string& detail) {
  return {409, "Conflict",
          "Operation cannot be fulfilled on " + qualifiedResource(type) + " \"" + name + "\": " +
              (detail.empty() ? "the object has been modified; please apply your changes to the "
                                "latest version and try again"
                              : detail),
          detailsOf(type, name, type.plural)};
}

ApiError objectInvalid(const ResourceType& type, const std::string& name,
                       const std::vector<FieldError>& errors) {
  // errors.NewInvalid: one error as is, several as "[a, b]".
  std::string summary;
  json causes = json::array();
  for (const auto& error : errors) {
    const std::string text = error.field + ": " + error.detail;
    summary += (summary.empty() ? "" : ", ") + text;
    causes.push_back({{"reason", error.reason}, {"message", error.detail}, {"field", error.field}});
  }
  if (errors.size() > 1) summary = "[" + summary + "]";
  json details = detailsOf(type, name, type.kind);
  details["causes"] = std::move(causes);
  return {422, "Invalid", qualifiedKind(type) + " \"" + name + "\" is invalid: " + summary,
          std::move(details)};
}

ApiError objectUndecodable(const ResourceType& type, const std::string& why) {
  return {400, "BadRequest",
          std::string(type.kind) + " in version \"" + std::string(type.version) +
              "\" cannot be handled as a " + std::string(type.kind) + ": " + why,
          json::object()};
}

ApiError badRequest(const std::string& message) {
  return {400, "BadRequest", message, json::object()};
}

std::optional<ApiError> scopeToRequest(json& metadata, const std::string& namespaceName,
                                       const std::string& urlName) {
  const std::string name = metadata.value("name", "");
  if (!urlName.empty() && !name.empty() && name != urlName) {
    return badRequest("the name of the object (" + name + ") does not match the name on the URL (" +
                      urlName + ")");
  }
  if (metadata.value("namespace", namespaceName) != namespaceName) {
    return badRequest(
        "the namespace of the provided object does not match the namespace sent on the request");
  }
  metadata["namespace"] = namespaceName;
  if (!urlName.empty()) metadata["name"] = urlName;
  return std::nullopt;
}

std::string dnsSubdomainProblem(const std::string& name) {
  if (name.size() > 253) return "must be no more than 253 characters";
  bool ok = !name.empty();
  std::size_t start = 0;
  while (ok && start <= name.size()) {
    std::size_t end = name.find('.', start);
    if (end == std::string::npos) end = name.size();
    const std::string_view label = std::string_view(name).substr(start, end - start);
    ok = !label.empty() && isDnsLabelCharacter(label.front()) && isDnsLabelCharacter(label.back());
    for (char c : label) ok = ok && (isDnsLabelCharacter(c) || c == '-');
    start = end + 1;
  }
  if (ok) return "";
  return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
         "'-' or '.', and must start and end with an alphanumeric character (e.g. "
         "'example.com', regex used for validation is "
         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
}

}  // namespace fleetscale::sim
