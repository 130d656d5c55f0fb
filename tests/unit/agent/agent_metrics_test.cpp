#include "fleetscale/agent/agent_metrics.h"

#include <gtest/gtest.h>

#include "fleetscale/agent/batch_fan_out.h"

namespace fleetscale::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(AgentMetricsTest, MirrorsTheAgentsCountsAndMetadataStaleness) {
  ManualClock clock;
  MetadataStore store(clock);
  AgentMetrics metrics(clock, seconds(1), &store, "kubelet", {"agg-a:7070", "agg-b:7070"});
  SamplerCounters sampler;
  sampler.ticks = 12;
  sampler.vanishedContainers = 2;
  sampler.containersTracked = 40;
  sampler.memoryStatReads = 7;
  MemoryBatchQueue queue(10);
  queue.append(v1::SampleBatch{});
  queue.append(v1::SampleBatch{});
  BatchFanOut fanOut(queue, 2);
  fanOut.cursor(0).ack(1);
  StreamClientCounters stream;
  stream.connectFailures = 3;
  stream.disconnects = 1;
  stream.ackedSequence = 9;
  stream.connected = true;
  stream.protocolVersion = 2;
  stream.bytesSent = 4096;
  StreamClientCounters standby;
  standby.connectFailures = 5;
  const std::vector<StreamState> streams{{stream, fanOut.cursor(0)}, {standby, fanOut.cursor(1)}};
  store.recordFailure(MetadataFailure::kTransport);
  store.recordFailure(MetadataFailure::kTransport);
  clock.advance(seconds(30));

  metrics.observeCollection(milliseconds(3));
  ScrapeCounters scrape;
  scrape.results[static_cast<int>(ScrapeResult::kOk)] = 20;
  scrape.results[static_cast<int>(ScrapeResult::kTimeout)] = 2;
  scrape.targets = 4;
  metrics.update(AgentState{sampler, 400, queue, 0, streams, scrape});
  sampler.ticks = 13;
  // Counts copied, not added.
  metrics.update(AgentState{sampler, 400, queue, 0, streams, scrape});

  const std::string text = metrics.render();
  EXPECT_TRUE(contains(text, "fleetscale_agent_ticks_total 13\n")) << text;
  EXPECT_TRUE(contains(text, "fleetscale_agent_containers_tracked 40\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_containers_vanished_total 2\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_memory_stat_reads_total 7\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_open_files 400\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_spool_batches 2\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_spool_bytes " + std::to_string(queue.bytes())));
  // Stream series: one per aggregator, by address.
  EXPECT_TRUE(contains(text, "fleetscale_agent_send_errors_total{aggregator=\"agg-a:7070\"} 4\n"))
      << text;
  EXPECT_TRUE(contains(text, "fleetscale_agent_send_errors_total{aggregator=\"agg-b:7070\"} 5\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_acked_sequence{aggregator=\"agg-a:7070\"} 9\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_connected{aggregator=\"agg-a:7070\"} 1\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_connected{aggregator=\"agg-b:7070\"} 0\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_unacked_batches{aggregator=\"agg-a:7070\"} 1\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_unacked_batches{aggregator=\"agg-b:7070\"} 2\n"));
  EXPECT_TRUE(
      contains(text, "fleetscale_agent_stream_protocol_version{aggregator=\"agg-a:7070\"} 2\n"));
  EXPECT_TRUE(
      contains(text, "fleetscale_agent_stream_protocol_version{aggregator=\"agg-b:7070\"} 0\n"))
      << "0 while disconnected";
  EXPECT_TRUE(
      contains(text, "fleetscale_agent_sent_bytes_total{aggregator=\"agg-a:7070\"} 4096\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_next_sequence 3\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_collection_duration_seconds_count 1\n"));
  EXPECT_TRUE(contains(
      text, "fleetscale_agent_metadata_errors_total{reason=\"transport\",source=\"kubelet\"} 2\n"));
  EXPECT_TRUE(
      contains(text, "fleetscale_agent_metadata_staleness_seconds{source=\"kubelet\"} 30\n"));
  EXPECT_TRUE(contains(text, "fleetscale_build_info{component=\"agent\""));
  EXPECT_TRUE(contains(text, "fleetscale_agent_scrapes_total{result=\"ok\"} 20\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_scrapes_total{result=\"timeout\"} 2\n"));
  EXPECT_TRUE(contains(text, "fleetscale_agent_scrape_targets 4\n"));
}

TEST(AgentMetricsTest, WithoutMetadataSourceThereAreNoMetadataSeries) {
  ManualClock clock;
  AgentMetrics metrics(clock, seconds(1), nullptr, "", {"127.0.0.1:7070"});
  EXPECT_FALSE(contains(metrics.render(), "fleetscale_agent_metadata_"));
}

TEST(AgentMetricsTest, HealthzFailsWhenTicksStop) {
  ManualClock clock;
  AgentMetrics metrics(clock, seconds(1), nullptr, "", {"127.0.0.1:7070"});
  HttpRouter router;
  addAgentRoutes(router, metrics);
  HttpRequest request;
  request.method = "GET";
  request.path = "/healthz";
  EXPECT_EQ(router.handle(request).status, 200);
  clock.advance(seconds(9));
  metrics.observeCollection(milliseconds(1));
  clock.advance(seconds(9));
  EXPECT_EQ(router.handle(request).status, 200) << "within the ten-second window";
  clock.advance(seconds(2));
  EXPECT_EQ(router.handle(request).status, 503);
  request.path = "/metrics";
  const auto metricsResponse = router.handle(request);
  EXPECT_EQ(metricsResponse.status, 200);
  EXPECT_TRUE(contains(metricsResponse.contentType, "text/plain"));
}

}  // namespace
}  // namespace fleetscale::agent
