// The store's metrics as /metrics shows them from a fresh registry: every family with its type,
// each table's rows-written and rows-dropped series present at 0 before the first write, and the
// accessors writing to the series they name.
#include "fleetscale/aggregator/store/store_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "fleetscale/shared/metric_family.h"
#include "fleetscale/testing/fleet_processes.h"

namespace fleetscale::aggregator {
namespace {

class StoreMetricsTest : public ::testing::Test {
 protected:
  std::string exposition() { return prometheus::TextSerializer().Serialize(registry_.Collect()); }
  std::optional<double> value(const std::string& series) {
    return testing::metricValue(exposition(), series);
  }

  prometheus::Registry registry_;
  StoreMetrics metrics_{registry_};
};

TEST_F(StoreMetricsTest, EveryFamilyIsRegisteredWithItsType) {
  const std::string text = exposition();
  for (const auto& [family, type] : std::vector<std::pair<std::string, std::string>>{
           {"fleetscale_store_rows_written_total", "counter"},
           {"fleetscale_store_rows_dropped_total", "counter"},
           {"fleetscale_store_errors_total", "counter"},
           {"fleetscale_store_queue_rows", "gauge"},
           {"fleetscale_store_write_duration_seconds", "histogram"}}) {
    EXPECT_NE(text.find("# TYPE " + family + " " + type + "\n"), std::string::npos)
        << family << " in\n"
        << text;
  }
}

TEST_F(StoreMetricsTest, EveryTableStartsAtZero) {
  for (const char* table : {"agents", "events", "decisions", "rollups"}) {
    const std::string labels = "{table=\"" + std::string(table) + "\"}";
    EXPECT_EQ(value("fleetscale_store_rows_written_total" + labels), 0.0) << table;
    EXPECT_EQ(value("fleetscale_store_rows_dropped_total" + labels), 0.0) << table;
  }
  EXPECT_EQ(value("fleetscale_store_errors_total"), 0.0);
  EXPECT_EQ(value("fleetscale_store_queue_rows"), 0.0);
  EXPECT_EQ(value("fleetscale_store_write_duration_seconds_count"), 0.0);
}

TEST_F(StoreMetricsTest, WriteDurationHasTheLatencyBuckets) {
  const std::string text = exposition();
  std::size_t buckets = 0;
  for (std::size_t at = text.find("fleetscale_store_write_duration_seconds_bucket{");
       at != std::string::npos;
       at = text.find("fleetscale_store_write_duration_seconds_bucket{", at + 1)) {
    ++buckets;
  }
  EXPECT_EQ(buckets, latencyBuckets().size() + 1) << "and +Inf";
}

TEST_F(StoreMetricsTest, AccessorsWriteTheSeriesTheyName) {
  metrics_.rowsWritten("decisions").Increment(7);
  metrics_.dropped("events").Increment(2);
  metrics_.errors().Increment();
  metrics_.queueDepth().Set(12);
  metrics_.writeSeconds().Observe(0.5);

  EXPECT_EQ(value("fleetscale_store_rows_written_total{table=\"decisions\"}"), 7.0);
  EXPECT_EQ(value("fleetscale_store_rows_written_total{table=\"events\"}"), 0.0);
  EXPECT_EQ(value("fleetscale_store_rows_dropped_total{table=\"events\"}"), 2.0);
  EXPECT_EQ(value("fleetscale_store_rows_dropped_total{table=\"decisions\"}"), 0.0);
  EXPECT_EQ(value("fleetscale_store_errors_total"), 1.0);
  EXPECT_EQ(value("fleetscale_store_queue_rows"), 12.0);
  EXPECT_EQ(value("fleetscale_store_write_duration_seconds_count"), 1.0);
  EXPECT_EQ(value("fleetscale_store_write_duration_seconds_sum"), 0.5);
}

}  // namespace
}  // namespace fleetscale::aggregator
