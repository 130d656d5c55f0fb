// A TCP relay between one cluster's agents and the aggregator, so the simulator can cut the
// network between them: blocked, no byte moves either way (a partition: connections stay open,
// data waits) until unblocked. Thread-safe; runs on the given io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "fleetscale/shared/net_address.h"

namespace fleetscale::sim {

class TcpRelay {
 public:
  TcpRelay(boost::asio::io_context& io, HostPort target);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  // Listens on 127.0.0.1 (any port). Throws std::runtime_error on failure.
  void start();
  std::uint16_t port() const;
  void setBlocked(bool blocked);
  bool blocked() const;
  // Closes the listener and every relayed connection.
  void stop();
  // Bytes relayed so far, both directions.
  std::uint64_t bytesRelayed() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace fleetscale::sim
