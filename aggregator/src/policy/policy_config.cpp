#include "fleetscale/aggregator/policy/policy_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include "fleetscale/aggregator/policy/horizontal_vertical.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/quantity.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

using scaling::MetricTarget;
using scaling::PolicyType;
using scaling::ScalingPolicy;
using scaling::ScalingRules;
using scaling::SelectPolicy;

// Thrown inside the parser only, caught at the top and turned into an Error.
struct ConfigError {
  std::string message;
};

class Parser {
 public:
  explicit Parser(std::string_view source) : source_(source) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& path,
                         const std::string& what) const {
    const int line = node.IsDefined() ? node.Mark().line + 1 : 0;
    throw ConfigError{std::string(source_) + (line > 0 ? ":" + std::to_string(line) : "") + ": " +
                      path + ": " + what};
  }

  // Rejects keys the schema does not know, so a typo never silently means "default".
  void allowOnly(const YAML::Node& map, const std::string& path,
                 const std::set<std::string>& keys) const {
    if (!map.IsMap()) fail(map, path, "must be a mapping");
    for (const auto& entry : map) {
      const auto key = entry.first.as<std::string>();
      if (!keys.count(key)) fail(entry.first, path + "." + key, "unknown field");
    }
  }

  // A scalar as text: UTF-8 without control characters (it reaches logs, events, metric labels
  // and terminals), at most `maxBytes` long. Names get kMaxPolicyNameBytes.
  std::string string(const YAML::Node& node, const std::string& path, bool required,
                     std::size_t maxBytes = kMaxPolicyStringBytes) const {
    if (!node.IsDefined() || node.IsNull()) {
      if (required) fail(node, path, "is required");
      return "";
    }
    if (!node.IsScalar()) fail(node, path, "must be a string");
    const std::string& text = node.Scalar();
    // The file is UTF-8 (checked first); an escape ("\ud800") can still make a bad sequence.
    if (!isValidUtf8(text)) fail(node, path, "is not valid UTF-8");
    if (hasControlCharacters(text)) fail(node, path, "must not hold control characters");
    if (text.size() > maxBytes) {
      fail(node, path,
           "is " + std::to_string(text.size()) + " bytes, longer than " + std::to_string(maxBytes));
    }
    return text;
  }

  std::string name(const YAML::Node& node, const std::string& path, bool required) const {
    return string(node, path, required, kMaxPolicyNameBytes);
  }

  std::int64_t integer(const YAML::Node& node, const std::string& path, std::int64_t min,
                       std::int64_t max) const {
    if (!node.IsScalar()) fail(node, path, "must be an integer");
    const auto value = parseInt64(node.Scalar());
    if (!value) fail(node, path, "must be an integer, not " + singleQuoted(node.Scalar()));
    if (*value < min || *value > max) {
      fail(node, path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return *value;
  }

  double number(const YAML::Node& node, const std::string& path, double min, double max) const {
    if (!node.IsScalar()) fail(node, path, "must be a number");
    const auto value = parseDouble(node.Scalar());
    if (!value || *value < min || *value > max) {
      fail(node, path, "must be a number from " + formatNumber(min) + " to " + formatNumber(max));
    }
    return *value;
  }

  bool boolean(const YAML::Node& node, const std::string& path) const {
    if (!node.IsDefined()) return false;
    if (node.IsScalar() && (node.Scalar() == "true" || node.Scalar() == "false")) {
      return node.Scalar() == "true";
    }
    fail(node, path, "must be true or false");
  }

  // A duration from 0 to `max`.
  std::chrono::milliseconds duration(const YAML::Node& node, const std::string& path,
                                     std::chrono::nanoseconds max) const {
    if (!node.IsScalar()) fail(node, path, "must be a duration (30s, 5m)");
    auto value = parseDuration(node.Scalar(), std::chrono::nanoseconds(0), max);
    if (!value) fail(node, path, value.error().message);
    return std::chrono::duration_cast<std::chrono::milliseconds>(*value);
  }

  PrometheusConfig prometheus(const YAML::Node& node) const {
    const std::string path = "prometheus";
    allowOnly(node, path,
              {"url", "tokenFile", "caFile", "insecureSkipTLSVerify", "interval", "timeout",
               "staleness"});
    PrometheusConfig config;
    config.url = string(node["url"], path + ".url", true);
    if (config.url.rfind("https://", 0) != 0 && config.url.rfind("http://", 0) != 0) {
      fail(node["url"], path + ".url", "must be an http(s):// URL");
    }
    while (!config.url.empty() && config.url.back() == '/') config.url.pop_back();
    config.tokenFile = string(node["tokenFile"], path + ".tokenFile", false);
    config.caFile = string(node["caFile"], path + ".caFile", false);
    config.insecureSkipTlsVerify =
        boolean(node["insecureSkipTLSVerify"], path + ".insecureSkipTLSVerify");
    const auto positive = [&](const char* field, std::chrono::milliseconds fallback,
                              std::chrono::nanoseconds max) {
      if (!node[field]) return fallback;
      const auto value = duration(node[field], path + "." + field, max);
      if (value <= std::chrono::milliseconds(0))
        fail(node[field], path + "." + field, "must be positive");
      return value;
    };
    config.interval = positive("interval", config.interval, std::chrono::minutes(10));
    config.timeout = positive("timeout", config.timeout, std::chrono::minutes(1));
    config.staleness = positive("staleness", config.staleness, std::chrono::hours(1));
    if (config.staleness < config.interval) {
      fail(node["staleness"], path + ".staleness", "must be at least the interval");
    }
    return config;
  }

  ClusterConfig cluster(const YAML::Node& node, const std::string& path) const {
    allowOnly(node, path,
              {"name", "cloud", "region", "kubeconfig", "context", "server", "tokenFile", "caFile",
               "insecureSkipTLSVerify", "inCluster", "webhook"});
    ClusterConfig cluster;
    cluster.name = name(node["name"], path + ".name", true);
    cluster.cloud = name(node["cloud"], path + ".cloud", false);
    cluster.region = name(node["region"], path + ".region", false);
    auto& access = cluster.access;
    int ways = 0;
    if (node["kubeconfig"]) {
      ++ways;
      access.kind = ClusterAccess::Kind::kKubeconfig;
      access.kubeconfig = string(node["kubeconfig"], path + ".kubeconfig", true);
      access.context = name(node["context"], path + ".context", false);
    }
    if (node["server"]) {
      ++ways;
      access.kind = ClusterAccess::Kind::kServer;
      access.server = string(node["server"], path + ".server", true);
      if (access.server.rfind("https://", 0) != 0 && access.server.rfind("http://", 0) != 0) {
        fail(node["server"], path + ".server", "must be an http(s):// URL");
      }
      access.tokenFile = string(node["tokenFile"], path + ".tokenFile", false);
      access.caFile = string(node["caFile"], path + ".caFile", false);
    }
    if (boolean(node["inCluster"], path + ".inCluster")) {
      ++ways;
      access.kind = ClusterAccess::Kind::kInCluster;
    }
    if (node["webhook"]) {
      ++ways;
      const auto webhook = node["webhook"];
      allowOnly(webhook, path + ".webhook", {"url", "tokenFile"});
      access.kind = ClusterAccess::Kind::kWebhook;
      access.webhookUrl = string(webhook["url"], path + ".webhook.url", true);
      access.tokenFile = string(webhook["tokenFile"], path + ".webhook.tokenFile", false);
    }
    access.insecureSkipTlsVerify =
        boolean(node["insecureSkipTLSVerify"], path + ".insecureSkipTLSVerify");
    if (ways != 1) {
      fail(node, path, "needs exactly one of kubeconfig, server, inCluster or webhook");
    }
    if (access.kind != ClusterAccess::Kind::kKubeconfig && node["context"]) {
      fail(node["context"], path + ".context", "only applies with kubeconfig");
    }
    return cluster;
  }

  // One entry of `metrics`, in the HPA's autoscaling/v2 MetricSpec schema: the type and the
  // one body it names.
  MetricTarget metric(const YAML::Node& node, const std::string& path) const {
    static const std::map<std::string, std::pair<std::string, scaling::MetricSource>> kBodies{
        {"Resource", {"resource", scaling::MetricSource::kResource}},
        {"ContainerResource", {"containerResource", scaling::MetricSource::kContainerResource}},
        {"Pods", {"pods", scaling::MetricSource::kPods}},
        {"Object", {"object", scaling::MetricSource::kObject}},
        {"External", {"external", scaling::MetricSource::kExternal}}};
    allowOnly(node, path, {"type", "resource", "containerResource", "pods", "object", "external"});
    const std::string type = string(node["type"], path + ".type", true);
    const auto kind = kBodies.find(type);
    if (kind == kBodies.end()) {
      fail(node["type"], path + ".type",
           "must be Resource, ContainerResource, Pods, Object or External, not " +
               singleQuoted(type));
    }
    for (const auto& [otherType, other] : kBodies) {
      if (otherType != type && node[other.first]) {
        fail(node[other.first], path + "." + other.first, "only applies with type " + otherType);
      }
    }
    const auto& [key, source] = kind->second;
    const auto body = node[key];
    const std::string bodyPath = path + "." + key;
    if (!body.IsDefined()) fail(node, bodyPath, "is required with type " + type);
    MetricTarget target;
    target.source = source;
    switch (source) {
      case scaling::MetricSource::kResource:
        allowOnly(body, bodyPath, {"name", "target"});
        target.resource = resourceNamed(body["name"], bodyPath + ".name");
        metricTarget(body["target"], bodyPath + ".target", {"Utilization", "AverageValue"}, target);
        break;
      case scaling::MetricSource::kContainerResource:
        allowOnly(body, bodyPath, {"name", "container", "target"});
        target.resource = resourceNamed(body["name"], bodyPath + ".name");
        target.container = name(body["container"], bodyPath + ".container", true);
        metricTarget(body["target"], bodyPath + ".target", {"Utilization", "AverageValue"}, target);
        break;
      case scaling::MetricSource::kPods:
        allowOnly(body, bodyPath, {"metric", "target"});
        metricIdentifier(body["metric"], bodyPath + ".metric", target);
        metricTarget(body["target"], bodyPath + ".target", {"AverageValue"}, target);
        break;
      case scaling::MetricSource::kObject: {
        allowOnly(body, bodyPath, {"describedObject", "metric", "target", "query", "activation"});
        target.query = string(body["query"], bodyPath + ".query", false);
        target.activationMilli = activation(body, bodyPath);
        const auto object = body["describedObject"];
        const std::string objectPath = bodyPath + ".describedObject";
        if (!object.IsDefined()) fail(body, objectPath, "is required");
        allowOnly(object, objectPath, {"apiVersion", "kind", "name"});
        target.describedObject.apiVersion =
            string(object["apiVersion"], objectPath + ".apiVersion", false);
        target.describedObject.kind = name(object["kind"], objectPath + ".kind", true);
        target.describedObject.name = name(object["name"], objectPath + ".name", true);
        metricIdentifier(body["metric"], bodyPath + ".metric", target);
        metricTarget(body["target"], bodyPath + ".target", {"Value", "AverageValue"}, target);
        break;
      }
      case scaling::MetricSource::kExternal:
        allowOnly(body, bodyPath, {"metric", "target", "query", "activation"});
        target.query = string(body["query"], bodyPath + ".query", false);
        target.activationMilli = activation(body, bodyPath);
        metricIdentifier(body["metric"], bodyPath + ".metric", target);
        metricTarget(body["target"], bodyPath + ".target", {"Value", "AverageValue"}, target);
        break;
    }
    return target;
  }

  // KEDA's activationThreshold: a quantity, 0 when absent.
  std::int64_t activation(const YAML::Node& body, const std::string& path) const {
    if (!body["activation"]) return 0;
    auto milli = parseQuantityMilli(string(body["activation"], path + ".activation", true));
    if (!milli) fail(body["activation"], path + ".activation", milli.error().message);
    return *milli;
  }

  scaling::Resource resourceNamed(const YAML::Node& node, const std::string& path) const {
    const std::string resource = string(node, path, true);
    if (resource == "cpu") return scaling::Resource::kCpu;
    if (resource == "memory") return scaling::Resource::kMemory;
    fail(node, path, "must be cpu or memory");
  }

  // MetricIdentifier: the metric's name and the selector that narrows its series.
  void metricIdentifier(const YAML::Node& node, const std::string& path,
                        MetricTarget& target) const {
    if (!node.IsDefined()) fail(node, path, "is required");
    allowOnly(node, path, {"name", "selector"});
    target.metricName = name(node["name"], path + ".name", true);
    if (node["selector"]) target.selector = labelSelector(node["selector"], path + ".selector");
  }

  scaling::LabelSelector labelSelector(const YAML::Node& node, const std::string& path) const {
    allowOnly(node, path, {"matchLabels", "matchExpressions"});
    scaling::LabelSelector selector;
    if (const auto labels = node["matchLabels"]; labels) {
      if (!labels.IsMap()) fail(labels, path + ".matchLabels", "must be a mapping");
      for (const auto& entry : labels) {
        const auto key = name(entry.first, path + ".matchLabels", true);
        selector.matchLabels[key] = name(entry.second, path + ".matchLabels." + key, false);
      }
    }
    if (const auto expressions = node["matchExpressions"]; expressions) {
      if (!expressions.IsSequence())
        fail(expressions, path + ".matchExpressions", "must be a list");
      for (std::size_t i = 0; i < expressions.size(); ++i) {
        selector.matchExpressions.push_back(labelRequirement(
            expressions[i], path + ".matchExpressions[" + std::to_string(i) + "]"));
      }
    }
    return selector;
  }

  scaling::LabelRequirement labelRequirement(const YAML::Node& node,
                                             const std::string& path) const {
    using Operator = scaling::LabelRequirement::Operator;
    allowOnly(node, path, {"key", "operator", "values"});
    scaling::LabelRequirement requirement;
    requirement.key = name(node["key"], path + ".key", true);
    const std::string op = string(node["operator"], path + ".operator", true);
    const auto parsed = scaling::parseLabelOperator(op);
    if (!parsed) {
      fail(node["operator"], path + ".operator", "must be In, NotIn, Exists or DoesNotExist");
    }
    requirement.op = *parsed;
    if (const auto values = node["values"]; values) {
      if (!values.IsSequence()) fail(values, path + ".values", "must be a list");
      for (std::size_t i = 0; i < values.size(); ++i) {
        requirement.values.push_back(
            name(values[i], path + ".values[" + std::to_string(i) + "]", false));
      }
    }
    const bool needsValues = requirement.op == Operator::kIn || requirement.op == Operator::kNotIn;
    if (needsValues && requirement.values.empty()) {
      fail(node, path + ".values", "must not be empty for " + op);
    }
    if (!needsValues && !requirement.values.empty()) {
      fail(node["values"], path + ".values", "must be empty for " + op);
    }
    return requirement;
  }

  // MetricTarget: a type among `allowed` and its value.
  void metricTarget(const YAML::Node& node, const std::string& path,
                    const std::set<std::string>& allowed, MetricTarget& target) const {
    if (!node.IsDefined()) fail(node, path, "is required");
    allowOnly(node, path, {"type", "averageUtilization", "averageValue", "value"});
    const std::string type = string(node["type"], path + ".type", true);
    if (!allowed.count(type)) {
      std::string names;
      for (const auto& name : allowed) names += (names.empty() ? "" : " or ") + name;
      fail(node["type"], path + ".type", "must be " + names);
    }
    const auto positiveQuantity = [&](const char* field) {
      const auto valueNode = node[field];
      if (!valueNode) fail(node, path + "." + field, "is required");
      auto milli = parseQuantityMilli(string(valueNode, path + "." + field, true));
      if (!milli) fail(valueNode, path + "." + field, milli.error().message);
      if (*milli <= 0) fail(valueNode, path + "." + field, "must be positive");
      return *milli;
    };
    if (type == "Utilization") {
      target.type = scaling::TargetType::kUtilization;
      if (!node["averageUtilization"]) fail(node, path + ".averageUtilization", "is required");
      target.averageUtilization = static_cast<std::int32_t>(
          integer(node["averageUtilization"], path + ".averageUtilization", 1, 100000));
    } else if (type == "AverageValue") {
      target.type = scaling::TargetType::kAverageValue;
      target.averageValueMilli = positiveQuantity("averageValue");
    } else {
      target.type = scaling::TargetType::kValue;
      target.valueMilli = positiveQuantity("value");
    }
  }

  ScalingRules rules(const YAML::Node& node, const std::string& path) const {
    allowOnly(node, path, {"stabilizationWindowSeconds", "selectPolicy", "policies", "tolerance"});
    ScalingRules rules;
    if (node["stabilizationWindowSeconds"]) {
      rules.stabilizationWindowSeconds = static_cast<std::int32_t>(integer(
          node["stabilizationWindowSeconds"], path + ".stabilizationWindowSeconds", 0, 3600));
    }
    if (node["selectPolicy"]) {
      const std::string select = string(node["selectPolicy"], path + ".selectPolicy", true);
      if (select == "Max") {
        rules.selectPolicy = SelectPolicy::kMax;
      } else if (select == "Min") {
        rules.selectPolicy = SelectPolicy::kMin;
      } else if (select == "Disabled") {
        rules.selectPolicy = SelectPolicy::kDisabled;
      } else {
        fail(node["selectPolicy"], path + ".selectPolicy", "must be Max, Min or Disabled");
      }
    }
    if (node["tolerance"]) {
      const auto tolerance = node["tolerance"];
      // A quantity, as in the Kubernetes API ("0.05", "50m"), or a plain number.
      auto milli = parseQuantityMilli(string(tolerance, path + ".tolerance", true));
      if (!milli || *milli < 0)
        fail(tolerance, path + ".tolerance", "must be a non-negative quantity");
      rules.tolerance = static_cast<double>(*milli) / 1000.0;
    }
    if (node["policies"]) {
      const auto policies = node["policies"];
      if (!policies.IsSequence()) fail(policies, path + ".policies", "must be a list");
      std::vector<ScalingPolicy> parsed;
      for (std::size_t i = 0; i < policies.size(); ++i) {
        const std::string policyPath = path + ".policies[" + std::to_string(i) + "]";
        const auto policy = policies[i];
        allowOnly(policy, policyPath, {"type", "value", "periodSeconds"});
        ScalingPolicy p;
        const std::string type = string(policy["type"], policyPath + ".type", true);
        if (type == "Pods") {
          p.type = PolicyType::kPods;
        } else if (type == "Percent") {
          p.type = PolicyType::kPercent;
        } else {
          fail(policy["type"], policyPath + ".type", "must be Pods or Percent");
        }
        if (!policy["value"]) fail(policy, policyPath + ".value", "is required");
        if (!policy["periodSeconds"]) fail(policy, policyPath + ".periodSeconds", "is required");
        p.value = static_cast<std::int32_t>(
            integer(policy["value"], policyPath + ".value", 1, 1'000'000));
        p.periodSeconds = static_cast<std::int32_t>(
            integer(policy["periodSeconds"], policyPath + ".periodSeconds", 1, 1800));
        parsed.push_back(p);
      }
      if (parsed.empty()) fail(policies, path + ".policies", "must not be empty");
      rules.policies = parsed;
    }
    return rules;
  }

  WorkloadConfig workload(const YAML::Node& node, const std::string& path,
                          const scaling::WorkloadPolicy& defaults) const {
    allowOnly(node, path,
              {"namespace", "name", "kind", "minReplicas", "maxReplicas", "metrics", "behavior",
               "clusters", "demand", "predictive", "cooldown", "rightsizing"});
    WorkloadConfig workload;
    workload.policy = defaults;
    workload.namespaceName = name(node["namespace"], path + ".namespace", true);
    workload.name = name(node["name"], path + ".name", true);
    if (node["kind"]) workload.kind = string(node["kind"], path + ".kind", true);
    if (workload.kind != "Deployment" && workload.kind != "StatefulSet") {
      fail(node["kind"], path + ".kind", "must be Deployment or StatefulSet");
    }
    auto& policy = workload.policy;
    policy.minReplicas = node["minReplicas"]
                             ? static_cast<std::int32_t>(
                                   integer(node["minReplicas"], path + ".minReplicas", 0, 100000))
                             : 1;
    if (!node["maxReplicas"]) fail(node, path + ".maxReplicas", "is required");
    policy.maxReplicas =
        static_cast<std::int32_t>(integer(node["maxReplicas"], path + ".maxReplicas", 1, 100000));
    if (policy.maxReplicas < policy.minReplicas) {
      fail(node["maxReplicas"], path + ".maxReplicas", "must be at least minReplicas");
    }
    const auto metrics = node["metrics"];
    if (!metrics.IsDefined() || !metrics.IsSequence() || metrics.size() == 0) {
      fail(metrics.IsDefined() ? metrics : node, path + ".metrics", "must be a non-empty list");
    }
    std::map<std::string, std::string> podsSelectors;   // by metric name
    std::map<std::string, std::string> outsideQueries;  // by source, object and metric name
    for (std::size_t i = 0; i < metrics.size(); ++i) {
      const std::string metricPath = path + ".metrics[" + std::to_string(i) + "]";
      policy.metrics.push_back(metric(metrics[i], metricPath));
      const MetricTarget& added = policy.metrics.back();
      if (added.source == scaling::MetricSource::kObject ||
          added.source == scaling::MetricSource::kExternal) {
        // The decision sums the series of a metric's name (and object): two queries giving
        // series of one name would be summed together.
        const std::string identity = std::string(scaling::metricSourceName(added.source)) + " " +
                                     added.describedObject.describe() + " " + added.metricName;
        // An empty query is the one the name and object give, so equal names give equal ones.
        const auto [known, inserted] = outsideQueries.emplace(identity, added.query);
        if (!inserted && known->second != added.query) {
          fail(metrics[i], metricPath,
               "another " + std::string(scaling::metricSourceName(added.source)) +
                   " metric named " + singleQuoted(added.metricName) +
                   " runs a different query; give each query its own metric name");
        }
        continue;
      }
      if (added.source != scaling::MetricSource::kPods) continue;
      // A pod holds one value per Pods metric name (the sum of the series its selector picks).
      const auto [known, inserted] =
          podsSelectors.emplace(added.metricName, added.selector.describe());
      if (!inserted && known->second != added.selector.describe()) {
        fail(metrics[i], metricPath + ".pods.metric",
             "another Pods metric named " + singleQuoted(added.metricName) +
                 " has a different selector; use one selector per name");
      }
    }
    // The HPA's scale-to-zero rule: with no pods there is no pod metric to wake the workload,
    // so only a metric from outside the pods (Object, External) can.
    const bool outsideMetric =
        std::any_of(policy.metrics.begin(), policy.metrics.end(), [](const MetricTarget& m) {
          return m.source == scaling::MetricSource::kObject ||
                 m.source == scaling::MetricSource::kExternal;
        });
    if (policy.minReplicas == 0 && !outsideMetric) {
      fail(node["minReplicas"], path + ".minReplicas",
           "may be 0 only with an Object or External metric (a workload at zero has no pods to "
           "measure)");
    }
    if (node["cooldown"]) {
      if (policy.minReplicas != 0) {
        fail(node["cooldown"], path + ".cooldown", "only applies with minReplicas 0");
      }
      policy.cooldown = std::chrono::duration_cast<std::chrono::seconds>(
          duration(node["cooldown"], path + ".cooldown", std::chrono::hours(24)));
    }
    if (node["demand"]) policy.cpuDemand = cpuDemand(node["demand"], path + ".demand");
    if (node["predictive"]) {
      policy.predictive = predictive(node["predictive"], path + ".predictive", policy.predictive);
    }
    if (node["rightsizing"]) {
      workload.rightsizing = rightsizing(node["rightsizing"], path + ".rightsizing");
    }
    if (node["behavior"]) {
      const auto behavior = node["behavior"];
      allowOnly(behavior, path + ".behavior", {"scaleUp", "scaleDown"});
      scaling::Behavior parsed;
      if (behavior["scaleUp"])
        parsed.scaleUp = rules(behavior["scaleUp"], path + ".behavior.scaleUp");
      if (behavior["scaleDown"])
        parsed.scaleDown = rules(behavior["scaleDown"], path + ".behavior.scaleDown");
      policy.behavior = parsed;
    }
    if (node["clusters"]) {
      const auto clusters = node["clusters"];
      if (!clusters.IsSequence()) {
        fail(clusters, path + ".clusters", "must be a list of cluster names or placements");
      }
      for (std::size_t i = 0; i < clusters.size(); ++i) {
        auto entry = placement(clusters[i], path + ".clusters[" + std::to_string(i) + "]");
        if (!clusters[i].IsMap() || !clusters[i]["preference"])
          entry.preference = static_cast<int>(i);
        if (entry.maxReplicas && *entry.maxReplicas < entry.minReplicas) {
          fail(clusters[i]["maxReplicas"],
               path + ".clusters[" + std::to_string(i) + "].maxReplicas",
               "must be at least minReplicas");
        }
        workload.clusters.push_back(std::move(entry));
      }
      std::int64_t minimums = 0;
      for (const auto& entry : workload.clusters) minimums += entry.minReplicas;
      if (minimums > policy.maxReplicas) {
        fail(clusters, path + ".clusters",
             "the clusters' minReplicas add up to " + std::to_string(minimums) +
                 ", more than maxReplicas " + std::to_string(policy.maxReplicas));
      }
    }
    if (node["rightsizing"]) {
      auto combined = combineHorizontalVertical(policy, workload.rightsizing);
      if (!combined) fail(node["rightsizing"], path + ".rightsizing", combined.error().message);
      workload.rightsizing = *combined;
    }
    return workload;
  }

  // docs/configuration.md, "Right-sizing".
  rightsizing::RightsizingPolicy rightsizing(const YAML::Node& node,
                                             const std::string& path) const {
    allowOnly(node, path,
              {"mode", "minAllowed", "maxAllowed", "controlledResources", "limits", "minChange",
               "resizeBudget", "fallback"});
    rightsizing::RightsizingPolicy out;
    applySettings(node, path, out);
    if (node["mode"]) {
      const auto mode = rightsizing::parseMode(string(node["mode"], path + ".mode", true));
      if (!mode) fail(node["mode"], path + ".mode", "must be off, recommend, in-place or recreate");
      out.mode = *mode;
    }
    if (node["minAllowed"]) out.minAllowed = amounts(node["minAllowed"], path + ".minAllowed");
    if (node["maxAllowed"]) out.maxAllowed = amounts(node["maxAllowed"], path + ".maxAllowed");
    if (out.minAllowed.cpuCores > out.maxAllowed.cpuCores) {
      fail(node["maxAllowed"]["cpu"], path + ".maxAllowed.cpu", "must be at least minAllowed.cpu");
    }
    if (out.minAllowed.memoryBytes > out.maxAllowed.memoryBytes) {
      fail(node["maxAllowed"]["memory"], path + ".maxAllowed.memory",
           "must be at least minAllowed.memory");
    }
    if (const auto resources = node["controlledResources"]; resources.IsDefined()) {
      const std::string listPath = path + ".controlledResources";
      if (!resources.IsSequence() || resources.size() == 0) {
        fail(resources, listPath, "must be a non-empty list of cpu and memory (or mode: off)");
      }
      out.controlsCpu = out.controlsMemory = false;
      out.controlledResourcesListed = true;
      for (std::size_t i = 0; i < resources.size(); ++i) {
        const std::string itemPath = listPath + "[" + std::to_string(i) + "]";
        const std::string resource = string(resources[i], itemPath, true);
        if (resource != "cpu" && resource != "memory") {
          fail(resources[i], itemPath, "must be cpu or memory");
        }
        bool& controls = resource == "cpu" ? out.controlsCpu : out.controlsMemory;
        if (controls) fail(resources[i], itemPath, "names " + resource + " twice");
        controls = true;
      }
    }
    if (const auto limits = node["limits"]; limits.IsDefined()) {
      const std::string limitsPath = path + ".limits";
      if (limits.IsMap()) {
        allowOnly(limits, limitsPath, {"cpu", "memory"});
        out.limits = rightsizing::LimitsMode::kRatio;
        if (limits["cpu"])
          out.limitRatio.cpuCores = number(limits["cpu"], limitsPath + ".cpu", 1, 1000);
        if (limits["memory"]) {
          out.limitRatio.memoryBytes = number(limits["memory"], limitsPath + ".memory", 1, 1000);
        }
      } else {
        const std::string text = string(limits, limitsPath, true);
        if (text == "keep-ratio") {
          out.limits = rightsizing::LimitsMode::kKeepRatio;
        } else if (text == "unchanged") {
          out.limits = rightsizing::LimitsMode::kUnchanged;
        } else {
          fail(limits, limitsPath,
               "must be keep-ratio, unchanged, or a limit:request ratio per resource "
               "({cpu: 2, memory: 1})");
        }
      }
    }
    return out;
  }

  // How recommendations are applied: minChange {ratio, cpu, memory}, resizeBudget, fallback.
  void applySettings(const YAML::Node& node, const std::string& path,
                     rightsizing::RightsizingPolicy& out) const {
    if (const auto change = node["minChange"]; change.IsDefined()) {
      const std::string changePath = path + ".minChange";
      allowOnly(change, changePath, {"ratio", "cpu", "memory"});
      if (change["ratio"])
        out.minChangeRatio = number(change["ratio"], changePath + ".ratio", 0, 10);
      YAML::Node amountsOnly(YAML::NodeType::Map);
      for (const char* field : {"cpu", "memory"}) {
        if (change[field]) amountsOnly[field] = change[field];
      }
      const auto floors = amounts(amountsOnly, changePath);
      if (isPresent(floors.cpuCores)) out.minChange.cpuCores = floors.cpuCores;
      if (isPresent(floors.memoryBytes)) out.minChange.memoryBytes = floors.memoryBytes;
    }
    if (node["resizeBudget"]) {
      out.resizeBudget = number(node["resizeBudget"], path + ".resizeBudget", 0, 1);
    }
    if (const auto fallback = node["fallback"]; fallback.IsDefined()) {
      const std::string text = string(fallback, path + ".fallback", true);
      if (text == "recreate") {
        out.fallback = rightsizing::Fallback::kRecreate;
      } else if (text != "none") {
        fail(fallback, path + ".fallback", "must be none or recreate");
      }
    }
  }

  // {cpu: <quantity>, memory: <quantity>}, each optional and positive.
  rightsizing::ResourceAmounts amounts(const YAML::Node& node, const std::string& path) const {
    allowOnly(node, path, {"cpu", "memory"});
    rightsizing::ResourceAmounts out;
    const auto quantity = [&](const char* field) {
      const std::string fieldPath = path + "." + field;
      const auto value = parseQuantity(string(node[field], fieldPath, true));
      if (!value) fail(node[field], fieldPath, value.error().message);
      if (!(*value > 0)) fail(node[field], fieldPath, "must be positive");
      return *value;
    };
    if (node["cpu"]) out.cpuCores = quantity("cpu");
    if (node["memory"]) out.memoryBytes = quantity("memory");
    return out;
  }

  // A cluster name, or a mapping with the name and its placement settings.
  WorkloadCluster placement(const YAML::Node& node, const std::string& path) const {
    WorkloadCluster entry;
    if (node.IsScalar()) {
      entry.name = name(node, path, true);
      return entry;
    }
    allowOnly(node, path,
              {"name", "weight", "minReplicas", "maxReplicas", "preference", "fitToAllocatable"});
    entry.name = name(node["name"], path + ".name", true);
    if (node["weight"]) entry.weight = number(node["weight"], path + ".weight", 0, 1e6);
    if (node["minReplicas"]) {
      entry.minReplicas =
          static_cast<std::int32_t>(integer(node["minReplicas"], path + ".minReplicas", 0, 100000));
    }
    if (node["maxReplicas"]) {
      entry.maxReplicas =
          static_cast<std::int32_t>(integer(node["maxReplicas"], path + ".maxReplicas", 0, 100000));
    }
    if (node["preference"]) {
      entry.preference =
          static_cast<int>(integer(node["preference"], path + ".preference", -1000, 1000));
    }
    entry.fitToAllocatable = boolean(node["fitToAllocatable"], path + ".fitToAllocatable");
    return entry;
  }

  scaling::WorkloadPolicy defaults(const YAML::Node& node) const {
    scaling::WorkloadPolicy policy;
    if (!node.IsDefined()) return policy;
    allowOnly(node, "defaults",
              {"tolerance", "cpuInitializationPeriod", "initialReadinessDelay",
               "downscaleStabilization", "demand", "predictive"});
    if (node["demand"]) policy.cpuDemand = cpuDemand(node["demand"], "defaults.demand");
    if (node["predictive"]) {
      policy.predictive = predictive(node["predictive"], "defaults.predictive", policy.predictive);
    }
    if (node["tolerance"]) {
      const double tolerance = number(node["tolerance"], "defaults.tolerance", 0, 10);
      policy.calculator.tolerances = scaling::Tolerances{tolerance, tolerance};
    }
    // At most an hour, like the HPA's stabilizationWindowSeconds (3600): longer windows would
    // hold a decision on data older than the history kept in memory.
    constexpr std::chrono::hours kMaxWindow{1};
    if (node["cpuInitializationPeriod"]) {
      policy.calculator.cpuInitializationPeriod =
          duration(node["cpuInitializationPeriod"], "defaults.cpuInitializationPeriod", kMaxWindow);
    }
    if (node["initialReadinessDelay"]) {
      policy.calculator.delayOfInitialReadinessStatus =
          duration(node["initialReadinessDelay"], "defaults.initialReadinessDelay", kMaxWindow);
    }
    if (node["downscaleStabilization"]) {
      policy.downscaleStabilizationSeconds =
          static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        duration(node["downscaleStabilization"],
                                                 "defaults.downscaleStabilization", kMaxWindow))
                                        .count());
    }
    return policy;
  }

  // `predictive: on`, or `predictive: {mode: on, lookAhead: 10m, downscaleStabilization: 1m}`.
  scaling::PredictivePolicy predictive(const YAML::Node& node, const std::string& path,
                                       scaling::PredictivePolicy base) const {
    const YAML::Node mode = node.IsMap() ? node["mode"] : node;
    if (node.IsMap()) allowOnly(node, path, {"mode", "lookAhead", "downscaleStabilization"});
    if (mode.IsDefined()) {
      const auto parsed =
          scaling::parsePredictiveMode(string(mode, node.IsMap() ? path + ".mode" : path, true));
      if (!parsed) fail(mode, path, "must be off, observe or on");
      base.mode = *parsed;
    }
    if (node.IsMap() && node["lookAhead"]) {
      base.lookAhead = std::chrono::duration_cast<std::chrono::seconds>(
          duration(node["lookAhead"], path + ".lookAhead", std::chrono::hours(1)));
    }
    if (node.IsMap() && node["downscaleStabilization"]) {
      base.downscaleStabilization = std::chrono::duration_cast<std::chrono::seconds>(duration(
          node["downscaleStabilization"], path + ".downscaleStabilization", std::chrono::hours(1)));
    }
    return base;
  }

  scaling::CpuDemand cpuDemand(const YAML::Node& node, const std::string& path) const {
    const auto parsed = scaling::parseCpuDemand(string(node, path, true));
    if (!parsed) fail(node, path, "must be usage or throttling-aware");
    return *parsed;
  }

 private:
  static std::string formatNumber(double value) {
    std::string text = std::to_string(value);
    while (text.size() > 1 && text.back() == '0') text.pop_back();
    if (!text.empty() && text.back() == '.') text.pop_back();
    return text;
  }

  std::string_view source_;
};

// The line (from 1) of the first byte that breaks UTF-8.
std::size_t firstInvalidUtf8Line(std::string_view text) {
  std::size_t line = 1;
  std::size_t start = 0;
  for (std::size_t end = 0; end <= text.size(); ++end) {
    if (end == text.size() || text[end] == '\n') {
      if (!isValidUtf8(text.substr(start, end - start))) return line;
      ++line;
      start = end + 1;
    }
  }
  return line;
}

}  // namespace

const WorkloadConfig* PolicyConfig::findWorkload(std::string_view namespaceName,
                                                 std::string_view name) const {
  for (const auto& workload : workloads) {
    if (workload.namespaceName == namespaceName && workload.name == name) return &workload;
  }
  return nullptr;
}

rightsizing::RightsizingPolicy PolicyConfig::rightsizingFor(const WorkloadKey& workload) const {
  const WorkloadConfig* config = findWorkload(workload.namespaceName, workload.name);
  return config != nullptr ? config->rightsizing : rightsizing::RightsizingPolicy{};
}

const ClusterConfig* PolicyConfig::findCluster(std::string_view name) const {
  for (const auto& cluster : clusters) {
    if (cluster.name == name) return &cluster;
  }
  return nullptr;
}

Result<PolicyConfig> parsePolicyConfig(std::string_view yaml, std::string_view source) {
  if (yaml.size() > kMaxPolicyBytes) {
    return Error{std::string(source) + ": " + std::to_string(yaml.size()) +
                 " bytes, more than the limit of " + std::to_string(kMaxPolicyBytes)};
  }
  if (!isValidUtf8(yaml)) {
    return Error{std::string(source) + ":" + std::to_string(firstInvalidUtf8Line(yaml)) +
                 ": not valid UTF-8"};
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Error{std::string(source) + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg};
  }
  Parser parser(source);
  try {
    PolicyConfig config;
    // An empty file is far likelier a truncated one (caught mid-write) than a wish to stop
    // scaling everything: refused, so a reload keeps the running policy.
    if (root.IsNull()) {
      return Error{std::string(source) +
                   ": the policy is empty; to scale nothing, write 'workloads: []'"};
    }
    // Top-level keys the aggregator's flag options own are allowed too (one file can hold both).
    if (!root.IsMap()) parser.fail(root, "(top level)", "must be a mapping");
    const auto defaults = parser.defaults(root["defaults"]);
    if (const auto prometheus = root["prometheus"]; prometheus.IsDefined()) {
      config.prometheus = parser.prometheus(prometheus);
    }
    std::set<std::string> clusterNames;
    if (const auto clusters = root["clusters"]; clusters.IsDefined()) {
      if (!clusters.IsSequence()) parser.fail(clusters, "clusters", "must be a list");
      for (std::size_t i = 0; i < clusters.size(); ++i) {
        const std::string path = "clusters[" + std::to_string(i) + "]";
        auto cluster = parser.cluster(clusters[i], path);
        if (!clusterNames.insert(cluster.name).second) {
          parser.fail(clusters[i]["name"], path + ".name",
                      "duplicate cluster " + singleQuoted(cluster.name));
        }
        config.clusters.push_back(std::move(cluster));
      }
    }
    std::set<std::string> workloadKeys;
    if (const auto workloads = root["workloads"]; workloads.IsDefined()) {
      if (!workloads.IsSequence()) parser.fail(workloads, "workloads", "must be a list");
      for (std::size_t i = 0; i < workloads.size(); ++i) {
        const std::string path = "workloads[" + std::to_string(i) + "]";
        auto workload = parser.workload(workloads[i], path, defaults);
        // Unique by namespace and name, whatever the kind: agents may not know the kind.
        const std::string namespacedName = workload.namespaceName + "/" + workload.name;
        if (!workloadKeys.insert(namespacedName).second) {
          parser.fail(workloads[i]["name"], path,
                      "duplicate workload " + singleQuoted(namespacedName));
        }
        std::set<std::string> placed;
        for (std::size_t c = 0; c < workload.clusters.size(); ++c) {
          const std::string& name = workload.clusters[c].name;
          const auto entryNode = workloads[i]["clusters"][c];
          const auto nameNode = entryNode.IsMap() ? entryNode["name"] : entryNode;
          const std::string entryPath = path + ".clusters[" + std::to_string(c) + "]";
          if (!clusterNames.count(name)) {
            parser.fail(nameNode, entryPath, "unknown cluster " + singleQuoted(name));
          }
          if (!placed.insert(name).second) {
            parser.fail(nameNode, entryPath, "cluster " + singleQuoted(name) + " listed twice");
          }
        }
        config.workloads.push_back(std::move(workload));
      }
    }
    return config;
  } catch (const ConfigError& e) {
    return Error{e.message};
  } catch (const YAML::Exception& e) {
    return Error{std::string(source) + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg};
  }
}

Result<PolicyConfig> loadPolicyConfig(const std::string& path) {
  auto text = readFile(path, kMaxPolicyBytes);
  if (!text) return text.error();
  return parsePolicyConfig(*text, path);
}

}  // namespace fleetscale::aggregator
