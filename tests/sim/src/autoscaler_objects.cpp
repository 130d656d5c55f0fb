#include "fleetscale/sim/autoscaler_objects.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <optional>
#include <vector>

namespace fleetscale::sim {
namespace {

using nlohmann::json;

bool present(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && !object[key].is_null();
}

std::string shownName(const json& meta) {
  return meta.value("name", meta.value("generateName", std::string()));
}

// Go's int32 from JSON: nullopt when absent or null.
Result<std::optional<long long>> int32Field(const json& object, const char* key) {
  if (!present(object, key)) return std::optional<long long>();
  const json& value = object[key];
  if (!value.is_number_integer() || value.get<long long>() < INT32_MIN ||
      value.get<long long>() > INT32_MAX) {
    return Error{value.type_name()};
  }
  return std::optional<long long>(value.get<long long>());
}

// The OpenAPI type name a CRD's schema check reports for a value.
std::string schemaTypeOf(const json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number()) return "number";
  if (value.is_boolean()) return "boolean";
  if (value.is_string()) return "string";
  if (value.is_array()) return "array";
  if (value.is_object()) return "object";
  return "null";
}

// A CRD schema's type error: `spec.x: Invalid value: "string": spec.x in body must be of type
// integer: "string"`.
FieldError wrongSchemaType(const std::string& field, const json& value, const std::string& want) {
  const std::string got = json(schemaTypeOf(value)).dump();
  return {field, "FieldValueTypeInvalid",
          "Invalid value: " + got + ": " + field + " in body must be of type " + want + ": " + got};
}

// Checks `object[key]` against a schema type when present; false (with the error) when wrong.
bool schemaTyped(const json& object, const char* key, const std::string& path,
                 const std::string& want, std::vector<FieldError>& errors) {
  if (!object.is_object() || !object.contains(key)) return true;
  const json& value = object[key];
  const std::string got = schemaTypeOf(value);
  if (got == want || (want == "number" && got == "integer")) return true;
  errors.push_back(wrongSchemaType(path, value, want));
  return false;
}

std::string lowerPlural(const std::string& kind) {
  std::string plural = kind;
  std::transform(plural.begin(), plural.end(), plural.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return plural + "s";
}

}  // namespace

ApiResult decodeHorizontalPodAutoscaler(const json& body, const std::string& namespaceName,
                                        const std::string& urlName, const json* current) {
  const ResourceType& type = kHorizontalPodAutoscalerResource;
  ApiResult envelope = decodeEnvelope(type, body, namespaceName, urlName);
  if (!envelope.ok()) return envelope;
  json hpa = std::move(envelope.object);
  auto typeError = [&](const json& value, const std::string& field, const std::string& goType) {
    return ApiResult::fail(objectUndecodable(
        type, cannotUnmarshal(value, "Go struct field " + field + " of type " + goType)));
  };
  if (!present(hpa, "spec")) hpa["spec"] = json::object();
  json& spec = hpa["spec"];
  if (!spec.is_object()) {
    return typeError(spec, "HorizontalPodAutoscaler.spec", "v2.HorizontalPodAutoscalerSpec");
  }
  if (!present(spec, "scaleTargetRef")) spec["scaleTargetRef"] = json::object();
  const json& target = spec["scaleTargetRef"];
  if (!target.is_object()) {
    return typeError(target, "HorizontalPodAutoscalerSpec.spec.scaleTargetRef",
                     "v2.CrossVersionObjectReference");
  }
  for (const char* key : {"kind", "name", "apiVersion"}) {
    if (present(target, key) && !target[key].is_string()) {
      return typeError(target[key],
                       std::string("CrossVersionObjectReference.spec.scaleTargetRef.") + key,
                       "string");
    }
  }
  std::optional<long long> minReplicas, maxReplicas;
  for (auto [key, field] :
       {std::pair{"minReplicas", &minReplicas}, std::pair{"maxReplicas", &maxReplicas}}) {
    auto value = int32Field(spec, key);
    if (!value) {
      return typeError(spec[key], std::string("HorizontalPodAutoscalerSpec.spec.") + key, "int32");
    }
    *field = *value;
  }
  if (present(spec, "metrics") && !spec["metrics"].is_array()) {
    return typeError(spec["metrics"], "HorizontalPodAutoscalerSpec.spec.metrics",
                     "[]v2.MetricSpec");
  }

  // autoscaling/v2 defaulting (SetDefaults_HorizontalPodAutoscaler).
  if (!minReplicas) spec["minReplicas"] = *(minReplicas = 1);
  if (!present(spec, "metrics") || spec["metrics"].empty()) {
    spec["metrics"] = json::array(
        {{{"type", "Resource"},
          {"resource",
           {{"name", "cpu"}, {"target", {{"type", "Utilization"}, {"averageUtilization", 80}}}}}}});
  }

  // ValidateHorizontalPodAutoscaler, in its order.
  std::vector<FieldError> errors;
  validateName(hpa["metadata"], errors);
  const long long max = maxReplicas.value_or(0);
  if (*minReplicas < 1) {
    errors.push_back(invalidField("spec.minReplicas", std::to_string(*minReplicas),
                                  "must be greater than or equal to 1"));
  }
  if (max < 1) {
    errors.push_back(
        invalidField("spec.maxReplicas", std::to_string(max), "must be greater than 0"));
  }
  if (max < *minReplicas) {
    errors.push_back(invalidField("spec.maxReplicas", std::to_string(max),
                                  "must be greater than or equal to `minReplicas`"));
  }
  for (const char* key : {"kind", "name"}) {
    if (target.value(key, std::string()).empty()) {
      errors.push_back(requiredField(std::string("spec.scaleTargetRef.") + key));
    }
  }
  if (!errors.empty())
    return ApiResult::fail(objectInvalid(type, shownName(hpa["metadata"]), errors));

  // Status is a subresource: a body's status is ignored, on create and on update alike.
  hpa["status"] = current && current->contains("status")
                      ? (*current)["status"]
                      : json{{"currentMetrics", nullptr}, {"desiredReplicas", 0}};
  return ApiResult{std::nullopt, std::move(hpa)};
}

ApiResult decodeScaledObject(const json& body, const std::string& namespaceName,
                             const std::string& urlName, const json* current) {
  (void)current;  // the status is KEDA's, derived from the spec; nothing of current's is kept
  const ResourceType& type = kScaledObjectResource;
  ApiResult envelope = decodeEnvelope(type, body, namespaceName, urlName);
  if (!envelope.ok()) return envelope;
  json scaledObject = std::move(envelope.object);

  // The CRD's structural schema (keda.sh_scaledobjects.yaml), the parts that matter here.
  std::vector<FieldError> errors;
  validateName(scaledObject["metadata"], errors);
  if (!present(scaledObject, "spec")) {
    errors.push_back(requiredField("spec"));
  } else if (schemaTyped(scaledObject, "spec", "spec", "object", errors)) {
    const json& spec = scaledObject["spec"];
    for (const char* key : {"minReplicaCount", "maxReplicaCount", "pollingInterval",
                            "cooldownPeriod", "idleReplicaCount"}) {
      schemaTyped(spec, key, std::string("spec.") + key, "integer", errors);
    }
    if (!present(spec, "scaleTargetRef")) {
      errors.push_back(requiredField("spec.scaleTargetRef"));
    } else if (schemaTyped(spec, "scaleTargetRef", "spec.scaleTargetRef", "object", errors)) {
      const json& target = spec["scaleTargetRef"];
      for (const char* key : {"name", "kind", "apiVersion", "envSourceContainerName"}) {
        schemaTyped(target, key, std::string("spec.scaleTargetRef.") + key, "string", errors);
      }
      if (!present(target, "name")) errors.push_back(requiredField("spec.scaleTargetRef.name"));
    }
    if (!present(spec, "triggers")) {
      errors.push_back(requiredField("spec.triggers"));
    } else if (schemaTyped(spec, "triggers", "spec.triggers", "array", errors)) {
      for (std::size_t i = 0; i < spec["triggers"].size(); ++i) {
        const json& trigger = spec["triggers"][i];
        const std::string path = "spec.triggers[" + std::to_string(i) + "]";
        if (!trigger.is_object()) {
          errors.push_back(wrongSchemaType(path, trigger, "object"));
          continue;
        }
        if (!present(trigger, "type")) errors.push_back(requiredField(path + ".type"));
        schemaTyped(trigger, "type", path + ".type", "string", errors);
        if (!present(trigger, "metadata")) errors.push_back(requiredField(path + ".metadata"));
        schemaTyped(trigger, "metadata", path + ".metadata", "object", errors);
      }
    }
  }
  if (!errors.empty()) {
    return ApiResult::fail(objectInvalid(type, shownName(scaledObject["metadata"]), errors));
  }

  // What KEDA's operator records on its first reconcile (it resolves the target through the
  // REST mapper; the lower-case plural is that mapping for the kinds the simulator has).
  const json& target = scaledObject["spec"]["scaleTargetRef"];
  const std::string apiVersion = target.value("apiVersion", std::string("apps/v1"));
  const std::string kind = target.value("kind", std::string("Deployment"));
  const auto slash = apiVersion.find('/');
  scaledObject["status"] = {
      {"scaleTargetKind", scaledObjectTargetKind(scaledObject)},
      {"scaleTargetGVKR",
       {{"group", slash == std::string::npos ? "" : apiVersion.substr(0, slash)},
        {"version", slash == std::string::npos ? apiVersion : apiVersion.substr(slash + 1)},
        {"kind", kind},
        {"resource", lowerPlural(kind)}}}};
  return ApiResult{std::nullopt, std::move(scaledObject)};
}

std::string scaledObjectTargetKind(const json& scaledObject) {
  const json target = scaledObject.contains("spec") && scaledObject["spec"].is_object()
                          ? scaledObject["spec"].value("scaleTargetRef", json::object())
                          : json::object();
  if (!target.is_object()) return "apps/v1.Deployment";
  auto stringOr = [&](const char* key, const char* fallback) {
    return present(target, key) && target[key].is_string() &&
                   !target[key].get<std::string>().empty()
               ? target[key].get<std::string>()
               : std::string(fallback);
  };
  return stringOr("apiVersion", "apps/v1") + "." + stringOr("kind", "Deployment");
}

json foreignAutoscalerBody(const WorkloadSpec& workload, ForeignAutoscalerKind kind) {
  int maxReplicas = 10;
  for (const auto& [cluster, replicas] : workload.replicas) {
    maxReplicas = std::max(maxReplicas, replicas);
  }
  const json metadata = {{"name", workload.name}, {"namespace", workload.namespaceName}};
  const std::string targetKind(toString(workload.kind));
  if (kind == ForeignAutoscalerKind::kHorizontalPodAutoscaler) {
    return {{"apiVersion", kHorizontalPodAutoscalerResource.apiVersion()},
            {"kind", kHorizontalPodAutoscalerResource.kind},
            {"metadata", metadata},
            {"spec",
             {{"scaleTargetRef",
               {{"apiVersion", "apps/v1"}, {"kind", targetKind}, {"name", workload.name}}},
              {"minReplicas", 1},
              {"maxReplicas", maxReplicas},
              {"metrics",
               json::array(
                   {{{"type", "Resource"},
                     {"resource",
                      {{"name", "cpu"},
                       {"target", {{"type", "Utilization"}, {"averageUtilization", 80}}}}}}})}}}};
  }
  json target = {{"name", workload.name}};
  if (workload.kind != WorkloadKind::kDeployment) {
    target["apiVersion"] = "apps/v1";
    target["kind"] = targetKind;
  }
  return {{"apiVersion", kScaledObjectResource.apiVersion()},
          {"kind", kScaledObjectResource.kind},
          {"metadata", metadata},
          {"spec",
           {{"scaleTargetRef", target},
            {"minReplicaCount", 1},
            {"maxReplicaCount", maxReplicas},
            {"triggers", json::array({{{"type", "cpu"},
                                       {"metricType", "Utilization"},
                                       {"metadata", {{"value", "80"}}}}})}}}};
}

}  // namespace fleetscale::sim
