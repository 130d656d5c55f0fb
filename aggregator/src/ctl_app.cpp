#include "fleetscale/aggregator/ctl_app.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "fleetscale/shared/options.h"
#include "fleetscale/shared/version.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

std::string cores(const json& value) {
  if (!value.is_number()) return "-";
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f", value.get<double>());
  return text;
}

std::string bytes(const json& value) {
  if (!value.is_number()) return "-";
  const double mib = value.get<double>() / (1024.0 * 1024.0);
  char text[32];
  std::snprintf(text, sizeof(text), "%.1fMi", mib);
  return text;
}

std::string text(const json& value) {
  if (value.is_string()) return value.get<std::string>().empty() ? "-" : value.get<std::string>();
  if (value.is_null()) return "-";
  return value.dump();
}

std::string shortId(const std::string& id) { return id.size() > 12 ? id.substr(0, 12) : id; }

struct CtlOptions {
  std::string server = "http://127.0.0.1:7080";
  std::string token;
  std::string output = "table";
  std::string cluster, node, namespaceName, workload;
};

}  // namespace

std::string renderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& header : headers) widths.push_back(header.size());
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(widths[i] - cells[i].size() + 3, ' ');
    }
    out += "\n";
  };
  line(headers);
  for (const auto& row : rows) line(row);
  return out;
}

int runCtl(const std::vector<std::string>& args, HttpClient& http, std::ostream& out,
           std::ostream& err) {
  CLI::App app{"fleetscalectl: inspect a running fleetscale aggregator", "fleetscalectl"};
  CtlOptions options;
  app.add_option("--server", options.server, "aggregator HTTP address")
      ->envname("FLEETSCALE_SERVER")
      ->capture_default_str();
  app.add_option("--token", options.token, "admin token for mutating commands")
      ->envname("FLEETSCALE_TOKEN");
  app.add_option("-o,--output", options.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.set_version_flag("--version", std::string("fleetscalectl ") + kVersion);
  app.require_subcommand(1);
  auto* nodes = app.add_subcommand("nodes", "agents and their nodes");
  auto* containers = app.add_subcommand("containers", "containers and their latest samples");
  containers->add_option("--cluster", options.cluster, "only this cluster");
  containers->add_option("--node", options.node, "only this node");
  containers->add_option("--namespace", options.namespaceName, "only this namespace");
  containers->add_option("--workload", options.workload, "only this workload");
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(std::move(reversed));
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? 0 : 2;
  }

  std::string path;
  if (nodes->parsed()) {
    path = "/api/v1/nodes";
  } else {
    path = "/api/v1/containers?cluster=" + options.cluster + "&node=" + options.node +
           "&namespace=" + options.namespaceName + "&workload=" + options.workload;
  }
  HttpClientRequest request;
  request.url = options.server + path;
  if (!options.token.empty())
    request.headers.emplace_back("Authorization", "Bearer " + options.token);
  auto response = http.send(request);
  if (!response) {
    err << "fleetscalectl: cannot reach the aggregator: " << response.error().message << "\n";
    return 1;
  }
  const json body = json::parse(response->body, nullptr, false);
  if (response->status != 200 || body.is_discarded()) {
    err << "fleetscalectl: " << request.url << " answered " << response->status << ": "
        << (body.is_object() && body.contains("error") ? text(body["error"]) : response->body)
        << "\n";
    return 1;
  }
  if (options.output == "json") {
    out << body.dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (nodes->parsed()) {
    for (const auto& n : body["items"]) {
      rows.push_back({text(n["cluster"]), text(n["node"]),
                      n["connected"].get<bool>() ? "yes" : "no", text(n["containers"]),
                      cores(n["cpu_usage_cores"]) + "/" + cores(n["cpu_capacity_cores"]),
                      bytes(n["memory_usage_bytes"]) + "/" + bytes(n["memory_capacity_bytes"]),
                      text(n["agent_version"])});
    }
    out << renderTable(
        {"CLUSTER", "NODE", "CONNECTED", "CONTAINERS", "CPU(cores)", "MEMORY", "AGENT"}, rows);
  } else {
    for (const auto& c : body["items"]) {
      rows.push_back({text(c["cluster"]), text(c["node"]), shortId(text(c["id"])),
                      text(c["runtime"]), text(c["namespace"]), text(c["pod"]),
                      cores(c["cpu_cores"]), cores(c["cpu_limit_cores"]),
                      bytes(c["memory_working_set_bytes"]), bytes(c["memory_limit_bytes"])});
    }
    out << renderTable({"CLUSTER", "NODE", "CONTAINER", "RUNTIME", "NAMESPACE", "POD", "CPU(cores)",
                        "CPU LIMIT", "WORKING SET", "MEM LIMIT"},
                       rows);
  }
  return 0;
}

int ctlMain(int argc, char** argv) {
  CurlHttpClient http;
  return runCtl(std::vector<std::string>(argv + 1, argv + argc), http, std::cout, std::cerr);
}

}  // namespace fleetscale::aggregator
