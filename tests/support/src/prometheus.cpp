#include "fleetscale/testing/prometheus.h"

#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/etcd.h"
#include "fleetscale/testing/http.h"

namespace fleetscale::testing {
namespace {

constexpr const char* kBinary = "/usr/bin/prometheus";

}  // namespace

bool PrometheusServer::installed() { return ::access(kBinary, X_OK) == 0; }

PrometheusServer::PrometheusServer(const std::string& job, const std::vector<std::string>& targets)
    : port_(unusedLoopbackPort()) {
  std::string list;
  for (const auto& target : targets) list += (list.empty() ? "'" : ", '") + target + "'";
  writeFile(dir_.file("prometheus.yml"),
            "global:\n  scrape_interval: 1s\n"
            "scrape_configs:\n  - job_name: " +
                job + "\n    honor_labels: true\n    static_configs:\n      - targets: [" + list +
                "]\n");
  process_ = std::make_unique<Process>(
      kBinary, std::vector<std::string>{"--config.file=" + dir_.file("prometheus.yml"),
                                        "--storage.tsdb.path=" + dir_.file("tsdb"),
                                        "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                        "--log.level=warn"});
}

PrometheusServer::~PrometheusServer() { stop(); }

std::string PrometheusServer::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::optional<double> PrometheusServer::value(const std::string& expression) const {
  const auto body = httpGetJson(url() + "/api/v1/query?query=" + percentEncode(expression));
  if (!body.is_object() || body.value("status", "") != "success" ||
      body["data"]["result"].empty()) {
    return std::nullopt;
  }
  return std::stod(body["data"]["result"][0]["value"][1].get<std::string>());
}

void PrometheusServer::stop() {
  if (process_) process_->stop(SIGTERM);
}

std::string PrometheusServer::errors() const { return process_ ? process_->errors() : ""; }

}  // namespace fleetscale::testing
