// What the JSON API's route groups share: the list endpoints' query parameters (`limit`, `since`)
// and JSON answers (docs/api.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/http_server.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

inline constexpr std::size_t kDefaultLimit = 100;
inline constexpr std::size_t kMaxLimit = 100'000;

// `since` as a duration back from `now` ("15m"), an RFC 3339 time ("2026-01-02T03:04:05Z") or
// Unix milliseconds. Returns Unix milliseconds.
Result<std::int64_t> parseSince(std::string_view text, WallTime now);

// Query parameters shared by the list endpoints; errors become 400 answers.
struct ListQuery {
  std::size_t limit = kDefaultLimit;
  std::int64_t sinceUnixMs = 0;
  std::string error;
};

ListQuery parseListQuery(const HttpRequest& request, WallTime now,
                         std::size_t defaultLimit = kDefaultLimit);

// JSON text of an answer. Never throws: a string that is not UTF-8 (from a remote server's error,
// or a row an older version stored) has its bad bytes replaced by U+FFFD instead of turning the
// whole answer into a 500.
inline std::string dumpJson(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline HttpResponse jsonResponse(const nlohmann::json& body, int status = 200) {
  return HttpResponse::json(status, dumpJson(body));
}

}  // namespace fleetscale::aggregator
