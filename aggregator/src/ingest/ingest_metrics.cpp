#include "fleetscale/aggregator/ingest/ingest_metrics.h"

#include "fleetscale/shared/metric_family.h"

namespace fleetscale::aggregator {

IngestMetrics::IngestMetrics(prometheus::Registry& registry)
    : frames_(prometheus::BuildCounter()
                  .Name("fleetscale_ingest_frames_total")
                  .Help("Frames received from agents, by message kind")
                  .Register(registry)),
      decodeErrors_(prometheus::BuildCounter()
                        .Name("fleetscale_ingest_decode_errors_total")
                        .Help("Frames rejected as oversized, undecodable, invalid or with a figure "
                              "out of range, by reason")
                        .Register(registry)),
      disconnects_(prometheus::BuildCounter()
                       .Name("fleetscale_ingest_disconnects_total")
                       .Help("Agent connections closed, by reason")
                       .Register(registry)),
      acceptErrors_(prometheus::BuildCounter()
                        .Name("fleetscale_ingest_accept_errors_total")
                        .Help("Failed accepts on the agent port (out of file descriptors, ...), "
                              "by reason; the accept loop pauses after each")
                        .Register(registry)) {
  auto counter = [&registry](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
  };
  auto& bytes = prometheus::BuildCounter()
                    .Name("fleetscale_ingest_bytes_total")
                    .Help(
                        "Bytes received from agents as on the wire (compressed), by the "
                        "connection's protocol version")
                    .Register(registry);
  auto& agents = prometheus::BuildGauge()
                     .Name("fleetscale_ingest_agents")
                     .Help("Identified agent connections open, by protocol version")
                     .Register(registry);
  for (std::uint32_t version = 1; version <= kProtocolVersions; ++version) {
    bytesReceived_[slotOf(version)] = &bytes.Add({{"protocol", std::to_string(version)}});
    agents_[slotOf(version)] = &agents.Add({{"protocol", std::to_string(version)}});
  }
  decompressedBytes_ =
      counter("fleetscale_ingest_decompressed_bytes_total",
              "Frame payload bytes of protocol version 2 connections after zstd decompression "
              "(payloads sent uncompressed count as they are)");
  samplesReceived_ =
      counter("fleetscale_ingest_samples_total", "Container samples received in accepted batches");
  batchesAccepted_ = counter("fleetscale_ingest_batches_total", "Sample batches accepted");
  duplicateBatches_ = counter("fleetscale_ingest_duplicate_batches_total",
                              "Sample batches dropped because their sequence was already accepted");
  supersededBatches_ = counter("fleetscale_ingest_superseded_batches_total",
                               "Sample batches accepted from an agent another agent has "
                               "superseded on its node: counted in its progress, not folded");
  agentRestarts_ = counter("fleetscale_ingest_agent_restarts_total",
                           "Hellos from another agent process for a node that had one (agent "
                           "restarts, rollouts, a new agent id for the node)");
  connectionsAccepted_ =
      counter("fleetscale_ingest_connections_total", "Agent TCP connections accepted");
  throttled_ = counter("fleetscale_ingest_throttled_total",
                       "Times an agent connection's reads paused for exceeding its frame rate");
  batchAge_ = &prometheus::BuildHistogram()
                   .Name("fleetscale_ingest_batch_age_seconds")
                   .Help("Time from a batch's sampling timestamp to its fold into the fleet state")
                   .Register(registry)
                   .Add({}, latencyBuckets());
  auto gauge = [&registry](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
  };
  agentTokenClusters_ = gauge("fleetscale_ingest_agent_token_clusters",
                              "Clusters with an agent token in --agent-tokens-dir");
  agentTokenProblems_ = gauge("fleetscale_ingest_agent_token_problems",
                              "Problems at the last reading of --agent-tokens-dir (a file that "
                              "holds no token, two clusters with one token, an unreadable "
                              "directory); affected clusters keep their previous token");
  // Pre-create the common label values so they appear (at 0) before the first event.
  for (const char* reason :
       {"oversized", "undecodable", "decompress", "invalid", "out_of_range", "sequence"}) {
    decodeErrors(reason);
  }
  for (const char* kind : {"hello", "batch", "compact_batch", "zstd_envelope"}) {
    framesReceived(kind);
  }
  batchFrames_ = &framesReceived("batch");
  compactBatchFrames_ = &framesReceived("compact_batch");
  zstdFrames_ = &framesReceived("zstd_envelope");
}

prometheus::Counter& IngestMetrics::framesReceived(const std::string& kind) {
  return frames_.Add({{"kind", kind}});
}

prometheus::Counter& IngestMetrics::decodeErrors(const std::string& reason) {
  return decodeErrors_.Add({{"reason", reason}});
}

prometheus::Counter& IngestMetrics::disconnects(const std::string& reason) {
  return disconnects_.Add({{"reason", reason}});
}

prometheus::Counter& IngestMetrics::acceptErrors(const std::string& reason) {
  return acceptErrors_.Add({{"reason", reason}});
}

}  // namespace fleetscale::aggregator
