// Accepts agent connections and folds their batches into the fleet state. Each connection is
// isolated: a peer that sends an oversized or undecodable frame, a wrong token, or nothing at
// all is disconnected with a reason and a counter, and no other connection notices.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "fleetscale/aggregator/aggregator_metrics.h"
#include "fleetscale/aggregator/fleet_state.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/net_address.h"

namespace fleetscale::aggregator {

struct IngestOptions {
  std::uint32_t maxFrameBytes = kDefaultMaxFrameBytes;
  std::chrono::milliseconds handshakeTimeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idleTimeout{std::chrono::seconds(60)};
  std::string token;  // required in every hello when not empty
  std::string aggregatorId = "fleetscale-aggregator";
};

// Thread-safety: the io_context may be run by many threads; each connection runs on its own
// strand. listen() and stop() may be called from any thread.
// Lifetime: `fleet`, `metrics` and `clock` must outlive every handler on the io_context, that
// is, until its threads have returned from run() — stop() alone does not wait for them.
class IngestServer {
 public:
  IngestServer(boost::asio::io_context& io, IngestOptions options, FleetState& fleet,
               AggregatorMetrics& metrics, const Clock& clock);
  ~IngestServer();
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;

  // Binds and starts accepting; throws std::runtime_error naming the address on failure.
  void listen(const HostPort& address);
  std::uint16_t port() const;
  // Stops accepting and closes every connection, telling agents the aggregator is shutting down.
  void stop();

  struct Impl;  // implementation detail, public so the .cpp's connection classes can name it

 private:
  std::shared_ptr<Impl> impl_;
};

// Constant-time comparison for secrets: the time taken does not depend on where they differ.
bool tokensEqual(const std::string& expected, const std::string& given);

}  // namespace fleetscale::aggregator
