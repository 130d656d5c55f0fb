// What one agent connection speaks once its hello is accepted (docs/protocol.md, "Version 2"),
// and the decoding state that goes with it: version 1 batches as they are, or version 2 compact
// batches expanded against the connection's container table, optionally zstd-compressed.
// Dependency-light (no sockets, no metrics) so the ingest sessions fuzz target drives it as the
// server does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/compact_batch.h"
#include "fleetscale/shared/protocol.h"
#include "fleetscale/shared/result.h"
#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale::aggregator {

// The highest version this aggregator speaks (--max-protocol-version's default and limit).
inline constexpr std::uint32_t kMaxSupportedProtocolVersion = kCompactProtocolVersion;

struct WireProtocol {
  std::uint32_t version = kProtocolVersion;  // 1 or 2, from the frame after the hello-ack on
  bool zstd = false;                         // frames may be Envelope.zstd_envelope (version 2)
};

// Version 2 when both the hello and this aggregator (`maxProtocolVersion`) offer it, else 1: an
// agent that offered nothing, or an aggregator held at 1 for a staged rollout, speaks 1 exactly
// as before. Compression only on version 2, and only the one kind there is.
WireProtocol negotiateWireProtocol(const v1::Hello& hello, std::uint32_t maxProtocolVersion);

// The per-connection decoding state after the hello. Each frame goes through unwrap(), then
// decodeBatchEnvelope, then admit().
class BatchStream {
 public:
  BatchStream(WireProtocol protocol, std::size_t maxFrameBytes);

  const WireProtocol& protocol() const { return protocol_; }

  // On a connection that negotiated zstd, an Envelope{zstd_envelope} frame's inner payload
  // (valid until the next call); any other payload as it is. Fails on a zstd frame that is
  // malformed, states no size or states more than the frame limit: nothing is decompressed then.
  Result<std::string_view> unwrap(std::string_view payload);

  // Refuses a batch of the other version (kInvalid), and on version 2 expands the compact batch
  // into `batch.containers`. Every decoded batch must pass here, duplicates included: each moves
  // the connection's container table on, and a replayed duplicate carries definitions later
  // batches rely on. After a failure the connection must close.
  BatchDecodeResult admit(BatchView& batch);

 private:
  WireProtocol protocol_;
  std::size_t maxFrameBytes_;
  std::unique_ptr<CompactBatchDecoder> decoder_;    // version 2 only
  std::unique_ptr<ZstdDecompressor> decompressor_;  // version 2 with zstd only
};

}  // namespace fleetscale::aggregator
