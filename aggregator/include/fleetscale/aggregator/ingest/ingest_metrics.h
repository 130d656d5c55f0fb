// The ingest path's counters and histograms (docs/metrics.md, "Ingest"). Registered in the
// registry /metrics serves. Thread-safe: prometheus-cpp metrics are atomic and label values are
// added under prometheus-cpp's own lock.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
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
  // Wire bytes as read (compressed, framing included), by the connection's protocol version
  // (1 or 2; a connection counts as 1 until its hello-ack says 2).
  prometheus::Counter& bytesReceived(std::uint32_t protocolVersion) {
    return *bytesReceived_[slotOf(protocolVersion)];
  }
  // Version 2 frame payloads after zstd decompression (uncompressed ones as they are): against
  // the bytes of protocol 2, what compression saves.
  prometheus::Counter& decompressedBytes() { return *decompressedBytes_; }
  // Identified agent connections open, by protocol version.
  prometheus::Gauge& agents(std::uint32_t protocolVersion) {
    return *agents_[slotOf(protocolVersion)];
  }
  prometheus::Counter& compactBatchFrames() { return *compactBatchFrames_; }
  prometheus::Counter& zstdFrames() { return *zstdFrames_; }
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
  // The protocol label takes only the versions there are: 1 and 2.
  static constexpr std::size_t kProtocolVersions = 2;
  static std::size_t slotOf(std::uint32_t protocolVersion) {
    return protocolVersion >= kProtocolVersions ? kProtocolVersions - 1 : 0;
  }
  prometheus::Counter* batchFrames_;
  prometheus::Counter* compactBatchFrames_;
  prometheus::Counter* zstdFrames_;
  std::array<prometheus::Counter*, kProtocolVersions> bytesReceived_{};
  std::array<prometheus::Gauge*, kProtocolVersions> agents_{};
  prometheus::Counter* decompressedBytes_;
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
