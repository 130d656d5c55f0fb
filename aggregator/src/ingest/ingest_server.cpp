#include "fleetscale/aggregator/ingest/ingest_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "fleetscale/aggregator/ingest/batch_stream.h"
#include "fleetscale/shared/asio_listen.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/log_throttle.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/protocol.h"
#include "fleetscale/shared/tls.h"
#include "fleetscale/shared/token.h"
#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale::aggregator {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

AgentIdentity identityFromHello(const v1::Hello& hello) {
  AgentIdentity identity{hello.agent_id(), hello.node(), hello.cluster(),      hello.cloud(),
                         hello.region(),   hello.zone(), hello.agent_version()};
  identity.sequenceEpoch = hello.sequence_epoch();
  identity.startedUnixMs = hello.started_unix_ms();
  identity.queueCapacity = hello.queue_capacity();
  identity.clockAlignedSampling = hello.clock_aligned_sampling();
  return identity;
}

// A refusal of the same kind, for the same claim, from the same address is logged (and, for the
// wrong cluster, recorded as an event) at most once per this interval; the counter counts all.
constexpr std::chrono::minutes kRefusalLogInterval{1};
// Distinct refusals remembered for that; beyond, the memory starts over (a flood of made-up
// claims cannot grow it).
constexpr std::size_t kMaxRefusalLogs = 1024;

// Why a hello's credentials do not let it in.
struct Refusal {
  v1::Error::Code code;
  std::string reason;   // the disconnect counter's label
  std::string message;  // for the agent
  std::string detail;   // for the log and the event: what did not match (never a token)
};

// The host of "host:port" (an IPv6 address keeps its colons).
std::string hostOf(const std::string& peer) {
  const auto colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

bool verifiesClients(const std::shared_ptr<asio::ssl::context>& tls) {
  return tls && (SSL_CTX_get_verify_mode(tls->native_handle()) & SSL_VERIFY_PEER) != 0;
}

// A connection that has delivered no frame for this long is presumed dead when another
// connection claims its agent id: kStaleTicks of its agent's interval, at least this.
constexpr std::chrono::milliseconds kMinLivenessWindow{1000};

class ConnectionBase {
 public:
  explicit ConnectionBase(std::string peer) : peer_(std::move(peer)) {}
  virtual ~ConnectionBase() = default;
  // These may be called from any thread; they hop onto the connection's strand.
  virtual void shutdown() = 0;
  // The store made the agent's progress up to `sequence` of sequence space `epoch` durable.
  virtual void durable(std::uint64_t epoch, std::uint64_t sequence) = 0;
  // Another connection took over this one's agent id: close.
  virtual void replace(const std::string& by) = 0;

  const std::string& peer() const { return peer_; }
  // Whether the agent on this connection is still talking: it delivered a frame within its
  // liveness window. Any thread.
  bool alive(SteadyTime now) const {
    const auto last = SteadyTime(SteadyTime::duration(lastFrame_.load()));
    return now - last <= std::chrono::milliseconds(livenessWindowMs_.load());
  }
  std::chrono::milliseconds silentFor(SteadyTime now) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        now - SteadyTime(SteadyTime::duration(lastFrame_.load())));
  }

 protected:
  void noteFrame(SteadyTime now) { lastFrame_ = now.time_since_epoch().count(); }
  void noteInterval(double seconds) {
    const auto window = static_cast<std::int64_t>(kStaleTicks * seconds * 1000.0);
    livenessWindowMs_ = std::max<std::int64_t>(kMinLivenessWindow.count(), window);
  }

 private:
  const std::string peer_;
  std::atomic<SteadyTime::rep> lastFrame_{0};
  std::atomic<std::int64_t> livenessWindowMs_{kStaleTicks * 1000};
};

}  // namespace

struct IngestServer::Impl : std::enable_shared_from_this<IngestServer::Impl> {
  Impl(asio::io_context& ioContext, IngestOptions o, FleetState& f, IngestMetrics& m,
       const Clock& c, Store* s)
      : io(ioContext),
        options(std::move(o)),
        fleet(f),
        metrics(m),
        clock(c),
        store(s),
        acceptor(ioContext),
        acceptTimer(ioContext),
        acceptBackoff(c, "aggregator.ingest", "agent listener"),
        mutualTls(verifiesClients(options.tls)),
        token(options.token),
        agentTokens(options.agentTokens) {}

  void accept();
  // Whether the hello's token, and under mutual TLS its client certificate's CN
  // (`commonName`), let it report for the cluster it names.
  std::optional<Refusal> authorize(const v1::Hello& hello, const std::string& commonName) const;
  // Logs a refusal, and records one of the wrong cluster as an event: at most once per
  // kRefusalLogInterval for the same claim from the same address.
  void noteRefusal(const Refusal& refusal, const v1::Hello& hello, const std::string& peer);
  // Makes `c` the connection of its agent id. Another connection of the id that is still
  // alive keeps it: the result names it, and `c` must be refused. One that has gone silent is
  // handed back in `replaced` for the caller to close (a reconnect over a half-open connection).
  struct Claim {
    std::shared_ptr<ConnectionBase> holder;    // refused: this one is alive with the id
    std::shared_ptr<ConnectionBase> replaced;  // taken over from this silent one
  };
  Claim claimAgent(const std::string& agentId, const std::shared_ptr<ConnectionBase>& c) {
    const SteadyTime now = clock.now();
    std::lock_guard lock(mutex);
    Claim claim;
    auto& slot = byAgent[agentId];
    if (auto previous = slot.lock(); previous && previous != c) {
      if (previous->alive(now)) {
        claim.holder = std::move(previous);
        return claim;
      }
      claim.replaced = std::move(previous);
    }
    slot = c;
    return claim;
  }
  void unregisterAgent(const std::string& agentId, const ConnectionBase* c) {
    std::lock_guard lock(mutex);
    if (auto it = byAgent.find(agentId); it != byAgent.end()) {
      auto current = it->second.lock();
      if (!current || current.get() == c) byAgent.erase(it);
    }
  }
  void recordEvent(std::string_view kind, const AgentIdentity& agent, std::string message) {
    if (store == nullptr) return;
    EventRecord event;
    event.timeUnixMs = toUnixMillis(clock.wallNow());
    event.kind = kind;
    event.cluster = agent.cluster;
    event.agentId = agent.agentId;
    event.message = std::move(message);
    store->recordEvent(std::move(event));
  }

  asio::io_context& io;
  IngestOptions options;
  FleetState& fleet;
  IngestMetrics& metrics;
  const Clock& clock;
  Store* store;
  tcp::acceptor acceptor;
  asio::steady_timer acceptTimer;  // the pause after a failed accept; under `mutex`
  AcceptBackoff acceptBackoff;     // accept handlers only (one runs at a time)
  std::uint16_t boundPort = 0;
  const bool mutualTls;  // `tls` verifies client certificates: clientIdentity applies
  mutable std::mutex mutex;
  std::string token;
  std::shared_ptr<const AgentTokens> agentTokens;            // per-cluster; replaced whole
  std::unordered_map<std::string, LogThrottle> refusalLogs;  // by refusal, claim and address
  std::vector<std::weak_ptr<ConnectionBase>> connections;
  std::unordered_map<std::string, std::weak_ptr<ConnectionBase>> byAgent;
  std::atomic<std::size_t> open{0};
  bool stopped = false;
};

namespace {

using TlsStream = asio::ssl::stream<tcp::socket>;

// Read buffer sizes: small until the peer has identified itself, so that a connection that never
// says Hello (a flood of them) costs little; then large, for batches of thousands of containers.
constexpr std::size_t kHelloReadBytes = 1024;
constexpr std::size_t kBatchReadBytes = 64 * 1024;

// One agent connection over `Stream` (a TCP socket or a TLS stream over one). All handlers run
// on the connection's strand.
template <typename Socket>
std::string peerOf(const Socket& socket) {
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  return ec ? "unknown" : remote.address().to_string() + ":" + std::to_string(remote.port());
}

template <typename Stream>
class Connection final : public ConnectionBase,
                         public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(Stream stream, std::shared_ptr<IngestServer::Impl> server)
      : ConnectionBase(peerOf(stream.lowest_layer())),
        stream_(std::move(stream)),
        server_(std::move(server)),
        handshakeTimer_(stream_.get_executor()),
        idleTimer_(stream_.get_executor()),
        throttleTimer_(stream_.get_executor()),
        decoder_(std::min(server_->options.maxFrameBytes, kMaxHelloFrameBytes)),
        buffer_(kHelloReadBytes),
        tokens_(burst()),
        lastRefill_(server_->clock.now()) {
    noteFrame(server_->clock.now());
    ++server_->open;
  }
  ~Connection() override { --server_->open; }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->begin(); });
  }

  void shutdown() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->sendErrorAndClose(v1::Error::CODE_SHUTTING_DOWN, "aggregator shutting down",
                              "shutdown");
    });
  }

  void durable(std::uint64_t epoch, std::uint64_t sequence) override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), epoch, sequence] {
      if (!self->identified_ || epoch != self->identity_.sequenceEpoch) return;
      self->durable_ = std::max(self->durable_, sequence);
      self->maybeAck();
    });
  }

  void replace(const std::string& by) override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), by] {
      self->sendErrorAndClose(v1::Error::CODE_DUPLICATE_AGENT,
                              "agent id " + self->identity_.agentId + " reconnected from " + by +
                                  "; this connection was silent and is replaced",
                              "replaced");
    });
  }

 private:
  double burst() const {
    const auto& o = server_->options;
    return std::max(1.0, o.frameBurst > 0 ? o.frameBurst : o.maxFramesPerSecond * 10);
  }

  void begin() {
    // One deadline for the whole handshake: TLS, then the hello.
    handshakeTimer_.expires_after(server_->options.handshakeTimeout);
    handshakeTimer_.async_wait(
        [self = this->shared_from_this()](const boost::system::error_code& ec) {
          if (!ec && !self->identified_) self->close("handshake_timeout", "no hello in time");
        });
    armIdleTimer();
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          [self = this->shared_from_this()](const boost::system::error_code& ec) {
            if (self->closed_) return;
            if (ec) {
              self->close("tls_handshake", ec.message());
              return;
            }
            self->commonName_ = verifiedPeerCommonName(self->stream_.native_handle());
            self->read();
          });
    } else {
      read();
    }
  }

  void armIdleTimer() {
    idleTimer_.expires_after(server_->options.idleTimeout);
    idleTimer_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->close("idle_timeout", "no frame within the idle timeout");
    });
  }

  void read() {
    stream_.async_read_some(
        asio::buffer(buffer_),
        [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t bytes) {
          self->onRead(ec, bytes);
        });
  }

  void onRead(const boost::system::error_code& ec, std::size_t bytes) {
    // After sendErrorAndClose the error frame's write closes the connection, with its reason.
    if (closed_ || closeAfterWrite_) return;
    if (ec) {
      close(ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ? "peer_closed"
                                                                               : "read_error",
            ec.message());
      return;
    }
    server_->metrics.bytesReceived(wireVersion()).Increment(static_cast<double>(bytes));
    decoder_.feed(std::string_view(buffer_.data(), bytes));
    if (processFrames()) read();
  }

  // Handles every complete frame buffered. Returns false when the connection closed or paused
  // (over its frame allowance: reading resumes when the allowance has refilled).
  bool processFrames() {
    bool sawFrame = false;
    while (!closed_) {
      if (tokens_ < 0 && !refill()) {
        pauseReading();
        break;
      }
      auto frame = decoder_.nextView();
      if (!frame) {
        server_->metrics.decodeErrors("oversized").Increment();
        sendErrorAndClose(v1::Error::CODE_BAD_FRAME, frame.error().message, "bad_frame");
        return false;
      }
      if (!frame->has_value()) break;
      sawFrame = true;
      noteFrame(server_->clock.now());
      tokens_ -= 1;
      handleFrame(**frame);
      if (identified_ && buffer_.size() < kBatchReadBytes) grantFullLimits();
    }
    if (closed_ || closeAfterWrite_) return false;
    if (sawFrame) armIdleTimer();
    maybeAck();
    return !paused_;
  }

  // The peer said a valid Hello: from the next frame on, batches up to --max-frame-bytes and
  // reads of kBatchReadBytes.
  void grantFullLimits() {
    decoder_.setMaxFrameBytes(server_->options.maxFrameBytes);
    buffer_.resize(kBatchReadBytes);
  }

  // Adds the allowance earned since the last refill; true when a frame may be handled.
  bool refill() {
    const auto now = server_->clock.now();
    const double elapsed = std::chrono::duration<double>(now - lastRefill_).count();
    lastRefill_ = now;
    tokens_ = std::min(burst(), tokens_ + elapsed * server_->options.maxFramesPerSecond);
    return tokens_ >= 0;
  }

  void pauseReading() {
    if (paused_) return;
    paused_ = true;
    server_->metrics.throttledConnections().Increment();
    const double wait = (-tokens_ + 1) / std::max(1e-3, server_->options.maxFramesPerSecond);
    throttleTimer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(wait)));
    throttleTimer_.async_wait(
        [self = this->shared_from_this()](const boost::system::error_code& ec) {
          if (ec || self->closed_) return;
          self->paused_ = false;
          if (self->processFrames()) self->read();
        });
  }

  // The hello itself always travels as version 1.
  std::uint32_t wireVersion() const {
    return batches_ ? batches_->protocol().version : kProtocolVersion;
  }

  void handleFrame(std::string_view frame) {
    if (!identified_) {
      auto envelope = decodeEnvelope(frame);
      if (!envelope) {
        server_->metrics.decodeErrors("undecodable").Increment();
        sendErrorAndClose(v1::Error::CODE_BAD_FRAME, envelope.error().message, "bad_frame");
        return;
      }
      server_->metrics.framesReceived(std::string(envelopeKind(*envelope))).Increment();
      handleHello(*envelope);
      return;
    }
    const auto payload = unwrap(frame);
    if (!payload) return;
    // Strings are checked in the fold, and only for containers that changed since last tick.
    BatchDecodeResult result = decodeBatchEnvelope(*payload, batch_, StringChecks::kDeferred);
    if (result.status == BatchDecodeStatus::kNotABatch) {
      result = decodeUnusualFrame(*payload);
      if (closed_ || closeAfterWrite_) return;
    } else if (result.ok() && payload->data() == frame.data()) {
      (batch_.compact ? server_->metrics.compactBatchFrames() : server_->metrics.batchFrames())
          .Increment();
    }
    // Duplicates too: on version 2 every batch moves the connection's container table on.
    if (result.ok()) result = batches_->admit(batch_);
    switch (result.status) {
      case BatchDecodeStatus::kOk:
        handleBatch();
        return;
      case BatchDecodeStatus::kUndecodable:
        server_->metrics.decodeErrors("undecodable").Increment();
        sendErrorAndClose(v1::Error::CODE_BAD_FRAME, result.error, "bad_frame");
        return;
      case BatchDecodeStatus::kInvalid:
      case BatchDecodeStatus::kNotABatch:
        server_->metrics.decodeErrors("invalid").Increment();
        sendErrorAndClose(v1::Error::CODE_PROTOCOL, result.error, "invalid_batch");
        return;
      case BatchDecodeStatus::kOutOfRange:
        server_->metrics.decodeErrors("out_of_range").Increment();
        sendErrorAndClose(v1::Error::CODE_PROTOCOL, result.error, "invalid_batch");
        return;
    }
  }

  // The frame's payload with any zstd wrapping removed (version 2 with compression); nothing
  // after a refused one, which closes the connection.
  std::optional<std::string_view> unwrap(std::string_view frame) {
    auto payload = batches_->unwrap(frame);
    if (!payload) {
      server_->metrics.decodeErrors("decompress").Increment();
      sendErrorAndClose(v1::Error::CODE_BAD_FRAME, payload.error().message, "bad_frame");
      return std::nullopt;
    }
    if (wireVersion() >= kCompactProtocolVersion) {
      server_->metrics.decompressedBytes().Increment(static_cast<double>(payload->size()));
    }
    // unwrap() hands back the frame itself unless it decompressed one.
    if (payload->data() != frame.data()) server_->metrics.zstdFrames().Increment();
    return *payload;
  }

  // A frame the lean decoder passed on: decode it fully. A batch in an unusual encoding is
  // re-encoded and decoded again; anything else breaks the protocol here.
  BatchDecodeResult decodeUnusualFrame(std::string_view payload) {
    auto envelope = decodeEnvelope(payload);
    if (!envelope) return {BatchDecodeStatus::kUndecodable, envelope.error().message};
    server_->metrics.framesReceived(std::string(envelopeKind(*envelope))).Increment();
    if (envelope->body_case() == v1::Envelope::kZstdEnvelope) {
      return {BatchDecodeStatus::kInvalid,
              batches_->protocol().zstd
                  ? "a zstd envelope inside a zstd envelope"
                  : "a zstd envelope on a connection whose hello-ack accepted no compression"};
    }
    // Either version's batch goes on: admit() refuses the one the connection does not speak.
    if (envelope->body_case() != v1::Envelope::kBatch &&
        envelope->body_case() != v1::Envelope::kCompactBatch) {
      sendErrorAndClose(v1::Error::CODE_PROTOCOL,
                        "expected batch, got " + std::string(envelopeKind(*envelope)), "protocol");
      return {BatchDecodeStatus::kNotABatch, "not a batch"};
    }
    reencoded_ = envelope->SerializeAsString();
    return decodeBatchEnvelope(reencoded_, batch_, StringChecks::kDeferred);
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
    if (auto refusal = server_->authorize(hello, commonName_)) {
      // Nothing of it is folded or stored; the refusal is logged there, rate-limited.
      server_->noteRefusal(*refusal, hello, peer());
      quietClose_ = true;
      sendErrorAndClose(refusal->code, refusal->message, refusal->reason);
      return;
    }
    const WireProtocol protocol = negotiateWireProtocol(hello, server_->options.maxProtocolVersion);
    identity_ = identityFromHello(hello);
    identity_.protocolVersion = protocol.version;
    auto log = componentLogger("aggregator.ingest");
    // Claimed before the session exists, so no commit notification can slip between.
    const auto claim = server_->claimAgent(identity_.agentId, this->shared_from_this());
    if (claim.holder) {
      // Two live agents with one id (a cloned VM, a copied spool): the newcomer is refused, so
      // the one already streaming keeps its node and its sequence space.
      log->warn(
          "refused agent {} from {} (node {}, cluster {}): the same agent id is connected from {} "
          "and sent a frame {} ms ago; two agents share one id (a cloned VM or spool?)",
          identity_.agentId, peer(), identity_.node, identity_.cluster, claim.holder->peer(),
          claim.holder->silentFor(server_->clock.now()).count());
      sendErrorAndClose(v1::Error::CODE_DUPLICATE_AGENT,
                        "agent id " + identity_.agentId + " is already connected from " +
                            claim.holder->peer() +
                            "; every agent needs its own id (--agent-id, or a spool of its own)",
                        "duplicate_agent");
      return;
    }
    if (claim.replaced) {
      log->info(
          "agent {} reconnected from {}; its connection from {} was silent for {} ms and "
          "is replaced",
          identity_.agentId, peer(), claim.replaced->peer(),
          claim.replaced->silentFor(server_->clock.now()).count());
      claim.replaced->replace(peer());
    }
    session_ = server_->fleet.agentConnected(identity_);
    if (session_.nodeRecord && server_->store != nullptr) {
      server_->store->recordNode(*session_.nodeRecord);
    }
    durable_ = server_->store != nullptr ? session_.durableSequence : session_.lastSequence;
    acked_ = durable_;
    batches_.emplace(protocol, server_->options.maxFrameBytes);
    identified_ = true;
    server_->metrics.agents(protocol.version).Increment();
    handshakeTimer_.cancel();
    std::string note;
    if (session_.restart) {
      server_->metrics.agentRestarts().Increment();
      note = "; replaces agent " + session_.superseded + " on the node (restart " +
             std::to_string(session_.nodeRecord ? session_.nodeRecord->agentRestarts : 0) + ")";
    } else if (!session_.current) {
      note = "; a newer agent reports for the node, so its batches are acknowledged, not used";
    }
    if (session_.newSequenceSpace) note += "; new sequence epoch";
    log->info(
        "agent {} connected from {} (node {}, cluster {}, protocol {}{}, resumes after sequence "
        "{}){}",
        identity_.agentId, peer(), identity_.node, identity_.cluster, protocol.version,
        protocol.zstd ? " with zstd" : "", durable_, note);
    server_->recordEvent(kEventAgentConnected, identity_,
                         "agent " + identity_.agentId + " (node " + identity_.node +
                             ") connected from " + peer() + note);
    v1::Envelope reply;
    auto* ack = reply.mutable_hello_ack();
    ack->set_aggregator_id(server_->options.aggregatorId);
    ack->set_protocol_version(protocol.version);
    if (protocol.zstd) ack->set_compression(std::string(kZstdCompression));
    ack->set_max_frame_bytes(server_->options.maxFrameBytes);
    ack->set_acked_sequence(durable_);
    ack->set_sequence_epoch(identity_.sequenceEpoch);
    write(encodeEnvelopeFrame(reply));
  }

  void handleBatch() {
    const WallTime now = server_->clock.wallNow();
    FoldResult result = server_->fleet.applyBatch(session_, batch_, now);
    noteInterval(batch_.intervalSeconds > 0 ? batch_.intervalSeconds : kDefaultIntervalSeconds);
    switch (result.outcome) {
      case BatchOutcome::kInvalid:
        server_->metrics.decodeErrors("invalid").Increment();
        sendErrorAndClose(v1::Error::CODE_PROTOCOL, result.error, "invalid_batch");
        return;
      case BatchOutcome::kOutOfRange:
        server_->metrics.decodeErrors("sequence").Increment();
        warnRefused(result.error);
        sendErrorAndClose(v1::Error::CODE_PROTOCOL, result.error, "invalid_sequence");
        return;
      case BatchOutcome::kStale:
        sendErrorAndClose(v1::Error::CODE_DUPLICATE_AGENT,
                          "agent id " + identity_.agentId +
                              " connected again with another sequence epoch; this connection "
                              "is replaced",
                          "replaced");
        return;
      case BatchOutcome::kSuperseded:
        // Counted in the agent's progress (so it drains and is acked) but not folded.
        server_->metrics.supersededBatches().Increment();
        recordProgress(result.progress);
        break;
      case BatchOutcome::kDuplicate:
        server_->metrics.duplicateBatches().Increment();
        // An agent resending what it was already told is stored gets told again.
        if (batch_.sequence <= acked_) reack_ = true;
        break;
      case BatchOutcome::kAccepted:
        server_->metrics.batchesAccepted().Increment();
        server_->metrics.samplesReceived().Increment(static_cast<double>(batch_.containerCount));
        if (batch_.timestampUnixMs > 0) {
          const auto ageMs = std::max<std::int64_t>(0, toUnixMillis(now) - batch_.timestampUnixMs);
          server_->metrics.batchAge().Observe(static_cast<double>(ageMs) / 1000.0);
        }
        recordProgress(result.progress);
        if (server_->options.onFolded) server_->options.onFolded();
        break;
    }
    received_ = std::max(received_, batch_.sequence);
  }

  // Out of the switch above: clang 14's ASan reports a temporary logger made in one of its cases
  // as used after its scope at the switch's end, on every batch.
  void warnRefused(const std::string& error) {
    const auto log = componentLogger("aggregator.ingest");
    log->warn("agent {} from {}: {}", identity_.agentId, peer(), error);
  }

  void recordProgress(const AgentProgress& progress) {
    if (server_->store != nullptr) {
      server_->store->recordProgress(progress);
    } else {
      durable_ = std::max(durable_, progress.lastSequence);
    }
  }

  // Acks what is both received on this connection and durable.
  void maybeAck() {
    if (closed_ || closeAfterWrite_ || !identified_) return;
    const std::uint64_t ackable = std::max(acked_, std::min(received_, durable_));
    if (ackable == acked_ && !reack_) return;
    acked_ = ackable;
    reack_ = false;
    v1::Envelope reply;
    reply.mutable_ack()->set_sequence(ackable);
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
        stream_, asio::buffer(outbox_.front()),
        [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
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
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_receive, ignored);
    handshakeTimer_.cancel();
    idleTimer_.cancel();
    throttleTimer_.cancel();
    write(encodeEnvelopeFrame(reply));
  }

  void close(const std::string& reason, const std::string& detail) {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    handshakeTimer_.cancel();
    idleTimer_.cancel();
    throttleTimer_.cancel();
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.lowest_layer().close(ignored);
    server_->metrics.disconnects(reason).Increment();
    auto log = componentLogger("aggregator.ingest");
    if (identified_) {
      server_->metrics.agents(wireVersion()).Decrement();
      server_->fleet.agentDisconnected(session_);
      server_->unregisterAgent(identity_.agentId, this);
      log->info("agent {} ({}) disconnected: {} ({})", identity_.agentId, peer(), reason, detail);
      server_->recordEvent(
          kEventAgentDisconnected, identity_,
          "agent " + identity_.agentId + " disconnected: " + reason + " (" + detail + ")");
    } else if (!quietClose_) {
      log->warn("connection from {} closed before identifying: {} ({})", peer(), reason, detail);
    }
  }

  Stream stream_;
  std::shared_ptr<IngestServer::Impl> server_;
  asio::steady_timer handshakeTimer_;
  asio::steady_timer idleTimer_;
  asio::steady_timer throttleTimer_;
  FrameDecoder decoder_;
  BatchView batch_;                     // reused: decoding allocates nothing once it has grown
  std::optional<BatchStream> batches_;  // what the connection speaks, from the hello-ack on
  std::string reencoded_;               // backing bytes for a re-encoded unusual batch
  std::vector<char> buffer_;            // kHelloReadBytes until identified, then kBatchReadBytes
  std::deque<std::string> outbox_;
  AgentIdentity identity_;
  FleetState::Session session_;
  double tokens_;
  SteadyTime lastRefill_;
  std::uint64_t received_ = 0;  // highest sequence received on this connection
  std::uint64_t durable_ = 0;   // highest sequence the store made durable
  std::uint64_t acked_ = 0;     // highest sequence acked to the agent
  bool identified_ = false;
  bool reack_ = false;  // repeat the last ack (a duplicate of an acked batch arrived)
  bool writing_ = false;
  bool paused_ = false;
  bool closed_ = false;
  bool closeAfterWrite_ = false;
  bool quietClose_ = false;  // the refusal was logged already (rate-limited)
  std::string commonName_;   // of the verified client certificate (mutual TLS); else ""
  std::string closeReason_;
  std::string closeDetail_;
};

}  // namespace

std::optional<Refusal> IngestServer::Impl::authorize(const v1::Hello& hello,
                                                     const std::string& commonName) const {
  std::shared_ptr<const AgentTokens> tokens;
  std::string shared;
  {
    std::lock_guard lock(mutex);
    tokens = agentTokens;
    shared = token;
  }
  const std::string& cluster = hello.cluster();
  if (tokens) {
    const AgentTokenCheck check = checkAgentToken(*tokens, cluster, hello.auth_token());
    if (check.verdict == AgentTokenVerdict::kWrongCluster) {
      return Refusal{
          v1::Error::CODE_PERMISSION_DENIED, "wrong_cluster",
          "this agent's token is not valid for cluster " + cluster,
          "claims cluster " + cluster + " with the token of cluster " + check.tokenCluster};
    }
    if (check.verdict == AgentTokenVerdict::kWrongToken) {
      return Refusal{
          v1::Error::CODE_UNAUTHENTICATED, "unauthenticated", "wrong or missing token",
          tokens->hasCluster(cluster)
              ? "claims cluster " + cluster + " with a wrong or missing token"
              : "claims cluster " + cluster + ", which has no token file in --agent-tokens-dir"};
    }
  } else if (!shared.empty() && !tokensEqual(shared, hello.auth_token())) {
    return Refusal{v1::Error::CODE_UNAUTHENTICATED, "unauthenticated", "wrong or missing token",
                   "wrong or missing token"};
  }
  if (mutualTls && options.clientIdentity == ClientIdentity::kCluster &&
      (commonName.empty() || commonName != cluster)) {
    return Refusal{v1::Error::CODE_PERMISSION_DENIED, "wrong_cluster",
                   "this agent's client certificate is not valid for cluster " + cluster +
                       " (its CN must be the cluster's name)",
                   "claims cluster " + cluster + " with a client certificate for " +
                       (commonName.empty() ? "no CN" : "CN " + commonName)};
  }
  return std::nullopt;
}

void IngestServer::Impl::noteRefusal(const Refusal& refusal, const v1::Hello& hello,
                                     const std::string& peer) {
  std::uint64_t suppressed = 0;
  {
    const std::string key = refusal.reason + '\n' + refusal.detail + '\n' + hostOf(peer);
    std::lock_guard lock(mutex);
    if (refusalLogs.size() >= kMaxRefusalLogs && !refusalLogs.contains(key)) refusalLogs.clear();
    auto& throttle = refusalLogs.try_emplace(key, clock, kRefusalLogInterval).first->second;
    if (!throttle.allow(&suppressed)) return;
  }
  const std::string repeats =
      suppressed > 0 ? " (" + std::to_string(suppressed) + " more like it not logged)" : "";
  componentLogger("aggregator.ingest")
      ->warn("refused agent {} (node {}) from {}: {}: {}{}", hello.agent_id(), hello.node(), peer,
             refusal.reason, refusal.detail, repeats);
  if (refusal.code != v1::Error::CODE_PERMISSION_DENIED) return;
  AgentIdentity claimed;
  claimed.agentId = hello.agent_id();
  claimed.cluster = hello.cluster();
  recordEvent(kEventAgentRefused, claimed,
              "agent " + hello.agent_id() + " (node " + hello.node() + ") from " + peer +
                  " refused: " + refusal.detail + repeats);
}

void IngestServer::Impl::accept() {
  acceptor.async_accept(
      asio::make_strand(io),
      [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (ec) {
          // Out of descriptors, typically: retrying at once would spin a core and starve the
          // connections already open. Pause (10 ms doubling to 1 s), then accept again.
          self->metrics.acceptErrors(AcceptBackoff::reason(ec)).Increment();
          const auto pause = self->acceptBackoff.failed(ec);
          std::lock_guard lock(self->mutex);  // stop() cancels the timer under it
          if (self->stopped) return;
          self->acceptTimer.expires_after(pause);
          self->acceptTimer.async_wait([self](const boost::system::error_code& waitError) {
            if (!waitError) self->accept();
          });
          return;
        }
        self->acceptBackoff.succeeded();
        std::shared_ptr<ConnectionBase> connection;
        std::function<void()> start;
        {
          std::lock_guard lock(self->mutex);
          if (self->stopped) return;
          if (self->open >= self->options.maxConnections) {
            boost::system::error_code ignored;
            socket.close(ignored);
            self->metrics.disconnects("too_many_connections").Increment();
          } else {
            boost::system::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            if (self->options.tls) {
              auto c = std::make_shared<Connection<TlsStream>>(
                  TlsStream(std::move(socket), *self->options.tls), self);
              start = [c] { c->start(); };
              connection = c;
            } else {
              auto c = std::make_shared<Connection<tcp::socket>>(std::move(socket), self);
              start = [c] { c->start(); };
              connection = c;
            }
            std::erase_if(self->connections, [](const auto& weak) { return weak.expired(); });
            self->connections.push_back(connection);
          }
        }
        if (start) {
          self->metrics.connectionsAccepted().Increment();
          start();
        }
        self->accept();
      });
}

IngestServer::IngestServer(asio::io_context& io, IngestOptions options, FleetState& fleet,
                           IngestMetrics& metrics, const Clock& clock, Store* store)
    : impl_(std::make_shared<Impl>(io, std::move(options), fleet, metrics, clock, store)) {}

IngestServer::~IngestServer() { stop(); }

void IngestServer::listen(const HostPort& address) {
  impl_->boundPort = openAcceptor(impl_->acceptor, address);
  impl_->accept();
}

std::uint16_t IngestServer::port() const { return impl_->boundPort; }

Status IngestServer::setToken(std::string token) {
  if (token.empty()) return Error{"refusing an empty agent token: authentication stays on"};
  std::lock_guard lock(impl_->mutex);
  if (impl_->agentTokens) return Error{"agents authenticate with per-cluster tokens"};
  impl_->token = std::move(token);
  return {};
}

Status IngestServer::setAgentTokens(AgentTokens tokens) {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->agentTokens) return Error{"agents do not authenticate with per-cluster tokens"};
  impl_->agentTokens = std::make_shared<const AgentTokens>(std::move(tokens));
  return {};
}

std::size_t IngestServer::openConnections() const { return impl_->open; }

void IngestServer::progressDurable(const std::vector<AgentProgress>& progress) {
  std::vector<std::pair<std::shared_ptr<ConnectionBase>, std::pair<std::uint64_t, std::uint64_t>>>
      targets;
  {
    std::lock_guard lock(impl_->mutex);
    for (const auto& p : progress) {
      if (auto it = impl_->byAgent.find(p.agentId); it != impl_->byAgent.end()) {
        if (auto connection = it->second.lock()) {
          targets.emplace_back(connection, std::pair{p.sequenceEpoch, p.lastSequence});
        }
      }
    }
  }
  for (const auto& p : progress) {
    impl_->fleet.markDurable(p.agentId, p.sequenceEpoch, p.lastSequence);
  }
  for (auto& [connection, position] : targets) connection->durable(position.first, position.second);
}

void IngestServer::stop() {
  std::vector<std::weak_ptr<ConnectionBase>> connections;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    // The non-throwing overload: stop() runs in the destructor.
    boost::system::error_code ignored;
    impl_->acceptTimer.cancel(ignored);
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
