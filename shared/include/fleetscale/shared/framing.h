// Length-prefixed framing for the agent <-> aggregator stream: each frame is a 4-byte
// big-endian payload length followed by the payload. Pure byte handling, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fleetscale/shared/result.h"

namespace fleetscale {

inline constexpr std::size_t kFrameHeaderBytes = 4;
inline constexpr std::uint32_t kDefaultMaxFrameBytes = 4u * 1024u * 1024u;

// Appends one frame (header + payload) to `out`.
void appendFrame(std::string& out, std::string_view payload);
std::string encodeFrame(std::string_view payload);

// Reassembles frames from a byte stream that may arrive split or coalesced at any boundary.
// A length prefix larger than the maximum is an error as soon as the header is complete, so a
// peer cannot make us buffer a huge frame. After an error the decoder stays failed.
// Not thread-safe: one decoder per connection.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::uint32_t maxFrameBytes = kDefaultMaxFrameBytes);

  // Appends bytes read from the connection.
  void feed(std::string_view bytes);

  // The next complete payload, std::nullopt when more bytes are needed, or an Error
  // ("frame of N bytes exceeds the maximum of M") when the stream is unusable.
  Result<std::optional<std::string>> next();
  // Like next(), without copying: the view is valid until the next call to feed() or next*().
  Result<std::optional<std::string_view>> nextView();

  // Bytes held that do not yet form a complete frame.
  std::size_t bufferedBytes() const { return buffer_.size() - readOffset_; }
  std::uint32_t maxFrameBytes() const { return maxFrameBytes_; }
  // Changes the limit for frames whose header has not been read yet (a connection allows small
  // frames until its peer has identified itself, then its full limit).
  void setMaxFrameBytes(std::uint32_t maxFrameBytes) { maxFrameBytes_ = maxFrameBytes; }
  bool failed() const { return failed_; }

 private:
  std::uint32_t maxFrameBytes_;
  std::string buffer_;
  std::size_t readOffset_ = 0;
  bool failed_ = false;
};

}  // namespace fleetscale
