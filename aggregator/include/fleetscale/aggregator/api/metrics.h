// The aggregator's /metrics: the counters and histograms the ingest path and the store keep
// (registered in one registry), and gauges computed from the latest fleet snapshot at scrape time.
// Names follow Prometheus conventions (fleetscale_ prefix, base units, _total for counters);
// docs/metrics.md lists them. Label cardinality is bounded by clusters, nodes and workloads:
// per-container series only with --per-container-metrics.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "fleetscale/aggregator/ingest/ingest_metrics.h"
#include "fleetscale/aggregator/state/fleet_state.h"
#include "fleetscale/aggregator/state/rollup.h"
#include "fleetscale/aggregator/store/store_metrics.h"

namespace fleetscale::aggregator {

// What a scrape reports besides the registered counters.
struct MetricsView {
  const FleetSnapshot& snapshot;
  const std::vector<NodeInfo>& nodes;
  const std::vector<ContainerInfo>* containers = nullptr;  // only with per-container series
  std::vector<prometheus::MetricFamily> extra;             // the scaling engine's series
};

// Thread-safe (prometheus-cpp metrics are atomic; families are created up front or under
// prometheus-cpp's own lock).
class AggregatorMetrics {
 public:
  explicit AggregatorMetrics(bool perContainerSeries);

  bool perContainerSeries() const { return perContainerSeries_; }

  IngestMetrics& ingest() { return ingest_; }
  StoreMetrics& store() { return store_; }

  // Text exposition format of every metric.
  std::string render(const MetricsView& view) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  IngestMetrics ingest_;
  StoreMetrics store_;
  bool perContainerSeries_;
};

}  // namespace fleetscale::aggregator
