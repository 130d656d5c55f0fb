// Opening a listening TCP socket, and pacing an accept loop after failures, the same way for
// every server (the agent stream, the aggregator's and the agent's HTTP).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/log_throttle.h"
#include "fleetscale/shared/net_address.h"

namespace fleetscale {

// Opens, binds (SO_REUSEADDR) and listens; returns the bound port. Throws std::runtime_error
// naming the address when any step fails.
std::uint16_t openAcceptor(boost::asio::ip::tcp::acceptor& acceptor, const HostPort& address);

// A failed accept() is retried after a pause, never at once: out of descriptors (EMFILE, ENFILE)
// or memory (ENOBUFS, ENOMEM), an immediate retry fails again and the loop spins a core while
// the pending connections wait in the backlog. The pause starts at 10 ms and doubles up to 1 s;
// a successful accept resets it. The failure is logged at most once a minute (with how many
// were held back), on the logger `logger`.
// Not thread-safe: one per accept loop (its handlers run one at a time).
class AcceptBackoff {
 public:
  static constexpr std::chrono::milliseconds kFirst{10};
  static constexpr std::chrono::milliseconds kMax{1000};

  AcceptBackoff(const Clock& clock, std::string logger, std::string what);

  // An accept failed with `error`: logs (throttled) and returns how long to wait before the next.
  std::chrono::milliseconds failed(const boost::system::error_code& error);
  // An accept succeeded.
  void succeeded() { next_ = kFirst; }

  // A short name for the error, for a metric label: "emfile", "enfile", "enobufs", "enomem",
  // "other".
  static std::string reason(const boost::system::error_code& error);

 private:
  std::string logger_;
  std::string what_;
  LogThrottle log_;
  std::chrono::milliseconds next_ = kFirst;
};

// Raises the soft limit on open file descriptors to the hard limit (every connection is one).
// Returns the soft limit in force afterwards (0 when it cannot be read).
std::uint64_t raiseOpenFileLimit();

}  // namespace fleetscale
