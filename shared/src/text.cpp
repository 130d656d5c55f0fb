#include "fleetscale/shared/text.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

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

Result<std::string> readFile(const std::string& path, std::size_t maxBytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int saved = errno;
    return Error{path + ": " + std::strerror(saved), saved};
  }
  std::string content;
  char buffer[8192];
  while (content.size() <= maxBytes) {
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
  if (content.size() > maxBytes) {
    return Error{path + ": larger than the limit of " + std::to_string(maxBytes) + " bytes", EFBIG};
  }
  return content;
}

Result<std::string> readFile(const std::string& path) {
  return readFile(path, std::numeric_limits<std::size_t>::max());
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
  // Compared as doubles, before the conversion that would overflow.
  const double nanoseconds = *value * scale;
  if (!(nanoseconds <= static_cast<double>(std::chrono::nanoseconds(kMaxDuration).count()))) {
    return Error{singleQuoted(text) + " is longer than the maximum duration " +
                     formatDuration(kMaxDuration) + " (10 years)",
                 ERANGE};
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(nanoseconds));
}

Result<std::chrono::nanoseconds> parseDuration(std::string_view text, std::chrono::nanoseconds min,
                                               std::chrono::nanoseconds max) {
  auto value = parseDuration(text);
  if (!value) return value;
  if (*value < min || *value > max) {
    return Error{singleQuoted(text) + " is out of range: must be from " + formatDuration(min) +
                     " to " + formatDuration(max),
                 ERANGE};
  }
  return value;
}

std::string formatDuration(std::chrono::nanoseconds duration) {
  struct Unit {
    const char* suffix;
    std::int64_t nanoseconds;
  };
  static constexpr Unit kUnits[] = {{"h", 3'600'000'000'000},
                                    {"m", 60'000'000'000},
                                    {"s", 1'000'000'000},
                                    {"ms", 1'000'000},
                                    {"us", 1'000}};
  const std::int64_t count = duration.count();
  if (count == 0) return "0s";
  for (const auto& unit : kUnits) {
    if (count % unit.nanoseconds == 0)
      return std::to_string(count / unit.nanoseconds) + unit.suffix;
  }
  return std::to_string(count) + "ns";
}

namespace {

bool isControl(std::uint32_t codePoint) {
  return codePoint < 0x20 || codePoint == 0x7f || (codePoint >= 0x80 && codePoint <= 0x9f);
}

}  // namespace

std::size_t utf8SequenceLength(const unsigned char* p, const unsigned char* end,
                               std::uint32_t* codePoint) {
  const unsigned char c = *p;
  if (c < 0x80) {
    if (codePoint != nullptr) *codePoint = c;
    return 1;
  }
  std::size_t extra = 0;
  std::uint32_t code = 0;
  std::uint32_t minimum = 0;
  if ((c & 0xe0) == 0xc0) {
    extra = 1, code = c & 0x1f, minimum = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    extra = 2, code = c & 0x0f, minimum = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    extra = 3, code = c & 0x07, minimum = 0x10000;
  } else {
    return 0;
  }
  if (static_cast<std::size_t>(end - p) <= extra) return 0;
  for (std::size_t i = 1; i <= extra; ++i) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    code = (code << 6) | (p[i] & 0x3f);
  }
  if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  if (codePoint != nullptr) *codePoint = code;
  return extra + 1;
}

std::string toValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const std::size_t length = utf8SequenceLength(p, end);
    if (length == 0) {
      out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
      ++p;
    } else {
      out.append(reinterpret_cast<const char*>(p), length);
      p += length;
    }
  }
  return out;
}

bool hasControlCharacters(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    std::uint32_t codePoint = 0;
    const std::size_t length = utf8SequenceLength(p, end, &codePoint);
    if (length != 0 && isControl(codePoint)) return true;
    p += length == 0 ? 1 : length;
  }
  return false;
}

std::string escapeControl(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    std::uint32_t codePoint = 0;
    const std::size_t length = utf8SequenceLength(p, end, &codePoint);
    if (length == 0) {
      const char escaped[] = {'\\', 'x', kHex[*p >> 4], kHex[*p & 0xf]};
      out.append(escaped, sizeof(escaped));
      ++p;
      continue;
    }
    if (!isControl(codePoint)) {
      out.append(reinterpret_cast<const char*>(p), length);
    } else if (codePoint == '\n') {
      out.append("\\n");
    } else if (codePoint == '\r') {
      out.append("\\r");
    } else if (codePoint == '\t') {
      out.append("\\t");
    } else if (codePoint < 0x80) {
      const char escaped[] = {'\\', 'x', kHex[codePoint >> 4], kHex[codePoint & 0xf]};
      out.append(escaped, sizeof(escaped));
    } else {
      const char escaped[] = {'\\', 'u', '0', '0', kHex[codePoint >> 4], kHex[codePoint & 0xf]};
      out.append(escaped, sizeof(escaped));
    }
    p += length;
  }
  return out;
}

namespace {

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm), valid for all int years.
std::int64_t daysFromCivil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yearOfEra = static_cast<unsigned>(year - era * 400);
  const unsigned dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
  return era * 146097 + static_cast<std::int64_t>(dayOfEra) - 719468;
}

unsigned daysInMonth(std::int64_t year, unsigned month) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  const bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  return month == 2 && leap ? 29 : kDays[month - 1];
}

std::optional<int> digits(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::optional<UnixTimestamp> parseRfc3339Timestamp(std::string_view text, Rfc3339Rules rules) {
  const bool go = rules == Rfc3339Rules::kGo;
  const auto year = digits(text, 0, 4);
  const auto month = digits(text, 5, 2);
  const auto day = digits(text, 8, 2);
  const auto hour = digits(text, 11, 2);
  const auto minute = digits(text, 14, 2);
  const auto second = digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' || text[7] != '-' ||
      text[13] != ':' || text[16] != ':' || *month < 1 || *month > 12 || *day < 1 || *hour > 23 ||
      *minute > 59) {
    return std::nullopt;
  }
  const char separator = text[10];
  if (go ? separator != 'T' : separator != 'T' && separator != 't' && separator != ' ') {
    return std::nullopt;
  }
  if (*second > (go ? 59 : 60) ||
      *day > static_cast<int>(go ? daysInMonth(*year, static_cast<unsigned>(*month)) : 31)) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int count = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (count < 9) nanos = nanos * 10 + (text[pos] - '0');
      ++count;
      ++pos;
    }
    if (count == 0) return std::nullopt;
    for (int i = count; i < 9; ++i) nanos *= 10;
  }
  std::int64_t offsetSeconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || (!go && text[pos] == 'z'))) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const auto offsetHours = digits(text, pos + 1, 2);
    const auto offsetMinutes = digits(text, pos + 4, 2);
    if (!offsetHours || !offsetMinutes || text[pos + 3] != ':' ||
        (go && (*offsetHours > 23 || *offsetMinutes > 59))) {
      return std::nullopt;
    }
    offsetSeconds = (*offsetHours * 3600 + *offsetMinutes * 60) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  return UnixTimestamp{
      daysFromCivil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day)) * 86400 +
          *hour * 3600 + *minute * 60 + *second - offsetSeconds,
      nanos};
}

Result<std::chrono::system_clock::time_point> parseRfc3339(std::string_view text) {
  const auto time = parseRfc3339Timestamp(text, Rfc3339Rules::kLenient);
  if (!time) return Error{"time " + singleQuoted(text) + " is not RFC 3339 (2026-11-27T12:00:00Z)"};
  // system_clock counts nanoseconds in 64 bits: about 1678 to 2262 (kube_values_fuzz found 4036).
  constexpr std::int64_t kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max())
          .count() -
      1;
  if (time->seconds > kLimit || time->seconds < -kLimit) {
    return Error{"time " + singleQuoted(text) + " is out of range (years 1678 to 2262)"};
  }
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(time->seconds) + std::chrono::nanoseconds(time->nanos)));
}

std::string formatRfc3339(std::chrono::system_clock::time_point time) {
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::int64_t seconds = millis / 1000;
  std::int64_t remainder = millis % 1000;
  if (remainder < 0) {
    remainder += 1000;
    --seconds;
  }
  std::int64_t days = seconds / 86400;
  std::int64_t secondOfDay = seconds % 86400;
  if (secondOfDay < 0) {
    secondOfDay += 86400;
    --days;
  }
  // civilFromDays (Howard Hinnant).
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto dayOfEra = static_cast<unsigned>(days - era * 146097);
  const unsigned yearOfEra =
      (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;
  const unsigned dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
  const unsigned mp = (5 * dayOfYear + 2) / 153;
  const unsigned day = dayOfYear - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = static_cast<std::int64_t>(yearOfEra) + era * 400 + (month <= 2);
  char text[40];
  std::snprintf(text, sizeof(text), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(year), month, day,
                static_cast<long long>(secondOfDay / 3600),
                static_cast<long long>(secondOfDay / 60 % 60),
                static_cast<long long>(secondOfDay % 60), static_cast<long long>(remainder));
  return text;
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

std::string encodeBase64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t triple = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                                 (static_cast<std::uint8_t>(bytes[i + 1]) << 8) |
                                 static_cast<std::uint8_t>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(triple >> shift) & 63]);
  }
  const std::size_t left = bytes.size() - i;
  if (left > 0) {
    std::uint32_t triple = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (left == 2) triple |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(triple >> 18) & 63]);
    out.push_back(kAlphabet[(triple >> 12) & 63]);
    out.push_back(left == 2 ? kAlphabet[(triple >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

bool isLowerHex(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string percentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 0xF]};
    }
  }
  return out;
}

}  // namespace fleetscale
