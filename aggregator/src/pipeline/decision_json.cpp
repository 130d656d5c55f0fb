#include "fleetscale/aggregator/pipeline/decision_json.h"

#include <cmath>
#include <ostream>

#include "fleetscale/shared/quantity.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;
using namespace scaling;

json timeJson(WallTime time) { return formatRfc3339(time); }

// Times are RFC 3339 strings or Unix milliseconds.
Result<WallTime> timeFrom(const json& value, const std::string& field) {
  if (value.is_number_integer()) {
    return WallTime(std::chrono::milliseconds(value.get<std::int64_t>()));
  }
  if (value.is_string()) {
    auto parsed = parseRfc3339(value.get<std::string>());
    if (!parsed) return Error{field + ": " + parsed.error().message};
    return *parsed;
  }
  return Error{field + ": must be an RFC 3339 time or Unix milliseconds"};
}

json setJson(const std::set<std::string>& names) {
  return json(std::vector<std::string>(names.begin(), names.end()));
}

json targetJson(const MetricTarget& target) {
  json out{{"resource", std::string(resourceName(target.resource))}};
  if (target.type == TargetType::kUtilization) {
    out["type"] = "Utilization";
    out["averageUtilization"] = target.averageUtilization;
  } else {
    out["type"] = "AverageValue";
    out["averageValueMilli"] = target.averageValueMilli;
  }
  return out;
}

Result<std::optional<std::int64_t>> quantityFrom(const json& object, const char* key,
                                                 const std::string& field) {
  if (!object.is_object() || !object.contains(key) || object[key].is_null())
    return std::optional<std::int64_t>{};
  const auto& value = object[key];
  auto milli = value.is_string()   ? parseQuantityMilli(value.get<std::string>())
               : value.is_number() ? parseQuantityMilli(value.dump())
                                   : Result<std::int64_t>(Error{"not a quantity"});
  if (!milli) return Error{field + "." + key + ": " + milli.error().message};
  return std::optional<std::int64_t>{*milli};
}

Result<PodPhase> phaseFrom(const std::string& text) {
  if (text == "Running") return PodPhase::kRunning;
  if (text == "Pending") return PodPhase::kPending;
  if (text == "Succeeded") return PodPhase::kSucceeded;
  if (text == "Failed") return PodPhase::kFailed;
  if (text == "Unknown") return PodPhase::kUnknown;
  return Error{"phase " + singleQuoted(text) +
               " is not Running, Pending, Succeeded, Failed or Unknown"};
}

Status podFrom(const json& entry, std::size_t index, WallTime now, DecisionSnapshot& snapshot) {
  const std::string field = "pods[" + std::to_string(index) + "]";
  if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
    return Error{field + ": needs a name"};
  }
  PodInfo pod;
  pod.name = entry["name"].get<std::string>();
  pod.cluster = entry.value("cluster", "");
  auto phase = phaseFrom(entry.value("phase", "Running"));
  if (!phase) return Error{field + ": " + phase.error().message};
  pod.phase = *phase;
  pod.deleting = entry.value("deleting", false);
  if (entry.contains("startTime")) {
    auto start = timeFrom(entry["startTime"], field + ".startTime");
    if (!start) return start.error();
    pod.startTime = *start;
  }
  if (entry.contains("ready") && entry["ready"].is_boolean()) {
    WallTime since{};
    if (entry.contains("readySince")) {
      auto parsed = timeFrom(entry["readySince"], field + ".readySince");
      if (!parsed) return parsed.error();
      since = *parsed;
    }
    pod.readyCondition = ReadyCondition{entry["ready"].get<bool>(), since};
  }
  const json requests = entry.value("requests", json::object());
  auto cpuRequest = quantityFrom(requests, "cpu", field + ".requests");
  auto memoryRequest = quantityFrom(requests, "memory", field + ".requests");
  if (!cpuRequest) return cpuRequest.error();
  if (!memoryRequest) return memoryRequest.error();
  pod.cpuRequestMilli = *cpuRequest;
  pod.memoryRequestMilli = *memoryRequest;

  WallTime metricsTime = now;
  if (entry.contains("metricsTime")) {
    auto parsed = timeFrom(entry["metricsTime"], field + ".metricsTime");
    if (!parsed) return parsed.error();
    metricsTime = *parsed;
  }
  std::chrono::milliseconds window{std::chrono::seconds(1)};
  if (entry.contains("metricsWindow")) {
    auto parsed = entry["metricsWindow"].is_string()
                      ? parseDuration(entry["metricsWindow"].get<std::string>())
                      : Result<std::chrono::nanoseconds>(Error{"not a duration"});
    if (!parsed) return Error{field + ".metricsWindow: " + parsed.error().message};
    window = std::chrono::duration_cast<std::chrono::milliseconds>(*parsed);
  }
  const json usage = entry.value("usage", json::object());
  for (const auto& [key, resource] :
       {std::pair{"cpu", Resource::kCpu}, std::pair{"memory", Resource::kMemory}}) {
    auto value = quantityFrom(usage, key, field + ".usage");
    if (!value) return value.error();
    if (*value)
      snapshot.observation.metrics[resource][pod.name] = PodMetric{**value, metricsTime, window};
  }
  snapshot.observation.pods.push_back(std::move(pod));
  return {};
}

Result<std::vector<TimestampedRecommendation>> recommendationsFrom(const json& list) {
  std::vector<TimestampedRecommendation> out;
  if (!list.is_array()) return Error{"history.recommendations: must be a list"};
  for (const auto& entry : list) {
    auto at = timeFrom(entry.value("time", json()), "history.recommendations[].time");
    if (!at) return at.error();
    out.push_back({entry.value("replicas", 0), *at});
  }
  return out;
}

Result<std::vector<ScaleEvent>> eventsFrom(const json& list, const char* field) {
  std::vector<ScaleEvent> out;
  if (!list.is_array()) return Error{std::string("history.") + field + ": must be a list"};
  for (const auto& entry : list) {
    auto at = timeFrom(entry.value("time", json()), std::string("history.") + field + "[].time");
    if (!at) return at.error();
    out.push_back({entry.value("replicaChange", 0), *at, entry.value("outdated", false)});
  }
  return out;
}

}  // namespace

json decisionToJson(const Decision& decision) {
  json metrics = json::array();
  for (const auto& evaluation : decision.metrics) {
    json entry{{"target", targetJson(evaluation.target)}};
    if (evaluation.proposal) {
      const auto& p = *evaluation.proposal;
      entry["replicas"] = p.replicas;
      entry["usageRatio"] = p.usageRatio;
      entry["adjustedUsageRatio"] =
          p.adjustedUsageRatio ? json(*p.adjustedUsageRatio) : json(nullptr);
      if (evaluation.target.type == TargetType::kUtilization)
        entry["utilizationPercent"] = p.utilizationPercent;
      entry["averageValueMilli"] = p.averageValueMilli;
      entry["readyPods"] = p.groups.readyPodCount;
      entry["unreadyPods"] = setJson(p.groups.unready);
      entry["missingPods"] = setJson(p.groups.missing);
      entry["ignoredPods"] = setJson(p.groups.ignored);
      entry["rule"] = p.rule;
    } else {
      entry["error"] = evaluation.error;
    }
    metrics.push_back(std::move(entry));
  }
  json steps = json::array();
  for (const auto& step : decision.steps) {
    steps.push_back({{"rule", step.rule},
                     {"before", step.before},
                     {"after", step.after},
                     {"detail", step.detail}});
  }
  json demand = json::array();
  for (const auto& d : decision.demand) {
    demand.push_back({{"cluster", d.cluster},
                      {"pods", d.pods},
                      {"readyPods", d.readyPods},
                      {"cpuUsageCores", d.cpuUsageCores},
                      {"cpuRequestCores", d.cpuRequestCores},
                      {"memoryUsageBytes", d.memoryUsageBytes},
                      {"memoryRequestBytes", d.memoryRequestBytes},
                      {"cpuShare", d.cpuShare},
                      {"memoryShare", d.memoryShare}});
  }
  return json{
      {"currentReplicas", decision.currentReplicas},
      {"desiredReplicas", decision.desiredReplicas},
      {"scale", decision.scale},
      {"metricDesiredReplicas",
       decision.metricDesiredReplicas ? json(*decision.metricDesiredReplicas) : json(nullptr)},
      {"reason", decision.reason},
      {"error", decision.error},
      {"demand", std::move(demand)},
      {"metrics", std::move(metrics)},
      {"steps", std::move(steps)}};
}

json forecastToJson(const ForecastView& forecast) {
  const auto optional = [](const auto& value) { return value ? json(*value) : json(nullptr); };
  return json{{"mode", std::string(predictiveModeName(forecast.mode))},
              {"demandCores",
               std::isfinite(forecast.demandCores) ? json(forecast.demandCores) : json(nullptr)},
              {"forecastCores", optional(forecast.forecastCores)},
              {"marginCores", forecast.marginCores},
              {"mape", optional(forecast.mape)},
              {"lookAheadSeconds", forecast.lookAhead.count()},
              {"lookAheadSource", forecast.lookAheadSource},
              {"replicas", optional(forecast.replicas)},
              {"raised", forecast.raised},
              {"note", forecast.note}};
}

json historyToJson(const ScalingHistory& history) {
  json recommendations = json::array();
  for (const auto& r : history.recommendations) {
    recommendations.push_back({{"replicas", r.replicas}, {"time", timeJson(r.at)}});
  }
  auto events = [](const std::vector<ScaleEvent>& list) {
    json out = json::array();
    for (const auto& e : list) {
      out.push_back(
          {{"replicaChange", e.replicaChange}, {"time", timeJson(e.at)}, {"outdated", e.outdated}});
    }
    return out;
  };
  return json{{"recommendations", std::move(recommendations)},
              {"scaleUpEvents", events(history.scaleUpEvents)},
              {"scaleDownEvents", events(history.scaleDownEvents)}};
}

Result<ScalingHistory> historyFromJson(const json& value) {
  ScalingHistory history;
  if (value.is_null()) return history;
  if (!value.is_object()) return Error{"history: must be an object"};
  auto recommendations = recommendationsFrom(value.value("recommendations", json::array()));
  if (!recommendations) return recommendations.error();
  auto up = eventsFrom(value.value("scaleUpEvents", json::array()), "scaleUpEvents");
  if (!up) return up.error();
  auto down = eventsFrom(value.value("scaleDownEvents", json::array()), "scaleDownEvents");
  if (!down) return down.error();
  history.recommendations = std::move(*recommendations);
  history.scaleUpEvents = std::move(*up);
  history.scaleDownEvents = std::move(*down);
  return history;
}

Result<DecisionSnapshot> parseDecisionSnapshot(std::string_view text) {
  const json root = json::parse(text, nullptr, false);
  if (root.is_discarded() || !root.is_object()) return Error{"snapshot is not a JSON object"};
  DecisionSnapshot snapshot;
  const json workload = root.value("workload", json::object());
  snapshot.namespaceName = workload.value("namespace", "");
  snapshot.name = workload.value("name", "");
  if (!root.contains("now")) return Error{"snapshot: 'now' is required (RFC 3339 or Unix ms)"};
  auto now = timeFrom(root["now"], "now");
  if (!now) return now.error();
  snapshot.now = *now;
  if (!root.contains("currentReplicas") || !root["currentReplicas"].is_number_integer()) {
    return Error{"snapshot: 'currentReplicas' must be an integer"};
  }
  snapshot.observation.currentReplicas = root["currentReplicas"].get<std::int32_t>();
  const json pods = root.value("pods", json::array());
  if (!pods.is_array()) return Error{"snapshot: 'pods' must be a list"};
  for (std::size_t i = 0; i < pods.size(); ++i) {
    if (Status status = podFrom(pods[i], i, snapshot.now, snapshot); !status) {
      return Error{"snapshot: " + status.message()};
    }
  }
  auto history = historyFromJson(root.value("history", json()));
  if (!history) return Error{"snapshot: " + history.error().message};
  snapshot.history = std::move(*history);
  if (root.contains("policy")) {
    // The policy uses the policy file's workload schema; JSON is YAML, so its parser reads it.
    json spec = root["policy"];
    spec["namespace"] = snapshot.namespaceName.empty() ? "default" : snapshot.namespaceName;
    spec["name"] = snapshot.name.empty() ? "workload" : snapshot.name;
    json file{{"workloads", json::array({spec})}};
    if (root.contains("defaults")) file["defaults"] = root["defaults"];
    auto parsed = parsePolicyConfig(file.dump(), "snapshot policy");
    if (!parsed) return Error{parsed.error().message};
    snapshot.workload = parsed->workloads.front();
  }
  return snapshot;
}

}  // namespace fleetscale::aggregator
