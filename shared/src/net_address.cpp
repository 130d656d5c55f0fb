#include "fleetscale/shared/net_address.h"

#include <unistd.h>

#include <charconv>

#include "fleetscale/shared/text.h"

namespace fleetscale {

std::string HostPort::toString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HostPort> parseHostPort(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Error{singleQuoted(text) + " is not host:port"};
  }
  std::string_view host = text.substr(0, colon);
  const std::string_view portText = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return Error{singleQuoted(text) + ": put IPv6 addresses in brackets, [::1]:7070"};
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || end != portText.data() + portText.size() || portText.empty() ||
      port > 65535) {
    return Error{singleQuoted(text) + ": port must be a number from 0 to 65535"};
  }
  return HostPort{host.empty() ? "0.0.0.0" : std::string(host), static_cast<std::uint16_t>(port)};
}

std::string localHostName() {
  char name[256] = {0};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace fleetscale
