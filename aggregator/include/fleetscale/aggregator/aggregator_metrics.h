// The aggregator's Prometheus metrics: counters and histograms the ingest path and the store
// update, and gauges computed from the latest fleet snapshot at scrape time. Names follow
// Prometheus conventions (fleetscale_ prefix, base units, _total for counters); docs/metrics.md
// lists them. Label cardinality is bounded by clusters, nodes and workloads: per-container
// series only with --per-container-metrics.
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

#include "fleetscale/aggregator/fleet_state.h"
#include "fleetscale/aggregator/rollup.h"

namespace fleetscale::aggregator {

// Appends one sample to a counter or gauge family (extra series computed at scrape time).
void addSample(prometheus::MetricFamily& family,
               std::vector<prometheus::ClientMetric::Label> labels, double value);

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

  prometheus::Counter& framesReceived(const std::string& kind);
  prometheus::Counter& batchFrames() { return *batchFrames_; }
  prometheus::Counter& decodeErrors(const std::string& reason);
  prometheus::Counter& disconnects(const std::string& reason);
  prometheus::Counter& bytesReceived() { return *bytesReceived_; }
  prometheus::Counter& samplesReceived() { return *samplesReceived_; }
  prometheus::Counter& batchesAccepted() { return *batchesAccepted_; }
  prometheus::Counter& duplicateBatches() { return *duplicateBatches_; }
  prometheus::Counter& connectionsAccepted() { return *connectionsAccepted_; }
  // Times a connection's reads were paused for exceeding its frame allowance.
  prometheus::Counter& throttledConnections() { return *throttled_; }
  // Time from a batch's sampling timestamp to its fold into the fleet state.
  prometheus::Histogram& batchAge() { return *batchAge_; }

  prometheus::Histogram& storeWriteSeconds() { return *storeWriteSeconds_; }
  prometheus::Gauge& storeQueueDepth() { return *storeQueueDepth_; }
  prometheus::Counter& storeRowsWritten(const std::string& table);
  prometheus::Counter& storeErrors() { return *storeErrors_; }
  prometheus::Counter& storeDropped(const std::string& table);

  // Text exposition format of every metric.
  std::string render(const MetricsView& view) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& frames_;
  prometheus::Family<prometheus::Counter>& decodeErrors_;
  prometheus::Family<prometheus::Counter>& disconnects_;
  prometheus::Family<prometheus::Counter>& storeRows_;
  prometheus::Family<prometheus::Counter>& storeDropped_;
  prometheus::Counter* batchFrames_;
  prometheus::Counter* bytesReceived_;
  prometheus::Counter* samplesReceived_;
  prometheus::Counter* batchesAccepted_;
  prometheus::Counter* duplicateBatches_;
  prometheus::Counter* connectionsAccepted_;
  prometheus::Counter* throttled_;
  prometheus::Histogram* batchAge_;
  prometheus::Histogram* storeWriteSeconds_;
  prometheus::Gauge* storeQueueDepth_;
  prometheus::Counter* storeErrors_;
  bool perContainerSeries_;
};

}  // namespace fleetscale::aggregator
