#include "fleetscale/aggregator/api/rightsizing_routes.h"

#include <tuple>

#include "fleetscale/aggregator/api/route_support.h"
#include "fleetscale/shared/metric_family.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;
using prometheus::MetricFamily;
using rightsizing::ResourceRecommendation;

json number(double value) { return isPresent(value) ? json(value) : json(nullptr); }

json resourceJson(const ResourceRecommendation& r) {
  return json{{"controlled", r.controlled},          {"request", number(r.currentRequest)},
              {"limit", number(r.currentLimit)},     {"target", number(r.target)},
              {"lower_bound", number(r.lowerBound)}, {"upper_bound", number(r.upperBound)},
              {"recommended_limit", number(r.limit)}};
}

bool selected(const WorkloadKey& key, const std::string& namespaceName,
              const std::string& workload) {
  return (namespaceName.empty() || key.namespaceName == namespaceName) &&
         (workload.empty() || key.name == workload);
}

// Per cluster: {result, mode, message, since_unix_ms}; {} when nothing was applied.
json applyJson(const ApplyStatusMap* applied, const WorkloadKey& key) {
  json out = json::object();
  if (applied == nullptr) return out;
  for (const auto& [workload, clusters] : *applied) {
    if (workload.namespaceName != key.namespaceName || workload.name != key.name) continue;
    for (const auto& [cluster, status] : clusters) {
      out[cluster] = json{{"result", status.result},
                          {"mode", status.mode},
                          {"message", status.message},
                          {"since_unix_ms", toUnixMillis(status.since)}};
    }
  }
  return out;
}

}  // namespace

json recommendationsJson(const RecommendationSet& set, const std::string& namespaceName,
                         const std::string& workload, const ApplyStatusMap* applied) {
  json items = json::array();
  RecommendationSet chosen;
  chosen.replicas = set.replicas;
  for (const auto& c : set.containers) {
    if (!selected(c.workload, namespaceName, workload)) continue;
    const auto replicas = set.replicas.find(c.workload);
    items.push_back(json{{"namespace", c.workload.namespaceName},
                         {"kind", c.workload.kind},
                         {"workload", c.workload.name},
                         {"container", c.container},
                         {"mode", rightsizing::toString(c.mode)},
                         {"applied", true},  // every mode is carried out (in-place too)
                         {"apply", applyJson(applied, c.workload)},
                         {"replicas", replicas == set.replicas.end() ? 0 : replicas->second},
                         {"confidence_days", c.confidence},
                         {"samples", c.samples},
                         {"oom_kills", c.oomKills},
                         {"cpu_cores", resourceJson(c.cpu)},
                         {"memory_bytes", resourceJson(c.memory)},
                         {"reason", c.reason}});
    chosen.containers.push_back(c);
  }
  const FleetSavings savings = fleetSavings(chosen);
  return json{{"computed_unix_ms",
               set.computedAt == WallTime{} ? json(nullptr) : json(toUnixMillis(set.computedAt))},
              {"items", std::move(items)},
              {"savings",
               {{"requested_cpu_cores", savings.requestedCpuCores},
                {"recommended_cpu_cores", savings.recommendedCpuCores},
                {"cpu_cores", savings.cpuCores()},
                {"requested_memory_bytes", savings.requestedMemoryBytes},
                {"recommended_memory_bytes", savings.recommendedMemoryBytes},
                {"memory_bytes", savings.memoryBytes()}}}};
}

void addRightsizingRoutes(HttpRouter& router, const RightsizingFeed& feed,
                          const RightsizingApplier* applier) {
  router.add("GET", "/api/v1/recommendations", [&feed, applier](HttpRequest& request) {
    const auto applied = applier != nullptr ? applier->status() : ApplyStatusMap{};
    return jsonResponse(recommendationsJson(*feed.current(), request.queryParam("namespace"),
                                            request.queryParam("workload"), &applied));
  });
}

std::vector<MetricFamily> RecommendationMetrics::Collect() const {
  const auto set = feed_.current();
  MetricFamily cpu = gaugeFamily(
      "fleetscale_recommendation_cpu_cores",
      "Recommended CPU per container of a workload, in cores: estimate=target (the request), "
      "lower_bound, upper_bound, limit");
  MetricFamily memory = gaugeFamily(
      "fleetscale_recommendation_memory_bytes",
      "Recommended memory per container of a workload, in bytes: estimate=target (the request), "
      "lower_bound, upper_bound, limit");
  MetricFamily currentCpu =
      gaugeFamily("fleetscale_recommendation_current_cpu_cores",
                  "The container's CPU request and limit now (spec=request|limit), in cores");
  MetricFamily currentMemory =
      gaugeFamily("fleetscale_recommendation_current_memory_bytes",
                  "The container's memory request and limit now (spec=request|limit), in bytes");
  MetricFamily confidence =
      gaugeFamily("fleetscale_recommendation_confidence_seconds",
                  "History behind the recommendation (VPA's confidence, min(span of the samples, "
                  "samples / 86400) days, in seconds)");
  MetricFamily oomKills = gaugeFamily("fleetscale_recommendation_oom_kills",
                                      "OOM kills of the container within the memory window (8 d)");
  for (const auto& c : set->containers) {
    const MetricLabels base{{"namespace", c.workload.namespaceName},
                            {"kind", c.workload.kind},
                            {"workload", c.workload.name},
                            {"container", c.container}};
    const auto add = [&base](MetricFamily& family, const char* label, const char* value,
                             double figure) {
      MetricLabels labels = base;
      labels.push_back({label, value});
      addPresentSample(family, std::move(labels), figure);
    };
    for (const auto& [family, current, r] :
         {std::tuple{&cpu, &currentCpu, &c.cpu}, std::tuple{&memory, &currentMemory, &c.memory}}) {
      add(*family, "estimate", "target", r->target);
      add(*family, "estimate", "lower_bound", r->lowerBound);
      add(*family, "estimate", "upper_bound", r->upperBound);
      add(*family, "estimate", "limit", r->limit);
      add(*current, "spec", "request", r->currentRequest);
      add(*current, "spec", "limit", r->currentLimit);
    }
    addSample(confidence, base, c.confidence * 86400);
    addSample(oomKills, base, c.oomKills);
  }
  const FleetSavings savings = fleetSavings(*set);
  MetricFamily savedCpu = gaugeFamily(
      "fleetscale_recommendation_savings_cpu_cores",
      "CPU requests the recommendations would give back across the fleet (negative: add)");
  addSample(savedCpu, {}, savings.cpuCores());
  MetricFamily savedMemory = gaugeFamily(
      "fleetscale_recommendation_savings_memory_bytes",
      "Memory requests the recommendations would give back across the fleet (negative: add)");
  addSample(savedMemory, {}, savings.memoryBytes());
  const auto size = feed_.size();
  MetricFamily states =
      gaugeFamily("fleetscale_recommender_containers",
                  "(workload, container) states the recommender keeps, and replicas tracked "
                  "(what=containers|instances)");
  addSample(states, {{"what", "containers"}}, static_cast<double>(size.containers));
  addSample(states, {{"what", "instances"}}, static_cast<double>(size.instances));
  MetricFamily bytes = gaugeFamily("fleetscale_recommender_state_bytes",
                                   "Memory the recommender's state holds, approximately");
  addSample(bytes, {}, static_cast<double>(size.bytes));
  std::vector<MetricFamily> out;
  for (auto* family : {&cpu, &memory, &currentCpu, &currentMemory, &confidence, &oomKills,
                       &savedCpu, &savedMemory, &states, &bytes}) {
    out.push_back(std::move(*family));
  }
  return out;
}

}  // namespace fleetscale::aggregator
