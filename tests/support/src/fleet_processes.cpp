#include "fleetscale/testing/fleet_processes.h"

#include <nlohmann/json.hpp>
#include <regex>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/http.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::testing {

AggregatorPorts waitForReadyFile(const std::string& path) {
  AggregatorPorts ports;
  waitFor([&] {
    auto text = readFile(path);
    if (!text) return false;
    auto json = nlohmann::json::parse(*text, nullptr, false);
    if (json.is_discarded() || !json["ingest_port"].is_number()) return false;
    ports = {json["ingest_port"].get<int>(), json["http_port"].get<int>(),
             json.value("metrics_port", 0)};
    return true;
  });
  return ports;
}

int waitForAgentMetricsPort(const Process& agent) {
  static const std::regex line(R"(agent metrics on http://[^:/]+:(\d+)/metrics)");
  int port = 0;
  waitFor([&] {
    std::smatch match;
    const std::string log = agent.errors();
    if (!std::regex_search(log, match, line)) return false;
    port = std::stoi(match[1]);
    return true;
  });
  return port;
}

std::optional<double> metricValue(const std::string& exposition, const std::string& series) {
  for (std::string_view lineText : splitLines(exposition)) {
    if (lineText.size() <= series.size() || lineText.substr(0, series.size()) != series ||
        lineText[series.size()] != ' ') {
      continue;
    }
    return parseDouble(trim(lineText.substr(series.size() + 1)));
  }
  return std::nullopt;
}

std::optional<double> scrape(const std::string& url, const std::string& series) {
  const HttpResult result = httpGet(url);
  if (result.status != 200) return std::nullopt;
  return metricValue(result.body, series);
}

}  // namespace fleetscale::testing
