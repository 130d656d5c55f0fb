// Cell formatting shared by fleetscalectl's tables (private to ctl/src).
#pragma once

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
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

inline std::string text(const json& value) {
  if (value.is_string()) return value.get<std::string>().empty() ? "-" : value.get<std::string>();
  if (value.is_null()) return "-";
  return value.dump();
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
