#include "fleetscale/aggregator/ingest_server.h"

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "fleetscale/shared/asio_listen.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/protocol.h"

namespace fleetscale::aggregator {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

bool tokensEqual(const std::string& expected, const std::string& given) {
  // Walk the full expected length whatever the input, folding every difference in.
  unsigned char difference = expected.size() == given.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char other = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    difference |= static_cast<unsigned char>(expected[i]) ^ other;
  }
  return difference == 0;
}

namespace {

class Connection;

}  // namespace

struct IngestServer::Impl : std::enable_shared_from_this<IngestServer::Impl> {
  Impl(asio::io_context& ioContext, IngestOptions o, FleetState& f, AggregatorMetrics& m,
       const Clock& c)
      : io(ioContext), options(std::move(o)), fleet(f), metrics(m), clock(c), acceptor(ioContext) {}

  void accept();

  asio::io_context& io;
  IngestOptions options;
  FleetState& fleet;
  AggregatorMetrics& metrics;
  const Clock& clock;
  tcp::acceptor acceptor;
  std::uint16_t boundPort = 0;
  std::mutex mutex;
  std::vector<std::weak_ptr<Connection>> connections;
  bool stopped = false;
};

namespace {

// One agent connection. All handlers run on the connection's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<IngestServer::Impl> server)
      : socket_(std::move(socket)),
        server_(std::move(server)),
        handshakeTimer_(socket_.get_executor()),
        idleTimer_(socket_.get_executor()),
        decoder_(server_->options.maxFrameBytes) {
    boost::system::error_code ec;
    const auto remote = socket_.remote_endpoint(ec);
    peer_ = ec ? "unknown" : remote.address().to_string() + ":" + std::to_string(remote.port());
  }

  // Runs begin() on the connection's strand.
  void start() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->begin(); });
  }

  // Called by IngestServer::stop from another thread.
  void shutdown() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->sendErrorAndClose(v1::Error::CODE_SHUTTING_DOWN, "aggregator shutting down",
                              "shutdown");
    });
  }

 private:
  void begin() {
    handshakeTimer_.expires_after(server_->options.handshakeTimeout);
    handshakeTimer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && !self->identified_) self->close("handshake_timeout", "no hello in time");
    });
    armIdleTimer();
    read();
  }

  void armIdleTimer() {
    idleTimer_.expires_after(server_->options.idleTimeout);
    idleTimer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->close("idle_timeout", "no frame within the idle timeout");
    });
  }

  void read() {
    socket_.async_read_some(
        asio::buffer(buffer_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t bytes) {
          self->onRead(ec, bytes);
        });
  }

  void onRead(const boost::system::error_code& ec, std::size_t bytes) {
    if (closed_) return;
    if (ec) {
      close(ec == asio::error::eof ? "peer_closed" : "read_error", ec.message());
      return;
    }
    server_->metrics.bytesReceived().Increment(static_cast<double>(bytes));
    decoder_.feed(std::string_view(buffer_.data(), bytes));
    bool sawFrame = false;
    while (!closed_) {
      auto frame = decoder_.next();
      if (!frame) {
        server_->metrics.decodeErrors("oversized").Increment();
        sendErrorAndClose(v1::Error::CODE_BAD_FRAME, frame.error().message, "bad_frame");
        return;
      }
      if (!frame->has_value()) break;
      sawFrame = true;
      handleFrame(**frame);
    }
    if (closed_) return;
    if (sawFrame) armIdleTimer();
    if (pendingAck_) sendAck();
    read();
  }

  void handleFrame(const std::string& payload) {
    auto envelope = decodeEnvelope(payload);
    if (!envelope) {
      server_->metrics.decodeErrors("undecodable").Increment();
      sendErrorAndClose(v1::Error::CODE_BAD_FRAME, envelope.error().message, "bad_frame");
      return;
    }
    server_->metrics.framesReceived(std::string(envelopeKind(*envelope))).Increment();
    if (!identified_) {
      handleHello(*envelope);
      return;
    }
    if (envelope->body_case() != v1::Envelope::kBatch) {
      sendErrorAndClose(v1::Error::CODE_PROTOCOL,
                        "expected batch, got " + std::string(envelopeKind(*envelope)), "protocol");
      return;
    }
    handleBatch(std::move(*envelope->mutable_batch()));
  }

  void handleHello(const v1::Envelope& envelope) {
    if (envelope.body_case() != v1::Envelope::kHello) {
      sendErrorAndClose(v1::Error::CODE_PROTOCOL,
                        "expected hello, got " + std::string(envelopeKind(envelope)), "protocol");
      return;
    }
    const auto& hello = envelope.hello();
    if (Status status = validateHello(hello); !status) {
      server_->metrics.decodeErrors("invalid").Increment();
      sendErrorAndClose(v1::Error::CODE_PROTOCOL, status.message(), "invalid_hello");
      return;
    }
    if (hello.protocol_version() != kProtocolVersion) {
      sendErrorAndClose(v1::Error::CODE_UNSUPPORTED_VERSION,
                        "protocol version " + std::to_string(hello.protocol_version()) +
                            " not supported; this aggregator speaks " +
                            std::to_string(kProtocolVersion),
                        "unsupported_version");
      return;
    }
    if (!server_->options.token.empty() &&
        !tokensEqual(server_->options.token, hello.auth_token())) {
      sendErrorAndClose(v1::Error::CODE_UNAUTHENTICATED, "wrong or missing token",
                        "unauthenticated");
      return;
    }
    identity_ = AgentIdentity::fromHello(hello);
    const auto registration = server_->fleet.agentConnected(identity_);
    connectionId_ = registration.connectionId;
    identified_ = true;
    handshakeTimer_.cancel();
    componentLogger("aggregator.ingest")
        ->info("agent {} connected from {} (node {}, cluster {}, resumes after sequence {})",
               identity_.agentId, peer_, identity_.node, identity_.cluster,
               registration.lastSequence);
    v1::Envelope reply;
    auto* ack = reply.mutable_hello_ack();
    ack->set_aggregator_id(server_->options.aggregatorId);
    ack->set_protocol_version(kProtocolVersion);
    ack->set_max_frame_bytes(server_->options.maxFrameBytes);
    ack->set_acked_sequence(registration.lastSequence);
    write(encodeEnvelopeFrame(reply));
  }

  void handleBatch(v1::SampleBatch&& batch) {
    if (Status status = validateBatch(batch); !status) {
      server_->metrics.decodeErrors("invalid").Increment();
      sendErrorAndClose(v1::Error::CODE_PROTOCOL, status.message(), "invalid_batch");
      return;
    }
    const auto samples = static_cast<double>(batch.containers_size());
    const std::uint64_t sequence = batch.sequence();
    const auto outcome =
        server_->fleet.applyBatch(identity_.agentId, std::move(batch), server_->clock.wallNow());
    if (outcome == BatchOutcome::kDuplicate) {
      server_->metrics.duplicateBatches().Increment();
    } else {
      server_->metrics.batchesAccepted().Increment();
      server_->metrics.samplesReceived().Increment(samples);
    }
    ackSequence_ = std::max(ackSequence_, sequence);
    pendingAck_ = true;
  }

  void sendAck() {
    pendingAck_ = false;
    v1::Envelope reply;
    reply.mutable_ack()->set_sequence(ackSequence_);
    write(encodeEnvelopeFrame(reply));
  }

  void write(std::string frame) {
    outbox_.push_back(std::move(frame));
    if (!writing_) writeNext();
  }

  void writeNext() {
    if (outbox_.empty()) {
      writing_ = false;
      if (closeAfterWrite_) close(closeReason_, closeDetail_);
      return;
    }
    writing_ = true;
    asio::async_write(
        socket_, asio::buffer(outbox_.front()),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          self->outbox_.pop_front();
          if (ec) {
            self->close("write_error", ec.message());
            return;
          }
          self->writeNext();
        });
  }

  // Tells the agent why, then closes once the error frame is written.
  void sendErrorAndClose(v1::Error::Code code, const std::string& message,
                         const std::string& reason) {
    if (closed_ || closeAfterWrite_) return;
    v1::Envelope reply;
    reply.mutable_error()->set_code(code);
    reply.mutable_error()->set_message(message);
    closeAfterWrite_ = true;
    closeReason_ = reason;
    closeDetail_ = message;
    // Stop reading: nothing more from this peer will be processed.
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_receive, ignored);
    handshakeTimer_.cancel();
    idleTimer_.cancel();
    write(encodeEnvelopeFrame(reply));
  }

  void close(const std::string& reason, const std::string& detail) {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    handshakeTimer_.cancel();
    idleTimer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    server_->metrics.disconnects(reason).Increment();
    auto log = componentLogger("aggregator.ingest");
    if (identified_) {
      server_->fleet.agentDisconnected(identity_.agentId, connectionId_);
      log->info("agent {} ({}) disconnected: {} ({})", identity_.agentId, peer_, reason, detail);
    } else {
      log->warn("connection from {} closed before identifying: {} ({})", peer_, reason, detail);
    }
  }

  tcp::socket socket_;
  std::shared_ptr<IngestServer::Impl> server_;
  asio::steady_timer handshakeTimer_;
  asio::steady_timer idleTimer_;
  FrameDecoder decoder_;
  std::array<char, 64 * 1024> buffer_{};
  std::deque<std::string> outbox_;
  std::string peer_;
  AgentIdentity identity_;
  std::uint64_t connectionId_ = 0;
  std::uint64_t ackSequence_ = 0;
  bool identified_ = false;
  bool pendingAck_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool closeAfterWrite_ = false;
  std::string closeReason_;
  std::string closeDetail_;
};

}  // namespace

void IngestServer::Impl::accept() {
  acceptor.async_accept(
      asio::make_strand(io),
      [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        std::shared_ptr<Connection> connection;
        {
          std::lock_guard lock(self->mutex);
          if (self->stopped) return;
          if (!ec) {
            boost::system::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            connection = std::make_shared<Connection>(std::move(socket), self);
            std::erase_if(self->connections, [](const auto& weak) { return weak.expired(); });
            self->connections.push_back(connection);
          }
        }
        if (connection) {
          self->metrics.connectionsAccepted().Increment();
          connection->start();
        }
        self->accept();
      });
}

IngestServer::IngestServer(asio::io_context& io, IngestOptions options, FleetState& fleet,
                           AggregatorMetrics& metrics, const Clock& clock)
    : impl_(std::make_shared<Impl>(io, std::move(options), fleet, metrics, clock)) {}

IngestServer::~IngestServer() { stop(); }

void IngestServer::listen(const HostPort& address) {
  impl_->boundPort = openAcceptor(impl_->acceptor, address);
  impl_->accept();
}

std::uint16_t IngestServer::port() const { return impl_->boundPort; }

void IngestServer::stop() {
  std::vector<std::weak_ptr<Connection>> connections;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    connections.swap(impl_->connections);
  }
  asio::post(impl_->io, [impl = impl_] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
  for (const auto& weak : connections) {
    if (auto connection = weak.lock()) connection->shutdown();
  }
}

}  // namespace fleetscale::aggregator
