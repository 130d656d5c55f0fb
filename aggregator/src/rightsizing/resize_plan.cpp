#include "fleetscale/aggregator/rightsizing/resize_plan.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string_view>

#include "fleetscale/aggregator/scaling/label_selector.h"
#include "fleetscale/shared/quantity.h"

namespace fleetscale::aggregator::rightsizing {
namespace {

using nlohmann::json;

bool sameAmount(double a, double b) {
  if (!isPresent(a) || !isPresent(b)) return isPresent(a) == isPresent(b);
  return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(a));
}

// A quantity of a resources map ("requests"/"limits") as a number; absent when not there.
double amountOf(const json& resources, const char* kind, const char* resource) {
  if (!resources.is_object() || !resources.contains(kind)) return kAbsent;
  const auto& map = resources[kind];
  if (!map.is_object() || !map.contains(resource)) return kAbsent;
  const auto& value = map[resource];
  if (value.is_number()) return value.get<double>();
  if (!value.is_string()) return kAbsent;
  auto parsed = parseQuantity(value.get<std::string>());
  return parsed ? *parsed : kAbsent;
}

ContainerResources resourcesOf(const json& container) {
  ContainerResources out;
  if (container.contains("name") && container["name"].is_string()) {
    out.name = container["name"].get<std::string>();
  }
  if (!container.contains("resources")) return out;
  const auto& resources = container["resources"];
  out.cpuRequest = amountOf(resources, "requests", "cpu");
  out.cpuLimit = amountOf(resources, "limits", "cpu");
  out.memoryRequest = amountOf(resources, "requests", "memory");
  out.memoryLimit = amountOf(resources, "limits", "memory");
  return out;
}

std::vector<ContainerResources> containersOf(const json& list) {
  std::vector<ContainerResources> out;
  if (!list.is_array()) return out;
  for (const auto& container : list) {
    if (container.is_object()) out.push_back(resourcesOf(container));
  }
  return out;
}

const json& at(const json& object, const char* key) {
  static const json kNull;
  return object.is_object() && object.contains(key) ? object[key] : kNull;
}

std::int64_t integerAt(const json& object, const char* key) {
  const auto& value = at(object, key);
  return value.is_number_integer() ? value.get<std::int64_t>() : 0;
}

PodView podOf(const json& item) {
  PodView pod;
  const auto& metadata = at(item, "metadata");
  const auto& spec = at(item, "spec");
  const auto& status = at(item, "status");
  if (at(metadata, "name").is_string()) pod.name = at(metadata, "name").get<std::string>();
  pod.generation = integerAt(metadata, "generation");
  pod.observedGeneration = integerAt(status, "observedGeneration");
  pod.running = at(status, "phase") == "Running" && at(metadata, "deletionTimestamp").is_null();
  pod.spec = containersOf(at(spec, "containers"));
  pod.status = containersOf(at(status, "containerStatuses"));
  const auto& conditions = at(status, "conditions");
  if (!conditions.is_array()) return pod;
  for (const auto& condition : conditions) {
    const auto& type = at(condition, "type");
    const bool isTrue = at(condition, "status") == "True";
    if (type == "Ready") pod.ready = isTrue;
    if (type == "PodResizeInProgress" && isTrue) pod.resizeInProgress = true;
    if (type == "PodResizePending" && isTrue) {
      const auto& reason = at(condition, "reason");
      pod.pendingReason = reason.is_string() ? reason.get<std::string>() : "Deferred";
    }
    if ((type == "PodResizeInProgress" || type == "PodResizePending") && isTrue &&
        at(condition, "message").is_string()) {
      pod.resizeMessage = at(condition, "message").get<std::string>();
    }
  }
  return pod;
}

std::optional<ReplicaFailure> replicaFailureOf(const json& conditions) {
  if (!conditions.is_array()) return std::nullopt;
  for (const auto& condition : conditions) {
    if (at(condition, "type") != "ReplicaFailure" || at(condition, "status") != "True") continue;
    ReplicaFailure failure;
    if (at(condition, "reason").is_string())
      failure.reason = at(condition, "reason").get<std::string>();
    if (at(condition, "message").is_string())
      failure.message = at(condition, "message").get<std::string>();
    return failure;
  }
  return std::nullopt;
}

bool isAlphanumeric(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A label name or value: at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric.
bool isLabelName(std::string_view text) {
  return !text.empty() && text.size() <= 63 && isAlphanumeric(text.front()) &&
         isAlphanumeric(text.back()) && std::ranges::all_of(text, [](char c) {
           return isAlphanumeric(c) || c == '-' || c == '_' || c == '.';
         });
}

// apimachinery's IsQualifiedName: [DNS-subdomain prefix "/"] name. "" when `key` is one.
std::string labelKeyProblem(std::string_view key) {
  const auto slash = key.find('/');
  const std::string_view name = slash == std::string_view::npos ? key : key.substr(slash + 1);
  if (slash != std::string_view::npos) {
    const std::string_view prefix = key.substr(0, slash);
    const bool subdomain =
        !prefix.empty() && prefix.size() <= 253 && isAlphanumeric(prefix.front()) &&
        isAlphanumeric(prefix.back()) && std::ranges::all_of(prefix, [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        });
    if (!subdomain) return "prefix part must be a lowercase DNS subdomain";
  }
  if (!isLabelName(name)) {
    return "name part must be 1 to 63 alphanumeric characters, '-', '_' or '.', starting and "
           "ending with an alphanumeric character";
  }
  return "";
}

// A label value may also be empty.
std::string labelValueProblem(std::string_view value) {
  if (value.empty() || isLabelName(value)) return "";
  return "a valid label value must be empty or 1 to 63 alphanumeric characters, '-', '_' or '.', "
         "starting and ending with an alphanumeric character";
}

Result<std::string> labelValue(const json& value, const std::string& path) {
  if (!value.is_string()) return Error{path + ": not a string"};
  const auto text = value.get<std::string>();
  if (const auto problem = labelValueProblem(text); !problem.empty()) {
    return Error{path + ": invalid value \"" + text + "\": " + problem};
  }
  return text;
}

Result<scaling::LabelRequirement> labelRequirement(const json& expression,
                                                   const std::string& path) {
  using Operator = scaling::LabelRequirement::Operator;
  if (!expression.is_object()) return Error{path + ": not an object"};
  const auto& key = at(expression, "key");
  if (!key.is_string()) return Error{path + ".key: required"};
  scaling::LabelRequirement requirement;
  requirement.key = key.get<std::string>();
  if (const auto problem = labelKeyProblem(requirement.key); !problem.empty()) {
    return Error{path + ".key: invalid value \"" + requirement.key + "\": " + problem};
  }
  // apimachinery's words for an operator it does not know, the empty one included.
  const auto& op = at(expression, "operator");
  const std::string opName = op.is_string() ? op.get<std::string>() : "";
  const auto parsed = scaling::parseLabelOperator(opName);
  if (!parsed) {
    return Error{path + ".operator: \"" + opName + "\" is not a valid label selector operator"};
  }
  requirement.op = *parsed;
  const auto& values = at(expression, "values");
  if (!values.is_null() && !values.is_array()) return Error{path + ".values: not a list"};
  for (std::size_t i = 0; values.is_array() && i < values.size(); ++i) {
    auto value = labelValue(values[i], path + ".values[" + std::to_string(i) + "]");
    if (!value) return value.error();
    requirement.values.push_back(std::move(*value));
  }
  const bool setBased = requirement.op == Operator::kIn || requirement.op == Operator::kNotIn;
  if (setBased && requirement.values.empty()) {
    return Error{path + ".values: for 'in', 'notin' operators, values set can't be empty"};
  }
  if (!setBased && !requirement.values.empty()) {
    return Error{path + ".values: values set must be empty for exists and does not exist"};
  }
  return requirement;
}

// A workload's metav1.LabelSelector as metav1.LabelSelectorAsSelector reads it, written in the
// labelSelector query syntax a list takes ("app=web,tier in (a,b),!canary"). Refused where
// apimachinery refuses (an unknown operator, In or NotIn without values, Exists or DoesNotExist
// with some, a malformed key or value), and when it selects every pod (no selector, or an empty
// one): the apps/v1 API refuses such workloads, and resizing a namespace's every pod is never
// what a recommendation meant.
Result<std::string> selectorQuery(const json& selector) {
  if (!selector.is_object()) return Error{"missing"};
  scaling::LabelSelector out;
  const auto& matchLabels = at(selector, "matchLabels");
  if (!matchLabels.is_null() && !matchLabels.is_object()) {
    return Error{"matchLabels: not an object"};
  }
  for (const auto& [key, value] : matchLabels.items()) {  // null has no items
    if (const auto problem = labelKeyProblem(key); !problem.empty()) {
      return Error{"matchLabels: invalid key \"" + key + "\": " + problem};
    }
    auto text = labelValue(value, "matchLabels." + key);
    if (!text) return text.error();
    out.matchLabels[key] = std::move(*text);
  }
  const auto& expressions = at(selector, "matchExpressions");
  if (!expressions.is_null() && !expressions.is_array()) {
    return Error{"matchExpressions: not a list"};
  }
  for (std::size_t i = 0; expressions.is_array() && i < expressions.size(); ++i) {
    auto requirement =
        labelRequirement(expressions[i], "matchExpressions[" + std::to_string(i) + "]");
    if (!requirement) return requirement.error();
    out.matchExpressions.push_back(std::move(*requirement));
  }
  if (out.empty()) return Error{"empty: it would select every pod of the namespace"};
  return out.describe();
}

// A request rounded as it is written: whole millicores, whole mebibytes (up, so the safety margin
// is kept).
double roundedCpu(double cores) { return std::ceil(cores * 1000 - 1e-6) / 1000; }
double roundedMemory(double bytes) { return std::ceil(bytes / kMebibyte - 1e-9) * kMebibyte; }

const ContainerRecommendation* recommendationFor(
    std::span<const ContainerRecommendation> recommendations, const std::string& container) {
  for (const auto& recommendation : recommendations) {
    if (recommendation.container == container) return &recommendation;
  }
  return nullptr;
}

json resourcesJson(const ContainerResources& c) {
  json requests = json::object();
  json limits = json::object();
  if (isPresent(c.cpuRequest)) requests["cpu"] = cpuQuantity(c.cpuRequest);
  if (isPresent(c.memoryRequest)) requests["memory"] = memoryQuantity(c.memoryRequest);
  if (isPresent(c.cpuLimit)) limits["cpu"] = cpuQuantity(c.cpuLimit);
  if (isPresent(c.memoryLimit)) limits["memory"] = memoryQuantity(c.memoryLimit);
  json resources = json::object();
  if (!requests.empty()) resources["requests"] = std::move(requests);
  if (!limits.empty()) resources["limits"] = std::move(limits);
  return resources;
}

json containersPatch(std::span<const ContainerResources> containers) {
  json list = json::array();
  for (const auto& c : containers) {
    list.push_back(json{{"name", c.name}, {"resources", resourcesJson(c)}});
  }
  return json{{"containers", std::move(list)}};
}

}  // namespace

bool sameResources(const ContainerResources& a, const ContainerResources& b) {
  return a.name == b.name && sameAmount(a.cpuRequest, b.cpuRequest) &&
         sameAmount(a.cpuLimit, b.cpuLimit) && sameAmount(a.memoryRequest, b.memoryRequest) &&
         sameAmount(a.memoryLimit, b.memoryLimit);
}

QosClass qosClassOf(std::span<const ContainerResources> containers) {
  bool any = false;
  bool guaranteed = !containers.empty();
  for (const auto& c : containers) {
    any = any || isPresent(c.cpuRequest) || isPresent(c.cpuLimit) || isPresent(c.memoryRequest) ||
          isPresent(c.memoryLimit);
    // An unset request defaults to the limit, as the API server does.
    const double cpuRequest = isPresent(c.cpuRequest) ? c.cpuRequest : c.cpuLimit;
    const double memoryRequest = isPresent(c.memoryRequest) ? c.memoryRequest : c.memoryLimit;
    guaranteed = guaranteed && isPresent(c.cpuLimit) && isPresent(c.memoryLimit) &&
                 sameAmount(cpuRequest, c.cpuLimit) && sameAmount(memoryRequest, c.memoryLimit);
  }
  if (!any) return QosClass::kBestEffort;
  return guaranteed ? QosClass::kGuaranteed : QosClass::kBurstable;
}

Result<std::vector<PodView>> parsePods(const std::string& podListJson) {
  const auto list = json::parse(podListJson, nullptr, false);
  if (!list.is_object() || !at(list, "items").is_array()) {
    return Error{"not a PodList (no items)"};
  }
  std::vector<PodView> pods;
  for (const auto& item : list["items"]) pods.push_back(podOf(item));
  std::ranges::sort(pods, {}, &PodView::name);
  return pods;
}

Result<WorkloadTemplate> parseWorkloadTemplate(const std::string& workloadJson) {
  const auto workload = json::parse(workloadJson, nullptr, false);
  const auto& spec = at(workload, "spec");
  auto selector = selectorQuery(at(spec, "selector"));
  if (!selector) return Error{"spec.selector: " + selector.error().message};
  WorkloadTemplate out;
  out.selector = std::move(*selector);
  out.containers = containersOf(at(at(at(spec, "template"), "spec"), "containers"));
  if (out.containers.empty()) return Error{"no spec.template.spec.containers"};
  out.replicaFailure = replicaFailureOf(at(at(workload, "status"), "conditions"));
  return out;
}

bool changesEnough(double current, double target, double ratio, double floor) {
  if (!isPresent(current) || !isPresent(target)) return false;
  const double change = std::abs(target - current);
  // The margins keep a change of exactly the share (0.55 from 0.5 in binary) inside the band.
  return change > ratio * current * (1 + 1e-9) && change >= floor * (1 - 1e-9);
}

std::optional<ContainerResources> resizeTarget(const ContainerResources& current,
                                               const ContainerRecommendation& recommendation,
                                               const RightsizingPolicy& policy, bool guaranteed) {
  ContainerResources next = current;
  bool moved = false;
  const auto move = [&](const ResourceRecommendation& r, double& request, double& limit,
                        double ratioSetting, double floor, double (*round)(double)) {
    if (!r.controlled || !isPresent(r.target) || !isPresent(request)) return;
    const double target = round(r.target);
    if (!changesEnough(request, target, policy.minChangeRatio, floor)) return;
    double newLimit = kAbsent;
    if (guaranteed) {
      newLimit = target;
    } else if (isPresent(limit)) {
      newLimit = recommendedLimit(target, request, limit, policy.limits, ratioSetting);
      newLimit = isPresent(newLimit) ? std::max(round(newLimit), target) : target;
    }
    request = target;
    limit = newLimit;
    moved = true;
  };
  move(recommendation.cpu, next.cpuRequest, next.cpuLimit, policy.limitRatio.cpuCores,
       policy.minChange.cpuCores, roundedCpu);
  move(recommendation.memory, next.memoryRequest, next.memoryLimit, policy.limitRatio.memoryBytes,
       policy.minChange.memoryBytes, roundedMemory);
  if (!moved) return std::nullopt;
  return next;
}

std::optional<std::vector<ContainerResources>> podTarget(
    std::span<const ContainerResources> containers,
    std::span<const ContainerRecommendation> recommendations, const RightsizingPolicy& policy,
    bool* qosChange) {
  if (qosChange != nullptr) *qosChange = false;
  const QosClass before = qosClassOf(containers);
  if (before == QosClass::kBestEffort) return std::nullopt;  // no request to move
  std::vector<ContainerResources> next(containers.begin(), containers.end());
  bool moved = false;
  for (auto& container : next) {
    const auto* recommendation = recommendationFor(recommendations, container.name);
    if (recommendation == nullptr) continue;
    if (auto target =
            resizeTarget(container, *recommendation, policy, before == QosClass::kGuaranteed)) {
      container = std::move(*target);
      moved = true;
    }
  }
  if (!moved) return std::nullopt;
  if (qosClassOf(next) != before) {
    if (qosChange != nullptr) *qosChange = true;
    return std::nullopt;
  }
  return next;
}

int resizeBudget(int readyReplicas, double budgetShare) {
  return std::max(1, static_cast<int>(std::floor(budgetShare * readyReplicas + 1e-9)));
}

bool resizing(const PodView& pod) {
  if (pod.resizeInProgress || !pod.pendingReason.empty()) return true;
  if (pod.observedGeneration < pod.generation) return true;
  for (const auto& wanted : pod.spec) {
    for (const auto& actual : pod.status) {
      // A status without resources (an older kubelet, a container not started) says nothing.
      const bool reported = isPresent(actual.cpuRequest) || isPresent(actual.memoryRequest) ||
                            isPresent(actual.cpuLimit) || isPresent(actual.memoryLimit);
      if (actual.name == wanted.name && reported && !sameResources(actual, wanted)) return true;
    }
  }
  return false;
}

std::string_view toString(ApplyState state) {
  switch (state) {
    case ApplyState::kApplied:
      return "applied";
    case ApplyState::kResizing:
      return "resizing";
    case ApplyState::kPending:
      return "pending";
    case ApplyState::kInfeasible:
      return "infeasible";
    case ApplyState::kQosChange:
      return "qos-change";
  }
  return "?";
}

ResizePlan planResizes(std::span<const PodView> pods,
                       std::span<const ContainerRecommendation> recommendations,
                       const RightsizingPolicy& policy) {
  ResizePlan plan;
  int ready = 0;
  for (const auto& pod : pods) ready += pod.ready ? 1 : 0;
  plan.budget = resizeBudget(ready, policy.resizeBudget);
  std::vector<PodResize> wanted;
  bool qosChange = false;
  for (const auto& pod : pods) {
    if (pod.pendingReason == "Infeasible") {
      plan.state = ApplyState::kInfeasible;
      plan.message = "pod " + pod.name + ": " + pod.resizeMessage;
      plan.resizes.clear();
      return plan;
    }
    if (resizing(pod)) {
      ++plan.inFlight;
      if (pod.pendingReason == "Deferred") {
        plan.state = ApplyState::kPending;
        plan.message = "pod " + pod.name + " waits for room on its node: " + pod.resizeMessage;
      }
      continue;
    }
    if (!pod.running) continue;
    bool podQosChange = false;
    if (auto target = podTarget(pod.spec, recommendations, policy, &podQosChange)) {
      wanted.push_back({pod.name, std::move(*target)});
    }
    qosChange = qosChange || podQosChange;
  }
  const int slots = std::max(0, plan.budget - plan.inFlight);
  for (auto& resize : wanted) {
    if (static_cast<int>(plan.resizes.size()) >= slots) break;
    plan.resizes.push_back(std::move(resize));
  }
  if (plan.state == ApplyState::kPending) return plan;
  if (!wanted.empty() || plan.inFlight > 0) {
    plan.state = ApplyState::kResizing;
  } else if (qosChange) {
    plan.state = ApplyState::kQosChange;
    plan.message =
        "the recommendation would change the pods' QoS class (requests and limits); not applied";
  }
  return plan;
}

std::string podResizePatch(std::span<const ContainerResources> containers) {
  return json{{"spec", containersPatch(containers)}}.dump();
}

std::string templatePatch(std::span<const ContainerResources> containers) {
  return json{{"spec", {{"template", {{"spec", containersPatch(containers)}}}}}}.dump();
}

std::string_view admissionRefusal(std::string_view forbiddenMessage) {
  const auto says = [&](std::string_view words) {
    return forbiddenMessage.find(words) != std::string_view::npos;
  };
  // The LimitRanger's min/max and ratio constraints, for Container and Pod items.
  if (says(" usage per Container is ") || says(" usage per Pod is ") ||
      says(" max limit to request ratio per ")) {
    return "limit-range";
  }
  // The ResourceQuota plugin: a quota exceeded, or a quota's constraint on the pod unmet.
  if (says("exceeded quota: ") || says("failed quota: ") || says("status unknown for quota: ") ||
      says("insufficient quota to consume: ")) {
    return "quota";
  }
  return "";
}

std::string_view podCreateRefusal(const WorkloadTemplate& workload) {
  if (!workload.replicaFailure || workload.replicaFailure->reason != "FailedCreate") return "";
  return admissionRefusal(workload.replicaFailure->message);
}

std::string cpuQuantity(double cores) {
  return formatQuantityMilli(static_cast<std::int64_t>(std::llround(cores * 1000)));
}

std::string memoryQuantity(double bytes) {
  const auto whole = static_cast<std::int64_t>(std::llround(bytes));
  if (whole % (1024 * 1024) == 0) return std::to_string(whole / (1024 * 1024)) + "Mi";
  return std::to_string(whole);
}

}  // namespace fleetscale::aggregator::rightsizing
