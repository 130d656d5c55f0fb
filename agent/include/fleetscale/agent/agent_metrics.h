// The agent's own Prometheus metrics and health, served on --metrics-listen (/metrics, /healthz).
//
// The sampler, the batch queue and the stream client keep plain cumulative counts on the I/O
// thread; update() copies them into prometheus-cpp's atomic metrics after every tick, so the
// metrics thread never touches the I/O thread's state. Metadata staleness is read from the
// (thread-safe) MetadataStore at scrape time. Names: fleetscale_agent_ prefix, base units,
// _total for counters; docs/agent.md lists them. The stream series carry an `aggregator` label
// (its HOST:PORT as given), one set per aggregator the agent streams to.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fleetscale/agent/batch_queue.h"
#include "fleetscale/agent/metadata.h"
#include "fleetscale/agent/pod_scraper.h"
#include "fleetscale/agent/sampler.h"
#include "fleetscale/agent/stream_client.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/http_server.h"

namespace fleetscale::agent {

// One aggregator's stream: its client's counts and its cursor on the queue (size() = its
// backlog).
struct StreamState {
  const StreamClientCounters& counters;
  const BatchSource& cursor;
};

// What update() copies, gathered by the I/O thread.
struct AgentState {
  const SamplerCounters& sampler;
  std::size_t openFiles;
  const BatchQueue& queue;
  std::uint64_t spoolErrors;
  std::span<const StreamState> streams;  // in the order of the constructor's `aggregators`
  std::optional<ScrapeCounters> scrape;  // when pods are scraped
};

// Thread-safe.
class AgentMetrics {
 public:
  // `metadata` may be null (no metadata source); `source` names it ("kubelet", "docker").
  // `aggregators` are the label values of the stream series, one per aggregator.
  AgentMetrics(const Clock& clock, std::chrono::nanoseconds interval, const MetadataStore* metadata,
               std::string source, const std::vector<std::string>& aggregators);

  // Called on the I/O thread after each tick.
  void observeCollection(std::chrono::nanoseconds duration);
  void update(const AgentState& state);

  // Text exposition format.
  std::string render() const;
  // Healthy while ticks keep completing: the last one finished within three intervals (at
  // least ten seconds), so a wedged sampling loop fails the liveness probe.
  bool healthy() const;

 private:
  // Mirrors a cumulative count kept elsewhere into a prometheus counter.
  struct MirroredCounter {
    prometheus::Counter* counter;
    double last = 0;
    void set(double value);
  };

  const Clock& clock_;
  std::chrono::nanoseconds healthWindow_;
  const MetadataStore* metadata_;
  std::string source_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Histogram* collectionDuration_;
  std::atomic<std::int64_t> lastTickNs_;
  // One aggregator's stream series.
  struct StreamSeries {
    MirroredCounter batchesSent, bytesSent, connectFailures, disconnects, sendErrors,
        sequenceConflicts;
    prometheus::Gauge *ackedSequence, *connected, *unacked, *protocolVersion;
  };

  MirroredCounter ticks_, vanished_, readErrors_, memoryStatReads_, spoolDropped_, spoolErrors_;
  prometheus::Gauge *containers_, *containersWithoutMetadata_, *openFiles_, *spoolBatches_,
      *spoolBytes_, *nextSequence_;
  std::vector<StreamSeries> streams_;
  // With a metadata source only.
  std::array<MirroredCounter, kMetadataFailures.size()> metadataErrors_{};
  MirroredCounter metadataRefreshes_{nullptr};
  // Pods' metrics endpoints.
  std::array<MirroredCounter, kScrapeResults.size()> scrapes_{};
  MirroredCounter scrapeBytes_{nullptr}, scrapeSeconds_{nullptr}, scrapeSeriesDropped_{nullptr};
  prometheus::Gauge* scrapeTargets_ = nullptr;
  prometheus::Gauge* metadataStaleness_ = nullptr;
};

// GET /metrics and GET /healthz.
void addAgentRoutes(HttpRouter& router, const AgentMetrics& metrics);

}  // namespace fleetscale::agent
