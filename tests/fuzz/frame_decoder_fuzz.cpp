// Bytes from the network: the frame decoder, envelope decoding, message validation, and the
// aggregator's lean batch decoder (both batch forms) checked against protobuf: whatever the lean
// decoder accepts, protobuf must parse and validate to the same values. The first byte picks a
// chunk size so splits at every boundary get exercised.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fleetscale/shared/batch_ranges.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/protocol.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

bool sameDouble(double lean, bool present, double full) {
  return present ? lean == full : !fleetscale::isPresent(lean);
}

// The lean decoder's acceptance implies protobuf's, with equal values.
void compareWithProtobuf(std::string_view payload, fleetscale::BatchView& view) {
  // Deferred string checks, completed for every sample, accept exactly what checking at once
  // accepts.
  auto deferred =
      fleetscale::decodeBatchEnvelope(payload, view, fleetscale::StringChecks::kDeferred);
  bool deferredOk = deferred.ok();
  for (std::size_t i = 0; deferredOk && i < view.containerCount; ++i) {
    deferredOk = fleetscale::completeSample(view.containers[i]).ok();
  }
  const auto lean = fleetscale::decodeBatchEnvelope(payload, view);
  check(deferredOk == lean.ok());
  if (!lean.ok()) return;
  // Whatever is accepted lies within every range (issue 19: 1e308 cores, 2^64-1 bytes).
  check(!fleetscale::checkBatchRanges(view).has_value());
  for (std::size_t i = 0; i < view.containerCount; ++i) {
    check(!fleetscale::checkMetadataRanges(view.containers[i].metadata).has_value());
  }
  auto full = fleetscale::decodeEnvelope(payload);
  if (view.compact) {
    // A compact batch's definitions are checked (UTF-8 included) when a connection's table
    // expands them (compact_batch_fuzz), not here, so protobuf may refuse what passed; when it
    // parses, the parts must be its own.
    check(view.containerCount == 0);
    if (!full.ok()) return;
    check(full->has_compact_batch());
    check(view.definitionCount ==
          static_cast<std::size_t>(full->compact_batch().definitions_size()));
    check(view.compactSamples == full->compact_batch().samples());
  }
  check(full.ok() && (view.compact ? full->has_compact_batch() : full->has_batch()));
  const auto& batch = view.compact ? full->compact_batch() : full->batch();
  check(fleetscale::validateBatch(batch).ok());
  check(view.sequence == batch.sequence());
  check(view.timestampUnixMs == batch.timestamp_unix_ms());
  check(view.containerCount == static_cast<std::size_t>(batch.containers_size()));
  check(sameDouble(view.node.cpuUsageCores, batch.node().has_cpu_usage_cores(),
                   batch.node().cpu_usage_cores()));
  for (std::size_t i = 0; i < view.containerCount; ++i) {
    const auto& a = view.containers[i];
    const auto& b = batch.containers(static_cast<int>(i));
    check(a.id == b.id() && a.cgroup == b.cgroup() && a.runtime == b.runtime());
    check(sameDouble(a.metrics.cpuCores, b.has_cpu_cores(), b.cpu_cores()));
    check(a.metrics.memoryWorkingSetBytes == b.memory_working_set_bytes());
    check(a.metrics.memoryLimitBytes.has_value() == b.has_memory_limit_bytes());
    const auto& m = b.metadata();
    check(a.metadata.namespaceName == m.namespace_() && a.metadata.workload == m.workload() &&
          a.metadata.pod == m.pod() && a.metadata.image == m.image());
    check(sameDouble(a.metadata.cpuRequestCores, m.has_cpu_request_cores(), m.cpu_request_cores()));
    check(a.metadata.ready.has_value() == m.has_ready());
    check(a.metadata.deletionUnixMs == m.deletion_unix_ms());
  }
  check(view.pendingPodCount == static_cast<std::size_t>(batch.pending_pods_size()));
  for (std::size_t i = 0; i < view.pendingPodCount; ++i) {
    const auto& a = view.pendingPods[i];
    const auto& m = batch.pending_pods(static_cast<int>(i));
    check(!fleetscale::checkMetadataRanges(a).has_value());
    check(a.podUid == m.pod_uid() && a.pod == m.pod() && a.workload == m.workload() &&
          a.podPhase == m.pod_phase() && a.deletionUnixMs == m.deletion_unix_ms());
  }
  check(view.podMetricsCount == static_cast<std::size_t>(batch.pod_metrics_size()));
  for (std::size_t i = 0; i < view.podMetricsCount; ++i) {
    const auto& a = view.podMetrics[i];
    const auto& m = batch.pod_metrics(static_cast<int>(i));
    check(a.podUid == m.pod_uid() && a.scrapedUnixMs == m.scraped_unix_ms());
    check(a.seriesCount == static_cast<std::size_t>(m.series_size()));
    for (std::size_t j = 0; j < a.seriesCount; ++j) {
      const auto& series = m.series(static_cast<int>(j));
      check(a.series[j].name == series.name() && a.series[j].value == series.value());
      check(a.series[j].labels.size() == static_cast<std::size_t>(series.labels_size()));
      for (std::size_t k = 0; k < a.series[j].labels.size(); ++k) {
        check(a.series[j].labels[k] == series.labels(static_cast<int>(k)));
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  fleetscale::FrameDecoder decoder(64 * 1024);
  fleetscale::BatchView view;
  // The whole input as one payload too, so the lean decoder sees unframed bytes directly.
  compareWithProtobuf(input, view);
  for (std::size_t offset = 0; offset < input.size(); offset += chunk) {
    decoder.feed(input.substr(offset, chunk));
    while (true) {
      auto frame = decoder.nextView();
      if (!frame || !frame->has_value()) break;
      compareWithProtobuf(**frame, view);
      auto envelope = fleetscale::decodeEnvelope(**frame);
      if (!envelope) continue;
      if (envelope->has_hello()) (void)fleetscale::validateHello(envelope->hello());
      if (envelope->has_batch()) (void)fleetscale::validateBatch(envelope->batch());
      (void)fleetscale::envelopeKind(*envelope);
    }
    if (decoder.failed()) break;
  }
  return 0;
}
