#include "fleetscale/agent/mountinfo.h"

#include "fleetscale/shared/text.h"

namespace fleetscale::agent {
namespace {

std::string unescapeOctal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      const char a = text[i + 1], b = text[i + 2], c = text[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out.push_back(static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

}  // namespace

std::optional<MountInfoEntry> parseMountInfoLine(std::string_view line) {
  const auto fields = splitFields(line, " ");
  // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
  if (fields.size() < 10) return std::nullopt;
  std::size_t separator = 6;
  while (separator < fields.size() && fields[separator] != "-") ++separator;
  if (separator + 2 >= fields.size()) return std::nullopt;
  MountInfoEntry entry;
  entry.root = unescapeOctal(fields[3]);
  entry.mountPoint = unescapeOctal(fields[4]);
  entry.fsType = std::string(fields[separator + 1]);
  entry.source = unescapeOctal(fields[separator + 2]);
  if (separator + 3 < fields.size()) {
    for (std::string_view option : splitFields(fields[separator + 3], ",")) {
      entry.superOptions.emplace_back(option);
    }
  }
  return entry;
}

std::vector<MountInfoEntry> parseMountInfo(std::string_view text, int* malformedLines) {
  std::vector<MountInfoEntry> entries;
  int malformed = 0;
  for (std::string_view line : splitLines(text)) {
    if (trim(line).empty()) continue;
    if (auto entry = parseMountInfoLine(line)) {
      entries.push_back(std::move(*entry));
    } else {
      ++malformed;
    }
  }
  if (malformedLines != nullptr) *malformedLines = malformed;
  return entries;
}

}  // namespace fleetscale::agent
