#include "fleetscale/aggregator/pipeline/decision_json.h"

#include <cmath>
#include <limits>
#include <ostream>
#include <tuple>

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
    return fromUnixMillis(value.get<std::int64_t>());
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

json selectorJson(const LabelSelector& selector) {
  json out = json::object();
  if (!selector.matchLabels.empty()) out["matchLabels"] = selector.matchLabels;
  if (!selector.matchExpressions.empty()) {
    static constexpr const char* kOperators[] = {"In", "NotIn", "Exists", "DoesNotExist"};
    json expressions = json::array();
    for (const auto& r : selector.matchExpressions) {
      expressions.push_back(
          {{"key", r.key}, {"operator", kOperators[static_cast<int>(r.op)]}, {"values", r.values}});
    }
    out["matchExpressions"] = std::move(expressions);
  }
  return out;
}

json targetJson(const MetricTarget& target) {
  json out{{"source", std::string(metricSourceName(target.source))},
           {"type", std::string(targetTypeName(target.type))}};
  switch (target.source) {
    case MetricSource::kContainerResource:
      out["container"] = target.container;
      [[fallthrough]];
    case MetricSource::kResource:
      out["resource"] = std::string(resourceName(target.resource));
      break;
    case MetricSource::kObject:
      out["describedObject"] = {{"apiVersion", target.describedObject.apiVersion},
                                {"kind", target.describedObject.kind},
                                {"name", target.describedObject.name}};
      [[fallthrough]];
    case MetricSource::kPods:
    case MetricSource::kExternal:
      out["metric"] = target.metricName;
      if (!target.selector.empty()) out["selector"] = selectorJson(target.selector);
      if (target.activationMilli != 0) out["activationMilli"] = target.activationMilli;
      break;
  }
  switch (target.type) {
    case TargetType::kUtilization:
      out["averageUtilization"] = target.averageUtilization;
      break;
    case TargetType::kAverageValue:
      out["averageValueMilli"] = target.averageValueMilli;
      break;
    case TargetType::kValue:
      out["valueMilli"] = target.valueMilli;
      break;
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

// A pod's or container's requests and usage in milli-units, each absent when not given.
struct Figures {
  std::optional<std::int64_t> cpuRequest, memoryRequest, cpuUsage, memoryUsage;

  static Figures zero() { return {0, 0, 0, 0}; }
  std::optional<std::int64_t> usage(Resource resource) const {
    return resource == Resource::kCpu ? cpuUsage : memoryUsage;
  }
  // Summing containers: a figure one of them lacks is absent from the sum.
  void add(const Figures& other) {
    const auto plus = [](std::optional<std::int64_t>& sum, std::optional<std::int64_t> value) {
      std::int64_t total = 0;
      // A sum beyond int64 is as unknown as a missing figure.
      sum = sum && value && !__builtin_add_overflow(*sum, *value, &total) ? std::optional(total)
                                                                          : std::nullopt;
    };
    plus(cpuRequest, other.cpuRequest);
    plus(memoryRequest, other.memoryRequest);
    plus(cpuUsage, other.cpuUsage);
    plus(memoryUsage, other.memoryUsage);
  }
  Figures orElse(const Figures& fallback) const {
    return {cpuRequest ? cpuRequest : fallback.cpuRequest,
            memoryRequest ? memoryRequest : fallback.memoryRequest,
            cpuUsage ? cpuUsage : fallback.cpuUsage,
            memoryUsage ? memoryUsage : fallback.memoryUsage};
  }
};

Result<Figures> figuresFrom(const json& entry, const std::string& field) {
  const json requests = entry.value("requests", json::object());
  const json usage = entry.value("usage", json::object());
  Figures figures;
  for (auto [object, key, name, out] :
       {std::tuple{&requests, "cpu", ".requests", &figures.cpuRequest},
        std::tuple{&requests, "memory", ".requests", &figures.memoryRequest},
        std::tuple{&usage, "cpu", ".usage", &figures.cpuUsage},
        std::tuple{&usage, "memory", ".usage", &figures.memoryUsage}}) {
    auto value = quantityFrom(*object, key, field + name);
    if (!value) return value.error();
    *out = *value;
  }
  return figures;
}

Result<Labels> labelsFrom(const json& entry, const std::string& field) {
  Labels labels;
  if (!entry.contains("labels")) return labels;
  const json& object = entry["labels"];
  if (!object.is_object()) return Error{field + ".labels: must map names to values"};
  for (const auto& [key, value] : object.items()) {
    if (!value.is_string()) return Error{field + ".labels." + key + ": must be a string"};
    labels[key] = value.get<std::string>();
  }
  return labels;
}

// An object or external metric value: its labels, value and time (default: `now`).
struct MetricValue {
  Labels labels;
  std::int64_t valueMilli = 0;
  WallTime timestamp{};
};

Result<MetricValue> metricValueFrom(const json& entry, const std::string& field, WallTime now) {
  if (!entry.is_object() || !entry.contains("metric") || !entry["metric"].is_string()) {
    return Error{field + ": needs a metric name"};
  }
  MetricValue out;
  auto labels = labelsFrom(entry, field);
  if (!labels) return labels.error();
  out.labels = std::move(*labels);
  auto value = quantityFrom(entry, "value", field);
  if (!value) return value.error();
  if (!*value) return Error{field + ": needs a value"};
  out.valueMilli = **value;
  out.timestamp = now;
  if (entry.contains("time")) {
    auto at = timeFrom(entry["time"], field + ".time");
    if (!at) return at.error();
    out.timestamp = *at;
  }
  return out;
}

Status objectMetricsFrom(const json& list, WallTime now, WorkloadObservation& observation) {
  if (!list.is_array()) return Error{"objectMetrics: must be a list"};
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string field = "objectMetrics[" + std::to_string(i) + "]";
    auto value = metricValueFrom(list[i], field, now);
    if (!value) return value.error();
    const json object = list[i].value("describedObject", json::object());
    if (!object.is_object() || !object.contains("kind") || !object.contains("name") ||
        !object["kind"].is_string() || !object["name"].is_string()) {
      return Error{field + ".describedObject: needs a kind and a name"};
    }
    observation.objectMetrics.push_back(
        ObjectMetricValue{{object.value("apiVersion", ""), object["kind"].get<std::string>(),
                           object["name"].get<std::string>()},
                          list[i]["metric"].get<std::string>(),
                          std::move(value->labels),
                          value->valueMilli,
                          value->timestamp});
  }
  return {};
}

Status externalMetricsFrom(const json& list, WallTime now, WorkloadObservation& observation) {
  if (!list.is_array()) return Error{"externalMetrics: must be a list"};
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto value = metricValueFrom(list[i], "externalMetrics[" + std::to_string(i) + "]", now);
    if (!value) return value.error();
    observation.externalMetrics.push_back(
        ExternalMetricSeries{list[i]["metric"].get<std::string>(), std::move(value->labels),
                             value->valueMilli, value->timestamp});
  }
  return {};
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
  const auto metricAt = [&](std::int64_t valueMilli) {
    return PodMetric{valueMilli, metricsTime, window};
  };

  // Containers: their requests and usage, for ContainerResource metrics; the pod's own figures,
  // when not given, are the containers' sums (absent if any container lacks one), as the HPA's.
  Figures sums;
  if (entry.contains("containers")) {
    const json& containers = entry["containers"];
    if (!containers.is_array()) return Error{field + ".containers: must be a list"};
    sums = Figures::zero();
    for (std::size_t i = 0; i < containers.size(); ++i) {
      const json& c = containers[i];
      const std::string cField = field + ".containers[" + std::to_string(i) + "]";
      if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) {
        return Error{cField + ": needs a name"};
      }
      auto figures = figuresFrom(c, cField);
      if (!figures) return figures.error();
      ContainerInfo container{c["name"].get<std::string>(), figures->cpuRequest,
                              figures->memoryRequest};
      for (const auto resource : {Resource::kCpu, Resource::kMemory}) {
        if (const auto usage = figures->usage(resource); usage) {
          snapshot.observation.containerMetrics[container.name][resource][pod.name] =
              metricAt(*usage);
        }
      }
      sums.add(*figures);
      pod.containers.push_back(std::move(container));
    }
  }
  auto own = figuresFrom(entry, field);
  if (!own) return own.error();
  const Figures figures = own->orElse(sums);
  pod.cpuRequestMilli = figures.cpuRequest;
  pod.memoryRequestMilli = figures.memoryRequest;
  for (const auto resource : {Resource::kCpu, Resource::kMemory}) {
    if (const auto usage = figures.usage(resource); usage) {
      snapshot.observation.metrics[resource][pod.name] = metricAt(*usage);
    }
  }

  // Pods metrics: the pod's value of each, by metric name.
  if (entry.contains("metrics")) {
    const json& metrics = entry["metrics"];
    if (!metrics.is_object()) return Error{field + ".metrics: must map metric names to values"};
    for (const auto& [name, value] : metrics.items()) {
      auto milli = quantityFrom(metrics, name.c_str(), field + ".metrics");
      if (!milli) return milli.error();
      if (*milli) snapshot.observation.podMetrics[name][pod.name] = metricAt(**milli);
    }
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
      if (evaluation.target.type != TargetType::kValue)
        entry["averageValueMilli"] = p.averageValueMilli;
      if (evaluation.target.source == MetricSource::kObject ||
          evaluation.target.source == MetricSource::kExternal)
        entry["valueMilli"] = p.valueMilli;
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
              {"scaleDownEvents", events(history.scaleDownEvents)},
              {"lastActive", history.lastActive ? timeJson(*history.lastActive) : json(nullptr)}};
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
  if (value.contains("lastActive") && !value["lastActive"].is_null()) {
    auto at = timeFrom(value["lastActive"], "history.lastActive");
    if (!at) return at.error();
    history.lastActive = *at;
  }
  return history;
}

namespace {

Result<DecisionSnapshot> parseSnapshot(std::string_view text) {
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
  if (root.contains("statusReplicas")) {
    if (!root["statusReplicas"].is_number_integer() ||
        root["statusReplicas"].get<std::int64_t>() < 0 ||
        root["statusReplicas"].get<std::int64_t>() > std::numeric_limits<std::int32_t>::max())
      return Error{"snapshot: 'statusReplicas' must be a non-negative integer"};
    snapshot.observation.statusReplicas = root["statusReplicas"].get<std::int32_t>();
  }
  const json pods = root.value("pods", json::array());
  if (!pods.is_array()) return Error{"snapshot: 'pods' must be a list"};
  for (std::size_t i = 0; i < pods.size(); ++i) {
    if (Status status = podFrom(pods[i], i, snapshot.now, snapshot); !status) {
      return Error{"snapshot: " + status.message()};
    }
  }
  if (Status status = objectMetricsFrom(root.value("objectMetrics", json::array()), snapshot.now,
                                        snapshot.observation);
      !status) {
    return Error{"snapshot: " + status.message()};
  }
  if (Status status = externalMetricsFrom(root.value("externalMetrics", json::array()),
                                          snapshot.now, snapshot.observation);
      !status) {
    return Error{"snapshot: " + status.message()};
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

}  // namespace

Result<DecisionSnapshot> parseDecisionSnapshot(std::string_view text) {
  // A field of the wrong JSON type ("cluster": 3) makes nlohmann's accessors throw: a bad
  // snapshot, said as such, never a crash.
  try {
    return parseSnapshot(text);
  } catch (const json::exception& e) {
    return Error{std::string("snapshot: a field has the wrong type: ") + e.what()};
  }
}

}  // namespace fleetscale::aggregator
