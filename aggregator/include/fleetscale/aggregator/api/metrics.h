// The aggregator's /metrics (docs/metrics.md): one prometheus::Registry holding the counters and
// histograms their owners keep (the ingest path, the store), the build info, then the series
// that Collectables compute at scrape time (the fleet's gauges, the scaling loop's and the
// leader election's series), serialized with prometheus::TextSerializer. Names follow Prometheus
// conventions (fleetscale_ prefix, base units, _total for counters). Label cardinality is bounded
// by clusters, nodes and workloads: per-container series only with --per-container-metrics.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/aggregator/ingest/ingest_metrics.h"
#include "fleetscale/aggregator/store/store_metrics.h"

namespace fleetscale::aggregator {

// Thread-safe (prometheus-cpp metrics are atomic; families are created up front or under
// prometheus-cpp's own lock; the collectables under this class's lock).
class AggregatorMetrics {
 public:
  AggregatorMetrics();

  IngestMetrics& ingest() { return ingest_; }
  StoreMetrics& store() { return store_; }
  // HTTP requests answered 4xx before reaching a route (HttpServerOptions::onRejected), by reason.
  prometheus::Counter& httpRejected(const std::string& reason);
  // HTTP requests ApiAuth refused (401, 403), by reason: missing_token, unknown_token, forbidden.
  prometheus::Counter& httpDenied(std::string_view reason);
  // Failed accepts on the HTTP port, by AcceptBackoff::reason.
  prometheus::Counter& httpAcceptErrors(const std::string& reason);

  // Serves `collectable`'s series after those added before it, for as long as it lives (held
  // weakly, like prometheus::Exposer::RegisterCollectable).
  void add(const std::weak_ptr<prometheus::Collectable>& collectable);

  // Text exposition format of every metric.
  std::string render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  IngestMetrics ingest_;
  StoreMetrics store_;
  prometheus::Family<prometheus::Counter>& httpRejected_;
  prometheus::Family<prometheus::Counter>& httpDenied_;
  prometheus::Family<prometheus::Counter>& httpAcceptErrors_;
  mutable std::mutex mutex_;
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables_;
};

}  // namespace fleetscale::aggregator
