#include "fleetscale/sim/admission_objects.h"

#include <algorithm>
#include <cmath>

#include "fleetscale/sim/quantity.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

bool present(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && !object[key].is_null();
}

// A quantity as the API server decodes one (a string or a JSON number); nullopt when it does
// not parse.
std::optional<double> quantityOf(const json& value) {
  if (value.is_number()) {
    return value.get<double>() < 0 ? std::nullopt : std::optional(value.get<double>());
  }
  if (!value.is_string()) return std::nullopt;
  auto parsed = parseQuantity(value.get<std::string>());
  return parsed ? std::optional(*parsed) : std::nullopt;
}

ApiError badQuantity(const ResourceType& type) {
  return objectUndecodable(type,
                           "quantities must match the regular expression "
                           "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
}

// Every value of the resource map `object[key]` a quantity, or the decoder's 400.
std::optional<ApiError> checkQuantities(const ResourceType& type, const json& object,
                                        const char* key, const std::string& goField) {
  if (!present(object, key)) return std::nullopt;
  const json& map = object[key];
  if (!map.is_object()) {
    return objectUndecodable(type, cannotUnmarshal(map, "Go struct field " + goField + "." + key +
                                                            " of type v1.ResourceList"));
  }
  for (const auto& [name, value] : map.items()) {
    if (!quantityOf(value)) return badQuantity(type);
  }
  return std::nullopt;
}

ApiResult invalidOrObject(const ResourceType& type, json object,
                          const std::vector<FieldError>& errors) {
  if (!errors.empty()) {
    const json& meta = object["metadata"];
    return ApiResult::fail(
        objectInvalid(type, meta.value("name", meta.value("generateName", "")), errors));
  }
  return ApiResult{std::nullopt, std::move(object)};
}

// The envelope (decodeEnvelope) and a spec that is an object ({} when absent), as the decoder
// of a core kind with a `<Kind>Spec` requires.
ApiResult decodeWithSpec(const ResourceType& type, const json& body,
                         const std::string& namespaceName, const std::string& urlName) {
  ApiResult decoded = decodeEnvelope(type, body, namespaceName, urlName);
  if (!decoded.ok()) return decoded;
  json& object = decoded.object;
  if (!present(object, "spec")) object["spec"] = json::object();
  if (!object["spec"].is_object()) {
    const std::string kind(type.kind);
    return ApiResult::fail(objectUndecodable(
        type, cannotUnmarshal(object["spec"],
                              "Go struct field " + kind + ".spec of type v1." + kind + "Spec")));
  }
  return decoded;
}

// Objects by metadata.name, as the plugins' listers hand them over.
std::vector<const json*> byName(const std::vector<json>& objects) {
  std::vector<const json*> sorted;
  for (const auto& object : objects) sorted.push_back(&object);
  std::ranges::sort(sorted, {}, [](const json* object) {
    return (*object)["metadata"].value("name", std::string());
  });
  return sorted;
}

ApiError forbiddenPod(const std::string& pod, const std::string& why) {
  return {403, "Forbidden", "pods \"" + pod + "\" is forbidden: " + why,
          json{{"name", pod}, {"group", ""}, {"kind", "pods"}}};
}

// A quantity of cpu or memory as LimitRanger and the quota plugin print it.
std::string shown(bool cpu, double value) { return cpu ? formatCpu(value) : formatMemory(value); }
// Compared at the precision quantities have: millicores, bytes.
long long units(bool cpu, double value) {
  return cpu ? toMilliCores(value) : static_cast<long long>(std::llround(value));
}

// One resource of a container against a Container item's min or max.
struct Bound {
  std::string resource;  // cpu, memory
  bool cpu = true;
  double enforced = 0;
  std::optional<double> request;
  std::optional<double> limit;

  std::string head(const char* which) const {
    return std::string(which) + " " + resource + " usage per Container is " + shown(cpu, enforced);
  }
  bool below(std::optional<double> value) const {
    return value && units(cpu, *value) < units(cpu, enforced);
  }
  bool above(std::optional<double> value) const {
    return value && units(cpu, *value) > units(cpu, enforced);
  }
};

// limitranger's minConstraint and maxConstraint.
std::optional<std::string> minViolation(const Bound& b) {
  if (!b.request) return b.head("minimum") + ".  No request is specified";
  if (b.below(b.request)) return b.head("minimum") + ", but request is " + shown(b.cpu, *b.request);
  if (b.below(b.limit)) return b.head("minimum") + ", but limit is " + shown(b.cpu, *b.limit);
  return std::nullopt;
}

std::optional<std::string> maxViolation(const Bound& b) {
  if (!b.limit) return b.head("maximum") + ".  No limit is specified";
  if (b.above(b.limit)) return b.head("maximum") + ", but limit is " + shown(b.cpu, *b.limit);
  if (b.above(b.request)) return b.head("maximum") + ", but request is " + shown(b.cpu, *b.request);
  return std::nullopt;
}

// The quota resources the simulator counts, and where each is in a QuotaUsage.
struct QuotaResource {
  const char* name;
  bool cpu;
  double QuotaUsage::*field;
};
constexpr QuotaResource kQuotaResources[] = {
    {"cpu", true, &QuotaUsage::requestsCpu},
    {"limits.cpu", true, &QuotaUsage::limitsCpu},
    {"limits.memory", false, &QuotaUsage::limitsMemory},
    {"memory", false, &QuotaUsage::requestsMemory},
    {"requests.cpu", true, &QuotaUsage::requestsCpu},
    {"requests.memory", false, &QuotaUsage::requestsMemory},
};  // in name order, as prettyPrint sorts them

std::string listed(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out;
  for (const auto& [name, value] : entries) out += (out.empty() ? "" : ",") + name + "=" + value;
  return out;
}

}  // namespace

ApiResult decodeLimitRange(const json& body, const std::string& namespaceName,
                           const std::string& urlName, const json* /*current*/) {
  const ResourceType& type = kLimitRangeResource;
  ApiResult decoded = decodeWithSpec(type, body, namespaceName, urlName);
  if (!decoded.ok()) return decoded;
  json object = std::move(decoded.object);
  const json& spec = object["spec"];
  if (present(spec, "limits") && !spec["limits"].is_array()) {
    return ApiResult::fail(
        objectUndecodable(type, cannotUnmarshal(spec["limits"],
                                                "Go struct field LimitRangeSpec.spec.limits of "
                                                "type []v1.LimitRangeItem")));
  }
  std::vector<FieldError> errors;
  validateName(object["metadata"], errors);
  const json limits = present(spec, "limits") ? spec["limits"] : json::array();
  for (std::size_t i = 0; i < limits.size(); ++i) {
    const json& item = limits[i];
    const std::string path = "spec.limits[" + std::to_string(i) + "]";
    if (!item.is_object()) {
      return ApiResult::fail(
          objectUndecodable(type, cannotUnmarshal(item, "Go value of type v1.LimitRangeItem")));
    }
    for (const char* key : {"min", "max", "default", "defaultRequest", "maxLimitRequestRatio"}) {
      if (auto problem = checkQuantities(type, item, key, "LimitRangeItem." + path)) {
        return ApiResult::fail(*problem);
      }
    }
    const std::string itemType = item.value("type", json("")).is_string()
                                     ? item.value("type", std::string())
                                     : std::string();
    if (itemType != "Container" && itemType != "Pod" && itemType != "PersistentVolumeClaim") {
      errors.push_back({path + ".type", "FieldValueNotSupported",
                        "Unsupported value: " + json(itemType).dump() +
                            ": supported values: \"Container\", \"PersistentVolumeClaim\", "
                            "\"Pod\""});
    }
    if (!present(item, "min") || !present(item, "max")) continue;
    for (const auto& [resource, min] : item["min"].items()) {
      if (!item["max"].contains(resource)) continue;
      const double low = *quantityOf(min);
      const double high = *quantityOf(item["max"][resource]);
      if (low > high) {
        const bool cpu = resource == "cpu";
        errors.push_back(invalidField(
            path + ".min[" + resource + "]", json(shown(cpu, low)).dump(),
            "min value " + shown(cpu, low) + " is greater than max value " + shown(cpu, high)));
      }
    }
  }
  return invalidOrObject(type, std::move(object), errors);
}

ApiResult decodeResourceQuota(const json& body, const std::string& namespaceName,
                              const std::string& urlName, const json* current) {
  const ResourceType& type = kResourceQuotaResource;
  ApiResult decoded = decodeWithSpec(type, body, namespaceName, urlName);
  if (!decoded.ok()) return decoded;
  json object = std::move(decoded.object);
  const json& spec = object["spec"];
  if (auto problem = checkQuantities(type, spec, "hard", "ResourceQuotaSpec.spec")) {
    return ApiResult::fail(*problem);
  }
  // status is a subresource: a write keeps the stored one (none on create).
  object.erase("status");
  if (current != nullptr && current->contains("status")) object["status"] = (*current)["status"];
  std::vector<FieldError> errors;
  validateName(object["metadata"], errors);
  return invalidOrObject(type, std::move(object), errors);
}

json limitRangeBody(const LimitRangeSpec& spec) {
  json item = {{"type", "Container"}};
  if (!spec.min.empty()) item["min"] = spec.min;
  if (!spec.max.empty()) item["max"] = spec.max;
  return {{"apiVersion", "v1"},
          {"kind", "LimitRange"},
          {"metadata", {{"name", spec.name}, {"namespace", spec.namespaceName}}},
          {"spec", {{"limits", json::array({item})}}}};
}

json resourceQuotaBody(const ResourceQuotaSpec& spec) {
  return {{"apiVersion", "v1"},
          {"kind", "ResourceQuota"},
          {"metadata", {{"name", spec.name}, {"namespace", spec.namespaceName}}},
          {"spec", {{"hard", spec.hard}}}};
}

QuotaUsage& QuotaUsage::operator+=(const QuotaUsage& other) {
  requestsCpu += other.requestsCpu;
  requestsMemory += other.requestsMemory;
  limitsCpu += other.limitsCpu;
  limitsMemory += other.limitsMemory;
  return *this;
}

QuotaUsage quotaUsageOf(const ContainerResources& resources) {
  QuotaUsage usage;
  usage.requestsCpu = resources.cpuRequest.value_or(resources.cpuLimit.value_or(0));
  usage.requestsMemory = resources.memoryRequest.value_or(resources.memoryLimit.value_or(0));
  usage.limitsCpu = resources.cpuLimit.value_or(0);
  usage.limitsMemory = resources.memoryLimit.value_or(0);
  return usage;
}

QuotaUsage namespaceUsage(const ClusterModel& cluster, const std::string& namespaceName) {
  QuotaUsage used;
  for (const auto& pod : cluster.pods()) {
    if (pod.namespaceName == namespaceName) used += quotaUsageOf(pod.container.resources);
  }
  return used;
}

json withQuotaStatus(json quota, const QuotaUsage& used) {
  const json hard = present(quota, "spec") && present(quota["spec"], "hard") ? quota["spec"]["hard"]
                                                                             : json::object();
  json shownUsed = json::object();
  for (auto entry = hard.begin(); entry != hard.end(); ++entry) {
    const std::string& name = entry.key();
    const auto* resource = std::find_if(std::begin(kQuotaResources), std::end(kQuotaResources),
                                        [&](const QuotaResource& r) { return name == r.name; });
    shownUsed[name] = resource == std::end(kQuotaResources)
                          ? std::string("0")
                          : shown(resource->cpu, used.*(resource->field));
  }
  quota["status"] = {{"hard", hard}, {"used", shownUsed}};
  return quota;
}

std::optional<ApiError> limitRangeRefusal(const std::string& pod,
                                          const ContainerResources& resources,
                                          const std::vector<json>& limitRanges) {
  // A request the pod lacks is its limit: the API server defaulted it when the pod was made.
  const auto cpuRequest = resources.cpuRequest ? resources.cpuRequest : resources.cpuLimit;
  const auto memoryRequest =
      resources.memoryRequest ? resources.memoryRequest : resources.memoryLimit;
  for (const json* limitRange : byName(limitRanges)) {
    std::vector<std::string> violations;
    const json& spec = (*limitRange)["spec"];
    for (const auto& item : present(spec, "limits") ? spec["limits"] : json::array()) {
      if (item.value("type", json("")) != "Container") continue;
      // As the plugin: every min, then every max.
      using Check = std::optional<std::string> (*)(const Bound&);
      for (const auto& [key, check] : {std::pair<const char*, Check>{"min", &minViolation},
                                       std::pair<const char*, Check>{"max", &maxViolation}}) {
        if (!present(item, key)) continue;
        for (const bool cpu : {true, false}) {
          const std::string resource = cpu ? "cpu" : "memory";
          if (!item[key].contains(resource)) continue;
          const Bound bound{resource, cpu, *quantityOf(item[key][resource]),
                            cpu ? cpuRequest : memoryRequest,
                            cpu ? resources.cpuLimit : resources.memoryLimit};
          if (auto violation = check(bound)) violations.push_back(*violation);
        }
      }
    }
    if (violations.empty()) continue;
    // utilerrors.NewAggregate's words: one error as it is, several as "[a, b]".
    std::string why;
    for (const auto& v : violations) why += (why.empty() ? "" : ", ") + v;
    if (violations.size() > 1) why = "[" + why + "]";
    return forbiddenPod(pod, why);
  }
  return std::nullopt;
}

std::optional<ApiError> quotaRefusal(const std::string& pod, const ContainerResources& before,
                                     const ContainerResources& after,
                                     const std::vector<json>& quotas, const QuotaUsage& used) {
  const QuotaUsage was = quotaUsageOf(before);
  const QuotaUsage will = quotaUsageOf(after);
  // The growth per resource (SubtractWithNonNegativeResult): a shrink asks for nothing.
  auto growth = [&](const QuotaResource& r) {
    return units(r.cpu, will.*(r.field)) > units(r.cpu, was.*(r.field))
               ? will.*(r.field) - was.*(r.field)
               : 0.0;
  };
  if (std::ranges::none_of(kQuotaResources,
                           [&](const QuotaResource& r) { return growth(r) > 0; })) {
    return std::nullopt;
  }
  for (const json* quota : byName(quotas)) {
    const json& spec = (*quota)["spec"];
    if (!present(spec, "hard")) continue;
    std::vector<std::pair<std::string, std::string>> requested, usedShown, limited;
    for (const auto& r : kQuotaResources) {
      // Only what the resize grows is checked (the plugin masks the usage with the request's
      // non-zero resources): a namespace already over one limit may still grow another.
      if (!spec["hard"].contains(r.name) || growth(r) <= 0) continue;
      const double hard = *quantityOf(spec["hard"][r.name]);
      const double now = used.*(r.field);
      if (units(r.cpu, now + growth(r)) <= units(r.cpu, hard)) continue;
      requested.emplace_back(r.name, shown(r.cpu, growth(r)));
      usedShown.emplace_back(r.name, shown(r.cpu, now));
      limited.emplace_back(r.name, shown(r.cpu, hard));
    }
    if (requested.empty()) continue;
    return forbiddenPod(pod,
                        "exceeded quota: " + (*quota)["metadata"].value("name", std::string()) +
                            ", requested: " + listed(requested) + ", used: " + listed(usedShown) +
                            ", limited: " + listed(limited));
  }
  return std::nullopt;
}

std::optional<ApiError> podCreateRefusal(const std::string& pod,
                                         const ContainerResources& resources,
                                         const std::vector<json>& limitRanges,
                                         const std::vector<json>& quotas, const QuotaUsage& used) {
  if (auto refused = limitRangeRefusal(pod, resources, limitRanges)) return refused;
  // A new pod grows the namespace's usage by all of its own.
  return quotaRefusal(pod, ContainerResources{}, resources, quotas, used);
}

}  // namespace fleetscale::sim
