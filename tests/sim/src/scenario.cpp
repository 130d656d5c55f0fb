#include "fleetscale/sim/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "fleetscale/shared/text.h"
#include "fleetscale/sim/quantity.h"

namespace fleetscale::sim {
namespace {

constexpr std::uintmax_t kMaxRecordedLoadBytes = 16 * 1024 * 1024;

// Thrown inside the parser only, turned into an Error at the boundary; carries the YAML line.
struct ScenarioError {
  std::string message;
};

std::string where(const YAML::Node& node, std::string_view key) {
  const auto mark = node.Mark();
  std::string text = std::string(key);
  if (mark.line >= 0) text = "line " + std::to_string(mark.line + 1) + ": " + text;
  return text;
}

constexpr double kMinTokenLifetimeSeconds = 1;
constexpr double kMaxTokenLifetimeSeconds = 24 * 3600;

// Each instance is a full aggregator process; more than a handful only slows the machine down.
constexpr int kMaxAggregatorInstances = 9;

[[noreturn]] void fail(const YAML::Node& node, std::string_view key, const std::string& message) {
  throw ScenarioError{where(node, key) + ": " + message};
}

// A YAML mapping whose keys are checked: reading marks a key used, and `finish` rejects the
// rest, so a typo ("replica: 3") is an error instead of a silent default.
class Fields {
 public:
  Fields(const YAML::Node& node, std::string context) : node_(node), context_(std::move(context)) {
    if (node_ && !node_.IsMap()) fail(node_, context_, "expected a mapping");
  }

  YAML::Node get(const std::string& key) {
    used_.insert(key);
    const YAML::Node& node = node_;  // const access: operator[] must not insert the key
    return node ? node[key] : YAML::Node(YAML::NodeType::Undefined);
  }
  bool has(const std::string& key) const { return node_ && node_[key]; }

  std::string string(const std::string& key, std::string fallback = "") {
    const YAML::Node value = get(key);
    if (!value) return fallback;
    if (!value.IsScalar()) fail(value, path(key), "expected a string");
    return value.as<std::string>();
  }

  double quantity(const std::string& key, double fallback) {
    const YAML::Node value = get(key);
    if (!value) return fallback;
    return quantityOf(value, path(key));
  }

  std::optional<double> optionalQuantity(const std::string& key) {
    const YAML::Node value = get(key);
    if (!value) return std::nullopt;
    return quantityOf(value, path(key));
  }

  double seconds(const std::string& key, double fallback) {
    const YAML::Node value = get(key);
    if (!value) return fallback;
    return secondsOf(value, path(key));
  }

  double number(const std::string& key, double fallback) {
    const YAML::Node value = get(key);
    if (!value) return fallback;
    const auto parsed = value.IsScalar() ? parseDouble(value.as<std::string>()) : std::nullopt;
    if (!parsed) fail(value, path(key), "expected a number");
    return *parsed;
  }

  int integer(const std::string& key, int fallback, int minimum = 0) {
    const YAML::Node value = get(key);
    if (!value) return fallback;
    const auto parsed = value.IsScalar() ? parseInt64(value.as<std::string>()) : std::nullopt;
    if (!parsed || *parsed < minimum || *parsed > 1'000'000) {
      fail(value, path(key), "expected an integer >= " + std::to_string(minimum));
    }
    return static_cast<int>(*parsed);
  }

  bool boolean(const std::string& key, bool fallback) {
    const YAML::Node value = get(key);
    if (!value) return fallback;
    const std::string text = value.IsScalar() ? value.as<std::string>() : "";
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    fail(value, path(key), "expected true or false");
  }

  std::vector<std::string> strings(const std::string& key) {
    const YAML::Node value = get(key);
    std::vector<std::string> out;
    if (!value) return out;
    if (value.IsScalar()) return {value.as<std::string>()};
    if (!value.IsSequence()) fail(value, path(key), "expected a list of strings");
    for (const auto& item : value) {
      if (!item.IsScalar()) fail(item, path(key), "expected a string");
      out.push_back(item.as<std::string>());
    }
    return out;
  }

  void finish() const {
    if (!node_) return;
    for (const auto& entry : node_) {
      const std::string key = entry.first.as<std::string>();
      if (!used_.count(key)) fail(entry.first, path(key), "unknown key");
    }
  }

  std::string path(const std::string& key) const {
    return context_.empty() ? key : context_ + "." + key;
  }

  static double quantityOf(const YAML::Node& value, const std::string& context) {
    if (!value.IsScalar()) fail(value, context, "expected a quantity");
    auto parsed = parseQuantity(value.as<std::string>());
    if (!parsed) fail(value, context, parsed.error().message);
    return *parsed;
  }

  static double secondsOf(const YAML::Node& value, const std::string& context) {
    if (!value.IsScalar()) fail(value, context, "expected a duration");
    auto parsed = parseDuration(value.as<std::string>());
    if (!parsed) fail(value, context, parsed.error().message);
    return std::chrono::duration<double>(*parsed).count();
  }

 private:
  YAML::Node node_;
  std::string context_;
  std::set<std::string> used_;
};

NodeResources parseResources(const YAML::Node& node, const std::string& context,
                             NodeResources fallback) {
  Fields fields(node, context);
  fallback.cpuCores = fields.quantity("cpu", fallback.cpuCores);
  fallback.memoryBytes = fields.quantity("memory", fallback.memoryBytes);
  fallback.pods = fields.integer("pods", fallback.pods, 1);
  fields.finish();
  if (fallback.cpuCores <= 0 || fallback.memoryBytes <= 0) {
    fail(node, context, "cpu and memory must be positive");
  }
  return fallback;
}

LoadCurve parseCurve(const YAML::Node& node, const std::string& context,
                     const std::string& baseDir);

std::vector<LoadPoint> parseSteps(const YAML::Node& node, const std::string& context) {
  if (!node.IsSequence()) fail(node, context, "expected a list of {at, value}");
  std::vector<LoadPoint> points;
  for (const auto& item : node) {
    Fields step(item, context);
    LoadPoint point;
    point.seconds = step.seconds("at", 0);
    point.value = step.quantity("value", 0);
    step.finish();
    if (!points.empty() && point.seconds <= points.back().seconds) {
      fail(item, context, "steps must be in time order");
    }
    points.push_back(point);
  }
  return points;
}

LoadCurve parseCurve(const YAML::Node& node, const std::string& context,
                     const std::string& baseDir) {
  if (node.IsScalar()) return LoadCurve::constant(Fields::quantityOf(node, context));
  Fields fields(node, context);
  const std::string type = fields.string("curve", "constant");
  LoadCurve curve;
  if (type == "constant") {
    curve = LoadCurve::constant(fields.quantity("value", 0));
  } else if (type == "step") {
    curve.kind = LoadCurve::Kind::kStep;
    curve.value = fields.quantity("initial", 0);
    const YAML::Node steps = fields.get("steps");
    if (!steps) fail(node, context, "step curve needs steps");
    curve.points = parseSteps(steps, fields.path("steps"));
  } else if (type == "ramp") {
    curve.kind = LoadCurve::Kind::kRamp;
    curve.from = fields.quantity("from", 0);
    curve.to = fields.quantity("to", 0);
    curve.start = fields.seconds("start", 0);
    curve.end = fields.seconds("end", curve.start);
    if (curve.end < curve.start) fail(node, context, "ramp end before start");
  } else if (type == "diurnal") {
    curve.kind = LoadCurve::Kind::kDiurnal;
    curve.min = fields.quantity("min", 0);
    curve.max = fields.quantity("max", 0);
    curve.period = fields.seconds("period", 86400);
    curve.phase = fields.seconds("phase", 0);
    if (curve.period <= 0) fail(node, context, "diurnal period must be positive");
  } else if (type == "spike") {
    curve.kind = LoadCurve::Kind::kSpike;
    curve.value = fields.quantity("base", 0);
    curve.peak = fields.quantity("peak", 0);
    curve.start = fields.seconds("at", 0);
    curve.duration = fields.seconds("duration", 1);
    curve.every = fields.seconds("every", 0);
  } else if (type == "recorded") {
    curve.kind = LoadCurve::Kind::kRecorded;
    const std::string file = fields.string("file");
    if (file.empty()) fail(node, context, "recorded curve needs file");
    const std::filesystem::path path = std::filesystem::path(file).is_absolute()
                                           ? std::filesystem::path(file)
                                           : std::filesystem::path(baseDir) / file;
    // A regular file of sane size: a recorded load is data, not /dev/zero.
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      fail(node, context, path.string() + ": not a regular file");
    }
    if (std::filesystem::file_size(path, ec) > kMaxRecordedLoadBytes) {
      fail(node, context, path.string() + ": larger than 16 MiB");
    }
    auto text = readFile(path.string());
    if (!text) fail(node, context, text.error().message);
    auto points = parseLoadCsv(*text);
    if (!points) fail(node, context, path.string() + ": " + points.error().message);
    const double scale = fields.number("scale", 1.0);
    for (auto& point : *points) point.value *= scale;
    curve.points = std::move(*points);
    const std::string between = fields.string("interpolate", "linear");
    if (between != "linear" && between != "hold") {
      fail(node, context, "interpolate must be linear or hold");
    }
    curve.interpolate = between == "linear";
    curve.loop = fields.boolean("loop", false);
    // Where in the recording simulated second 0 falls: workloads can replay different days of
    // one trace.
    curve.phase = fields.seconds("offset", 0);
  } else if (type == "sum") {
    curve.kind = LoadCurve::Kind::kSum;
    const YAML::Node parts = fields.get("parts");
    if (!parts || !parts.IsSequence()) fail(node, context, "sum curve needs a list of parts");
    for (const auto& part : parts) curve.parts.push_back(parseCurve(part, context, baseDir));
  } else {
    fail(node, context,
         "unknown curve " + fleetscale::singleQuoted(type) +
             " (constant, step, ramp, diurnal, spike, recorded, sum)");
  }
  fields.finish();
  return curve;
}

bool validName(std::string_view name);

// A mapping of resource names to quantities, kept as written; `allowed` empty = any name.
std::map<std::string, std::string> quantityMap(const YAML::Node& node, const std::string& context,
                                               const std::set<std::string>& allowed) {
  if (!node.IsMap()) fail(node, context, "expected a mapping of resources to quantities");
  std::map<std::string, std::string> out;
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (!allowed.empty() && !allowed.contains(key)) {
      fail(entry.first, context + "." + key, "expected cpu or memory");
    }
    if (!entry.second.IsScalar() || !parseQuantity(entry.second.as<std::string>())) {
      fail(entry.second, context + "." + key, "expected a quantity");
    }
    out[key] = entry.second.as<std::string>();
  }
  return out;
}

// `limit-ranges` and `resource-quotas` entries: each names its object and namespace.
template <typename Spec>
std::vector<Spec> parseAdmissionObjects(const YAML::Node& node, const std::string& context,
                                        void (*body)(Fields&, Spec&, const YAML::Node&,
                                                     const std::string&)) {
  if (!node.IsSequence()) fail(node, context, "expected a list");
  std::vector<Spec> out;
  std::set<std::string> named;  // "namespace/name": the API server would refuse the second
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string item = context + "[" + std::to_string(i) + "]";
    Fields fields(node[i], item);
    Spec spec;
    spec.name = fields.string("name");
    if (!validName(spec.name)) fail(node[i], item + ".name", "needs a DNS label");
    spec.namespaceName = fields.string("namespace", spec.namespaceName);
    if (!validName(spec.namespaceName)) fail(node[i], item + ".namespace", "needs a DNS label");
    if (!named.insert(spec.namespaceName + "/" + spec.name).second) {
      fail(node[i], item + ".name",
           "another entry has this name in namespace " + spec.namespaceName);
    }
    body(fields, spec, node[i], item);
    fields.finish();
    out.push_back(std::move(spec));
  }
  return out;
}

void limitRangeFields(Fields& fields, LimitRangeSpec& spec, const YAML::Node& node,
                      const std::string& context) {
  for (auto [key, bound] : {std::pair{"min", &spec.min}, std::pair{"max", &spec.max}}) {
    if (fields.has(key)) {
      *bound = quantityMap(fields.get(key), context + "." + key, {"cpu", "memory"});
    }
  }
  for (const auto& [resource, lowest] : spec.min) {
    const auto highest = spec.max.find(resource);
    if (highest != spec.max.end() && *parseQuantity(lowest) > *parseQuantity(highest->second)) {
      fail(node, context + ".min." + resource,
           "above max." + resource + " (" + highest->second + ")");
    }
  }
}

void resourceQuotaFields(Fields& fields, ResourceQuotaSpec& spec, const YAML::Node& node,
                         const std::string& context) {
  if (!fields.has("hard")) fail(node, context + ".hard", "is required");
  spec.hard = quantityMap(fields.get("hard"), context + ".hard", {});
}

void applyClusterFields(Fields& fields, ClusterSpec& cluster, const std::string& context) {
  cluster.nodes = fields.integer("nodes", cluster.nodes, 1);
  if (fields.has("node-capacity")) {
    cluster.capacity =
        parseResources(fields.get("node-capacity"), context + ".node-capacity", cluster.capacity);
    cluster.allocatable = cluster.capacity;
  }
  if (fields.has("node-allocatable")) {
    cluster.allocatable = parseResources(fields.get("node-allocatable"),
                                         context + ".node-allocatable", cluster.capacity);
  }
  if (fields.has("cgroup")) {
    const YAML::Node node = fields.get("cgroup");
    Fields cgroup(node, context + ".cgroup");
    const std::string driver = cgroup.string("driver", std::string(toString(cluster.driver)));
    if (driver == "systemd") {
      cluster.driver = CgroupDriver::kSystemd;
    } else if (driver == "cgroupfs") {
      cluster.driver = CgroupDriver::kCgroupfs;
    } else {
      fail(node, context + ".cgroup.driver", "expected systemd or cgroupfs");
    }
    cluster.cgroupVersion = cgroup.integer("version", cluster.cgroupVersion, 1);
    if (cluster.cgroupVersion != 1 && cluster.cgroupVersion != 2) {
      fail(node, context + ".cgroup.version", "expected 1 or 2");
    }
    cgroup.finish();
  }
  cluster.schedulingDelaySeconds =
      fields.seconds("scheduling-delay", cluster.schedulingDelaySeconds);
  cluster.readinessDelaySeconds = fields.seconds("readiness-delay", cluster.readinessDelaySeconds);
  cluster.pauseContainers = fields.boolean("pause-containers", cluster.pauseContainers);
  cluster.systemPods = fields.boolean("system-pods", cluster.systemPods);
  cluster.kubernetesVersion = fields.string("kubernetes-version", cluster.kubernetesVersion);
  if (fields.has("resize-delay")) {
    cluster.resizeDelaySeconds = fields.seconds("resize-delay", cluster.resizeDelaySeconds);
    if (cluster.resizeDelaySeconds < 0) {
      fail(fields.get("resize-delay"), context + ".resize-delay", "must not be negative");
    }
  }
  if (fields.has("limit-ranges")) {
    cluster.limitRanges = parseAdmissionObjects<LimitRangeSpec>(
        fields.get("limit-ranges"), context + ".limit-ranges", limitRangeFields);
  }
  if (fields.has("resource-quotas")) {
    cluster.resourceQuotas = parseAdmissionObjects<ResourceQuotaSpec>(
        fields.get("resource-quotas"), context + ".resource-quotas", resourceQuotaFields);
  }
  if (fields.has("aggregator-auth")) {
    const YAML::Node node = fields.get("aggregator-auth");
    const auto auth = parseAggregatorAuth(fields.string("aggregator-auth"));
    if (!auth) {
      fail(node, context + ".aggregator-auth",
           "expected token, exec-token, exec-certificate or exec-expiring");
    }
    cluster.aggregatorAuth = *auth;
  }
  if (fields.has("token-lifetime")) {
    const YAML::Node node = fields.get("token-lifetime");
    cluster.tokenLifetimeSeconds = fields.seconds("token-lifetime", cluster.tokenLifetimeSeconds);
    // Under a second the aggregator would spend its time running the plugin; past a day no test
    // would see a rotation.
    if (cluster.tokenLifetimeSeconds < kMinTokenLifetimeSeconds ||
        cluster.tokenLifetimeSeconds > kMaxTokenLifetimeSeconds) {
      fail(node, context + ".token-lifetime", "expected 1s..24h");
    }
  }
}

bool validName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return name.front() != '-' && name.back() != '-';
}

ClusterSpec parseCluster(const YAML::Node& node, const ClusterSpec& defaults, int index) {
  const std::string context = "clusters[" + std::to_string(index) + "]";
  Fields fields(node, context);
  ClusterSpec cluster = defaults;
  cluster.name = fields.string("name");
  if (!validName(cluster.name)) {
    fail(node, context + ".name", "needs a DNS label (lower-case letters, digits, '-')");
  }
  cluster.cloud = fields.string("cloud", "onprem");
  cluster.region = fields.string("region", "local");
  cluster.zone = fields.string("zone", "");
  applyClusterFields(fields, cluster, context);
  fields.finish();
  // A lifetime given for a cluster whose tokens never expire is a mistake in the scenario. One
  // in `defaults` is not: it serves whichever clusters choose exec-expiring.
  if (fields.has("token-lifetime") && cluster.aggregatorAuth != AggregatorAuth::kExecExpiring) {
    fail(fields.get("token-lifetime"), context + ".token-lifetime",
         "applies only to aggregator-auth: exec-expiring");
  }
  return cluster;
}

FaultKind parseFaultKind(const YAML::Node& node, const std::string& text,
                         const std::string& context) {
  static const std::pair<std::string_view, FaultKind> kKinds[] = {
      {"kill-cluster", FaultKind::kKillCluster},
      {"revive-cluster", FaultKind::kReviveCluster},
      {"partition-api", FaultKind::kPartitionApi},
      {"partition-agents", FaultKind::kPartitionAgents},
      {"slow-api", FaultKind::kSlowApi},
      {"failing-api", FaultKind::kFailingApi},
      {"conflict-storm", FaultKind::kConflictStorm},
      {"flap-agents", FaultKind::kFlapAgents},
      {"rollout-agents", FaultKind::kRolloutAgents},
      {"kubelet-garbage", FaultKind::kKubeletGarbage},
      {"resize-unsupported", FaultKind::kResizeUnsupported},
      {"resize-forbidden", FaultKind::kResizeForbidden},
      {"heal", FaultKind::kHeal},
  };
  for (const auto& [name, kind] : kKinds) {
    if (text == name) return kind;
  }
  std::string known;
  for (const auto& [name, kind] : kKinds) known += (known.empty() ? "" : ", ") + std::string(name);
  fail(node, context, "unknown fault " + fleetscale::singleQuoted(text) + " (" + known + ")");
}

FaultSpec parseFaultNode(const YAML::Node& node, const std::string& context) {
  Fields fields(node, context);
  FaultSpec fault;
  fault.atSeconds = fields.seconds("at", 0);
  if (fields.has("for")) fault.forSeconds = fields.seconds("for", 0);
  fault.kind = parseFaultKind(node, fields.string("fault"), context + ".fault");
  fault.cluster = fields.string("cluster");
  fault.nodes = fields.strings("nodes");
  fault.latencySeconds = fields.seconds("latency", 0);
  fault.rate = fields.number("rate", 1.0);
  fault.status = fields.integer("status", 503, 100);
  fault.periodSeconds = fields.seconds("period", fault.periodSeconds);
  fault.pauseSeconds = fields.seconds("pause", fault.pauseSeconds);
  fault.mode = fields.string("mode", fault.mode);
  fields.finish();
  if (fault.rate < 0 || fault.rate > 1) fail(node, context + ".rate", "expected 0..1");
  if (fault.kind != FaultKind::kHeal && fault.cluster.empty()) {
    fail(node, context, "needs cluster");
  }
  if (fault.kind == FaultKind::kFlapAgents && fault.periodSeconds <= 0) {
    fail(node, context + ".period", "must be positive");
  }
  if (fault.pauseSeconds < 0) fail(node, context + ".pause", "must not be negative");
  if (fault.kind == FaultKind::kRolloutAgents && fault.forSeconds) {
    fail(node, context + ".for", "a rollout ends by itself, after its last node");
  }
  static const std::set<std::string> kModes = {"garbage", "truncated", "wrong-types", "empty",
                                               "status-500"};
  if (fault.kind == FaultKind::kKubeletGarbage && !kModes.count(fault.mode)) {
    fail(node, context + ".mode", "expected garbage, truncated, wrong-types, empty or status-500");
  }
  return fault;
}

AutoscaleSpec parseAutoscale(const YAML::Node& node, const std::string& context,
                             const WorkloadSpec& workload) {
  Fields fields(node, context);
  AutoscaleSpec autoscale;
  // 0 only with an Object or External metric: the aggregator checks the policy it is given.
  autoscale.minReplicas = fields.integer("min-replicas", autoscale.minReplicas, 0);
  autoscale.maxReplicas = fields.integer("max-replicas", autoscale.maxReplicas, 1);
  if (autoscale.maxReplicas < autoscale.minReplicas) {
    fail(node, context + ".max-replicas", "below min-replicas");
  }
  if (fields.has("cpu-utilization")) {
    autoscale.cpuUtilization = fields.integer("cpu-utilization", 0, 1);
  }
  if (fields.has("memory-utilization")) {
    autoscale.memoryUtilization = fields.integer("memory-utilization", 0, 1);
  }
  if (fields.has("metrics")) {
    const YAML::Node metrics = fields.get("metrics");
    if (!metrics.IsSequence() || metrics.size() == 0) {
      fail(metrics, context + ".metrics", "expected a non-empty list of HPA metric specs");
    }
    autoscale.metricsYaml = YAML::Dump(metrics);
  }
  if (fields.has("cooldown")) {
    fields.seconds("cooldown", 0);  // checked here, passed on as written
    autoscale.cooldown = fields.string("cooldown");
  }
  if (!autoscale.cpuUtilization && !autoscale.memoryUtilization && autoscale.metricsYaml.empty()) {
    fail(node, context, "needs cpu-utilization, memory-utilization or metrics (the targets)");
  }
  if (autoscale.cpuUtilization && !workload.resources.cpuRequest) {
    fail(node, context + ".cpu-utilization", "the workload has no cpu request");
  }
  if (autoscale.memoryUtilization && !workload.resources.memoryRequest) {
    fail(node, context + ".memory-utilization", "the workload has no memory request");
  }
  if (fields.has("weights")) {
    const YAML::Node weights = fields.get("weights");
    Fields perCluster(weights, context + ".weights");
    for (const auto& [cluster, replicas] : workload.replicas) {
      if (perCluster.has(cluster)) {
        const double weight = perCluster.number(cluster, 1);
        if (weight < 0) fail(weights, context + ".weights." + cluster, "must be >= 0");
        autoscale.weights[cluster] = weight;
      }
    }
    perCluster.finish();  // a cluster the workload does not run in is an unknown key
  }
  if (fields.has("demand")) {
    autoscale.demand = fields.string("demand", "");
    if (autoscale.demand != "usage" && autoscale.demand != "throttling-aware") {
      fail(fields.get("demand"), context + ".demand", "expected usage or throttling-aware");
    }
  }
  if (fields.has("predictive")) {
    autoscale.predictive = fields.string("predictive", "");
    if (autoscale.predictive != "off" && autoscale.predictive != "observe" &&
        autoscale.predictive != "on") {
      fail(fields.get("predictive"), context + ".predictive", "expected off, observe or on");
    }
  }
  if (fields.has("behavior")) {
    const YAML::Node behavior = fields.get("behavior");
    if (!behavior.IsMap()) fail(behavior, context + ".behavior", "expected a mapping");
    autoscale.behaviorYaml = YAML::Dump(behavior);
    const YAML::Node scaleDown = behavior["scaleDown"];
    if (scaleDown && scaleDown.IsMap() && scaleDown["stabilizationWindowSeconds"]) {
      const YAML::Node window = scaleDown["stabilizationWindowSeconds"];
      double seconds = -1;
      if (!window.IsScalar() || !YAML::convert<double>::decode(window, seconds) || seconds < 0 ||
          seconds > 3600) {
        fail(window, context + ".behavior.scaleDown.stabilizationWindowSeconds",
             "expected seconds from 0 to 3600");
      }
      autoscale.scaleDownWindowSeconds = seconds;
    }
  }
  if (fields.has("rightsizing")) {
    const YAML::Node rightsizing = fields.get("rightsizing");
    if (!rightsizing.IsMap()) fail(rightsizing, context + ".rightsizing", "expected a mapping");
    autoscale.rightsizingYaml = YAML::Dump(rightsizing);
  }
  fields.finish();
  return autoscale;
}

ForeignAutoscalerSpec parseForeignAutoscaler(const YAML::Node& node, const std::string& context,
                                             const WorkloadSpec& workload) {
  Fields fields(node, context);
  ForeignAutoscalerSpec foreign;
  const std::string kind = fields.string("kind");
  if (kind == toString(ForeignAutoscalerKind::kHorizontalPodAutoscaler)) {
    foreign.kind = ForeignAutoscalerKind::kHorizontalPodAutoscaler;
  } else if (kind == toString(ForeignAutoscalerKind::kScaledObject)) {
    foreign.kind = ForeignAutoscalerKind::kScaledObject;
  } else {
    fail(node, context + ".kind", "expected HorizontalPodAutoscaler or ScaledObject");
  }
  foreign.clusters = fields.strings("clusters");
  std::set<std::string> seen;
  for (const auto& cluster : foreign.clusters) {
    // Only where the workload is: elsewhere its namespace need not exist.
    if (!workload.replicas.contains(cluster)) {
      fail(fields.get("clusters"), context + ".clusters",
           "the workload does not run in " + fleetscale::singleQuoted(cluster));
    }
    if (!seen.insert(cluster).second) {
      fail(fields.get("clusters"), context + ".clusters",
           "duplicate " + fleetscale::singleQuoted(cluster));
    }
  }
  if (foreign.clusters.empty()) {
    for (const auto& [cluster, replicas] : workload.replicas) foreign.clusters.push_back(cluster);
  }
  fields.finish();
  return foreign;
}

WorkloadSpec parseWorkload(const YAML::Node& node, const std::vector<ClusterSpec>& clusters,
                           int index, const std::string& baseDir) {
  const std::string context = "workloads[" + std::to_string(index) + "]";
  Fields fields(node, context);
  WorkloadSpec workload;
  workload.name = fields.string("name");
  if (!validName(workload.name)) fail(node, context + ".name", "needs a DNS label");
  workload.namespaceName = fields.string("namespace", workload.namespaceName);
  if (!validName(workload.namespaceName)) fail(node, context + ".namespace", "needs a DNS label");
  const std::string kind = fields.string("kind", "Deployment");
  if (kind == "Deployment") {
    workload.kind = WorkloadKind::kDeployment;
  } else if (kind == "StatefulSet") {
    workload.kind = WorkloadKind::kStatefulSet;
  } else {
    fail(node, context + ".kind", "expected Deployment or StatefulSet");
  }
  workload.image = fields.string("image", workload.image);
  workload.containerName = fields.string("container", workload.name);

  std::vector<std::string> placement = fields.strings("clusters");
  for (const auto& name : placement) {
    if (std::none_of(clusters.begin(), clusters.end(),
                     [&](const ClusterSpec& c) { return c.name == name; })) {
      fail(node, context + ".clusters", "no cluster named " + fleetscale::singleQuoted(name));
    }
  }
  if (placement.empty()) {
    for (const auto& cluster : clusters) placement.push_back(cluster.name);
  }
  const YAML::Node replicas = fields.get("replicas");
  if (!replicas || replicas.IsScalar()) {
    const int each = fields.integer("replicas", 1);
    for (const auto& name : placement) workload.replicas[name] = each;
  } else if (replicas.IsMap()) {
    Fields perCluster(replicas, context + ".replicas");
    for (const auto& cluster : clusters) {
      if (perCluster.has(cluster.name)) {
        workload.replicas[cluster.name] = perCluster.integer(cluster.name, 0);
      }
    }
    perCluster.finish();
  } else {
    fail(replicas, context + ".replicas", "expected a number or a map cluster -> number");
  }

  if (fields.has("resources")) {
    Fields resources(fields.get("resources"), context + ".resources");
    Fields requests(resources.get("requests"), context + ".resources.requests");
    workload.resources.cpuRequest = requests.optionalQuantity("cpu");
    workload.resources.memoryRequest = requests.optionalQuantity("memory");
    requests.finish();
    Fields limits(resources.get("limits"), context + ".resources.limits");
    workload.resources.cpuLimit = limits.optionalQuantity("cpu");
    workload.resources.memoryLimit = limits.optionalQuantity("memory");
    limits.finish();
    resources.finish();
  }
  const auto& r = workload.resources;
  if (r.cpuRequest && r.cpuLimit && *r.cpuRequest > *r.cpuLimit) {
    fail(node, context + ".resources", "cpu request above limit");
  }
  if (r.memoryRequest && r.memoryLimit && *r.memoryRequest > *r.memoryLimit) {
    fail(node, context + ".resources", "memory request above limit");
  }
  workload.capacityPerReplica = fields.optionalQuantity("capacity-per-replica");
  if (fields.has("autoscale")) {
    workload.autoscale = parseAutoscale(fields.get("autoscale"), context + ".autoscale", workload);
  }
  if (fields.has("foreign-autoscaler")) {
    workload.foreignAutoscaler = parseForeignAutoscaler(fields.get("foreign-autoscaler"),
                                                        context + ".foreign-autoscaler", workload);
  }
  if (fields.has("idle")) {
    Fields idle(fields.get("idle"), context + ".idle");
    workload.idleCpuCores = idle.quantity("cpu", workload.idleCpuCores);
    workload.idleMemoryBytes = idle.quantity("memory", workload.idleMemoryBytes);
    idle.finish();
  }
  workload.oomOnSharedMemory = fields.boolean("oom-on-shared-memory", false);
  if (fields.has("resize-policy")) {
    Fields policy(fields.get("resize-policy"), context + ".resize-policy");
    auto restart = [&](const char* resource) {
      const std::string value = policy.string(resource, "NotRequired");
      if (value != "NotRequired" && value != "RestartContainer") {
        fail(policy.get(resource), context + ".resize-policy." + resource,
             "expected NotRequired or RestartContainer");
      }
      return value == "RestartContainer";
    };
    workload.resizePolicy.restartOnCpu = restart("cpu");
    workload.resizePolicy.restartOnMemory = restart("memory");
    workload.resizePolicy.shown = true;
    policy.finish();
  }
  if (fields.has("requests-per-core")) {
    const double perCore = fields.number("requests-per-core", 0);
    if (!(perCore > 0) || !std::isfinite(perCore)) {
      fail(fields.get("requests-per-core"), context + ".requests-per-core",
           "expected a number above 0 (requests per second per core of demand)");
    }
    workload.requestsPerCore = perCore;
  }
  if (fields.has("load")) {
    Fields load(fields.get("load"), context + ".load");
    if (load.has("cpu")) workload.cpu = parseCurve(load.get("cpu"), context + ".load.cpu", baseDir);
    if (load.has("memory")) {
      workload.memory = parseCurve(load.get("memory"), context + ".load.memory", baseDir);
    }
    if (load.has("memory-per-replica")) {
      workload.memoryPerReplica =
          parseCurve(load.get("memory-per-replica"), context + ".load.memory-per-replica", baseDir);
    }
    load.finish();
  }
  fields.finish();
  if (workload.replicaCapacity() <= 0) {
    fail(node, context,
         "needs a cpu limit, a cpu request or capacity-per-replica (what one replica serves)");
  }
  return workload;
}

Scenario parseRoot(const YAML::Node& root, const std::string& baseDir) {
  if (!root || !root.IsMap()) throw ScenarioError{"scenario: expected a YAML mapping"};
  Fields fields(root, "");
  Scenario scenario;
  scenario.name = fields.string("name", "scenario");
  scenario.description = fields.string("description");
  scenario.durationSeconds = fields.seconds("duration", scenario.durationSeconds);
  scenario.tickSeconds = fields.seconds("tick", scenario.tickSeconds);
  scenario.sampleIntervalSeconds =
      fields.seconds("sample-interval", scenario.sampleIntervalSeconds);
  scenario.loadChangeThreshold =
      fields.number("load-change-threshold", scenario.loadChangeThreshold);
  scenario.seed = static_cast<unsigned long long>(fields.integer("seed", 1));
  if (scenario.tickSeconds < 0.005 || scenario.tickSeconds > 5) {
    fail(root, "tick", "expected 5ms..5s");
  }
  if (scenario.sampleIntervalSeconds < 0.05) fail(root, "sample-interval", "expected >= 50ms");

  if (fields.has("agents")) {
    Fields agents(fields.get("agents"), "agents");
    scenario.agents.enabled = agents.boolean("enabled", true);
    scenario.agents.interval = agents.string("interval", scenario.agents.interval);
    scenario.agents.rediscoverInterval =
        agents.string("rediscover-interval", scenario.agents.rediscoverInterval);
    scenario.agents.extraArgs = agents.strings("args");
    if (agents.has("auth")) {
      const std::string auth = agents.string("auth");
      if (auth != "shared-token" && auth != "cluster-tokens") {
        fail(agents.get("auth"), "agents.auth", "expected shared-token or cluster-tokens");
      }
      scenario.agents.clusterTokens = auth == "cluster-tokens";
    }
    if (agents.has("protocol")) {
      const std::string protocol = agents.string("protocol");
      if (protocol == "1") {
        scenario.agents.protocol = AgentSettings::Protocol::kOne;
      } else if (protocol == "mixed") {
        scenario.agents.protocol = AgentSettings::Protocol::kMixed;
      } else if (protocol != "2") {
        fail(agents.get("protocol"), "agents.protocol", "expected 1, 2 or mixed");
      }
    }
    agents.finish();
  }
  if (fields.has("aggregator")) {
    Fields aggregator(fields.get("aggregator"), "aggregator");
    scenario.aggregator.enabled = aggregator.boolean("enabled", true);
    scenario.aggregator.instances = aggregator.integer("instances", 1, 1);
    if (scenario.aggregator.instances > kMaxAggregatorInstances) {
      fail(aggregator.get("instances"), "aggregator.instances",
           "expected 1.." + std::to_string(kMaxAggregatorInstances));
    }
    scenario.aggregator.extraArgs = aggregator.strings("args");
    scenario.aggregator.secureApi = aggregator.boolean("secure-api", false);
    if (aggregator.has("prometheus")) {
      const YAML::Node prometheus = aggregator.get("prometheus");
      if (!prometheus.IsMap()) fail(prometheus, "aggregator.prometheus", "expected a mapping");
      scenario.aggregator.prometheusYaml = YAML::Dump(prometheus);
    }
    for (auto [key, target] : {std::pair{"failed-after", &scenario.aggregator.failedAfter},
                               std::pair{"healthy-after", &scenario.aggregator.healthyAfter},
                               std::pair{"probe-interval", &scenario.aggregator.probeInterval}}) {
      if (!aggregator.has(key)) continue;
      aggregator.seconds(key, 0);  // checked here, passed on as written
      *target = aggregator.string(key);
    }
    aggregator.finish();
  }

  ClusterSpec defaults;
  if (fields.has("defaults")) {
    Fields defaultFields(fields.get("defaults"), "defaults");
    applyClusterFields(defaultFields, defaults, "defaults");
    defaultFields.finish();
  }

  const YAML::Node clusters = fields.get("clusters");
  if (!clusters || !clusters.IsSequence() || clusters.size() == 0) {
    fail(root, "clusters", "needs a list of at least one cluster");
  }
  int index = 0;
  for (const auto& node : clusters) {
    ClusterSpec cluster = parseCluster(node, defaults, index++);
    if (scenario.findCluster(cluster.name)) fail(node, "clusters", "duplicate " + cluster.name);
    scenario.clusters.push_back(std::move(cluster));
  }

  // Every {kubeconfig:CLUSTER} in the aggregator's arguments names a cluster of this scenario.
  std::map<std::string, std::string> placeholders = {{"state", ""}, {"id", ""}};
  for (const auto& cluster : scenario.clusters) placeholders["kubeconfig:" + cluster.name] = "";
  for (const auto& arg : scenario.aggregator.extraArgs) {
    if (auto expanded = expandAggregatorArg(arg, placeholders); !expanded) {
      fail(fields.get("aggregator"), "aggregator.args", expanded.error().message);
    }
  }

  const YAML::Node workloads = fields.get("workloads");
  if (workloads && !workloads.IsSequence()) fail(workloads, "workloads", "expected a list");
  index = 0;
  std::set<std::string> seen;
  for (const auto& node : workloads) {
    WorkloadSpec workload = parseWorkload(node, scenario.clusters, index++, baseDir);
    if (!seen.insert(workload.namespaceName + "/" + workload.name).second) {
      fail(node, "workloads", "duplicate " + workload.namespaceName + "/" + workload.name);
    }
    scenario.workloads.push_back(std::move(workload));
  }

  const YAML::Node faults = fields.get("faults");
  if (faults && !faults.IsSequence()) fail(faults, "faults", "expected a list");
  index = 0;
  for (const auto& node : faults) {
    FaultSpec fault = parseFaultNode(node, "faults[" + std::to_string(index++) + "]");
    if (!fault.cluster.empty() && !scenario.findCluster(fault.cluster)) {
      fail(node, "faults", "no cluster named " + fleetscale::singleQuoted(fault.cluster));
    }
    scenario.faults.push_back(std::move(fault));
  }
  std::stable_sort(
      scenario.faults.begin(), scenario.faults.end(),
      [](const FaultSpec& a, const FaultSpec& b) { return a.atSeconds < b.atSeconds; });
  fields.finish();
  return scenario;
}

}  // namespace

Result<std::string> expandAggregatorArg(std::string_view arg,
                                        const std::map<std::string, std::string>& values) {
  static constexpr std::string_view kKubeconfig = "{kubeconfig:";
  std::string out;
  std::size_t at = 0;
  while (at < arg.size()) {
    const std::size_t open = arg.find('{', at);
    const std::size_t close = open == std::string_view::npos ? open : arg.find('}', open);
    if (close == std::string_view::npos) break;
    out.append(arg.substr(at, open - at));
    const std::string_view placeholder = arg.substr(open, close - open + 1);
    const std::string key(placeholder.substr(1, placeholder.size() - 2));
    const auto value = values.find(key);
    if (value != values.end()) {
      out.append(value->second);
    } else if (placeholder.rfind(kKubeconfig, 0) == 0) {
      return Error{"no cluster named " + fleetscale::singleQuoted(key.substr(11)) + " in " +
                   fleetscale::singleQuoted(std::string(placeholder))};
    } else {
      out.append(placeholder);
    }
    at = close + 1;
  }
  out.append(arg.substr(std::min(at, arg.size())));
  return out;
}

std::string_view toString(ForeignAutoscalerKind kind) {
  return kind == ForeignAutoscalerKind::kHorizontalPodAutoscaler ? "HorizontalPodAutoscaler"
                                                                 : "ScaledObject";
}

std::string_view toString(CgroupDriver driver) {
  return driver == CgroupDriver::kSystemd ? "systemd" : "cgroupfs";
}

std::string_view toString(WorkloadKind kind) {
  return kind == WorkloadKind::kDeployment ? "Deployment" : "StatefulSet";
}

namespace {
constexpr std::pair<std::string_view, AggregatorAuth> kAggregatorAuths[] = {
    {"token", AggregatorAuth::kToken},
    {"exec-token", AggregatorAuth::kExecToken},
    {"exec-certificate", AggregatorAuth::kExecCertificate},
    {"exec-expiring", AggregatorAuth::kExecExpiring},
};
}  // namespace

std::string_view toString(AggregatorAuth auth) {
  for (const auto& [name, value] : kAggregatorAuths) {
    if (value == auth) return name;
  }
  return "token";
}

std::optional<AggregatorAuth> parseAggregatorAuth(std::string_view text) {
  for (const auto& [name, value] : kAggregatorAuths) {
    if (name == text) return value;
  }
  return std::nullopt;
}

std::string_view toString(FaultKind kind) {
  switch (kind) {
    case FaultKind::kKillCluster:
      return "kill-cluster";
    case FaultKind::kReviveCluster:
      return "revive-cluster";
    case FaultKind::kPartitionApi:
      return "partition-api";
    case FaultKind::kPartitionAgents:
      return "partition-agents";
    case FaultKind::kSlowApi:
      return "slow-api";
    case FaultKind::kFailingApi:
      return "failing-api";
    case FaultKind::kConflictStorm:
      return "conflict-storm";
    case FaultKind::kFlapAgents:
      return "flap-agents";
    case FaultKind::kRolloutAgents:
      return "rollout-agents";
    case FaultKind::kKubeletGarbage:
      return "kubelet-garbage";
    case FaultKind::kResizeUnsupported:
      return "resize-unsupported";
    case FaultKind::kResizeForbidden:
      return "resize-forbidden";
    case FaultKind::kHeal:
      return "heal";
  }
  return "unknown";
}

double WorkloadSpec::replicaCapacity() const {
  if (capacityPerReplica) return *capacityPerReplica;
  if (resources.cpuLimit) return *resources.cpuLimit;
  if (resources.cpuRequest) return *resources.cpuRequest;
  return 0;
}

const ClusterSpec* Scenario::findCluster(std::string_view clusterName) const {
  for (const auto& cluster : clusters) {
    if (cluster.name == clusterName) return &cluster;
  }
  return nullptr;
}

bool Scenario::autoscaled() const {
  return std::any_of(workloads.begin(), workloads.end(),
                     [](const WorkloadSpec& workload) { return workload.autoscale.has_value(); });
}

Result<Scenario> parseScenario(std::string_view yaml, const std::string& baseDir) {
  try {
    return parseRoot(YAML::Load(std::string(yaml)), baseDir);
  } catch (const ScenarioError& e) {
    return Error{e.message};
  } catch (const YAML::Exception& e) {
    return Error{std::string("YAML: ") + e.what()};
  }
}

Result<Scenario> loadScenario(const std::string& path) {
  auto text = readFile(path);
  if (!text) return text.error();
  const std::string baseDir = std::filesystem::path(path).parent_path().string();
  auto scenario = parseScenario(*text, baseDir.empty() ? "." : baseDir);
  if (!scenario) return Error{path + ": " + scenario.error().message};
  return scenario;
}

Result<FaultSpec> parseFault(std::string_view text) {
  try {
    return parseFaultNode(YAML::Load(std::string(text)), "fault");
  } catch (const ScenarioError& e) {
    return Error{e.message};
  } catch (const YAML::Exception& e) {
    return Error{std::string("YAML: ") + e.what()};
  }
}

}  // namespace fleetscale::sim
