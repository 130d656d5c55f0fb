// The agent's connection to the aggregator: connect, hello, stream queued batches in order,
// release them on ack, and reconnect with jittered exponential backoff when anything fails.
//
// Protocol version 2 (compact batches, optionally zstd per frame) is negotiated per connection:
// the hello offers it, the hello_ack decides. The queue holds version 1 frames either way; a
// version 2 connection re-encodes them with a table of its own, so every new connection (a
// reconnect, a replay from the spool, each standby aggregator) starts empty and its first batch
// defines every container.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "fleetscale/agent/batch_queue.h"
#include "fleetscale/shared/compact_batch.h"
#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/net_address.h"
#include "fleetscale/shared/result.h"
#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale::agent {

// Frame compression offered on a version 2 connection (--stream-compression).
enum class StreamCompression { kNone, kZstd };

struct StreamClientOptions {
  HostPort aggregator;
  v1::Hello hello;  // identity and token sent on every connection
  // When set, the token is read from this file again before every hello, so a rotated token
  // (a Secret the kubelet updated) is used at the next reconnect without a restart. Fails
  // closed: a file that became empty or unreadable keeps the token last read, and says so.
  std::string tokenFile;
  std::uint32_t maxFrameBytes = kDefaultMaxFrameBytes;
  // The highest protocol version offered in the hello (--max-protocol-version): 2 offers compact
  // batches, which a connection uses only when the aggregator answers 2; 1 never offers them.
  std::uint32_t maxProtocolVersion = kCompactProtocolVersion;
  // Offered with version 2; used only when the aggregator's hello_ack accepts it.
  StreamCompression compression = StreamCompression::kNone;
  std::chrono::milliseconds backoffMin{200};
  std::chrono::milliseconds backoffMax{std::chrono::seconds(10)};
  // From the start of a connection attempt (resolve, TCP connect, TLS, hello) to the hello_ack:
  // an aggregator whose network drops packets is retried after this, not after the kernel's
  // TCP connect timeout (minutes).
  std::chrono::milliseconds handshakeTimeout{std::chrono::seconds(5)};
  std::size_t maxBatchesPerWrite = 64;
  // When set, the stream is TLS: the aggregator's certificate is verified against the context's
  // CAs and host name `tlsServerName` (also sent as SNI; default: the aggregator's host).
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::string tlsServerName;
};

struct StreamClientCounters {
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> connectFailures{0};
  std::atomic<std::uint64_t> disconnects{0};
  std::atomic<std::uint64_t> batchesSent{0};
  std::atomic<std::uint64_t> bytesSent{0};
  std::atomic<std::uint64_t> ackedSequence{0};
  // Hello acks naming more of this agent's sequences than it numbered (see renewSequenceEpoch).
  std::atomic<std::uint64_t> sequenceConflicts{0};
  std::atomic<bool> connected{false};
  // The protocol version the current connection speaks (1 or 2); 0 while disconnected.
  std::atomic<std::uint32_t> protocolVersion{0};
};

// One aggregator's stream. With several aggregators the agent runs one client per aggregator on
// the same io_context, each with its own connection, backoff and cursor (BatchFanOut): all I/O is
// asynchronous, so an aggregator that hangs or refuses never delays delivery to the others.
// All methods must be called on the io_context's thread (the agent runs one).
class StreamClient {
 public:
  StreamClient(boost::asio::io_context& io, StreamClientOptions options, BatchSource& queue);
  ~StreamClient();
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  void start();
  // Closes the connection and stops reconnecting.
  void stop();
  // Tells the client a new batch was appended to the queue.
  void batchAvailable();

  const StreamClientCounters& counters() const { return counters_; }

 private:
  struct Connection;

  void connect();
  void onConnected(const std::shared_ptr<Connection>& connection);
  void sendHello(const std::shared_ptr<Connection>& connection);
  void readMore(const std::shared_ptr<Connection>& connection);
  void handleEnvelope(const std::shared_ptr<Connection>& connection, const v1::Envelope& envelope);
  void negotiate(Connection& connection, const v1::HelloAck& ack);
  void pump(const std::shared_ptr<Connection>& connection);
  Status appendWireFrame(Connection& connection, const QueuedBatch& batch);
  void fail(const std::shared_ptr<Connection>& connection, const std::string& reason);
  void scheduleReconnect();
  void rereadToken();

  boost::asio::io_context& io_;
  StreamClientOptions options_;
  BatchSource& queue_;
  boost::asio::steady_timer reconnectTimer_;
  std::shared_ptr<Connection> connection_;
  std::chrono::milliseconds backoff_;
  std::mt19937_64 random_;
  bool stopped_ = false;
  std::string lastFailure_;
  std::string lastTokenError_;  // logged once until the token file reads again
  StreamClientCounters counters_;
};

}  // namespace fleetscale::agent
