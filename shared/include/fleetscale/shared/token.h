// Shared secrets (agent and admin bearer tokens).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "fleetscale/shared/result.h"

namespace fleetscale {

// The longest token accepted: what a Hello's auth_token may hold (kMaxIdentifierBytes).
inline constexpr std::size_t kMaxTokenBytes = 512;

// Constant-time comparison for secrets: the time taken does not depend on where they differ.
bool tokensEqual(const std::string& expected, const std::string& given);

// Whether `token` can be sent: not empty, at most kMaxTokenBytes, printable ASCII only (what an
// HTTP header and a Hello carry). The error says which rule it breaks, never the token.
Status checkToken(std::string_view token);

// Reads a token file named by a flag, failing closed: the token without surrounding whitespace,
// or an error when the file cannot be read, is empty (only whitespace), is longer than
// kMaxTokenBytes, or holds anything but printable ASCII (what an HTTP header and a Hello carry).
// A token file that was given is never read as "no token". An empty path is an error too: the
// caller decides whether a missing flag means "no authentication".
Result<std::string> readTokenFile(const std::string& path);

}  // namespace fleetscale
