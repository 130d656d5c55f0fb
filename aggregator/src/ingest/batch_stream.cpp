#include "fleetscale/aggregator/ingest/batch_stream.h"

namespace fleetscale::aggregator {

WireProtocol negotiateWireProtocol(const v1::Hello& hello, std::uint32_t maxProtocolVersion) {
  WireProtocol protocol;
  if (hello.max_protocol_version() >= kCompactProtocolVersion &&
      maxProtocolVersion >= kCompactProtocolVersion) {
    protocol.version = kCompactProtocolVersion;
    protocol.zstd = hello.compression() == kZstdCompression;
  }
  return protocol;
}

BatchStream::BatchStream(WireProtocol protocol, std::size_t maxFrameBytes)
    : protocol_(protocol), maxFrameBytes_(maxFrameBytes) {
  if (protocol_.version >= kCompactProtocolVersion) {
    decoder_ = std::make_unique<CompactBatchDecoder>();
    if (protocol_.zstd) decompressor_ = std::make_unique<ZstdDecompressor>();
  }
}

Result<std::string_view> BatchStream::unwrap(std::string_view payload) {
  // Without compression a zstd envelope stays as it is, and decoding refuses it as no batch.
  if (!decompressor_) return payload;
  return decompressor_->unwrap(payload, maxFrameBytes_);
}

BatchDecodeResult BatchStream::admit(BatchView& batch) {
  if (!decoder_) {
    if (!batch.compact) return {};
    return {BatchDecodeStatus::kInvalid,
            "a version 2 compact batch on a protocol version 1 connection (the hello-ack said 1)"};
  }
  if (!batch.compact) {
    return {BatchDecodeStatus::kInvalid,
            "a version 1 batch on a protocol version 2 connection (the hello-ack said 2: send "
            "compact batches)"};
  }
  return decoder_->expand(batch);
}

}  // namespace fleetscale::aggregator
