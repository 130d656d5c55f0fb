#include "fleetscale/agent/stream_client.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/protocol.h"
#include "fleetscale/shared/token.h"

namespace fleetscale::agent {
namespace asio = boost::asio;
using asio::ip::tcp;

struct StreamClient::Connection {
  explicit Connection(asio::io_context& io, std::uint32_t maxFrameBytes)
      : socket(io), resolver(io), handshakeTimer(io), decoder(maxFrameBytes) {}

  // Reads and writes go through TLS when it is on, else straight to the socket.
  template <typename Buffers, typename Handler>
  void write(const Buffers& buffers, Handler&& handler) {
    if (tls) {
      asio::async_write(*tls, buffers, std::forward<Handler>(handler));
    } else {
      asio::async_write(socket, buffers, std::forward<Handler>(handler));
    }
  }
  template <typename Handler>
  void readSome(Handler&& handler) {
    if (tls) {
      tls->async_read_some(asio::buffer(readBuffer), std::forward<Handler>(handler));
    } else {
      socket.async_read_some(asio::buffer(readBuffer), std::forward<Handler>(handler));
    }
  }

  tcp::socket socket;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;
  tcp::resolver resolver;
  asio::steady_timer handshakeTimer;
  FrameDecoder decoder;
  std::array<char, 16 * 1024> readBuffer{};
  std::string writeBuffer;
  bool tcpConnected = false;
  bool handshakeDone = false;
  bool writing = false;
  bool closed = false;
  std::uint64_t lastSent = 0;     // highest sequence written on this connection
  std::uint64_t lastWritten = 0;  // highest sequence handed to a write, complete or not
  std::uint64_t epoch = 0;        // the sequence epoch its hello named
  std::uint32_t protocolVersion = kProtocolVersion;  // from its hello_ack
  // Version 2 only: this connection's container table, and its compressor when zstd was acked.
  // Never shared with another connection: the aggregator's table is this connection's.
  std::unique_ptr<CompactBatchEncoder> encoder;
  std::unique_ptr<ZstdCompressor> compressor;
};

StreamClient::StreamClient(asio::io_context& io, StreamClientOptions options, BatchSource& queue)
    : io_(io),
      options_(std::move(options)),
      queue_(queue),
      reconnectTimer_(io),
      backoff_(options_.backoffMin),
      random_(std::random_device{}()) {
  // Always 1, so that aggregators predating version 2 accept the hello; the offer is apart.
  options_.hello.set_protocol_version(kProtocolVersion);
  const bool offerCompact = options_.maxProtocolVersion >= kCompactProtocolVersion;
  options_.hello.set_max_protocol_version(offerCompact ? kCompactProtocolVersion
                                                       : kProtocolVersion);
  const bool offerZstd = offerCompact && options_.compression == StreamCompression::kZstd;
  options_.hello.set_compression(offerZstd ? std::string(kZstdCompression) : std::string());
}

StreamClient::~StreamClient() {
  try {
    stop();
  } catch (...) {
    // Timer cancellation cannot really fail here; a destructor must not throw regardless.
  }
}

void StreamClient::start() {
  stopped_ = false;
  connect();
}

void StreamClient::stop() {
  stopped_ = true;
  reconnectTimer_.cancel();
  if (connection_) {
    connection_->closed = true;
    boost::system::error_code ignored;
    connection_->resolver.cancel();
    connection_->handshakeTimer.cancel();
    connection_->socket.shutdown(tcp::socket::shutdown_both, ignored);
    connection_->socket.close(ignored);
    connection_.reset();
  }
  counters_.connected = false;
  counters_.protocolVersion = 0;
}

void StreamClient::batchAvailable() {
  if (connection_ && connection_->handshakeDone) pump(connection_);
}

void StreamClient::connect() {
  if (stopped_) return;
  auto connection = std::make_shared<Connection>(io_, options_.maxFrameBytes);
  connection_ = connection;
  connection->handshakeTimer.expires_after(options_.handshakeTimeout);
  connection->handshakeTimer.async_wait([this, connection](const boost::system::error_code& ec) {
    if (!ec && !connection->closed && !connection->handshakeDone) {
      connection->resolver.cancel();
      if (!connection->tcpConnected) ++counters_.connectFailures;
      fail(connection, "no hello_ack from " + options_.aggregator.toString() + " within " +
                           std::to_string(options_.handshakeTimeout.count()) + " ms");
    }
  });
  connection->resolver.async_resolve(
      options_.aggregator.host, std::to_string(options_.aggregator.port),
      [this, connection](const boost::system::error_code& ec,
                         const tcp::resolver::results_type& results) {
        if (connection->closed) return;
        if (ec) {
          fail(connection, "resolve " + options_.aggregator.toString() + ": " + ec.message());
          return;
        }
        asio::async_connect(connection->socket, results,
                            [this, connection](const boost::system::error_code& connectError,
                                               const tcp::endpoint&) {
                              if (connection->closed) return;
                              if (connectError) {
                                ++counters_.connectFailures;
                                fail(connection, "connect " + options_.aggregator.toString() +
                                                     ": " + connectError.message());
                                return;
                              }
                              onConnected(connection);
                            });
      });
}

void StreamClient::onConnected(const std::shared_ptr<Connection>& connection) {
  connection->tcpConnected = true;
  boost::system::error_code ignored;
  connection->socket.set_option(tcp::no_delay(true), ignored);
  if (!options_.tls) {
    sendHello(connection);
    return;
  }
  const std::string serverName =
      options_.tlsServerName.empty() ? options_.aggregator.host : options_.tlsServerName;
  connection->tls =
      std::make_unique<asio::ssl::stream<tcp::socket&>>(connection->socket, *options_.tls);
  SSL_set_tlsext_host_name(connection->tls->native_handle(), serverName.c_str());
  connection->tls->set_verify_callback(asio::ssl::host_name_verification(serverName));
  connection->tls->async_handshake(
      asio::ssl::stream_base::client, [this, connection](const boost::system::error_code& ec) {
        if (connection->closed) return;
        if (ec) {
          ++counters_.connectFailures;
          fail(connection,
               "TLS handshake with " + options_.aggregator.toString() + ": " + ec.message());
          return;
        }
        sendHello(connection);
      });
}

void StreamClient::rereadToken() {
  if (options_.tokenFile.empty()) return;
  auto token = readTokenFile(options_.tokenFile);
  auto log = componentLogger("agent.stream");
  if (!token) {
    if (token.error().message != lastTokenError_) {
      log->error("--token-file: {}; keeping the token read before", token.error().message);
      lastTokenError_ = token.error().message;
    }
    return;
  }
  lastTokenError_.clear();
  if (*token == options_.hello.auth_token()) return;
  options_.hello.set_auth_token(*token);
  log->info("--token-file {} holds a new token: using it from this connection on",
            options_.tokenFile);
}

void StreamClient::sendHello(const std::shared_ptr<Connection>& connection) {
  rereadToken();
  v1::Envelope hello;
  *hello.mutable_hello() = options_.hello;
  connection->epoch = queue_.sequenceEpoch();
  hello.mutable_hello()->set_sequence_epoch(connection->epoch);
  connection->writing = true;
  connection->writeBuffer = encodeEnvelopeFrame(hello);
  connection->write(asio::buffer(connection->writeBuffer),
                    [this, connection](const boost::system::error_code& ec, std::size_t) {
                      if (connection->closed) return;
                      connection->writing = false;
                      if (ec) {
                        fail(connection, "send hello: " + ec.message());
                      } else {
                        pump(connection);  // the hello_ack may have arrived first
                      }
                    });
  readMore(connection);
}

void StreamClient::readMore(const std::shared_ptr<Connection>& connection) {
  connection->readSome([this, connection](const boost::system::error_code& ec, std::size_t bytes) {
    if (connection->closed) return;
    if (ec) {
      fail(connection,
           ec == asio::error::eof ? "aggregator closed the connection" : "read: " + ec.message());
      return;
    }
    connection->decoder.feed(std::string_view(connection->readBuffer.data(), bytes));
    while (true) {
      auto frame = connection->decoder.next();
      if (!frame) {
        fail(connection, frame.error().message);
        return;
      }
      if (!frame->has_value()) break;
      auto envelope = decodeEnvelope(**frame);
      if (!envelope) {
        fail(connection, envelope.error().message);
        return;
      }
      handleEnvelope(connection, *envelope);
      if (connection->closed) return;
    }
    readMore(connection);
  });
}

void StreamClient::handleEnvelope(const std::shared_ptr<Connection>& connection,
                                  const v1::Envelope& envelope) {
  auto log = componentLogger("agent.stream");
  switch (envelope.body_case()) {
    case v1::Envelope::kHelloAck: {
      if (connection->handshakeDone) {
        fail(connection, "unexpected second hello_ack");
        return;
      }
      connection->handshakeDone = true;
      connection->handshakeTimer.cancel();
      const auto& ack = envelope.hello_ack();
      if (ack.max_frame_bytes() > 0) {
        options_.maxFrameBytes = std::min(options_.maxFrameBytes, ack.max_frame_bytes());
      }
      std::uint64_t acked = ack.acked_sequence();
      // An aggregator that keeps sequences per epoch echoes ours; it can then only hold what this
      // agent numbered in it. More means another agent used our id and epoch (a cloned VM, a
      // copied spool) or a peer forged it: believing it would drop our own batches as
      // duplicates, so this agent moves to a new sequence space and says hello again.
      const bool perEpoch = ack.sequence_epoch() != 0 && ack.sequence_epoch() == connection->epoch;
      if ((perEpoch && acked >= queue_.nextSequence()) || acked > kMaxSequence) {
        ++counters_.sequenceConflicts;
        if (perEpoch) {
          log->error(
              "aggregator {} holds sequence {} of this agent's sequence epoch, but the agent has "
              "numbered only up to {}: another agent uses this agent id and epoch (a cloned VM "
              "or spool?). Starting a new sequence epoch.",
              options_.aggregator.toString(), acked, queue_.nextSequence() - 1);
          queue_.renewSequenceEpoch();
          fail(connection, "sequence epoch conflict with " + options_.aggregator.toString());
          return;
        }
        log->error("aggregator {} acknowledged sequence {}, beyond any this agent numbers; ignored",
                   options_.aggregator.toString(), acked);
        acked = 0;
      }
      queue_.ack(acked);
      counters_.ackedSequence = std::max<std::uint64_t>(counters_.ackedSequence, acked);
      connection->lastSent = acked;
      negotiate(*connection, ack);
      backoff_ = options_.backoffMin;
      ++counters_.connects;
      counters_.connected = true;
      counters_.protocolVersion = connection->protocolVersion;
      log->info("connected to aggregator {} ({}), protocol version {}{}, {} batches to replay",
                options_.aggregator.toString(), ack.aggregator_id(), connection->protocolVersion,
                connection->compressor ? " with zstd" : "", queue_.size());
      lastFailure_.clear();
      pump(connection);
      return;
    }
    case v1::Envelope::kAck: {
      const std::uint64_t sequence = envelope.ack().sequence();
      if (sequence > std::max(connection->lastSent, connection->lastWritten)) {
        // Acks cover what this connection sent, nothing beyond: releasing more would lose
        // batches the aggregator never had.
        fail(connection, "aggregator " + options_.aggregator.toString() +
                             " acknowledged sequence " + std::to_string(sequence) +
                             ", beyond the " + std::to_string(connection->lastWritten) + " sent");
        return;
      }
      queue_.ack(sequence);
      counters_.ackedSequence = std::max<std::uint64_t>(counters_.ackedSequence, sequence);
      return;
    }
    case v1::Envelope::kError: {
      const auto& error = envelope.error();
      std::string hint;
      if (error.code() == v1::Error::CODE_UNAUTHENTICATED) {
        hint =
            " (the token in --token-file is not one the aggregator accepts; the file is read "
            "again at every reconnect)";
      } else if (error.code() == v1::Error::CODE_PERMISSION_DENIED) {
        hint = " (the aggregator refuses this agent for cluster " + options_.hello.cluster() +
               ": its token or client certificate belongs to another cluster; check --cluster, "
               "--token-file and --tls-cert-file)";
      }
      // Code_Name of a code this agent does not know is empty: its number then.
      const std::string code = v1::Error::Code_Name(error.code()).empty()
                                   ? "code " + std::to_string(error.code())
                                   : v1::Error::Code_Name(error.code());
      fail(connection, "aggregator " + options_.aggregator.toString() +
                           " closed the stream: " + code + ": " + error.message() + hint);
      return;
    }
    default:
      fail(connection, "unexpected " + std::string(envelopeKind(envelope)) + " from aggregator");
  }
}

// An aggregator that predates version 2 answers 1 and ignores the offer: the connection then
// stays exactly as before. Compression needs version 2 and the aggregator's consent.
void StreamClient::negotiate(Connection& connection, const v1::HelloAck& ack) {
  const bool offeredCompact = options_.hello.max_protocol_version() >= kCompactProtocolVersion;
  if (!offeredCompact || ack.protocol_version() != kCompactProtocolVersion) {
    connection.protocolVersion = kProtocolVersion;
    return;
  }
  connection.protocolVersion = kCompactProtocolVersion;
  connection.encoder = std::make_unique<CompactBatchEncoder>();
  if (!options_.hello.compression().empty() && ack.compression() == kZstdCompression) {
    connection.compressor = std::make_unique<ZstdCompressor>(kZstdCompressionLevel);
  }
}

// Appends `batch` to the connection's write buffer in the connection's protocol version. The
// queue holds version 1 frames; version 2 re-encodes the payload against this connection's table.
Status StreamClient::appendWireFrame(Connection& connection, const QueuedBatch& batch) {
  if (!connection.encoder) {
    connection.writeBuffer += batch.frame;
    return {};
  }
  const std::string_view payload = std::string_view(batch.frame).substr(kFrameHeaderBytes);
  auto compact = connection.encoder->encode(payload);
  if (!compact) {
    return Error{"cannot encode batch " + std::to_string(batch.sequence) +
                 " as a compact batch: " + compact.error().message};
  }
  if (connection.compressor) {
    appendFrame(connection.writeBuffer, connection.compressor->wrap(std::move(*compact)));
  } else {
    appendFrame(connection.writeBuffer, *compact);
  }
  return {};
}

void StreamClient::pump(const std::shared_ptr<Connection>& connection) {
  if (connection->closed || connection->writing || !connection->handshakeDone) return;
  auto batches = queue_.after(connection->lastSent, options_.maxBatchesPerWrite);
  if (batches.empty()) return;
  connection->writeBuffer.clear();
  for (const auto& batch : batches) {
    if (Status status = appendWireFrame(*connection, batch); !status) {
      // Only a batch this agent did not make could fail; skipping it would leave a hole the
      // aggregator never hears of, so the connection starts over instead.
      componentLogger("agent.stream")->error("{}", status.message());
      fail(connection, status.message());
      return;
    }
  }
  const std::uint64_t last = batches.back().sequence;
  const std::size_t count = batches.size();
  connection->writing = true;
  connection->lastWritten = std::max(connection->lastWritten, last);
  connection->write(
      asio::buffer(connection->writeBuffer),
      [this, connection, last, count](const boost::system::error_code& ec, std::size_t bytes) {
        if (connection->closed) return;
        connection->writing = false;
        if (ec) {
          fail(connection, "send: " + ec.message());
          return;
        }
        connection->lastSent = last;
        counters_.batchesSent += count;
        counters_.bytesSent += bytes;
        pump(connection);
      });
}

void StreamClient::fail(const std::shared_ptr<Connection>& connection, const std::string& reason) {
  if (connection->closed) return;
  connection->closed = true;
  boost::system::error_code ignored;
  connection->handshakeTimer.cancel();
  connection->socket.close(ignored);
  if (counters_.connected) ++counters_.disconnects;
  counters_.connected = false;
  counters_.protocolVersion = 0;
  // Log a repeated failure once, not on every retry.
  if (reason != lastFailure_) {
    componentLogger("agent.stream")->warn("{}; retrying", reason);
    lastFailure_ = reason;
  }
  if (connection_ == connection) connection_.reset();
  scheduleReconnect();
}

void StreamClient::scheduleReconnect() {
  if (stopped_) return;
  // Full jitter: a random wait in [min, backoff], so a fleet of agents does not reconnect in step.
  std::uniform_int_distribution<long> pick(options_.backoffMin.count(), backoff_.count());
  reconnectTimer_.expires_after(std::chrono::milliseconds(pick(random_)));
  backoff_ = std::min(backoff_ * 2, options_.backoffMax);
  reconnectTimer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) connect();
  });
}

}  // namespace fleetscale::agent
