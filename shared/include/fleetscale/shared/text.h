// Small text helpers used by parsers that read kernel and network formats.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/shared/result.h"

namespace fleetscale {

std::string_view trim(std::string_view text);

// 'text' in single quotes, for error messages.
std::string singleQuoted(std::string_view text);

// Splits on any run of the separator characters; no empty fields.
std::vector<std::string_view> splitFields(std::string_view text,
                                          std::string_view separators = " \t");

// Splits into lines without their '\n'; a final line without '\n' counts.
std::vector<std::string_view> splitLines(std::string_view text);

// Whole-field decimal parse; std::nullopt on anything else (sign, spaces, overflow, empty).
std::optional<std::uint64_t> parseUint64(std::string_view text);
std::optional<std::int64_t> parseInt64(std::string_view text);
std::optional<double> parseDouble(std::string_view text);

// Reads a whole file. Errors carry the path and errno text.
Result<std::string> readFile(const std::string& path);

// Reads a file holding a secret (token), without surrounding whitespace. Empty path -> "".
Result<std::string> readSecretFile(const std::string& path);

bool isLowerHex(std::string_view text);

// RFC 3339 timestamps as Kubernetes writes them: "2026-11-27T12:00:00Z",
// "2026-11-27T12:00:00.123456Z", "2026-11-27T13:00:00+01:00".
Result<std::chrono::system_clock::time_point> parseRfc3339(std::string_view text);
// UTC, with milliseconds: "2026-11-27T12:00:00.000Z".
std::string formatRfc3339(std::chrono::system_clock::time_point time);

// Standard base64 (RFC 4648) with or without padding; whitespace is skipped. Errors on any other
// character.
Result<std::string> decodeBase64(std::string_view text);
// Standard base64 (RFC 4648) with padding.
std::string encodeBase64(std::string_view bytes);

// Durations as written in flags and config: "1s", "500ms", "2m", "1.5s", "250us"; a bare
// number is seconds. Negative values are rejected.
Result<std::chrono::nanoseconds> parseDuration(std::string_view text);

}  // namespace fleetscale
