// A real Prometheus on loopback (Debian's package), scraping the given targets every second:
// for tests of what Prometheus reads from the aggregator and of what the aggregator reads from
// Prometheus (Object and External metrics).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::testing {

class PrometheusServer {
 public:
  // False when Debian's prometheus is not installed (scripts/install-deps.sh adds it).
  static bool installed();

  // Starts scraping `targets` ("127.0.0.1:port") as job `job`; honor_labels keeps the targets'
  // own labels (a `namespace` label of an exporter's series, say).
  PrometheusServer(const std::string& job, const std::vector<std::string>& targets);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  int port() const { return port_; }
  std::string url() const;  // http://127.0.0.1:<port>
  // The first series' value of an instant query; nullopt while there is none.
  std::optional<double> value(const std::string& expression) const;
  void stop();
  std::string errors() const;

 private:
  TempDir dir_{"fleetscale-prometheus"};
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace fleetscale::testing
