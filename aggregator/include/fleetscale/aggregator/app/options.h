// fleetscale-aggregator's flags (docs/configuration.md) and the values startup takes from them.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/aggregator/api/api_auth.h"
#include "fleetscale/aggregator/election/leadership.h"
#include "fleetscale/aggregator/ingest/agent_tokens.h"
#include "fleetscale/aggregator/ingest/ingest_server.h"
#include "fleetscale/shared/net_address.h"
#include "fleetscale/shared/options.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

struct AggregatorOptions {
  CommonOptions common;
  std::string listen = "0.0.0.0:7070";
  std::string httpListen = "0.0.0.0:7080";
  unsigned threads = 0;  // 0 = one per CPU
  std::string tokenFile;
  std::string agentTokensDir;  // per-cluster agent tokens; excludes tokenFile
  std::string adminTokenFile;
  std::string aggregatorId;  // default: hostname
  std::uint32_t maxFrameBytes = 4 * 1024 * 1024;
  std::uint32_t maxProtocolVersion = kMaxSupportedProtocolVersion;  // 1 or 2
  double maxFramesPerSecond = 100;
  std::size_t maxConnections = 20000;
  std::string handshakeTimeout = "10s";
  std::string idleTimeout = "60s";
  std::string tlsCertFile, tlsKeyFile, tlsClientCaFile;
  std::string tlsClientIdentity = "cluster";  // "cluster" or "any", with tlsClientCaFile
  // The HTTP API (docs/api.md, "Authentication"): bearer tokens with roles, HTTPS, and a second,
  // open listener for /metrics and the probes.
  std::string apiTokensFile;        // token,name,role lines
  bool httpAnonymousReads = false;  // GETs need no token (a lab setting)
  std::string httpTlsCertFile, httpTlsKeyFile, httpTlsClientCaFile;
  std::string metricsListen;  // "" = off
  std::string stateDir;       // "" = a temporary directory removed at exit
  std::string commitInterval = "100ms";
  std::string historyRetention = "24h";
  std::string eventRetention = "720h";
  std::string historyWindow = "15m";
  std::size_t historyMaxRows = 1'000'000;  // kDefaultHistoryMaxRows: the window's row budget
  std::string tick = "1s";
  // Decide when the data arrives: a snapshot (and the decisions on it) as soon as the agents'
  // sampling round is in, or this long after its first batch at the latest, at most one per
  // min-decision-interval; "0" = only --tick (docs/configuration.md, "Timing flags").
  std::string decisionDebounce = "250ms";
  std::string minDecisionInterval = "250ms";
  std::string forgetAfter = "10m";
  bool perContainerMetrics = false;
  std::string readyFile;     // written with the bound ports once serving
  std::string policy;        // the policy file: clusters and workloads to scale ("" = observe only)
  bool dryRun = false;       // decide and record, never write to a cluster
  bool takeOverHpa = false;  // scale workloads other autoscalers target, pinning them
  std::string probeInterval = "1s";  // cluster API /readyz probes
  std::string scaleRefresh = "5s";   // re-read each watched scale at least this often
  std::string failedAfter = "10s";   // a cluster with neither signal this long has failed
  std::string healthyAfter = "60s";  // a recovering cluster with both signals this long is healthy
  double writesPerSecond = 20;       // scale writes across all clusters
  std::string scaleRequestTimeout = "5s";  // one request to a cluster's API (each retry again)
  ElectionSettings election;               // leader election among aggregators (high availability)
};

void addAggregatorOptions(CLI::App& app, AggregatorOptions& options);

// --threads, or one per CPU: at least 1.
unsigned ioThreads(const AggregatorOptions& options);

// Every duration flag, parsed.
struct ParsedDurations {
  std::chrono::nanoseconds handshake, idle, commit, historyRetention, eventRetention, historyWindow,
      tick, decisionDebounce, minDecisionInterval, forgetAfter, probeInterval, scaleRefresh,
      failedAfter, healthyAfter, scaleRequest;
};

// The options checked and read: addresses, durations, the token files' contents, TLS.
struct AggregatorSettings {
  HostPort listen;
  HostPort httpListen;
  ParsedDurations durations{};
  // The token files' contents. Empty only when the flag was not given: a named file that is
  // empty or unreadable is an error, never "no token".
  std::string token;  // agents must present it; "" (no --token-file) = any agent may connect
  // --agent-tokens-dir as read at startup (null without the flag; then `token` applies).
  std::shared_ptr<const AgentTokens> agentTokens;
  ClientIdentity clientIdentity = ClientIdentity::kCluster;  // --tls-client-identity
  // The HTTP API's tokens: --admin-token-file's (named "admin") and --api-tokens-file's. Empty
  // only when neither flag was given: then only the probes (and, with --http-anonymous-reads,
  // the GETs) are served.
  std::vector<ApiToken> apiTokens;
  std::shared_ptr<boost::asio::ssl::context> httpTls;  // null = the HTTP API is plain HTTP
  std::optional<HostPort> metricsListen;               // the open /metrics listener, if any
  std::shared_ptr<boost::asio::ssl::context> tls;      // null = agents connect without TLS
  unsigned threads = 1;                                // I/O threads, at least 1
  std::string identity;                                // --aggregator-id or the host name
  std::string userAgent;                               // for requests to cluster APIs and the lease
};

// The HTTP API's TLS context from --http-tls-cert-file, --http-tls-key-file and
// --http-tls-client-ca-file; null when none is set. An Error names the flag whose file is wrong
// (or missing). Called at startup and again to pick up a rotated certificate.
Result<std::shared_ptr<boost::asio::ssl::context>> resolveHttpTls(const AggregatorOptions& options);

// An Error's message names the first flag that is wrong (the aggregator exits with 2): a token
// file that is unreadable, empty or not a token, a duration outside its flag's range.
Result<AggregatorSettings> resolveOptions(const AggregatorOptions& options);

}  // namespace fleetscale::aggregator
