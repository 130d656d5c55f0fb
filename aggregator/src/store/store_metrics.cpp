#include "fleetscale/aggregator/store/store_metrics.h"

#include "fleetscale/shared/metric_family.h"

namespace fleetscale::aggregator {

StoreMetrics::StoreMetrics(prometheus::Registry& registry)
    : rows_(prometheus::BuildCounter()
                .Name("fleetscale_store_rows_written_total")
                .Help("Rows committed to the store, by table")
                .Register(registry)),
      dropped_(prometheus::BuildCounter()
                   .Name("fleetscale_store_rows_dropped_total")
                   .Help("Rows dropped because the store's write queue was full, by table")
                   .Register(registry)),
      repaired_(prometheus::BuildCounter()
                    .Name("fleetscale_store_rows_repaired_total")
                    .Help("Rows whose text was not valid UTF-8, repaired when written or read, "
                          "by table")
                    .Register(registry)) {
  errors_ = &prometheus::BuildCounter()
                 .Name("fleetscale_store_errors_total")
                 .Help("Store commits that failed")
                 .Register(registry)
                 .Add({});
  writeSeconds_ = &prometheus::BuildHistogram()
                       .Name("fleetscale_store_write_duration_seconds")
                       .Help("Time to write and commit one batch of rows to the store")
                       .Register(registry)
                       .Add({}, latencyBuckets());
  queueDepth_ = &prometheus::BuildGauge()
                     .Name("fleetscale_store_queue_rows")
                     .Help("Rows waiting for the store's writer thread")
                     .Register(registry)
                     .Add({});
  // Pre-create the tables so they appear (at 0) before the first write.
  for (const char* table : {"agents", "nodes", "events", "decisions", "rollups"}) {
    rowsWritten(table);
    dropped(table);
  }
}

prometheus::Counter& StoreMetrics::rowsWritten(const std::string& table) {
  return rows_.Add({{"table", table}});
}

prometheus::Counter& StoreMetrics::dropped(const std::string& table) {
  return dropped_.Add({{"table", table}});
}

prometheus::Counter& StoreMetrics::repaired(const std::string& table) {
  return repaired_.Add({{"table", table}});
}

}  // namespace fleetscale::aggregator
