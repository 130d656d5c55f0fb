// The ingest path's counters and histograms (docs/metrics.md, "Ingest"). Registered in the
// registry /metrics serves. Thread-safe: prometheus-cpp metrics are atomic and label values are
// added under prometheus-cpp's own lock.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

namespace fleetscale::aggregator {

class IngestMetrics {
 public:
  explicit IngestMetrics(prometheus::Registry& registry);

  prometheus::Counter& framesReceived(const std::string& kind);
  prometheus::Counter& batchFrames() { return *batchFrames_; }
  prometheus::Counter& decodeErrors(const std::string& reason);
  prometheus::Counter& disconnects(const std::string& reason);
  // Failed accepts on the agent port, by AcceptBackoff::reason (emfile, enfile, ...).
  prometheus::Counter& acceptErrors(const std::string& reason);
  prometheus::Counter& bytesReceived() { return *bytesReceived_; }
  prometheus::Counter& samplesReceived() { return *samplesReceived_; }
  prometheus::Counter& batchesAccepted() { return *batchesAccepted_; }
  prometheus::Counter& duplicateBatches() { return *duplicateBatches_; }
  // Batches accepted for an agent's progress but not folded: another agent reports its node.
  prometheus::Counter& supersededBatches() { return *supersededBatches_; }
  // Hellos from another agent process for a node that already had one (a restart, a rollout).
  prometheus::Counter& agentRestarts() { return *agentRestarts_; }
  prometheus::Counter& connectionsAccepted() { return *connectionsAccepted_; }
  // Times a connection's reads were paused for exceeding its frame allowance.
  prometheus::Counter& throttledConnections() { return *throttled_; }
  // Time from a batch's sampling timestamp to its fold into the fleet state.
  prometheus::Histogram& batchAge() { return *batchAge_; }
  // --agent-tokens-dir: clusters with a token, and files that gave none at the last reading
  // (their clusters keep their previous token, or have none).
  prometheus::Gauge& agentTokenClusters() { return *agentTokenClusters_; }
  prometheus::Gauge& agentTokenProblems() { return *agentTokenProblems_; }

 private:
  prometheus::Family<prometheus::Counter>& frames_;
  prometheus::Family<prometheus::Counter>& decodeErrors_;
  prometheus::Family<prometheus::Counter>& disconnects_;
  prometheus::Family<prometheus::Counter>& acceptErrors_;
  prometheus::Counter* batchFrames_;
  prometheus::Counter* bytesReceived_;
  prometheus::Counter* samplesReceived_;
  prometheus::Counter* batchesAccepted_;
  prometheus::Counter* duplicateBatches_;
  prometheus::Counter* supersededBatches_;
  prometheus::Counter* agentRestarts_;
  prometheus::Counter* connectionsAccepted_;
  prometheus::Counter* throttled_;
  prometheus::Histogram* batchAge_;
  prometheus::Gauge* agentTokenClusters_;
  prometheus::Gauge* agentTokenProblems_;
};

}  // namespace fleetscale::aggregator
