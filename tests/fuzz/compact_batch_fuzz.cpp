// Protocol version 2 from the network: a connection's frames through the aggregator's path (zstd
// unwrap, lean decode, CompactBatchDecoder::expand), which must refuse or give containers that
// meet every rule of version 1; and the round trip: every version 1 batch the lean decoder accepts
// must encode (CompactBatchEncoder) and decode on a mirror connection to exactly its own samples,
// through zstd too.
// Input: one flags byte (bit 0: frames are version 1 batches to round-trip, else version 2
// frames to decode), then frames as on the wire (4-byte big-endian length + payload).
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "fleetscale/shared/batch_ranges.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/compact_batch.h"
#include "fleetscale/shared/framing.h"

namespace {

using fleetscale::BatchView;
using fleetscale::ContainerMetrics;
using fleetscale::ContainerSampleView;

constexpr std::size_t kMaxFrameBytes = 64 * 1024;

void check(bool condition) {
  if (!condition) std::abort();
}

bool sameBits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

void checkSame(const ContainerSampleView& a, const ContainerSampleView& b) {
  check(a.id == b.id && a.cgroup == b.cgroup && a.runtime == b.runtime &&
        a.metadataBytes == b.metadataBytes);
  const ContainerMetrics& x = a.metrics;
  const ContainerMetrics& y = b.metrics;
  check(sameBits(x.cpuCores, y.cpuCores) && sameBits(x.cpuUserCores, y.cpuUserCores) &&
        sameBits(x.cpuSystemCores, y.cpuSystemCores) &&
        sameBits(x.cpuThrottledPeriodsPerSecond, y.cpuThrottledPeriodsPerSecond) &&
        sameBits(x.cpuThrottledSecondsPerSecond, y.cpuThrottledSecondsPerSecond) &&
        sameBits(x.cpuLimitCores, y.cpuLimitCores) &&
        sameBits(x.cpuPressureSomeTotalUs, y.cpuPressureSomeTotalUs) &&
        sameBits(x.cpuPressureFullTotalUs, y.cpuPressureFullTotalUs) &&
        sameBits(x.memoryPressureSomeTotalUs, y.memoryPressureSomeTotalUs) &&
        sameBits(x.memoryPressureFullTotalUs, y.memoryPressureFullTotalUs));
  check(x.cpuUsageNsTotal == y.cpuUsageNsTotal && x.cpuWeight == y.cpuWeight &&
        x.memoryUsageBytes == y.memoryUsageBytes &&
        x.memoryWorkingSetBytes == y.memoryWorkingSetBytes &&
        x.memoryRssBytes == y.memoryRssBytes && x.oomKillsTotal == y.oomKillsTotal &&
        x.memoryLimitBytes == y.memoryLimitBytes);
}

// The aggregator's side of a version 2 connection; a failure closes it (a fresh table follows).
struct Receiver {
  std::unique_ptr<fleetscale::CompactBatchDecoder> decoder =
      std::make_unique<fleetscale::CompactBatchDecoder>();
  fleetscale::ZstdDecompressor decompressor;
  BatchView view;

  void receive(std::string_view frame) {
    auto payload = decompressor.unwrap(frame, kMaxFrameBytes);
    if (!payload.ok()) return;
    if (!fleetscale::decodeBatchEnvelope(*payload, view, fleetscale::StringChecks::kDeferred)
             .ok() ||
        !view.compact) {
      return;
    }
    if (!decoder->expand(view).ok()) {
      decoder = std::make_unique<fleetscale::CompactBatchDecoder>();
      return;
    }
    check(!fleetscale::checkBatchRanges(view).has_value());
    for (std::size_t i = 0; i < view.containerCount; ++i) {
      check(fleetscale::checkSampleFigures(view.containers[i]).ok());
      (void)fleetscale::completeSample(view.containers[i]);
    }
  }
};

// An agent's connection and its mirror: whatever version 1 accepts comes back unchanged.
struct RoundTrip {
  fleetscale::CompactBatchEncoder encoder;
  fleetscale::CompactBatchDecoder decoder;
  fleetscale::ZstdCompressor compressor{3};
  fleetscale::ZstdDecompressor decompressor;
  BatchView original, copy;

  void send(std::string_view payload) {
    if (!fleetscale::decodeBatchEnvelope(payload, original).ok() || original.compact) return;
    auto compact = encoder.encode(payload);
    check(compact.ok());
    const std::string wrapped = compressor.wrap(*compact);
    auto unwrapped = decompressor.unwrap(wrapped, compact->size());
    check(unwrapped.ok() && *unwrapped == *compact);
    check(
        fleetscale::decodeBatchEnvelope(*compact, copy, fleetscale::StringChecks::kDeferred).ok());
    check(copy.compact && decoder.expand(copy).ok());
    check(copy.sequence == original.sequence && copy.containerCount == original.containerCount);
    check(copy.pendingPodCount == original.pendingPodCount &&
          copy.podMetricsCount == original.podMetricsCount);
    for (std::size_t i = 0; i < copy.containerCount; ++i) {
      checkSame(original.containers[i], copy.containers[i]);
      check(fleetscale::completeSample(copy.containers[i]).ok());
    }
    check(encoder.knownContainers() == decoder.knownContainers());
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool roundTrip = (data[0] & 1) != 0;
  fleetscale::FrameDecoder frames(kMaxFrameBytes);
  frames.feed(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  Receiver receiver;
  RoundTrip trip;
  while (true) {
    auto frame = frames.nextView();
    if (!frame || !frame->has_value()) break;
    if (roundTrip) {
      trip.send(**frame);
    } else {
      receiver.receive(**frame);
    }
  }
  return 0;
}
