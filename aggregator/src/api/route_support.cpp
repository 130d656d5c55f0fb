#include "fleetscale/aggregator/api/route_support.h"

#include <cerrno>
#include <cstring>
#include <ctime>

#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {

Result<std::int64_t> parseSince(std::string_view text, WallTime now) {
  if (auto millis = parseInt64(text); millis && *millis >= 0) return *millis;
  auto duration = parseDuration(text);
  if (duration) {
    return toUnixMillis(now) -
           std::chrono::duration_cast<std::chrono::milliseconds>(*duration).count();
  }
  // A duration, but too long to go back by (it would wrap): say so, not "not a duration".
  if (duration.error().code == ERANGE) return duration.error();
  // RFC 3339 in UTC or with an offset: 2026-01-02T03:04:05Z, 2026-01-02T03:04:05.123+02:00.
  std::tm tm{};
  const std::string value(text);
  const char* rest = strptime(value.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) {
    return Error{"'" + value + "' is not a duration (15m), an RFC 3339 time or Unix milliseconds"};
  }
  std::int64_t millis = static_cast<std::int64_t>(timegm(&tm)) * 1000;
  if (*rest == '.') {
    int digits = 0, fraction = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, ++digits) {
      if (digits < 3) fraction = fraction * 10 + (*rest - '0');
    }
    for (int d = std::min(digits, 3); d < 3; ++d) fraction *= 10;
    millis += fraction;
  }
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if ((*rest == '+' || *rest == '-') && std::strlen(rest) == 6 && rest[3] == ':') {
    const int sign = *rest == '+' ? 1 : -1;
    const int hours = (rest[1] - '0') * 10 + (rest[2] - '0');
    const int minutes = (rest[4] - '0') * 10 + (rest[5] - '0');
    millis -= sign * (hours * 3600 + minutes * 60) * 1000LL;
    rest += 6;
  } else {
    return Error{"'" + value + "' lacks a time zone (Z or +hh:mm)"};
  }
  if (*rest != '\0') return Error{"'" + value + "' has trailing characters"};
  return millis;
}

ListQuery parseListQuery(const HttpRequest& request, WallTime now, std::size_t defaultLimit) {
  ListQuery out;
  out.limit = defaultLimit;
  if (const auto limit = request.queryParam("limit"); !limit.empty()) {
    const auto parsed = parseUint64(limit);
    if (!parsed || *parsed == 0 || *parsed > kMaxLimit) {
      out.error = "limit must be a number from 1 to " + std::to_string(kMaxLimit);
    } else {
      out.limit = static_cast<std::size_t>(*parsed);
    }
  }
  if (const auto since = request.queryParam("since"); !since.empty()) {
    auto parsed = parseSince(since, now);
    if (!parsed) {
      out.error = "since: " + parsed.error().message;
    } else {
      out.sinceUnixMs = *parsed;
    }
  }
  return out;
}

}  // namespace fleetscale::aggregator
