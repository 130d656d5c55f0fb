// Opening a listening TCP socket the same way for every server.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>

#include "fleetscale/shared/net_address.h"

namespace fleetscale {

// Opens, binds (SO_REUSEADDR) and listens; returns the bound port. Throws std::runtime_error
// naming the address when any step fails.
std::uint16_t openAcceptor(boost::asio::ip::tcp::acceptor& acceptor, const HostPort& address);

}  // namespace fleetscale
