#include "fleetscale/agent/cgroup_parsers.h"

#include <algorithm>
#include <cassert>

#include "fleetscale/shared/text.h"

namespace fleetscale::agent {

Result<std::uint64_t> parseSingleValue(std::string_view text) {
  const auto value = parseUint64(trim(text));
  if (!value)
    return Error{"expected one unsigned number, got '" + std::string(trim(text).substr(0, 64)) +
                 "'"};
  return *value;
}

Result<std::int64_t> parseSignedValue(std::string_view text) {
  const auto value = parseInt64(trim(text));
  if (!value)
    return Error{"expected one number, got '" + std::string(trim(text).substr(0, 64)) + "'"};
  return *value;
}

std::optional<std::uint64_t> findKeyedValue(std::string_view text, std::string_view key) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    if (line.size() > key.size() && line.substr(0, key.size()) == key &&
        (line[key.size()] == ' ' || line[key.size()] == '\t')) {
      return parseUint64(trim(line.substr(key.size() + 1)));
    }
    pos = end + 1;
  }
  return std::nullopt;
}

namespace {

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// The value after a key: blanks around one unsigned number. Byte loops rather than
// find_first_of/trim, which cost a memchr per character on these short lines.
std::optional<std::uint64_t> keyedValue(std::string_view rest) {
  std::size_t begin = 0;
  while (begin < rest.size() && isBlank(rest[begin])) ++begin;
  std::size_t end = rest.size();
  while (end > begin && isBlank(rest[end - 1])) --end;
  return parseUint64(rest.substr(begin, end - begin));
}

}  // namespace

void findKeyedValues(std::string_view text, std::span<const std::string_view> keys,
                     std::span<std::optional<std::uint64_t>> values) {
  assert(values.size() >= keys.size() && keys.size() <= 64);
  std::fill(values.begin(), values.end(), std::nullopt);
  std::uint64_t seen = 0;  // bit i: keys[i] already found (possibly malformed)
  const std::uint64_t all = keys.size() == 64 ? ~0ULL : (1ULL << keys.size()) - 1;
  const char* const data = text.data();
  const std::size_t size = text.size();
  std::size_t pos = 0;
  while (pos < size && seen != all) {
    std::size_t keyEnd = pos;
    while (keyEnd < size && data[keyEnd] != ' ' && data[keyEnd] != '\t' && data[keyEnd] != '\n') {
      ++keyEnd;
    }
    std::size_t lineEnd = keyEnd;
    while (lineEnd < size && data[lineEnd] != '\n') ++lineEnd;
    if (keyEnd < lineEnd) {  // a line with a separator after the key
      const std::string_view key(data + pos, keyEnd - pos);
      for (std::size_t i = 0; i < keys.size(); ++i) {
        if (keys[i] != key) continue;
        if ((seen & (1ULL << i)) == 0) {
          values[i] = keyedValue(std::string_view(data + keyEnd + 1, lineEnd - keyEnd - 1));
          seen |= 1ULL << i;
        }
        break;
      }
    }
    pos = lineEnd + 1;
  }
}

bool isWellFormedKeyed(std::string_view text) {
  for (std::string_view line : splitLines(text)) {
    if (trim(line).empty()) continue;
    const auto fields = splitFields(line);
    if (fields.size() != 2 || !parseUint64(fields[1])) return false;
  }
  return true;
}

std::optional<double> CpuMax::limitCores() const {
  if (!quotaUs || periodUs == 0) return std::nullopt;
  return static_cast<double>(*quotaUs) / static_cast<double>(periodUs);
}

Result<CpuMax> parseCpuMax(std::string_view text) {
  const auto fields = splitFields(trim(text));
  if (fields.empty() || fields.size() > 2) return Error{"cpu.max: expected '<quota|max> <period>'"};
  CpuMax result;
  if (fields[0] != "max") {
    const auto quota = parseUint64(fields[0]);
    if (!quota) return Error{"cpu.max: bad quota '" + std::string(fields[0]) + "'"};
    result.quotaUs = *quota;
  }
  if (fields.size() == 2) {
    const auto period = parseUint64(fields[1]);
    if (!period || *period == 0)
      return Error{"cpu.max: bad period '" + std::string(fields[1]) + "'"};
    result.periodUs = *period;
  }
  return result;
}

Result<std::optional<std::uint64_t>> parseMemoryMax(std::string_view text) {
  const std::string_view value = trim(text);
  if (value == "max") return std::optional<std::uint64_t>{};
  const auto bytes = parseUint64(value);
  if (!bytes)
    return Error{"memory.max: expected 'max' or bytes, got '" + std::string(value.substr(0, 64)) +
                 "'"};
  return std::optional<std::uint64_t>{*bytes};
}

Result<std::optional<std::uint64_t>> parseV1MemoryLimit(std::string_view text) {
  const auto bytes = parseUint64(trim(text));
  if (!bytes) return Error{"memory.limit_in_bytes: expected bytes"};
  if (*bytes >= kV1UnlimitedMemoryThreshold) return std::optional<std::uint64_t>{};
  return std::optional<std::uint64_t>{*bytes};
}

Result<PressureTotals> parsePressure(std::string_view text) {
  // "some avg10=0.00 avg60=0.00 avg300=0.00 total=12345", then maybe the same with "full".
  PressureTotals totals;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    std::size_t kindEnd = 0;
    while (kindEnd < line.size() && !isBlank(line[kindEnd])) ++kindEnd;
    if (kindEnd == 0) {
      if (std::all_of(line.begin(), line.end(), isBlank)) continue;  // blank line
      return Error{"pressure: line starts with a blank"};
    }
    const std::string_view kind = line.substr(0, kindEnd);
    std::optional<std::uint64_t> total;
    const auto at = line.find(" total=", kindEnd);
    if (at != std::string_view::npos) {
      std::size_t valueEnd = at + 7;
      while (valueEnd < line.size() && !isBlank(line[valueEnd])) ++valueEnd;
      total = parseUint64(line.substr(at + 7, valueEnd - at - 7));
    }
    if (!total) return Error{"pressure: line without a valid total="};
    if (kind == "some") {
      totals.someTotalUs = total;
    } else if (kind == "full") {
      totals.fullTotalUs = total;
    } else {
      return Error{"pressure: unknown line kind '" + std::string(kind.substr(0, 16)) + "'"};
    }
  }
  if (!totals.someTotalUs) return Error{"pressure: no 'some' line"};
  return totals;
}

std::uint64_t sharesToWeight(std::uint64_t shares) {
  if (shares == 0) return 0;
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

std::uint64_t workingSet(std::uint64_t usage, std::uint64_t inactiveFile) {
  return usage > inactiveFile ? usage - inactiveFile : 0;
}

}  // namespace fleetscale::agent
