// Helpers for tests that run the real fleetscale-aggregator and fleetscale-agent processes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fleetscale/testing/process.h"

namespace fleetscale::testing {

struct AggregatorPorts {
  int ingest = 0;  // 0 when the file did not appear in time
  int http = 0;
  int metrics = 0;  // with --metrics-listen ("metrics_port"), else 0
};
using ReadyPorts = AggregatorPorts;

// Waits for the aggregator's --ready-file and returns the ports it names (all 0 on timeout).
AggregatorPorts waitForReadyFile(const std::string& path);

// The port of an agent started with --metrics-listen HOST:0, from its startup log line
// ("agent metrics on http://HOST:PORT/metrics"); 0 when it did not appear in time.
int waitForAgentMetricsPort(const Process& agent);

// The value of one series in Prometheus text exposition: `series` is the name with its labels
// exactly as rendered ("fleetscale_agent_spool_batches", "x_total{reason=\"y\"}").
std::optional<double> metricValue(const std::string& exposition, const std::string& series);

// GET <url> and metricValue() on the answer.
std::optional<double> scrape(const std::string& url, const std::string& series);

}  // namespace fleetscale::testing
