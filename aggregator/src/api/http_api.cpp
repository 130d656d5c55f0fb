#include "fleetscale/aggregator/api/http_api.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "fleetscale/shared/text.h"
#include "fleetscale/shared/token.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 100'000;

json number(double value) { return isPresent(value) ? json(value) : json(nullptr); }

template <typename T>
json optional(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

// Query parameters shared by the list endpoints; errors become 400 answers.
struct ListQuery {
  std::size_t limit = kDefaultLimit;
  std::int64_t sinceUnixMs = 0;
  std::string error;
};

ListQuery parseListQuery(const HttpRequest& request, WallTime now,
                         std::size_t defaultLimit = kDefaultLimit) {
  ListQuery out;
  out.limit = defaultLimit;
  if (const auto limit = request.queryParam("limit"); !limit.empty()) {
    const auto parsed = parseUint64(limit);
    if (!parsed || *parsed == 0 || *parsed > kMaxLimit) {
      out.error = "limit must be a number from 1 to " + std::to_string(kMaxLimit);
    } else {
      out.limit = static_cast<std::size_t>(*parsed);
    }
  }
  if (const auto since = request.queryParam("since"); !since.empty()) {
    auto parsed = parseSince(since, now);
    if (!parsed) {
      out.error = "since: " + parsed.error().message;
    } else {
      out.sinceUnixMs = *parsed;
    }
  }
  return out;
}

HttpResponse jsonResponse(const json& body) { return HttpResponse::json(200, body.dump()); }

json nodeJson(const NodeInfo& node) {
  const auto& t = node.totals;
  return json{{"agent_id", node.identity.agentId},
              {"node", node.identity.node},
              {"cluster", node.identity.cluster},
              {"cloud", node.identity.cloud},
              {"region", node.identity.region},
              {"zone", node.identity.zone},
              {"agent_version", node.identity.agentVersion},
              {"connected", node.connected},
              {"stale", node.stale},
              {"agent_restarts", node.agentRestarts},
              {"agents", node.agents},
              {"agent_started_unix_ms",
               node.identity.startedUnixMs > 0 ? json(node.identity.startedUnixMs) : json(nullptr)},
              {"last_sequence", node.progress.lastSequence},
              {"batches_accepted", node.progress.batchesAccepted},
              {"samples_accepted", node.progress.samplesAccepted},
              {"last_seen_unix_ms",
               node.lastSeen == WallTime{} ? json(nullptr) : json(toUnixMillis(node.lastSeen))},
              {"interval_seconds", node.intervalSeconds},
              {"containers", node.containers},
              {"cpu_capacity_cores", t.cpuCapacityCores},
              {"cpu_allocatable_cores", t.cpuAllocatableCores},
              {"cpu_usage_cores", number(t.cpuUsageCores)},
              {"memory_capacity_bytes", t.memoryCapacityBytes},
              {"memory_allocatable_bytes", t.memoryAllocatableBytes},
              {"memory_usage_bytes", t.memoryUsageBytes}};
}

json containerJson(const ContainerInfo& c) {
  const auto& m = c.metrics;
  return json{{"cluster", c.cluster},
              {"node", c.node},
              {"id", c.id},
              {"cgroup", c.cgroup},
              {"runtime", c.runtime},
              {"namespace", c.namespaceName},
              {"pod", c.pod},
              {"pod_uid", c.podUid},
              {"container", c.container},
              {"workload_kind", c.workloadKind},
              {"workload", c.workload},
              {"pod_phase", c.podPhase},
              {"qos_class", c.qosClass},
              {"image", c.image},
              {"ready", optional(c.ready)},
              {"restart_count", c.restartCount},
              {"stale", c.stale},
              {"last_seen_unix_ms", toUnixMillis(c.lastSeen)},
              {"cpu_cores", number(m.cpuCores)},
              {"cpu_request_cores", number(c.cpuRequestCores)},
              {"cpu_limit_cores", number(m.cpuLimitCores)},
              {"cpu_throttled_seconds_per_second", number(m.cpuThrottledSecondsPerSecond)},
              {"memory_usage_bytes", m.memoryUsageBytes},
              {"memory_working_set_bytes", m.memoryWorkingSetBytes},
              {"memory_rss_bytes", m.memoryRssBytes},
              {"memory_request_bytes", optional(c.memoryRequestBytes)},
              {"memory_limit_bytes", optional(m.memoryLimitBytes)},
              {"oom_kills_total", m.oomKillsTotal}};
}

// A workload's figures in a cluster: live (WorkloadRollup) or a 10 s average (RollupRow), which
// share their field names.
template <typename Figures>
json figuresJson(const Figures& f) {
  return json{{"cluster", f.cluster},
              {"replicas", f.replicasSeen},
              {"replicas_ready", f.replicasReady},
              {"cpu_usage_cores", f.cpuUsageCores},
              {"cpu_request_cores", f.cpuRequestCores},
              {"cpu_utilization", number(f.cpuUtilization)},
              {"memory_usage_bytes", f.memoryUsageBytes},
              {"memory_request_bytes", f.memoryRequestBytes},
              {"memory_utilization", number(f.memoryUtilization)},
              {"load_share", number(f.loadShare)}};
}

json rollupJson(const WorkloadRollup& r) {
  json out = figuresJson(r);
  out["replicas_stale"] = r.replicasStale;
  return out;
}

json workloadJson(const WorkloadSnapshot& w) {
  json out = rollupJson(w.total);
  out.erase("cluster");
  out.erase("load_share");
  out["namespace"] = w.key.namespaceName;
  out["kind"] = w.key.kind;
  out["name"] = w.key.name;
  json clusters = json::array();
  for (const auto& c : w.clusters) clusters.push_back(rollupJson(c));
  out["clusters"] = std::move(clusters);
  return out;
}

json podJson(const PodSample& p) {
  return json{{"cluster", p.cluster},
              {"node", p.node},
              {"pod", p.pod},
              {"stale", p.stale},
              {"ready", p.ready},
              {"containers", p.containers},
              {"cpu_usage_cores", number(p.cpuUsageCores)},
              {"cpu_request_cores", number(p.cpuRequestCores)},
              {"memory_usage_bytes", p.memoryUsageBytes},
              {"memory_request_bytes", number(p.memoryRequestBytes)},
              {"start_time_unix_ms", p.startTimeUnixMs},
              {"ready_time_unix_ms", p.podReadyTimeUnixMs},
              {"restarts", p.restarts}};
}

json historyJson(const RollupRow& r) {
  json out = figuresJson(r);
  out["bucket_start_unix_ms"] = r.bucketStartUnixMs;
  out["ticks"] = r.ticks;
  return out;
}

json clusterJson(const ClusterSnapshot& c) {
  return json{{"name", c.name},
              {"health", toString(c.reporting)},
              {"nodes", c.nodes},
              {"stale_nodes", c.staleNodes},
              {"agents_connected", c.connectedAgents},
              {"containers", c.containers},
              {"workloads", c.workloads},
              {"cpu_capacity_cores", c.cpuCapacityCores},
              {"cpu_allocatable_cores", c.cpuAllocatableCores},
              {"cpu_usage_cores", c.cpuUsageCores},
              {"memory_capacity_bytes", c.memoryCapacityBytes},
              {"memory_allocatable_bytes", c.memoryAllocatableBytes},
              {"memory_usage_bytes", c.memoryUsageBytes}};
}

json eventJson(const EventRecord& e) {
  return json{{"id", e.id},
              {"time_unix_ms", e.timeUnixMs},
              {"kind", e.kind},
              {"cluster", e.cluster},
              {"agent_id", e.agentId},
              {"workload", e.workload},
              {"message", e.message},
              {"details", json::parse(e.details, nullptr, false)}};
}

json decisionJson(const DecisionRecord& d) {
  return json{{"id", d.id},
              {"time_unix_ms", d.timeUnixMs},
              {"namespace", d.workload.namespaceName},
              {"kind", d.workload.kind},
              {"name", d.workload.name},
              {"current_replicas", d.currentReplicas},
              {"desired_replicas", d.desiredReplicas},
              {"reason", d.reason},
              {"details", json::parse(d.details, nullptr, false)}};
}

HttpResponse storeUnavailable() {
  return HttpResponse::jsonError(503, "the aggregator runs without a store");
}

}  // namespace

HttpHandler requireAdmin(const AdminToken& token, HttpHandler handler) {
  return [&token, handler = std::move(handler)](HttpRequest& request) {
    const std::string expected = token.get();
    if (expected.empty()) {
      return HttpResponse::jsonError(403, "mutating endpoints are disabled: no --admin-token-file");
    }
    const std::string header = request.header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) {
      HttpResponse response = HttpResponse::jsonError(401, "admin token required");
      response.headers.emplace_back("WWW-Authenticate", "Bearer");
      return response;
    }
    if (!tokensEqual(expected, header.substr(kBearer.size()))) {
      return HttpResponse::jsonError(403, "wrong admin token");
    }
    return handler(request);
  };
}

Result<std::int64_t> parseSince(std::string_view text, WallTime now) {
  if (auto millis = parseInt64(text); millis && *millis >= 0) return *millis;
  if (auto duration = parseDuration(text)) {
    return toUnixMillis(now) -
           std::chrono::duration_cast<std::chrono::milliseconds>(*duration).count();
  }
  // RFC 3339 in UTC or with an offset: 2026-01-02T03:04:05Z, 2026-01-02T03:04:05.123+02:00.
  std::tm tm{};
  const std::string value(text);
  const char* rest = strptime(value.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) {
    return Error{"'" + value + "' is not a duration (15m), an RFC 3339 time or Unix milliseconds"};
  }
  std::int64_t millis = static_cast<std::int64_t>(timegm(&tm)) * 1000;
  if (*rest == '.') {
    int digits = 0, fraction = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, ++digits) {
      if (digits < 3) fraction = fraction * 10 + (*rest - '0');
    }
    for (int d = std::min(digits, 3); d < 3; ++d) fraction *= 10;
    millis += fraction;
  }
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if ((*rest == '+' || *rest == '-') && std::strlen(rest) == 6 && rest[3] == ':') {
    const int sign = *rest == '+' ? 1 : -1;
    const int hours = (rest[1] - '0') * 10 + (rest[2] - '0');
    const int minutes = (rest[4] - '0') * 10 + (rest[5] - '0');
    millis -= sign * (hours * 3600 + minutes * 60) * 1000LL;
    rest += 6;
  } else {
    return Error{"'" + value + "' lacks a time zone (Z or +hh:mm)"};
  }
  if (*rest != '\0') return Error{"'" + value + "' has trailing characters"};
  return millis;
}

void addApiRoutes(HttpRouter& router, const ApiContext& context) {
  const ApiContext* c = &context;
  router.add("GET", "/healthz", [](HttpRequest&) { return HttpResponse::text(200, "ok\n"); });
  // With leader election the answer also says who leads; `?role=leader` is ready only on the
  // leader (for a Service that must reach the acting aggregator).
  router.add("GET", "/readyz", [c](HttpRequest& request) {
    if (!c->leadership) {
      return c->ready ? HttpResponse::text(200, "ready\n") : HttpResponse::text(503, "not ready\n");
    }
    json body = c->leadership();
    const bool wantLeader = request.queryParam("role") == "leader";
    const bool ready = c->ready && (!wantLeader || body.value("role", "") == "leader");
    body["ready"] = ready;
    return HttpResponse::json(ready ? 200 : 503, body.dump());
  });
  router.add("GET", "/metrics", [c](HttpRequest&) {
    const auto snapshot = c->snapshots.get();
    const auto nodes = c->fleet.nodes(c->clock.wallNow());
    std::vector<ContainerInfo> containers;
    if (c->metrics.perContainerSeries()) containers = c->fleet.containers({}, c->clock.wallNow());
    HttpResponse response = HttpResponse::text(
        200, c->metrics.render(MetricsView{
                 *snapshot, nodes, c->metrics.perContainerSeries() ? &containers : nullptr,
                 c->extraMetrics ? c->extraMetrics() : std::vector<prometheus::MetricFamily>{}}));
    response.contentType = "text/plain; version=0.0.4; charset=utf-8";
    return response;
  });
  router.add("GET", "/api/v1/clusters", [c](HttpRequest&) {
    const auto snapshot = c->snapshots.get();
    json items = json::array();
    for (const auto& cluster : snapshot->clusters) items.push_back(clusterJson(cluster));
    return jsonResponse(
        {{"snapshot_unix_ms", toUnixMillis(snapshot->takenAt)}, {"items", std::move(items)}});
  });
  router.add("GET", "/api/v1/nodes", [c](HttpRequest& request) {
    const auto query = parseListQuery(request, c->clock.wallNow(), kMaxLimit);
    if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
    const std::string cluster = request.queryParam("cluster");
    json items = json::array();
    for (const auto& node : c->fleet.nodes(c->clock.wallNow())) {
      if (!cluster.empty() && node.identity.cluster != cluster) continue;
      if (items.size() >= query.limit) break;
      items.push_back(nodeJson(node));
    }
    return jsonResponse({{"items", std::move(items)}});
  });
  router.add("GET", "/api/v1/workloads", [c](HttpRequest& request) {
    const auto query = parseListQuery(request, c->clock.wallNow(), kMaxLimit);
    if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
    const std::string cluster = request.queryParam("cluster");
    const std::string ns = request.queryParam("namespace");
    const std::string kind = request.queryParam("kind");
    const auto snapshot = c->snapshots.get();
    json items = json::array();
    for (const auto& workload : snapshot->workloads) {
      if (items.size() >= query.limit) break;
      if (!ns.empty() && workload.key.namespaceName != ns) continue;
      if (!kind.empty() && workload.key.kind != kind) continue;
      if (!cluster.empty() &&
          std::none_of(workload.clusters.begin(), workload.clusters.end(),
                       [&](const WorkloadRollup& r) { return r.cluster == cluster; })) {
        continue;
      }
      items.push_back(workloadJson(workload));
    }
    return jsonResponse(
        {{"snapshot_unix_ms", toUnixMillis(snapshot->takenAt)}, {"items", std::move(items)}});
  });
  router.add("GET", "/api/v1/workloads/{namespace}/{name}", [c](HttpRequest& request) {
    const WallTime now = c->clock.wallNow();
    const auto query = parseListQuery(request, now);
    if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
    const std::string& ns = request.pathParams["namespace"];
    const std::string& name = request.pathParams["name"];
    const std::string kind = request.queryParam("kind");
    const auto snapshot = c->snapshots.get();
    std::vector<const WorkloadSnapshot*> matches;
    for (const auto& workload : snapshot->workloads) {
      if (workload.key.namespaceName == ns && workload.key.name == name &&
          (kind.empty() || workload.key.kind == kind)) {
        matches.push_back(&workload);
      }
    }
    if (matches.empty()) {
      return HttpResponse::jsonError(404, "no workload " + ns + "/" + name + " is reporting");
    }
    if (matches.size() > 1) {
      return HttpResponse::jsonError(
          409, "several kinds of workload are named " + ns + "/" + name + "; pick one with ?kind=");
    }
    const WorkloadSnapshot& workload = *matches.front();
    json out = workloadJson(workload);
    json pods = json::array();
    for (const auto& pod : workload.pods) pods.push_back(podJson(pod));
    out["pods"] = std::move(pods);
    // History defaults to the last 15 minutes.
    const std::int64_t since = request.queryParam("since").empty()
                                   ? toUnixMillis(now) - 15 * 60 * 1000
                                   : query.sinceUnixMs;
    json history = json::array();
    for (const auto& row : c->history.get(workload.key, since)) history.push_back(historyJson(row));
    out["history"] = std::move(history);
    out["snapshot_unix_ms"] = toUnixMillis(snapshot->takenAt);
    return jsonResponse(out);
  });
  router.add("GET", "/api/v1/containers", [c](HttpRequest& request) {
    const WallTime now = c->clock.wallNow();
    const auto query = parseListQuery(request, now, 1000);
    if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
    ContainerFilter filter{request.queryParam("cluster"), request.queryParam("node"),
                           request.queryParam("namespace"), request.queryParam("workload")};
    json items = json::array();
    for (const auto& container : c->fleet.containers(filter, now, query.limit)) {
      items.push_back(containerJson(container));
    }
    return jsonResponse({{"items", std::move(items)}});
  });
  router.add("GET", "/api/v1/decisions", [c](HttpRequest& request) {
    if (c->store == nullptr) return storeUnavailable();
    const auto query = parseListQuery(request, c->clock.wallNow());
    if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
    auto rows = c->store->decisions(DecisionQuery{request.queryParam("namespace"),
                                                  request.queryParam("workload"), query.sinceUnixMs,
                                                  query.limit});
    if (!rows) return HttpResponse::jsonError(500, rows.error().message);
    json items = json::array();
    for (const auto& row : *rows) items.push_back(decisionJson(row));
    return jsonResponse({{"items", std::move(items)}});
  });
  router.add("GET", "/api/v1/events", [c](HttpRequest& request) {
    if (c->store == nullptr) return storeUnavailable();
    const auto query = parseListQuery(request, c->clock.wallNow());
    if (!query.error.empty()) return HttpResponse::jsonError(400, query.error);
    auto rows =
        c->store->events(EventQuery{request.queryParam("kind"), request.queryParam("cluster"),
                                    request.queryParam("agent"), query.sinceUnixMs, query.limit});
    if (!rows) return HttpResponse::jsonError(500, rows.error().message);
    json items = json::array();
    for (const auto& row : *rows) items.push_back(eventJson(row));
    return jsonResponse({{"items", std::move(items)}});
  });
}

}  // namespace fleetscale::aggregator
