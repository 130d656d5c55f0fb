// Small text helpers used by parsers that read kernel and network formats.
#pragma once

#include <chrono>
#include <cstddef>
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

// For a URL's query: RFC 3986's unreserved characters (letters, digits, - _ . ~) as they are,
// every other byte as %XX.
std::string percentEncode(std::string_view text);

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
// Reads a whole file of at most `maxBytes`; a larger one is an error that says so (and is not
// read past the limit).
Result<std::string> readFile(const std::string& path, std::size_t maxBytes);

// Reads a file holding a secret (token), without surrounding whitespace. Empty path -> "".
Result<std::string> readSecretFile(const std::string& path);

bool isLowerHex(std::string_view text);

// RFC 3339 timestamps as Kubernetes writes them: "2026-11-27T12:00:00Z",
// "2026-11-27T12:00:00.123456Z", "2026-11-27T13:00:00+01:00".
Result<std::chrono::system_clock::time_point> parseRfc3339(std::string_view text);

// An RFC 3339 time as seconds and nanoseconds since the Unix epoch: years 0000 to 9999, more
// than system_clock holds.
struct UnixTimestamp {
  std::int64_t seconds = 0;
  std::int64_t nanos = 0;  // 0 to 999'999'999
};
enum class Rfc3339Rules {
  kLenient,  // RFC 3339 itself: 't'/' ' and 'z' too, a leap second (:60), any day up to 31
  kGo,       // Go's time.Parse(time.RFC3339): 'T' and 'Z' only, no :60, the day must exist
};
std::optional<UnixTimestamp> parseRfc3339Timestamp(std::string_view text, Rfc3339Rules rules);
// UTC, with milliseconds: "2026-11-27T12:00:00.000Z".
std::string formatRfc3339(std::chrono::system_clock::time_point time);

// Standard base64 (RFC 4648) with or without padding; whitespace is skipped. Errors on any other
// character.
Result<std::string> decodeBase64(std::string_view text);
// Standard base64 (RFC 4648) with padding.
std::string encodeBase64(std::string_view bytes);

// The longest duration parseDuration accepts: 10 years. Any clock's "now" plus (or minus) it
// stays far inside the range of a 64-bit nanosecond count, so a parsed duration can be added to a
// time point without overflowing.
inline constexpr std::chrono::hours kMaxDuration{24 * 365 * 10};

// Durations as written in flags and config: "1s", "500ms", "2m", "1.5s", "250us"; a bare
// number is seconds. Negative values and values above kMaxDuration are rejected (the latter, and
// the ranged form's out-of-range values, with Error::code ERANGE).
Result<std::chrono::nanoseconds> parseDuration(std::string_view text);

// parseDuration, then a check that the value lies in [min, max]; the error names the range
// ("must be from 1s to 24h").
Result<std::chrono::nanoseconds> parseDuration(std::string_view text, std::chrono::nanoseconds min,
                                               std::chrono::nanoseconds max);

// A duration the way parseDuration reads it, in the largest unit that keeps it whole: "24h",
// "90s", "500ms", "0s".
std::string formatDuration(std::chrono::nanoseconds duration);

// Text hygiene for bytes from outside (network, files, old database rows).
// Length of the well-formed UTF-8 sequence starting at `p` (1 to 4; `p` < `end`), or 0 when the
// bytes there are not one: a stray continuation byte, a truncated or overlong sequence, a
// surrogate, or a code point above U+10FFFF. `codePoint` (optional) receives its value.
std::size_t utf8SequenceLength(const unsigned char* p, const unsigned char* end,
                               std::uint32_t* codePoint = nullptr);
// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
std::string toValidUtf8(std::string_view text);
// True when `text` holds a control character: C0 (below 0x20), DEL, or C1 (U+0080..U+009F).
// Expects valid UTF-8 (invalid bytes are not control characters here).
bool hasControlCharacters(std::string_view text);
// `text` safe to print on one line of a log or terminal: backslash escapes for \n, \r, \t,
// \xNN for other control characters and for bytes that are not UTF-8, \u00NN for C1 controls;
// everything else (printable UTF-8) unchanged.
std::string escapeControl(std::string_view text);

}  // namespace fleetscale
