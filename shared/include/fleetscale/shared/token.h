// Shared secrets (agent and admin bearer tokens).
#pragma once

#include <string>

namespace fleetscale {

// Constant-time comparison for secrets: the time taken does not depend on where they differ.
bool tokensEqual(const std::string& expected, const std::string& given);

}  // namespace fleetscale
