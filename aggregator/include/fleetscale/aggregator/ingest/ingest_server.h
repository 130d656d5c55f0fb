// Accepts agent connections (plain TCP or TLS, optionally mutual) and folds their batches into
// the fleet state. Each connection is isolated: a peer that sends an oversized or undecodable
// frame, a wrong token, credentials of another cluster than the one it names, or nothing at all
// is disconnected with a reason and a counter, and no other connection notices. A peer sending
// frames faster than its allowance is slowed down (its reads pause), not served at the others'
// expense.
//
// Acks are durable: with a store, an agent's sequence is acked (and reported in a hello-ack)
// only once the store has committed its progress, so an aggregator killed at any instant
// neither loses an acked batch nor counts a replayed one twice.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fleetscale/aggregator/ingest/agent_tokens.h"
#include "fleetscale/aggregator/ingest/batch_stream.h"
#include "fleetscale/aggregator/ingest/ingest_metrics.h"
#include "fleetscale/aggregator/state/fleet_state.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/net_address.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

// Under mutual TLS, what the agent's verified client certificate must name.
enum class ClientIdentity {
  kCluster,  // its subject CN is the hello's cluster (one certificate per cluster)
  kAny,      // any certificate the client CA signed (one shared certificate: weaker)
};

struct IngestOptions {
  std::uint32_t maxFrameBytes = kDefaultMaxFrameBytes;
  // The highest protocol version offered to agents (--max-protocol-version): 2 lets agents that
  // offer it send compact (and zstd-compressed) batches; 1 answers every hello as an aggregator
  // that predates version 2 would.
  std::uint32_t maxProtocolVersion = kMaxSupportedProtocolVersion;
  std::chrono::milliseconds handshakeTimeout{std::chrono::seconds(10)};  // TLS + hello
  std::chrono::milliseconds idleTimeout{std::chrono::seconds(60)};
  // Sustained frames per second per connection; bursts up to 10 s worth (spool replays).
  double maxFramesPerSecond = 100;
  double frameBurst = 0;  // frames allowed at once; 0 = 10 s worth
  std::size_t maxConnections = 20000;
  std::string token;  // required in every hello when not empty ("" = no authentication)
  // Per-cluster tokens (--agent-tokens-dir): when set, a hello must carry its own cluster's
  // token, and `token` must be empty. A token of another cluster is refused as the wrong
  // cluster (CODE_PERMISSION_DENIED), any other as unauthenticated.
  std::shared_ptr<const AgentTokens> agentTokens;
  // Applies when `tls` verifies client certificates (mutual TLS).
  ClientIdentity clientIdentity = ClientIdentity::kCluster;
  std::string aggregatorId = "fleetscale-aggregator";
  // When set, agents connect with TLS; the context holds the certificate, key and, for mutual
  // TLS, the client CA and verify mode.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Called on the connection's strand after each batch is folded into the fleet state (the
  // state loop's dataArrived): must be cheap and thread-safe.
  std::function<void()> onFolded;
};

// Thread-safety: the io_context may be run by many threads; each connection runs on its own
// strand. listen(), stop(), setToken() and setAgentTokens() may be called from any thread.
// Lifetime: `fleet`, `metrics`, `store` and `clock` must outlive every handler on the
// io_context, that is, until its threads have returned from run() — stop() alone does not wait.
class IngestServer {
 public:
  // `store` may be null: progress is then acked as soon as it is folded (nothing is durable).
  // With a SqliteStore, call progressDurable() from its commit listener so commits release acks.
  IngestServer(boost::asio::io_context& io, IngestOptions options, FleetState& fleet,
               IngestMetrics& metrics, const Clock& clock, Store* store = nullptr);
  ~IngestServer();
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;

  // Binds and starts accepting; throws std::runtime_error naming the address on failure.
  void listen(const HostPort& address);
  std::uint16_t port() const;
  // Stops accepting and closes every connection, telling agents the aggregator is shutting down.
  void stop();
  // Replaces the token agents must present (a reloaded --token-file); open connections stay.
  // Fails closed: an empty token is refused and the current one kept, so authentication can
  // never be switched off at run time.
  [[nodiscard]] Status setToken(std::string token);
  // Replaces the per-cluster tokens (a reloaded --agent-tokens-dir); open connections stay. An
  // error when the server was built with one shared token (or none), so a reload can never
  // switch authentication off.
  [[nodiscard]] Status setAgentTokens(AgentTokens tokens);
  // The store committed these agents' progress: ack it on their connections.
  void progressDurable(const std::vector<AgentProgress>& progress);
  std::size_t openConnections() const;

  struct Impl;  // implementation detail, public so the .cpp's connection classes can name it

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace fleetscale::aggregator
