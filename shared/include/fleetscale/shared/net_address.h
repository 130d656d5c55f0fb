// "host:port" parsing for flags such as --listen and --aggregator.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fleetscale/shared/result.h"

namespace fleetscale {

struct HostPort {
  std::string host;  // name, IPv4, or IPv6 without brackets
  std::uint16_t port = 0;
  std::string toString() const;
};

// Accepts "host:port", "[v6]:port" and ":port" (host defaults to 0.0.0.0). Port 0 is allowed:
// it means "any free port" for listeners.
Result<HostPort> parseHostPort(std::string_view text);

// This machine's host name, or "localhost" when it has none.
std::string localHostName();

}  // namespace fleetscale
