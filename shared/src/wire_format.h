// Protobuf wire-format primitives for the hand-written codecs (batch_view, compact_batch): a
// bounds-checked reader and the few writers the compact encoder needs. Internal to shared/src.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace fleetscale::wire {

enum WireType : std::uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Reads protobuf wire-format primitives from a byte range. Every read checks bounds.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes)
      : pos_(reinterpret_cast<const unsigned char*>(bytes.data())), end_(pos_ + bytes.size()) {}

  bool done() const { return pos_ == end_; }
  const char* position() const { return reinterpret_cast<const char*>(pos_); }

  bool varint(std::uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (pos_ == end_) return false;
      const unsigned char byte = *pos_++;
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;  // more than 10 bytes
  }

  bool tag(std::uint32_t& field, std::uint32_t& wireType) {
    std::uint64_t raw = 0;
    if (!varint(raw) || raw > 0xffffffffu) return false;
    field = static_cast<std::uint32_t>(raw >> 3);
    wireType = static_cast<std::uint32_t>(raw & 7);
    return field != 0;
  }

  bool fixed64(std::uint64_t& value) {
    if (end_ - pos_ < 8) return false;
    std::memcpy(&value, pos_, 8);  // little-endian on every platform we build for
    pos_ += 8;
    return true;
  }

  bool bytes(std::string_view& out) {
    std::uint64_t size = 0;
    if (!varint(size) || size > static_cast<std::uint64_t>(end_ - pos_)) return false;
    out = std::string_view(reinterpret_cast<const char*>(pos_), static_cast<std::size_t>(size));
    pos_ += size;
    return true;
  }

  // Skips a field this decoder does not know. Groups (wire types 3 and 4) are refused.
  bool skip(std::uint32_t wireType) {
    std::uint64_t ignored = 0;
    std::string_view ignoredBytes;
    switch (wireType) {
      case kVarint:
        return varint(ignored);
      case kFixed64:
        return fixed64(ignored);
      case kLengthDelimited:
        return bytes(ignoredBytes);
      case kFixed32:
        if (end_ - pos_ < 4) return false;
        pos_ += 4;
        return true;
      default:
        return false;
    }
  }

 private:
  const unsigned char* pos_;
  const unsigned char* end_;
};

inline std::uint64_t zigzag(std::int64_t value) {
  return (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
}
inline std::int64_t unzigzag(std::uint64_t value) {
  return static_cast<std::int64_t>((value >> 1) ^ (~(value & 1) + 1));
}

inline void appendVarint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

inline void appendTag(std::string& out, std::uint32_t field, WireType type) {
  appendVarint(out, (static_cast<std::uint64_t>(field) << 3) | type);
}

inline void appendFixed64(std::string& out, std::uint64_t value) {
  char bytes[8];
  std::memcpy(bytes, &value, 8);  // little-endian on every platform we build for
  out.append(bytes, 8);
}

inline void appendBytesField(std::string& out, std::uint32_t field, std::string_view bytes) {
  appendTag(out, field, kLengthDelimited);
  appendVarint(out, bytes.size());
  out.append(bytes);
}

}  // namespace fleetscale::wire
