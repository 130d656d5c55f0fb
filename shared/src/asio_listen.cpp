#include "fleetscale/shared/asio_listen.h"

#include <stdexcept>

namespace fleetscale {

std::uint16_t openAcceptor(boost::asio::ip::tcp::acceptor& acceptor, const HostPort& address) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address.host, ec);
  if (ec) throw std::runtime_error("listen address " + address.toString() + ": " + ec.message());
  const asio::ip::tcp::endpoint endpoint(ip, address.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);  // so the caller may try again
    throw std::runtime_error("cannot listen on " + address.toString() + ": " + ec.message());
  }
  return acceptor.local_endpoint().port();
}

}  // namespace fleetscale
