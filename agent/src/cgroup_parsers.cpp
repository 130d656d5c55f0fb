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

void findKeyedValues(std::string_view text, std::span<const std::string_view> keys,
                     std::span<std::optional<std::uint64_t>> values) {
  assert(values.size() >= keys.size() && keys.size() <= 64);
  std::fill(values.begin(), values.end(), std::nullopt);
  std::uint64_t seen = 0;  // bit i: keys[i] already found (possibly malformed)
  const std::uint64_t all = keys.size() == 64 ? ~0ULL : (1ULL << keys.size()) - 1;
  std::size_t pos = 0;
  while (pos < text.size() && seen != all) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    const auto space = line.find_first_of(" \t");
    if (space == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, space);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] != key) continue;
      if ((seen & (1ULL << i)) == 0) {
        values[i] = parseUint64(trim(line.substr(space + 1)));
        seen |= 1ULL << i;
      }
      break;
    }
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
  PressureTotals totals;
  for (std::string_view line : splitLines(text)) {
    const auto fields = splitFields(line);
    if (fields.empty()) continue;
    std::optional<std::uint64_t> total;
    for (std::size_t i = 1; i < fields.size(); ++i) {
      if (fields[i].rfind("total=", 0) == 0) total = parseUint64(fields[i].substr(6));
    }
    if (!total) return Error{"pressure: line without a valid total="};
    if (fields[0] == "some") {
      totals.someTotalUs = total;
    } else if (fields[0] == "full") {
      totals.fullTotalUs = total;
    } else {
      return Error{"pressure: unknown line kind '" + std::string(fields[0].substr(0, 16)) + "'"};
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
