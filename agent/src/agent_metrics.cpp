#include "fleetscale/agent/agent_metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>

#include "fleetscale/shared/version.h"

namespace fleetscale::agent {
namespace {

prometheus::Counter* counter(prometheus::Registry& registry, const char* name, const char* help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge* gauge(prometheus::Registry& registry, const char* name, const char* help,
                         const prometheus::Labels& labels = {}) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add(labels);
}

template <typename Builder>
auto& family(Builder builder, prometheus::Registry& registry, const char* name, const char* help) {
  return builder.Name(name).Help(help).Register(registry);
}

std::int64_t steadyNs(SteadyTime time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

}  // namespace

void AgentMetrics::MirroredCounter::set(double value) {
  if (counter == nullptr || value <= last) return;
  counter->Increment(value - last);
  last = value;
}

AgentMetrics::AgentMetrics(const Clock& clock, std::chrono::nanoseconds interval,
                           const MetadataStore* metadata, std::string source,
                           const std::vector<std::string>& aggregators)
    : clock_(clock),
      healthWindow_(std::max<std::chrono::nanoseconds>(interval * 3, std::chrono::seconds(10))),
      metadata_(metadata),
      source_(std::move(source)),
      registry_(std::make_shared<prometheus::Registry>()),
      lastTickNs_(steadyNs(clock.now())) {
  auto& r = *registry_;
  collectionDuration_ =
      &prometheus::BuildHistogram()
           .Name("fleetscale_agent_collection_duration_seconds")
           .Help("Time one tick takes: discovery (when due), cgroup reads, rates, batch building")
           .Register(r)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                            0.025, 0.05, 0.1, 0.25, 0.5, 1});
  ticks_ = {counter(r, "fleetscale_agent_ticks_total", "Sampling ticks completed")};
  vanished_ = {counter(r, "fleetscale_agent_containers_vanished_total",
                       "Containers whose cgroup disappeared between discovery and a read")};
  readErrors_ = {counter(r, "fleetscale_agent_cgroup_read_errors_total",
                         "Container reads skipped for an unreadable or malformed cgroup file")};
  memoryStatReads_ = {counter(r, "fleetscale_agent_memory_stat_reads_total",
                              "memory.stat reads (the costly file; see docs/agent.md)")};
  spoolDropped_ = {counter(r, "fleetscale_agent_spool_dropped_batches_total",
                           "Unacked batches dropped, oldest first, to stay within the spool's "
                           "size and age limits, or lost to a failed spool write")};
  spoolErrors_ = {
      counter(r, "fleetscale_agent_spool_errors_total", "Failed spool reads and writes")};
  containers_ = gauge(r, "fleetscale_agent_containers_tracked", "Containers sampled each tick");
  containersWithoutMetadata_ =
      gauge(r, "fleetscale_agent_containers_without_metadata",
            "Containers the metadata source did not list by id on the last tick");
  openFiles_ =
      gauge(r, "fleetscale_agent_open_files", "cgroup and /proc files kept open between ticks");
  spoolBatches_ = gauge(r, "fleetscale_agent_spool_batches", "Batches waiting for an ack");
  spoolBytes_ = gauge(r, "fleetscale_agent_spool_bytes", "Encoded bytes waiting for an ack");
  nextSequence_ =
      gauge(r, "fleetscale_agent_next_sequence", "Sequence number the next batch will carry");
  auto& batchesSent = family(prometheus::BuildCounter(), r, "fleetscale_agent_batches_sent_total",
                             "Batches written to the aggregator connection (replays included)");
  auto& bytesSent = family(prometheus::BuildCounter(), r, "fleetscale_agent_sent_bytes_total",
                           "Bytes written to the aggregator connection");
  auto& connectFailures =
      family(prometheus::BuildCounter(), r, "fleetscale_agent_connect_failures_total",
             "Connection attempts to the aggregator that failed or timed out before TCP connected");
  auto& disconnects = family(prometheus::BuildCounter(), r, "fleetscale_agent_disconnects_total",
                             "Established aggregator connections that broke");
  auto& sendErrors = family(prometheus::BuildCounter(), r, "fleetscale_agent_send_errors_total",
                            "Failed connects plus broken connections to the aggregator");
  auto& sequenceConflicts = family(
      prometheus::BuildCounter(), r, "fleetscale_agent_sequence_conflicts_total",
      "Hello acks naming more of this agent's sequence epoch than it numbered (another agent "
      "with its id and spool): each starts a new sequence epoch");
  auto& ackedSequence = family(prometheus::BuildGauge(), r, "fleetscale_agent_acked_sequence",
                               "Highest batch sequence the aggregator has acknowledged");
  auto& connected = family(prometheus::BuildGauge(), r, "fleetscale_agent_connected",
                           "1 while connected to the aggregator");
  auto& unacked = family(prometheus::BuildGauge(), r, "fleetscale_agent_unacked_batches",
                         "Queued batches the aggregator has not acknowledged (its backlog)");
  auto& protocolVersion =
      family(prometheus::BuildGauge(), r, "fleetscale_agent_stream_protocol_version",
             "Protocol version the aggregator connection speaks (1, or 2: compact batches); 0 "
             "while disconnected");
  for (const std::string& aggregator : aggregators) {
    const prometheus::Labels labels{{"aggregator", aggregator}};
    streams_.push_back(StreamSeries{{&batchesSent.Add(labels)},
                                    {&bytesSent.Add(labels)},
                                    {&connectFailures.Add(labels)},
                                    {&disconnects.Add(labels)},
                                    {&sendErrors.Add(labels)},
                                    {&sequenceConflicts.Add(labels)},
                                    &ackedSequence.Add(labels),
                                    &connected.Add(labels),
                                    &unacked.Add(labels),
                                    &protocolVersion.Add(labels)});
  }
  auto& scrapes = family(prometheus::BuildCounter(), r, "fleetscale_agent_scrapes_total",
                         "Scrapes of pods' metrics endpoints (annotation fleetscale.io/scrape), "
                         "by result; skipped: over the round's budget or --scrape-max-pods, or "
                         "backing off after a failure");
  for (std::size_t i = 0; i < kScrapeResults.size(); ++i) {
    scrapes_[i] = {&scrapes.Add({{"result", scrapeResultLabel(kScrapeResults[i])}})};
  }
  scrapeBytes_ = {
      counter(r, "fleetscale_agent_scrape_bytes_total", "Bytes read from pods' metrics endpoints")};
  scrapeSeconds_ = {counter(r, "fleetscale_agent_scrape_seconds_total",
                            "Time spent scraping pods' metrics endpoints")};
  scrapeSeriesDropped_ = {
      counter(r, "fleetscale_agent_scrape_series_dropped_total",
              "Series not sent: over --scrape-max-series, or malformed exposition lines")};
  scrapeTargets_ = gauge(r, "fleetscale_agent_scrape_targets",
                         "Running pods on this node that ask to be scraped");
  gauge(r, "fleetscale_build_info", "Build information; always 1",
        {{"component", "agent"}, {"version", kVersion}})
      ->Set(1);
  if (metadata_ != nullptr) {
    auto& errors = prometheus::BuildCounter()
                       .Name("fleetscale_agent_metadata_errors_total")
                       .Help("Failed metadata refreshes, by source and reason")
                       .Register(r);
    for (std::size_t i = 0; i < kMetadataFailures.size(); ++i) {
      metadataErrors_[i] = {
          &errors.Add({{"source", source_}, {"reason", failureLabel(kMetadataFailures[i])}})};
    }
    metadataRefreshes_ = {&prometheus::BuildCounter()
                               .Name("fleetscale_agent_metadata_refreshes_total")
                               .Help("Successful metadata refreshes, by source")
                               .Register(r)
                               .Add({{"source", source_}})};
    metadataStaleness_ =
        gauge(r, "fleetscale_agent_metadata_staleness_seconds",
              "Seconds since metadata was last refreshed successfully (since start before "
              "the first success)",
              {{"source", source_}});
  }
}

void AgentMetrics::observeCollection(std::chrono::nanoseconds duration) {
  collectionDuration_->Observe(std::chrono::duration<double>(duration).count());
  lastTickNs_ = steadyNs(clock_.now());
}

void AgentMetrics::update(const AgentState& state) {
  const SamplerCounters& sampler = state.sampler;
  ticks_.set(static_cast<double>(sampler.ticks));
  vanished_.set(static_cast<double>(sampler.vanishedContainers));
  readErrors_.set(static_cast<double>(sampler.readErrors));
  memoryStatReads_.set(static_cast<double>(sampler.memoryStatReads));
  containers_->Set(static_cast<double>(sampler.containersTracked));
  containersWithoutMetadata_->Set(static_cast<double>(sampler.containersWithoutMetadata));
  openFiles_->Set(static_cast<double>(state.openFiles));

  spoolBatches_->Set(static_cast<double>(state.queue.size()));
  spoolBytes_->Set(static_cast<double>(state.queue.bytes()));
  spoolDropped_.set(static_cast<double>(state.queue.droppedBatches()));
  spoolErrors_.set(static_cast<double>(state.spoolErrors));
  nextSequence_->Set(static_cast<double>(state.queue.nextSequence()));

  for (std::size_t i = 0; i < std::min(streams_.size(), state.streams.size()); ++i) {
    const StreamClientCounters& counters = state.streams[i].counters;
    StreamSeries& series = streams_[i];
    series.batchesSent.set(static_cast<double>(counters.batchesSent));
    series.bytesSent.set(static_cast<double>(counters.bytesSent));
    series.connectFailures.set(static_cast<double>(counters.connectFailures));
    series.disconnects.set(static_cast<double>(counters.disconnects));
    series.sendErrors.set(static_cast<double>(counters.connectFailures + counters.disconnects));
    series.sequenceConflicts.set(static_cast<double>(counters.sequenceConflicts));
    series.ackedSequence->Set(static_cast<double>(counters.ackedSequence));
    series.connected->Set(counters.connected ? 1 : 0);
    series.unacked->Set(static_cast<double>(state.streams[i].cursor.size()));
    series.protocolVersion->Set(static_cast<double>(counters.protocolVersion));
  }

  if (state.scrape) {
    for (std::size_t i = 0; i < kScrapeResults.size(); ++i) {
      scrapes_[i].set(static_cast<double>(state.scrape->results[i]));
    }
    scrapeBytes_.set(static_cast<double>(state.scrape->bytes));
    scrapeSeconds_.set(state.scrape->seconds);
    scrapeSeriesDropped_.set(static_cast<double>(state.scrape->seriesDropped));
    scrapeTargets_->Set(static_cast<double>(state.scrape->targets));
  }

  if (metadata_ != nullptr) {
    for (std::size_t i = 0; i < kMetadataFailures.size(); ++i) {
      metadataErrors_[i].set(static_cast<double>(metadata_->failures(kMetadataFailures[i])));
    }
    metadataRefreshes_.set(static_cast<double>(metadata_->refreshes()));
  }
}

std::string AgentMetrics::render() const {
  if (metadataStaleness_ != nullptr) metadataStaleness_->Set(metadata_->stalenessSeconds());
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

bool AgentMetrics::healthy() const {
  return steadyNs(clock_.now()) - lastTickNs_.load() <= healthWindow_.count();
}

void addAgentRoutes(HttpRouter& router, const AgentMetrics& metrics) {
  router.add("GET", "/metrics", [&metrics](HttpRequest&) {
    HttpResponse response = HttpResponse::text(200, metrics.render());
    response.contentType = "text/plain; version=0.0.4; charset=utf-8";
    return response;
  });
  router.add("GET", "/healthz", [&metrics](HttpRequest&) {
    return metrics.healthy() ? HttpResponse::text(200, "ok\n")
                             : HttpResponse::text(503, "sampling stalled\n");
  });
}

}  // namespace fleetscale::agent
