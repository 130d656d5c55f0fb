// The ingest path's metrics as /metrics shows them from a fresh registry: every family with its
// type, the label values dashboards and alerts select on present at 0 before the first event,
// and the accessors writing to the series they name.
#include "fleetscale/aggregator/ingest/ingest_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "fleetscale/shared/metric_family.h"
#include "fleetscale/testing/fleet_processes.h"

namespace fleetscale::aggregator {
namespace {

class IngestMetricsTest : public ::testing::Test {
 protected:
  std::string exposition() { return prometheus::TextSerializer().Serialize(registry_.Collect()); }
  std::optional<double> value(const std::string& series) {
    return testing::metricValue(exposition(), series);
  }

  prometheus::Registry registry_;
  IngestMetrics metrics_{registry_};
};

TEST_F(IngestMetricsTest, EveryFamilyIsRegisteredWithItsType) {
  const std::string text = exposition();
  for (const char* counter :
       {"fleetscale_ingest_frames_total", "fleetscale_ingest_decode_errors_total",
        "fleetscale_ingest_bytes_total", "fleetscale_ingest_decompressed_bytes_total",
        "fleetscale_ingest_samples_total", "fleetscale_ingest_batches_total",
        "fleetscale_ingest_duplicate_batches_total", "fleetscale_ingest_connections_total",
        "fleetscale_ingest_throttled_total"}) {
    EXPECT_NE(text.find("# TYPE " + std::string(counter) + " counter\n"), std::string::npos)
        << counter << " in\n"
        << text;
  }
  EXPECT_NE(text.find("# TYPE fleetscale_ingest_batch_age_seconds histogram\n"), std::string::npos)
      << text;
}

TEST_F(IngestMetricsTest, CommonLabelValuesAndUnlabelledSeriesStartAtZero) {
  for (const char* series : {"fleetscale_ingest_frames_total{kind=\"hello\"}",
                             "fleetscale_ingest_frames_total{kind=\"batch\"}",
                             "fleetscale_ingest_decode_errors_total{reason=\"oversized\"}",
                             "fleetscale_ingest_decode_errors_total{reason=\"undecodable\"}",
                             "fleetscale_ingest_frames_total{kind=\"compact_batch\"}",
                             "fleetscale_ingest_frames_total{kind=\"zstd_envelope\"}",
                             "fleetscale_ingest_decode_errors_total{reason=\"decompress\"}",
                             "fleetscale_ingest_decode_errors_total{reason=\"invalid\"}",
                             "fleetscale_ingest_bytes_total{protocol=\"1\"}",
                             "fleetscale_ingest_bytes_total{protocol=\"2\"}",
                             "fleetscale_ingest_decompressed_bytes_total",
                             "fleetscale_ingest_agents{protocol=\"1\"}",
                             "fleetscale_ingest_agents{protocol=\"2\"}",
                             "fleetscale_ingest_samples_total",
                             "fleetscale_ingest_batches_total",
                             "fleetscale_ingest_duplicate_batches_total",
                             "fleetscale_ingest_connections_total",
                             "fleetscale_ingest_throttled_total",
                             "fleetscale_ingest_batch_age_seconds_count",
                             "fleetscale_ingest_batch_age_seconds_sum"}) {
    EXPECT_EQ(value(series), 0.0) << series;
  }
  // Disconnect reasons come from the connections; none is made up in advance.
  EXPECT_EQ(exposition().find("fleetscale_ingest_disconnects_total{"), std::string::npos);
}

TEST_F(IngestMetricsTest, BatchAgeHasTheLatencyBuckets) {
  const std::string text = exposition();
  std::size_t buckets = 0;
  for (std::size_t at = text.find("fleetscale_ingest_batch_age_seconds_bucket{");
       at != std::string::npos;
       at = text.find("fleetscale_ingest_batch_age_seconds_bucket{", at + 1)) {
    ++buckets;
  }
  EXPECT_EQ(buckets, latencyBuckets().size() + 1) << "and +Inf";
  metrics_.batchAge().Observe(0.25);
  EXPECT_EQ(value("fleetscale_ingest_batch_age_seconds_count"), 1.0);
  EXPECT_EQ(value("fleetscale_ingest_batch_age_seconds_sum"), 0.25);
}

TEST_F(IngestMetricsTest, AccessorsWriteTheSeriesTheyName) {
  metrics_.batchFrames().Increment();
  metrics_.framesReceived("batch").Increment();
  metrics_.framesReceived("goodbye").Increment(2);
  metrics_.decodeErrors("invalid").Increment();
  metrics_.disconnects("idle_timeout").Increment();
  metrics_.bytesReceived(1).Increment(512);
  metrics_.bytesReceived(2).Increment(64);
  metrics_.decompressedBytes().Increment(640);
  metrics_.agents(2).Increment();
  metrics_.compactBatchFrames().Increment();
  metrics_.zstdFrames().Increment(7);
  metrics_.samplesReceived().Increment(30);
  metrics_.batchesAccepted().Increment(3);
  metrics_.duplicateBatches().Increment(4);
  metrics_.connectionsAccepted().Increment(5);
  metrics_.throttledConnections().Increment(6);

  EXPECT_EQ(value("fleetscale_ingest_frames_total{kind=\"batch\"}"), 2.0)
      << "batchFrames() is the batch kind's series";
  EXPECT_EQ(value("fleetscale_ingest_frames_total{kind=\"goodbye\"}"), 2.0);
  EXPECT_EQ(value("fleetscale_ingest_frames_total{kind=\"hello\"}"), 0.0);
  EXPECT_EQ(value("fleetscale_ingest_decode_errors_total{reason=\"invalid\"}"), 1.0);
  EXPECT_EQ(value("fleetscale_ingest_disconnects_total{reason=\"idle_timeout\"}"), 1.0);
  EXPECT_NE(exposition().find("# TYPE fleetscale_ingest_disconnects_total counter\n"),
            std::string::npos);
  EXPECT_EQ(value("fleetscale_ingest_bytes_total{protocol=\"1\"}"), 512.0);
  EXPECT_EQ(value("fleetscale_ingest_bytes_total{protocol=\"2\"}"), 64.0);
  EXPECT_EQ(value("fleetscale_ingest_decompressed_bytes_total"), 640.0);
  EXPECT_EQ(value("fleetscale_ingest_agents{protocol=\"1\"}"), 0.0);
  EXPECT_EQ(value("fleetscale_ingest_agents{protocol=\"2\"}"), 1.0);
  EXPECT_EQ(value("fleetscale_ingest_frames_total{kind=\"compact_batch\"}"), 1.0);
  EXPECT_EQ(value("fleetscale_ingest_frames_total{kind=\"zstd_envelope\"}"), 7.0);
  EXPECT_EQ(value("fleetscale_ingest_samples_total"), 30.0);
  EXPECT_EQ(value("fleetscale_ingest_batches_total"), 3.0);
  EXPECT_EQ(value("fleetscale_ingest_duplicate_batches_total"), 4.0);
  EXPECT_EQ(value("fleetscale_ingest_connections_total"), 5.0);
  EXPECT_EQ(value("fleetscale_ingest_throttled_total"), 6.0);
}

}  // namespace
}  // namespace fleetscale::aggregator
