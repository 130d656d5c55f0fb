// The aggregator's Prometheus metrics: counters the ingest path updates, and gauges computed
// from the fleet state at scrape time. Names follow Prometheus conventions (fleetscale_ prefix,
// base units, _total for counters).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "fleetscale/aggregator/fleet_state.h"

namespace fleetscale::aggregator {

// Thread-safe (prometheus-cpp counters are atomic; families are created up front or under
// prometheus-cpp's own lock).
class AggregatorMetrics {
 public:
  explicit AggregatorMetrics(bool perContainerSeries);

  prometheus::Counter& framesReceived(const std::string& kind);
  prometheus::Counter& decodeErrors(const std::string& reason);
  prometheus::Counter& disconnects(const std::string& reason);
  prometheus::Counter& bytesReceived() { return *bytesReceived_; }
  prometheus::Counter& samplesReceived() { return *samplesReceived_; }
  prometheus::Counter& batchesAccepted() { return *batchesAccepted_; }
  prometheus::Counter& duplicateBatches() { return *duplicateBatches_; }
  prometheus::Counter& connectionsAccepted() { return *connectionsAccepted_; }

  // Text exposition format of every metric, including the fleet-state gauges.
  std::string render(const FleetState& fleet) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& frames_;
  prometheus::Family<prometheus::Counter>& decodeErrors_;
  prometheus::Family<prometheus::Counter>& disconnects_;
  prometheus::Counter* bytesReceived_;
  prometheus::Counter* samplesReceived_;
  prometheus::Counter* batchesAccepted_;
  prometheus::Counter* duplicateBatches_;
  prometheus::Counter* connectionsAccepted_;
  bool perContainerSeries_;
};

}  // namespace fleetscale::aggregator
