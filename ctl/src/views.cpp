#include "fleetscale/ctl/views.h"

#include <cmath>

#include "fleetscale/ctl/table.h"
#include "format.h"

namespace fleetscale::ctl {
namespace {

using namespace format;

std::string integer(const json& value) {
  return value.is_number() ? std::to_string(value.get<std::int64_t>()) : "-";
}

bool isResource(const json& target) {
  const std::string source = target.value("source", "Resource");
  return source == "Resource" || source == "ContainerResource";
}

// The metric's name: "cpu", "app/cpu" (a container's), "http_requests", "Ingress/main rps".
std::string metricText(const json& target) {
  const std::string source = target.value("source", "Resource");
  if (source == "ContainerResource") {
    return text(field(target, "container")) + "/" + text(field(target, "resource"));
  }
  if (isResource(target)) return text(field(target, "resource"));
  std::string name = text(field(target, "metric"));
  if (source == "Object") {
    const json object = target.value("describedObject", json::object());
    name = text(field(object, "kind")) + "/" + text(field(object, "name")) + " " + name;
  }
  return source == "Pods" ? name + " (pods)" : source == "External" ? name + " (external)" : name;
}

// A value in milli-units of a metric other than CPU or memory, as a plain number.
std::string plain(double milli) { return formatted("%g", milli / 1000); }

std::string quantityText(const json& target, double milli) {
  if (!isResource(target)) return plain(milli);
  return target.value("resource", "") == "memory" ? bytes(milli / 1000) : cores(milli / 1000);
}

std::string targetText(const json& target) {
  const std::string type = target.value("type", "");
  if (type == "Utilization") return integer(field(target, "averageUtilization")) + "% of request";
  if (type == "Value") return plain(target.value("valueMilli", 0.0)) + " in all";
  const std::string perPod = quantityText(target, target.value("averageValueMilli", 0.0));
  return perPod + (isResource(target) && target.value("resource", "") != "memory" ? " cores" : "") +
         " per pod";
}

std::string currentText(const json& metric) {
  if (metric.contains("utilizationPercent"))
    return integer(field(metric, "utilizationPercent")) + "%";
  const json target = field(metric, "target");
  if (target.value("type", "") == "Value") return plain(metric.value("valueMilli", 0.0));
  return quantityText(target, metric.value("averageValueMilli", 0.0));
}

std::string countOf(const json& list) { return std::to_string(list.is_array() ? list.size() : 0); }

std::string section(const std::string& title, const std::string& table) {
  return "\n" + title + ":\n" + table;
}

}  // namespace

std::string statusView(const json& status) {
  std::string out = "Aggregator role: " + text(status.value("role", json())) + "\n";
  const json leadership = status.value("leadership", json::object());
  if (leadership.value("enabled", false)) {
    const std::string leader = leadership.value("leader", "");
    out += "Leader: " + (leader.empty() ? std::string("none (election in progress)") : leader) +
           ", term " + integer(field(leadership, "term")) + " (this is " +
           text(field(leadership, "identity")) + "; " + text(field(leadership, "backend")) + ")\n";
    if (field(leadership, "lastRenewAgeSeconds").is_number()) {
      out += "Lease renewed by this aggregator " +
             formatted("%.1f", field(leadership, "lastRenewAgeSeconds").get<double>()) + " s ago\n";
    }
    if (!leadership.value("lastError", "").empty()) {
      out += "Last election error: " + text(field(leadership, "lastError")) + "\n";
    }
  } else if (status.contains("leadership")) {
    out += "Leader: this aggregator (no leader election)\n";
  }

  if (field(status, "noClusterReachable") == true) {
    out +=
        "No cluster is reachable: every placement is held (nothing fails over or shrinks) "
        "until one answers again\n";
  }
  Rows clusters;
  for (const auto& c : status.value("clusters", json::array())) {
    clusters.push_back({text(field(c, "name")), text(field(c, "cloud")), text(field(c, "region")),
                        text(field(c, "state")), text(field(c, "since")),
                        c.value("apiReachable", false) ? "reachable" : "no",
                        c.value("draining", false) ? "yes" : "no", text(field(c, "error"))});
  }
  out += section("Clusters", renderTable({"CLUSTER", "CLOUD", "REGION", "STATE", "SINCE", "API",
                                          "DRAINING", "ERROR"},
                                         clusters));

  Rows workloads;
  Rows placement;
  for (const auto& w : status.value("workloads", json::array())) {
    const std::string workload = text(field(w, "kind")) + "/" + text(field(w, "name"));
    const bool shortOfCapacity = number(field(w, "unplacedReplicas")) > 0;
    const std::string unplaced = shortOfCapacity ? integer(field(w, "unplacedReplicas")) : "-";
    std::string problem =
        w.value("error", "").empty() ? text(field(w, "reason")) : text(field(w, "error"));
    if (shortOfCapacity && field(w, "unplacedReason").is_string()) {
      problem += " (unplaced: " + text(field(w, "unplacedReason")) + ")";
    }
    // Scaled to zero (an Object or External metric wakes it): idle, not broken.
    const bool idle = number(field(w, "desiredReplicas")) == 0 &&
                      number(field(w, "currentReplicas")) == 0 && w.value("error", "").empty();
    // Another autoscaler scales it: fleetscale holds off, unless it took that one over.
    const bool foreign =
        field(w, "foreignAutoscalers").is_array() && !field(w, "foreignAutoscalers").empty();
    const bool pinned = foreign && w.value("foreignAutoscalersPinned", false);
    const bool held = foreign && !pinned;
    workloads.push_back({text(field(w, "namespace")), workload,
                         integer(field(w, "minReplicas")) + "-" + integer(field(w, "maxReplicas")),
                         held ? std::string("- (held)")
                              : integer(field(w, "desiredReplicas")) + (idle ? " (idle)" : "") +
                                    (pinned ? " (pinned)" : ""),
                         integer(field(w, "currentReplicas")), unplaced, problem});
    const json perCluster = w.value("clusters", json::object());
    for (const auto& [cluster, r] : perCluster.items()) {
      const std::string desired = number(field(r, "lastResort")) > 0
                                      ? integer(field(r, "desired")) + " (last resort)"
                                      : integer(field(r, "desired"));
      placement.push_back({text(field(w, "namespace")), workload, cluster, desired,
                           integer(field(r, "current")), integer(field(r, "ready"))});
    }
  }
  out += section("Workloads", renderTable({"NAMESPACE", "WORKLOAD", "MIN-MAX", "DESIRED", "CURRENT",
                                           "UNPLACED", "LAST DECISION"},
                                          workloads));
  out += section(
      "Per cluster",
      renderTable({"NAMESPACE", "WORKLOAD", "CLUSTER", "DESIRED", "CURRENT", "READY"}, placement));

  const json drains = status.value("drains", json::array());
  if (!drains.empty()) {
    Rows rows;
    for (const auto& d : drains) {
      rows.push_back({text(field(d, "cluster")),
                      integer(field(d, "workloadsDone")) + "/" + integer(field(d, "workloads")),
                      integer(field(d, "replicasLeft")), integer(field(d, "readyLeft")),
                      d.value("complete", false) ? "complete"
                      : field(d, "paused") == true
                          ? "paused: " + integer(field(d, "pausedWorkloads")) +
                                " workload(s) have no healthy destination"
                          : "in progress"});
    }
    out += section(
        "Drains",
        renderTable({"CLUSTER", "WORKLOADS MOVED", "REPLICAS LEFT", "READY LEFT", "STATUS"}, rows));
  }
  return out;
}

namespace {

// Predictive scaling's part of a decision; "" when it is off.
std::string forecastSection(const json& details) {
  const json forecast = details.value("forecast", json());
  if (!forecast.is_object()) return "";
  std::string body = "Mode " + text(field(forecast, "mode")) + ", demand now " +
                     cores(field(forecast, "demandCores")) + " cores, look-ahead " +
                     integer(field(forecast, "lookAheadSeconds")) + " s (" +
                     text(field(forecast, "lookAheadSource")) + ")\n";
  if (field(forecast, "forecastCores").is_number()) {
    body += "Forecast " + cores(field(forecast, "forecastCores")) + " cores (margin " +
            cores(field(forecast, "marginCores")) + ", recent error " +
            percent(field(forecast, "mape")) + ") needs " + integer(field(forecast, "replicas")) +
            " replicas" + (forecast.value("raised", false) ? ": raised the decision" : "") + "\n";
  }
  if (!forecast.value("note", std::string()).empty()) {
    body += text(field(forecast, "note")) + "\n";
  }
  std::string startup;
  for (const auto& c : details.value("clusters", json::array())) {
    if (!field(c, "startupSeconds").is_number()) continue;
    startup += (startup.empty() ? "" : ", ") + text(field(c, "cluster")) + " " +
               formatted("%.0f s", field(c, "startupSeconds").get<double>());
  }
  if (!startup.empty()) body += "Learned start-up time: " + startup + "\n";
  return section("Forecast", body);
}

}  // namespace

std::string explainView(const json& record) {
  const json details = record.value("details", json::object());
  const json decision = details.value("decision", json::object());
  std::string out = text(field(record, "namespace")) + "/" + text(field(record, "kind")) + "/" +
                    text(field(record, "name")) + " at " + utcTime(field(record, "time_unix_ms")) +
                    ": " + integer(field(record, "current_replicas")) + " -> " +
                    integer(field(record, "desired_replicas")) + " replicas\n";
  out += "Reason: " + text(field(record, "reason")) + "\n";
  std::string acted = details.value("acted", false) ? "applied" : "not applied";
  if (details.value("dryRun", false)) acted += " (dry run)";
  if (!details.value("leader", true)) acted += " (this aggregator is not the leader)";
  out += "Decision " + text(field(details, "decisionId")) + ", " + acted +
         (field(details, "term").is_number() ? ", leader term " + integer(field(details, "term"))
                                             : "") +
         "\n";

  Rows demand;
  for (const auto& d : decision.value("demand", json::array())) {
    demand.push_back({text(field(d, "cluster")),
                      integer(field(d, "readyPods")) + "/" + integer(field(d, "pods")),
                      cores(field(d, "cpuUsageCores")), cores(field(d, "cpuRequestCores")),
                      percent(field(d, "cpuShare")), bytes(field(d, "memoryUsageBytes")),
                      bytes(field(d, "memoryRequestBytes")), percent(field(d, "memoryShare"))});
  }
  out += section("Inputs by cluster",
                 renderTable({"CLUSTER", "READY/PODS", "CPU(cores)", "CPU REQUEST", "CPU SHARE",
                              "MEMORY", "MEMORY REQUEST", "MEMORY SHARE"},
                             demand));

  Rows metrics;
  for (const auto& m : decision.value("metrics", json::array())) {
    const json target = m.value("target", json::object());
    if (m.contains("error")) {
      metrics.push_back({metricText(target), targetText(target), "-", "-", "-", "-",
                         "error: " + text(field(m, "error"))});
      continue;
    }
    const std::string ratio =
        formatted("%.3f", m.value("usageRatio", 0.0)) +
        (field(m, "adjustedUsageRatio").is_number()
             ? " (" + formatted("%.3f", field(m, "adjustedUsageRatio").get<double>()) +
                   " filled in)"
             : "");
    metrics.push_back({metricText(target), targetText(target), currentText(m), ratio,
                       integer(field(m, "replicas")),
                       integer(field(m, "readyPods")) + "/" + countOf(field(m, "unreadyPods")) +
                           "/" + countOf(field(m, "missingPods")) + "/" +
                           countOf(field(m, "ignoredPods")),
                       text(field(m, "rule"))});
  }
  out += section("Metrics", renderTable({"METRIC", "TARGET", "CURRENT", "USAGE RATIO", "PROPOSAL",
                                         "READY/UNREADY/MISSING/IGNORED", "RULE"},
                                        metrics));

  Rows steps;
  for (const auto& s : decision.value("steps", json::array())) {
    steps.push_back({text(field(s, "rule")), integer(field(s, "before")),
                     integer(field(s, "after")), text(field(s, "detail"))});
  }
  out +=
      section("Rules applied", steps.empty() ? "(none changed the proposal)\n"
                                             : renderTable({"RULE", "FROM", "TO", "WHY"}, steps));

  out += forecastSection(details);

  const json placement = details.value("placement", json::object());
  const json targets = placement.value("targets", json::object());
  const json writes = placement.value("writes", json::object());
  Rows clusters;
  for (const auto& c : details.value("clusters", json::array())) {
    const std::string name = c.value("cluster", "");
    clusters.push_back({name, text(field(c, "health")), c.value("draining", false) ? "yes" : "no",
                        integer(field(c, "specReplicas")), integer(field(c, "readyReplicas")),
                        targets.contains(name) ? integer(targets[name]) : "-",
                        writes.contains(name) ? integer(writes[name]) : "-"});
  }
  out += section(
      "Placement",
      renderTable({"CLUSTER", "HEALTH", "DRAINING", "SPEC", "READY", "TARGET", "WRITE"}, clusters));
  if (placement.value("unplaced", 0) > 0)
    out += "Unplaced: " + integer(field(placement, "unplaced")) + " replicas fit in no cluster\n";
  for (const auto& note : placement.value("notes", json::array()))
    out += "Note: " + text(note) + "\n";
  return out;
}

namespace {
// "1.000 -> 0.230": the current figure and the recommended one.
std::string change(const json& resource, const char* now, const char* recommended,
                   std::string (*show)(const json&)) {
  if (field(resource, "controlled") == false) return show(field(resource, now)) + " (kept)";
  return show(field(resource, now)) + " -> " + show(field(resource, recommended));
}

std::string signedCores(double value) {
  return formatted("%.3f", std::abs(value)) + (value >= 0 ? " cores given back" : " cores more");
}
std::string signedBytes(double value) {
  return bytes(json(std::abs(value))) + (value >= 0 ? " given back" : " more");
}

// What applying a recommendation did per cluster ("; applied: aws applied, gcp forbidden (why)");
// "" when nothing applies it.
std::string appliedIn(const json& apply) {
  if (!apply.is_object() || apply.empty()) return "";
  std::string out;
  for (const auto& [cluster, status] : apply.items()) {
    const std::string result = text(field(status, "result"));
    out += (out.empty() ? "; applied: " : ", ") + cluster + " " + result;
    if (result != "applied" && result != "resizing") {
      out += " (" + text(field(status, "message")) + ")";
    }
  }
  return out;
}

}  // namespace

std::string recommendView(const json& recommendations) {
  Rows rows;
  std::string reasons;
  for (const auto& c : items(recommendations)) {
    const json& cpu = field(c, "cpu_cores");
    const json& memory = field(c, "memory_bytes");
    const std::string name = text(field(c, "namespace")) + "/" + text(field(c, "workload"));
    std::string mode = text(field(c, "mode"));
    if (field(c, "applied") == false) mode += " (not applied yet)";
    rows.push_back({text(field(c, "namespace")), text(field(c, "workload")),
                    text(field(c, "container")), text(field(c, "replicas")),
                    change(cpu, "request", "target", cores),
                    change(cpu, "limit", "recommended_limit", cores),
                    change(memory, "request", "target", bytes),
                    change(memory, "limit", "recommended_limit", bytes),
                    formatted("%.2f d", number(field(c, "confidence_days"))),
                    text(field(c, "oom_kills")), mode});
    reasons += "  " + name + " " + text(field(c, "container")) + ": " + text(field(c, "reason")) +
               appliedIn(field(c, "apply")) + "\n";
  }
  std::string out =
      renderTable({"NAMESPACE", "WORKLOAD", "CONTAINER", "REPLICAS", "CPU REQUEST", "CPU LIMIT",
                   "MEMORY REQUEST", "MEMORY LIMIT", "CONFIDENCE", "OOM KILLS", "MODE"},
                  rows);
  if (!reasons.empty()) out += "\nWhy:\n" + reasons;
  const json& savings = field(recommendations, "savings");
  out += "\nAcross these workloads' replicas: requests " +
         cores(field(savings, "requested_cpu_cores")) + " cores, " +
         bytes(field(savings, "requested_memory_bytes")) + "; recommended " +
         cores(field(savings, "recommended_cpu_cores")) + " cores, " +
         bytes(field(savings, "recommended_memory_bytes")) + ": " +
         signedCores(number(field(savings, "cpu_cores"))) + ", " +
         signedBytes(number(field(savings, "memory_bytes"))) + "\n";
  return out;
}

std::string recommendationSummary(const json& recommendations) {
  std::string out;
  for (const auto& c : items(recommendations)) {
    out += "  " + text(field(c, "container")) + ": cpu " +
           change(field(c, "cpu_cores"), "request", "target", cores) + " cores, memory " +
           change(field(c, "memory_bytes"), "request", "target", bytes) + " (confidence " +
           formatted("%.2f d", number(field(c, "confidence_days"))) + ", " +
           text(field(c, "mode")) + "): " + text(field(c, "reason")) + "\n";
  }
  return out.empty() ? out : "Right-sizing (request now -> recommended):\n" + out;
}

}  // namespace fleetscale::ctl
