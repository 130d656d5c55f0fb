#include "fleetscale/shared/framing.h"

#include <string>

namespace fleetscale {

void appendFrame(std::string& out, std::string_view payload) {
  const auto size = static_cast<std::uint32_t>(payload.size());
  const char header[kFrameHeaderBytes] = {
      static_cast<char>((size >> 24) & 0xff), static_cast<char>((size >> 16) & 0xff),
      static_cast<char>((size >> 8) & 0xff), static_cast<char>(size & 0xff)};
  out.append(header, kFrameHeaderBytes);
  out.append(payload);
}

std::string encodeFrame(std::string_view payload) {
  std::string out;
  out.reserve(kFrameHeaderBytes + payload.size());
  appendFrame(out, payload);
  return out;
}

FrameDecoder::FrameDecoder(std::uint32_t maxFrameBytes) : maxFrameBytes_(maxFrameBytes) {}

void FrameDecoder::feed(std::string_view bytes) {
  if (failed_) return;
  // Compact lazily so a long-lived connection does not grow its buffer without bound.
  if (readOffset_ > 0 && readOffset_ >= buffer_.size() / 2) {
    buffer_.erase(0, readOffset_);
    readOffset_ = 0;
  }
  buffer_.append(bytes);
}

Result<std::optional<std::string>> FrameDecoder::next() {
  auto view = nextView();
  if (!view) return view.error();
  if (!view->has_value()) return std::optional<std::string>{};
  return std::optional<std::string>{std::string(**view)};
}

Result<std::optional<std::string_view>> FrameDecoder::nextView() {
  if (failed_) return Error{"frame decoder failed earlier"};
  if (readOffset_ == buffer_.size() && readOffset_ > 0) {
    buffer_.clear();  // everything consumed, including the frame last returned
    readOffset_ = 0;
  }
  const std::size_t available = buffer_.size() - readOffset_;
  if (available < kFrameHeaderBytes) return std::optional<std::string_view>{};
  const auto* header = reinterpret_cast<const unsigned char*>(buffer_.data() + readOffset_);
  const std::uint32_t size = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                             (std::uint32_t{header[2]} << 8) | std::uint32_t{header[3]};
  if (size > maxFrameBytes_) {
    failed_ = true;
    return Error{"frame of " + std::to_string(size) + " bytes exceeds the maximum of " +
                 std::to_string(maxFrameBytes_)};
  }
  if (available - kFrameHeaderBytes < size) return std::optional<std::string_view>{};
  const std::string_view payload(buffer_.data() + readOffset_ + kFrameHeaderBytes, size);
  readOffset_ += kFrameHeaderBytes + size;
  return std::optional<std::string_view>{payload};
}

}  // namespace fleetscale
