#include "fleetscale/shared/asio_listen.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "fleetscale/shared/logging.h"

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

AcceptBackoff::AcceptBackoff(const Clock& clock, std::string logger, std::string what)
    : logger_(std::move(logger)), what_(std::move(what)), log_(clock, std::chrono::minutes(1)) {}

std::chrono::milliseconds AcceptBackoff::failed(const boost::system::error_code& error) {
  const auto wait = next_;
  next_ = std::min(kMax, next_ * 2);
  std::uint64_t held = 0;
  if (log_.allow(&held)) {
    componentLogger(logger_)->error(
        "{}: accept failed: {} ({}); pausing accepts {} ms at a time{}", what_, error.message(),
        reason(error), wait.count(),
        held > 0 ? " (" + std::to_string(held) + " more failures since the last message)" : "");
  }
  return wait;
}

std::string AcceptBackoff::reason(const boost::system::error_code& error) {
  if (error.category() == boost::system::system_category() ||
      error.category() == boost::system::generic_category()) {
    switch (error.value()) {
      case EMFILE:
        return "emfile";
      case ENFILE:
        return "enfile";
      case ENOBUFS:
        return "enobufs";
      case ENOMEM:
        return "enomem";
      default:
        break;
    }
  }
  return "other";
}

std::uint64_t raiseOpenFileLimit() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    const rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return before;
  }
  return limit.rlim_cur;
}

}  // namespace fleetscale
