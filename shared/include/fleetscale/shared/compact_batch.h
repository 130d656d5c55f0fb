// Protocol version 2 (docs/protocol.md, "Version 2"): compact batches. A container's identity and
// metadata cross a connection once, as a ContainerDefinition naming a table index, and again only
// when they change; every tick's figures travel as compact rows of deltas against the
// container's previous figures on the same connection, with unchanged figures left out.
//
// Both ends keep the same table, so the table lives exactly as long as the connection: a new
// connection (a reconnect, a replay from the spool, a standby joining, an aggregator restarted
// mid-stream) starts empty and its first batch defines every container. The decoder turns a
// compact batch back into the BatchView a version 1 batch gives, byte for byte in the identity
// and metadata and bit for bit in the figures, so nothing downstream of decoding can tell the
// versions apart.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/protocol.h"
#include "fleetscale/shared/result.h"

namespace fleetscale {

inline constexpr std::uint32_t kCompactProtocolVersion = 2;
// The frame compression a version 2 connection may use (Hello.compression, HelloAck.compression).
inline constexpr std::string_view kZstdCompression = "zstd";
// The zstd level senders compress version 2 frames at. Measured on realistic nodes
// (docs/benchmarks.md, "Protocol version 2"): level 1 makes frames as small as level 3 (within
// 1%) for less CPU; higher levels have nothing left to find in delta rows.
inline constexpr int kZstdCompressionLevel = 1;
// Table indices lie below this: the encoder reuses the lowest free one, and a table never holds
// more containers than one batch may.
inline constexpr std::uint32_t kMaxContainerIndex = kMaxContainersPerBatch;

// The sending side of one version 2 connection. Encodes the agent's version 1 batch payloads (what
// its queue and spool hold, so replays encode like live batches) in connection order.
class CompactBatchEncoder {
 public:
  CompactBatchEncoder();
  ~CompactBatchEncoder();
  CompactBatchEncoder(const CompactBatchEncoder&) = delete;
  CompactBatchEncoder& operator=(const CompactBatchEncoder&) = delete;

  // `v1Payload` is a serialized Envelope{batch}; the result a serialized Envelope{compact_batch}.
  // Fails only on a payload that is not a decodable batch (then the table is unchanged).
  Result<std::string> encode(std::string_view v1Payload);

  std::size_t knownContainers() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The receiving side of one version 2 connection.
class CompactBatchDecoder {
 public:
  CompactBatchDecoder();
  ~CompactBatchDecoder();
  CompactBatchDecoder(const CompactBatchDecoder&) = delete;
  CompactBatchDecoder& operator=(const CompactBatchDecoder&) = delete;

  // Fills `batch` (decoded by decodeBatchEnvelope from an Envelope{compact_batch}) with its
  // containers, in the order the agent sampled them: views into this decoder's table, valid until
  // the next expand(). Checks what decodeBatchEnvelope checks of a version 1 batch's containers
  // (strings are left to completeSample, as with StringChecks::kDeferred). Every batch of the
  // connection must pass through here in order, duplicates included: each one moves the table on.
  // After a failure the table is unusable, and the connection must close.
  BatchDecodeResult expand(BatchView& batch);

  std::size_t knownContainers() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// zstd frame compression of version 2 payloads, per frame. The zstd contexts (a decompression
// context alone holds over 100 KiB of workspace) are one per thread, not one per connection: an
// aggregator with thousands of agent connections would otherwise hold a context for each.
class ZstdCompressor {
 public:
  explicit ZstdCompressor(int level) : level_(level) {}

  // A serialized Envelope{zstd_envelope} holding `payload` compressed, or `payload` itself when
  // compressing would not make it smaller.
  std::string wrap(std::string payload);

 private:
  int level_;
};

class ZstdDecompressor {
 public:
  // When `payload` is an Envelope{zstd_envelope}, the decompressed inner payload (valid until the
  // next call); otherwise `payload` itself. Refuses a frame that does not state its content size
  // or states more than `maxBytes`, before decompressing anything.
  Result<std::string_view> unwrap(std::string_view payload, std::size_t maxBytes);

 private:
  std::string buffer_;
};

}  // namespace fleetscale
