// Cell formatting shared by fleetscalectl's tables (private to ctl/src).
#pragma once

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace fleetscale::ctl::format {

using nlohmann::json;
using Rows = std::vector<std::vector<std::string>>;

inline std::string formatted(const char* format, double value) {
  char text[32];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

inline std::string cores(const json& value) {
  return value.is_number() ? formatted("%.3f", value.get<double>()) : "-";
}

inline std::string bytes(const json& value) {
  return value.is_number() ? formatted("%.1fMi", value.get<double>() / (1024.0 * 1024.0)) : "-";
}

inline std::string percent(const json& value) {
  return value.is_number() ? formatted("%.0f%%", value.get<double>() * 100) : "-";
}

// A member of an answer, or null when the answer lacks it: an aggregator of another version, or a
// proxy's error page, must give a "-" in a table, not a crash.
inline const json& field(const json& object, std::string_view key) {
  static const json kMissing;
  if (!object.is_object()) return kMissing;
  const auto it = object.find(key);
  return it == object.end() ? kMissing : *it;
}

// The list of a list answer ({"items": [...]}), empty when there is none.
inline const json& items(const json& body) {
  static const json kNone = json::array();
  const json& list = field(body, "items");
  return list.is_array() ? list : kNone;
}

inline double number(const json& value, double otherwise = 0) {
  return value.is_number() ? value.get<double>() : otherwise;
}

// Text an agent or a policy supplied, safe for a terminal: control characters (an escape
// sequence could rewrite the screen or forge lines) are shown as \xNN.
inline std::string printable(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    // C1 controls are U+0080..U+009F, encoded as C2 80..C2 9F.
    const bool c1 = c == 0xC2 && i + 1 < raw.size() &&
                    static_cast<unsigned char>(raw[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(raw[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7F || c1) {
      const unsigned code = c1 ? static_cast<unsigned char>(raw[++i]) : c;
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", code);
      out += escaped;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

inline std::string text(const json& value) {
  if (value.is_string()) {
    return value.get<std::string>().empty() ? "-" : printable(value.get<std::string>());
  }
  if (value.is_null()) return "-";
  return printable(value.dump());
}

inline std::string utcTime(const json& unixMs) {
  if (!unixMs.is_number()) return "-";
  const std::time_t seconds = static_cast<std::time_t>(unixMs.get<std::int64_t>() / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char out[32];
  std::strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

inline std::string shortId(const std::string& id) { return id.size() > 12 ? id.substr(0, 12) : id; }

}  // namespace fleetscale::ctl::format
