#include "fleetscale/ctl/views.h"

#include "fleetscale/ctl/table.h"
#include "format.h"

namespace fleetscale::ctl {
namespace {

using namespace format;

std::string integer(const json& value) {
  return value.is_number() ? std::to_string(value.get<std::int64_t>()) : "-";
}

std::string targetText(const json& target) {
  if (target.value("type", "") == "Utilization")
    return integer(target["averageUtilization"]) + "% of request";
  const double milli = target.value("averageValueMilli", 0.0);
  return target.value("resource", "") == "memory" ? bytes(milli / 1000) + " per pod"
                                                  : cores(milli / 1000) + " cores per pod";
}

std::string currentText(const json& metric) {
  if (metric.contains("utilizationPercent")) return integer(metric["utilizationPercent"]) + "%";
  const double milli = metric.value("averageValueMilli", 0.0);
  return metric["target"].value("resource", "") == "memory" ? bytes(milli / 1000)
                                                            : cores(milli / 1000);
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
           ", term " + integer(leadership["term"]) + " (this is " + text(leadership["identity"]) +
           "; " + text(leadership["backend"]) + ")\n";
    if (leadership["lastRenewAgeSeconds"].is_number()) {
      out += "Lease renewed by this aggregator " +
             formatted("%.1f", leadership["lastRenewAgeSeconds"].get<double>()) + " s ago\n";
    }
    if (!leadership.value("lastError", "").empty()) {
      out += "Last election error: " + text(leadership["lastError"]) + "\n";
    }
  } else if (status.contains("leadership")) {
    out += "Leader: this aggregator (no leader election)\n";
  }

  Rows clusters;
  for (const auto& c : status.value("clusters", json::array())) {
    clusters.push_back({text(c["name"]), text(c["cloud"]), text(c["region"]), text(c["state"]),
                        text(c["since"]), c.value("apiReachable", false) ? "reachable" : "no",
                        c.value("draining", false) ? "yes" : "no", text(c["error"])});
  }
  out += section("Clusters", renderTable({"CLUSTER", "CLOUD", "REGION", "STATE", "SINCE", "API",
                                          "DRAINING", "ERROR"},
                                         clusters));

  Rows workloads;
  Rows placement;
  for (const auto& w : status.value("workloads", json::array())) {
    const std::string workload = text(w["kind"]) + "/" + text(w["name"]);
    const std::string unplaced =
        w.value("unplacedReplicas", 0) > 0 ? integer(w["unplacedReplicas"]) : "-";
    const std::string problem = w.value("error", "").empty() ? text(w["reason"]) : text(w["error"]);
    workloads.push_back({text(w["namespace"]), workload,
                         integer(w["minReplicas"]) + "-" + integer(w["maxReplicas"]),
                         integer(w["desiredReplicas"]), integer(w["currentReplicas"]), unplaced,
                         problem});
    const json perCluster = w.value("clusters", json::object());
    for (const auto& [cluster, r] : perCluster.items()) {
      placement.push_back({text(w["namespace"]), workload, cluster, integer(r["desired"]),
                           integer(r["current"]), integer(r["ready"])});
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
      rows.push_back({text(d["cluster"]),
                      integer(d["workloadsDone"]) + "/" + integer(d["workloads"]),
                      integer(d["replicasLeft"]), integer(d["readyLeft"]),
                      d.value("complete", false) ? "complete" : "in progress"});
    }
    out += section(
        "Drains",
        renderTable({"CLUSTER", "WORKLOADS MOVED", "REPLICAS LEFT", "READY LEFT", "STATUS"}, rows));
  }
  return out;
}

std::string explainView(const json& record) {
  const json details = record.value("details", json::object());
  const json decision = details.value("decision", json::object());
  std::string out = text(record["namespace"]) + "/" + text(record["kind"]) + "/" +
                    text(record["name"]) + " at " + utcTime(record["time_unix_ms"]) + ": " +
                    integer(record["current_replicas"]) + " -> " +
                    integer(record["desired_replicas"]) + " replicas\n";
  out += "Reason: " + text(record["reason"]) + "\n";
  std::string acted = details.value("acted", false) ? "applied" : "not applied";
  if (details.value("dryRun", false)) acted += " (dry run)";
  if (!details.value("leader", true)) acted += " (this aggregator is not the leader)";
  out += "Decision " + text(details["decisionId"]) + ", " + acted +
         (details["term"].is_number() ? ", leader term " + integer(details["term"]) : "") + "\n";

  Rows demand;
  for (const auto& d : decision.value("demand", json::array())) {
    demand.push_back({text(d["cluster"]), integer(d["readyPods"]) + "/" + integer(d["pods"]),
                      cores(d["cpuUsageCores"]), cores(d["cpuRequestCores"]),
                      percent(d["cpuShare"]), bytes(d["memoryUsageBytes"]),
                      bytes(d["memoryRequestBytes"]), percent(d["memoryShare"])});
  }
  out += section("Inputs by cluster",
                 renderTable({"CLUSTER", "READY/PODS", "CPU(cores)", "CPU REQUEST", "CPU SHARE",
                              "MEMORY", "MEMORY REQUEST", "MEMORY SHARE"},
                             demand));

  Rows metrics;
  for (const auto& m : decision.value("metrics", json::array())) {
    const json target = m.value("target", json::object());
    if (m.contains("error")) {
      metrics.push_back({text(target["resource"]), targetText(target), "-", "-", "-", "-",
                         "error: " + text(m["error"])});
      continue;
    }
    const std::string ratio =
        formatted("%.3f", m.value("usageRatio", 0.0)) +
        (m["adjustedUsageRatio"].is_number()
             ? " (" + formatted("%.3f", m["adjustedUsageRatio"].get<double>()) + " filled in)"
             : "");
    metrics.push_back({text(target["resource"]), targetText(target), currentText(m), ratio,
                       integer(m["replicas"]),
                       integer(m["readyPods"]) + "/" + countOf(m["unreadyPods"]) + "/" +
                           countOf(m["missingPods"]) + "/" + countOf(m["ignoredPods"]),
                       text(m["rule"])});
  }
  out += section("Metrics", renderTable({"METRIC", "TARGET", "CURRENT", "USAGE RATIO", "PROPOSAL",
                                         "READY/UNREADY/MISSING/IGNORED", "RULE"},
                                        metrics));

  Rows steps;
  for (const auto& s : decision.value("steps", json::array())) {
    steps.push_back(
        {text(s["rule"]), integer(s["before"]), integer(s["after"]), text(s["detail"])});
  }
  out +=
      section("Rules applied", steps.empty() ? "(none changed the proposal)\n"
                                             : renderTable({"RULE", "FROM", "TO", "WHY"}, steps));

  const json placement = details.value("placement", json::object());
  const json targets = placement.value("targets", json::object());
  const json writes = placement.value("writes", json::object());
  Rows clusters;
  for (const auto& c : details.value("clusters", json::array())) {
    const std::string name = c.value("cluster", "");
    clusters.push_back({name, text(c["health"]), c.value("draining", false) ? "yes" : "no",
                        integer(c["specReplicas"]), integer(c["readyReplicas"]),
                        targets.contains(name) ? integer(targets[name]) : "-",
                        writes.contains(name) ? integer(writes[name]) : "-"});
  }
  out += section(
      "Placement",
      renderTable({"CLUSTER", "HEALTH", "DRAINING", "SPEC", "READY", "TARGET", "WRITE"}, clusters));
  if (placement.value("unplaced", 0) > 0)
    out += "Unplaced: " + integer(placement["unplaced"]) + " replicas fit in no cluster\n";
  for (const auto& note : placement.value("notes", json::array()))
    out += "Note: " + text(note) + "\n";
  return out;
}

}  // namespace fleetscale::ctl
