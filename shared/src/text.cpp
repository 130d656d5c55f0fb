#include "fleetscale/shared/text.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

namespace fleetscale {

std::string_view trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

std::string singleQuoted(std::string_view text) {
  // Built by appending: GCC 12 warns (-Wrestrict, falsely) on "'" + std::string(...) at -O3.
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  out.append(text);
  out.push_back('\'');
  return out;
}

std::vector<std::string_view> splitFields(std::string_view text, std::string_view separators) {
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto begin = text.find_first_not_of(separators, pos);
    if (begin == std::string_view::npos) break;
    auto end = text.find_first_of(separators, begin);
    if (end == std::string_view::npos) end = text.size();
    fields.push_back(text.substr(begin, end - begin));
    pos = end;
  }
  return fields;
}

std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return lines;
}

std::optional<std::uint64_t> parseUint64(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> parseInt64(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> parseDouble(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

Result<std::string> readFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int saved = errno;
    return Error{path + ": " + std::strerror(saved), saved};
  }
  std::string content;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      return Error{path + ": " + std::strerror(saved), saved};
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return content;
}

Result<std::string> readSecretFile(const std::string& path) {
  if (path.empty()) return std::string();
  auto text = readFile(path);
  if (!text) return text.error();
  return std::string(trim(*text));
}

Result<std::chrono::nanoseconds> parseDuration(std::string_view text) {
  struct Unit {
    std::string_view suffix;
    double nanoseconds;
  };
  static constexpr Unit kUnits[] = {{"ns", 1.0}, {"us", 1e3}, {"ms", 1e6},
                                    {"s", 1e9},  {"m", 60e9}, {"h", 3600e9}};
  const std::string_view trimmed = trim(text);
  std::string_view number = trimmed;
  double scale = 1e9;
  for (const auto& unit : kUnits) {
    if (trimmed.size() > unit.suffix.size() &&
        trimmed.substr(trimmed.size() - unit.suffix.size()) == unit.suffix) {
      const char before = trimmed[trimmed.size() - unit.suffix.size() - 1];
      if (before >= '0' && before <= '9') {
        number = trimmed.substr(0, trimmed.size() - unit.suffix.size());
        scale = unit.nanoseconds;
        break;
      }
    }
  }
  const auto value = parseDouble(number);
  if (!value || *value < 0) {
    return Error{singleQuoted(text) + " is not a duration (examples: 1s, 500ms, 2m)"};
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(*value * scale));
}

Result<std::string> decodeBase64(std::string_view text) {
  auto valueOf = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    const int value = valueOf(c);
    if (value < 0 || padding) return Error{"invalid base64"};
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if (bits >= 6) return Error{"invalid base64: truncated"};
  return out;
}

bool isLowerHex(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace fleetscale
