#include "fleetscale/sim/status_view.h"

#include <cstdio>
#include <map>

namespace fleetscale::sim {
namespace {

using nlohmann::json;

std::string fixed(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f", value);
  return text;
}

}  // namespace

std::int64_t lastSeenUnixMs(const nlohmann::json& item) {
  const auto it = item.find("last_seen_unix_ms");
  return it != item.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

std::string renderTextTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += "  " + line + "\n";
  }
  return out;
}

std::string renderFleetStatus(const json& state, const json& nodes, const json& containers,
                              WallTime now, std::chrono::milliseconds fresh) {
  const bool observed = containers.is_object() && nodes.is_object();
  const std::int64_t freshSince = toUnixMillis(now) - fresh.count();
  // Which simulated workload each pod uid belongs to, and what the simulator had it use.
  std::map<std::string, std::string> workloadOfPod;                 // pod uid -> "namespace/name"
  std::map<std::pair<std::string, std::string>, double> simulated;  // (workload, cluster) -> cores
  for (const auto& cluster : state.value("clusters", json::array())) {
    for (const auto& pod : cluster.value("pods", json::array())) {
      const std::string workload = pod.value("workload", "");
      if (workload.empty()) continue;
      workloadOfPod[pod.value("uid", "")] = workload;
      simulated[{workload, cluster.value("name", "")}] += pod.value("cpu_cores", 0.0);
    }
  }
  std::map<std::pair<std::string, std::string>, double> measured;
  std::map<std::string, int> containersSeen;
  if (observed) {
    for (const auto& container : containers.value("items", json::array())) {
      if (lastSeenUnixMs(container) < freshSince) continue;
      const std::string cluster = container.value("cluster", "");
      ++containersSeen[cluster];
      const auto it = workloadOfPod.find(container.value("pod_uid", ""));
      const json cores = container.value("cpu_cores", json());
      if (it == workloadOfPod.end() || !cores.is_number()) continue;
      measured[{it->second, cluster}] += cores.get<double>();
    }
  }

  std::vector<std::vector<std::string>> rows = {{"WORKLOAD", "DEMAND", "READY CAPACITY", "CLUSTER",
                                                 "READY/DESIRED", "SIMULATED CPU", "MEASURED CPU"}};
  for (const auto& w : state.value("workloads", json::array())) {
    const std::string name = w.value("workload", "");
    bool first = true;
    const json clusters = w.value("clusters", json::object());
    for (const auto& [cluster, r] : clusters.items()) {
      std::string replicas =
          std::to_string(r.value("ready", 0)) + "/" + std::to_string(r.value("desired", 0));
      if (!r.value("alive", true)) replicas += " (dead)";
      const auto key = std::make_pair(name, cluster);
      rows.push_back({first ? name : "", first ? fixed(w.value("demand_cores", 0.0)) : "",
                      first ? fixed(w.value("ready_capacity_cores", 0.0)) : "", cluster, replicas,
                      fixed(simulated[key]), observed ? fixed(measured[key]) : "-"});
      first = false;
    }
  }
  std::string out = renderTextTable(rows) + "\n";

  std::vector<std::vector<std::string>> clusterRows = {
      {"CLUSTER", "SIMULATED", "API", "NODES REPORTING", "CONTAINERS SEEN", "NODE CPU (MEASURED)"}};
  for (const auto& cluster : state.value("clusters", json::array())) {
    const std::string name = cluster.value("name", "");
    int reporting = 0;
    double nodeCpu = 0, nodeCapacity = 0;
    if (observed) {
      for (const auto& node : nodes.value("items", json::array())) {
        if (node.value("cluster", "") != name) continue;
        if (lastSeenUnixMs(node) < freshSince) continue;
        ++reporting;
        const json usage = node.value("cpu_usage_cores", json());
        if (usage.is_number()) nodeCpu += usage.get<double>();
        nodeCapacity += node.value("cpu_capacity_cores", 0.0);
      }
    }
    const std::size_t simulatedNodes = cluster.value("nodes", json::array()).size();
    clusterRows.push_back(
        {name, cluster.value("alive", true) ? "up" : "dead",
         cluster.value("api_up", true) ? "up" : "down",
         observed ? std::to_string(reporting) + "/" + std::to_string(simulatedNodes) : "-",
         observed ? std::to_string(containersSeen[name]) : "-",
         observed ? fixed(nodeCpu) + " of " + fixed(nodeCapacity) + " cores" : "-"});
  }
  out += renderTextTable(clusterRows);
  return out;
}

std::string renderScalingStatus(const json& status) {
  if (!status.is_object() || status.value("clusters", json::array()).empty()) return "";
  std::vector<std::vector<std::string>> health = {{"CLUSTER", "HEALTH", "API", "DRAINING"}};
  for (const auto& c : status["clusters"]) {
    health.push_back({c.value("name", ""), c.value("state", ""),
                      c.value("apiReachable", false) ? "reachable" : "unreachable",
                      c.value("draining", false) ? "yes" : "no"});
  }
  std::vector<std::vector<std::string>> workloads = {
      {"WORKLOAD", "DESIRED", "PER CLUSTER (target/spec/ready)", "DECISION"}};
  for (const auto& w : status.value("workloads", json::array())) {
    std::string placement;
    const json clusters = w.value("clusters", json::object());
    for (const auto& [cluster, r] : clusters.items()) {
      placement +=
          (placement.empty() ? "" : ", ") + cluster + " " + std::to_string(r.value("desired", 0)) +
          "/" + std::to_string(r.value("current", 0)) + "/" + std::to_string(r.value("ready", 0));
    }
    std::string reason =
        w.value("error", "").empty() ? w.value("reason", "") : w.value("error", "");
    for (const auto& note : w.value("notes", json::array())) {
      if (note.is_string()) reason += "; " + note.get<std::string>();
    }
    workloads.push_back({w.value("namespace", "") + "/" + w.value("name", ""),
                         std::to_string(w.value("desiredReplicas", 0)), placement, reason});
  }
  return renderTextTable(health) + "\n" + renderTextTable(workloads);
}

}  // namespace fleetscale::sim
