// The store's counters and histograms (docs/metrics.md, "Store"), registered in the registry
// /metrics serves. Thread-safe (prometheus-cpp metrics are atomic).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

namespace fleetscale::aggregator {

class StoreMetrics {
 public:
  explicit StoreMetrics(prometheus::Registry& registry);

  prometheus::Histogram& writeSeconds() { return *writeSeconds_; }
  prometheus::Gauge& queueDepth() { return *queueDepth_; }
  prometheus::Counter& rowsWritten(const std::string& table);
  prometheus::Counter& errors() { return *errors_; }
  prometheus::Counter& dropped(const std::string& table);
  // Rows whose text was not UTF-8 (written by an older version, or from a remote server), repaired
  // with U+FFFD when written or read.
  prometheus::Counter& repaired(const std::string& table);

 private:
  prometheus::Family<prometheus::Counter>& rows_;
  prometheus::Family<prometheus::Counter>& dropped_;
  prometheus::Family<prometheus::Counter>& repaired_;
  prometheus::Histogram* writeSeconds_;
  prometheus::Gauge* queueDepth_;
  prometheus::Counter* errors_;
};

}  // namespace fleetscale::aggregator
