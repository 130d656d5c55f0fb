#include "fleetscale/aggregator/app/options.h"

#include <algorithm>
#include <thread>

#include "fleetscale/shared/text.h"
#include "fleetscale/shared/tls.h"
#include "fleetscale/shared/token.h"
#include "fleetscale/shared/version.h"

namespace fleetscale::aggregator {
namespace {

// The agents' stream: addresses, tokens, limits, TLS.
void addAgentOptions(CLI::App& app, AggregatorOptions& o) {
  app.add_option("--listen", o.listen, "agent stream address HOST:PORT")->capture_default_str();
  app.add_option("--http-listen", o.httpListen, "HTTP address for the API, /metrics and health")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "I/O threads (0 = one per CPU)")->capture_default_str();
  app.add_option("--token-file", o.tokenFile,
                 "file with the one token every agent must present (see --agent-tokens-dir)");
  app.add_option("--agent-tokens-dir", o.agentTokensDir,
                 "directory with one file per cluster (name: the cluster, content: its agents' "
                 "token), e.g. a mounted Secret; an agent must present its own cluster's token");
  app.add_option("--admin-token-file", o.adminTokenFile,
                 "file with one bearer token with the admin role on the HTTP API (named \"admin\"; "
                 "more tokens and roles: --api-tokens-file)");
  app.add_option("--aggregator-id", o.aggregatorId, "name of this aggregator (default: hostname)");
  app.add_option("--max-frame-bytes", o.maxFrameBytes, "largest frame accepted from an agent")
      ->capture_default_str();
  app.add_option("--max-protocol-version", o.maxProtocolVersion,
                 "highest agent protocol version offered: 2 (compact, optionally zstd-compressed "
                 "batches to agents that offer it) or 1 (answer as an aggregator that predates "
                 "version 2, for staged rollouts)")
      ->capture_default_str()
      ->check(CLI::Range(std::uint32_t{1}, kMaxSupportedProtocolVersion));
  app.add_option("--max-frames-per-second", o.maxFramesPerSecond,
                 "sustained frames per second per agent (bursts of 10 s worth); faster agents "
                 "are slowed down")
      ->capture_default_str();
  app.add_option("--max-connections", o.maxConnections, "agent connections served at once")
      ->capture_default_str();
  app.add_option("--handshake-timeout", o.handshakeTimeout,
                 "time an agent has for the TLS handshake and its hello")
      ->capture_default_str();
  app.add_option("--idle-timeout", o.idleTimeout, "disconnect agents silent this long")
      ->capture_default_str();
  app.add_option("--tls-cert-file", o.tlsCertFile, "PEM certificate: agents connect with TLS");
  app.add_option("--tls-key-file", o.tlsKeyFile, "PEM private key for --tls-cert-file");
  app.add_option("--tls-client-ca-file", o.tlsClientCaFile,
                 "PEM CA: agents must present a client certificate it signed (mutual TLS)");
  app.add_option("--tls-client-identity", o.tlsClientIdentity,
                 "with --tls-client-ca-file: 'cluster' (the certificate's CN must be the agent's "
                 "cluster) or 'any' (any certificate the CA signed)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cluster", "any"}));
}

// The HTTP API's authentication, HTTPS and the open metrics listener (docs/api.md).
void addHttpOptions(CLI::App& app, AggregatorOptions& o) {
  app.add_option("--api-tokens-file", o.apiTokensFile,
                 "HTTP API bearer tokens: one token,name,role line each, role viewer (GETs) or "
                 "admin (everything); re-read on SIGHUP and when the file changes");
  app.add_flag("--http-anonymous-reads", o.httpAnonymousReads,
               "let GETs of the HTTP API through without a token (a lab setting)");
  app.add_option("--http-tls-cert-file", o.httpTlsCertFile,
                 "PEM certificate: the HTTP API serves HTTPS (re-read on SIGHUP and when the "
                 "files change)");
  app.add_option("--http-tls-key-file", o.httpTlsKeyFile,
                 "PEM private key for --http-tls-cert-file");
  app.add_option("--http-tls-client-ca-file", o.httpTlsClientCaFile,
                 "PEM CA: HTTP API clients must present a certificate it signed (mutual TLS)");
  app.add_option("--metrics-listen", o.metricsListen,
                 "a second, plain-HTTP address HOST:PORT serving only /metrics, /healthz and "
                 "/readyz, without authentication (default: off)");
}

// The fleet state, its store and history.
void addStateOptions(CLI::App& app, AggregatorOptions& o) {
  app.add_option("--state-dir", o.stateDir,
                 "directory for the SQLite store (default: a temporary one, removed at exit)");
  app.add_option("--commit-interval", o.commitInterval,
                 "how long store writes gather before one commit (acks wait for it)")
      ->capture_default_str();
  app.add_option("--history-retention", o.historyRetention, "keep 10 s workload rollups this long")
      ->capture_default_str();
  app.add_option("--event-retention", o.eventRetention, "keep events and decisions this long")
      ->capture_default_str();
  app.add_option("--history-window", o.historyWindow,
                 "recent workload history held in memory (restored from the store at start)")
      ->capture_default_str();
  app.add_option("--history-max-rows", o.historyMaxRows,
                 "at most this many 10 s rows of --history-window in memory (about 90 bytes each); "
                 "beyond it the oldest go first")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}));
  app.add_option("--tick", o.tick, "how often the fleet is rolled up")->capture_default_str();
  app.add_option("--decision-debounce", o.decisionDebounce,
                 "decide as soon as the agents' sampling round is in, or at the latest this long "
                 "after its first batch (0: only on the tick)")
      ->capture_default_str();
  app.add_option("--min-decision-interval", o.minDecisionInterval,
                 "at most one decision pass per this interval on new data")
      ->capture_default_str();
  app.add_option(
         "--forget-after", o.forgetAfter,
         "forget disconnected nodes silent this long (their dedup state is kept), and workload "
         "names no container carried this long")
      ->capture_default_str();
  app.add_flag("--per-container-metrics", o.perContainerMetrics,
               "export per-container series on /metrics (high cardinality)");
  app.add_option("--ready-file", o.readyFile,
                 "write {\"ingest_port\",\"http_port\",\"pid\"} JSON here once serving (and "
                 "\"metrics_port\" with --metrics-listen)");
}

// The scaling engine: policy, cluster probes and health, writes.
void addScalingOptions(CLI::App& app, AggregatorOptions& o) {
  app.add_option(
      "--policy", o.policy,
      "policy file: clusters, how to reach them, workloads to scale (docs/configuration.md)");
  app.add_flag("--dry-run", o.dryRun,
               "decide and record every decision, but never write to a cluster");
  app.add_flag("--take-over-hpa", o.takeOverHpa,
               "scale workloads that an HPA or KEDA ScaledObject also targets, pinning the HPA's "
               "minReplicas/maxReplicas (or pausing the ScaledObject) at each decision; without "
               "it such workloads are left to them");
  app.add_option("--probe-interval", o.probeInterval,
                 "how often each cluster's API /readyz is probed")
      ->capture_default_str();
  app.add_option("--scale-refresh", o.scaleRefresh,
                 "re-read each workload's scale at least this often")
      ->capture_default_str();
  app.add_option("--failed-after", o.failedAfter,
                 "a cluster with neither agents nor API this long has failed")
      ->capture_default_str();
  app.add_option("--healthy-after", o.healthyAfter,
                 "a recovering cluster is healthy after both signals this long")
      ->capture_default_str();
  app.add_option("--writes-per-second", o.writesPerSecond,
                 "scale writes allowed per second, all clusters")
      ->capture_default_str();
  app.add_option("--scale-request-timeout", o.scaleRequestTimeout,
                 "timeout of one request to a cluster's API (retries get their own)")
      ->capture_default_str();
}

void addElectionOptions(CLI::App& app, ElectionSettings& e) {
  app.add_option("--leader-election", e.backend,
                 "none, etcd or kubernetes: run several aggregators, only the leader acts "
                 "(docs/high-availability.md)")
      ->capture_default_str();
  app.add_option("--etcd-endpoints", e.etcdEndpoints,
                 "etcd members for --leader-election etcd: http(s)://host:port,...");
  app.add_option("--election-key", e.electionKey, "etcd key the leader holds")
      ->capture_default_str();
  app.add_option("--etcd-ca-file", e.etcdCaFile, "PEM CA to verify etcd with (https endpoints)");
  app.add_option("--etcd-cert-file", e.etcdCertFile, "PEM client certificate for etcd");
  app.add_option("--etcd-key-file", e.etcdKeyFile, "PEM private key for --etcd-cert-file");
  app.add_option("--lease-kubeconfig", e.leaseKubeconfig,
                 "kubeconfig of the cluster holding the Lease for --leader-election kubernetes "
                 "(default: in-cluster ServiceAccount)");
  app.add_option("--lease-context", e.leaseContext, "context in --lease-kubeconfig");
  app.add_option("--lease-namespace", e.leaseNamespace, "namespace of the Lease")
      ->capture_default_str();
  app.add_option("--lease-name", e.leaseName, "name of the Lease")->capture_default_str();
  app.add_option("--lease-duration", e.leaseDuration,
                 "how long a standby waits for a silent leader's lease (etcd TTL)")
      ->capture_default_str();
  app.add_option("--renew-deadline", e.renewDeadline,
                 "a leader that could not renew for this long stops acting (< --lease-duration)")
      ->capture_default_str();
  app.add_option("--retry-period", e.retryPeriod, "how often the lease is renewed or tried")
      ->capture_default_str();
}

// Parses every duration flag and checks it lies in its range; on failure, names the flag. The
// ranges keep every timer and cutoff meaningful (no flag may overflow a clock or mean "never").
Result<ParsedDurations> parseDurations(const AggregatorOptions& o) {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  using std::chrono::minutes;
  using std::chrono::nanoseconds;
  using std::chrono::seconds;
  constexpr nanoseconds kZero{0};
  constexpr hours kYear{24 * 365};
  ParsedDurations out{};
  struct Flag {
    const char* name;
    const std::string* text;
    nanoseconds* target;
    nanoseconds min, max;
  };
  for (const Flag& flag :
       {Flag{"--handshake-timeout", &o.handshakeTimeout, &out.handshake, milliseconds(100),
             hours(1)},
        Flag{"--idle-timeout", &o.idleTimeout, &out.idle, seconds(1), hours(24)},
        Flag{"--commit-interval", &o.commitInterval, &out.commit, kZero, minutes(1)},
        Flag{"--history-retention", &o.historyRetention, &out.historyRetention, kZero, kYear},
        Flag{"--event-retention", &o.eventRetention, &out.eventRetention, kZero, kYear},
        Flag{"--history-window", &o.historyWindow, &out.historyWindow, kZero, hours(24)},
        Flag{"--tick", &o.tick, &out.tick, milliseconds(10), minutes(1)},
        Flag{"--decision-debounce", &o.decisionDebounce, &out.decisionDebounce, kZero, seconds(10)},
        Flag{"--min-decision-interval", &o.minDecisionInterval, &out.minDecisionInterval,
             milliseconds(10), minutes(1)},
        Flag{"--forget-after", &o.forgetAfter, &out.forgetAfter, kZero, kYear},
        Flag{"--probe-interval", &o.probeInterval, &out.probeInterval, milliseconds(100), hours(1)},
        Flag{"--scale-refresh", &o.scaleRefresh, &out.scaleRefresh, kZero, hours(1)},
        Flag{"--failed-after", &o.failedAfter, &out.failedAfter, milliseconds(100), hours(24)},
        Flag{"--healthy-after", &o.healthyAfter, &out.healthyAfter, kZero, hours(24)},
        Flag{"--scale-request-timeout", &o.scaleRequestTimeout, &out.scaleRequest,
             milliseconds(100), minutes(10)}}) {
    auto parsed = parseDuration(*flag.text, flag.min, flag.max);
    if (!parsed) return Error{std::string(flag.name) + ": " + parsed.error().message};
    *flag.target = *parsed;
  }
  return out;
}

Result<std::shared_ptr<boost::asio::ssl::context>> resolveTls(const AggregatorOptions& options) {
  if (!options.tlsCertFile.empty() || !options.tlsKeyFile.empty()) {
    auto context = makeTlsServerContext(
        TlsServerFiles{options.tlsCertFile, options.tlsKeyFile, options.tlsClientCaFile});
    if (!context) return Error{"TLS: " + context.error().message};
    return *context;
  }
  if (!options.tlsClientCaFile.empty()) {
    return Error{"--tls-client-ca-file needs --tls-cert-file and --tls-key-file"};
  }
  return std::shared_ptr<boost::asio::ssl::context>();
}

// The flag a makeTlsServerContext error is about, from the file it names first.
std::string httpTlsFlagOf(const std::string& message) {
  if (message.starts_with("private key ")) return "--http-tls-key-file";
  if (message.starts_with("client CA ")) return "--http-tls-client-ca-file";
  return "--http-tls-cert-file";
}

// --agent-tokens-dir, read (fail closed: every file must hold a token); null without the flag.
Result<std::shared_ptr<const AgentTokens>> readAgentTokens(const AggregatorOptions& options) {
  if (options.agentTokensDir.empty()) return std::shared_ptr<const AgentTokens>();
  if (!options.tokenFile.empty()) {
    return Error{"use either --token-file (one token for every cluster) or this, not both"};
  }
  auto tokens = loadAgentTokens(options.agentTokensDir);
  if (!tokens) return tokens.error();
  return std::make_shared<const AgentTokens>(std::move(*tokens));
}

}  // namespace

Result<std::shared_ptr<boost::asio::ssl::context>> resolveHttpTls(
    const AggregatorOptions& options) {
  const bool cert = !options.httpTlsCertFile.empty(), key = !options.httpTlsKeyFile.empty();
  if (!cert && !key) {
    if (!options.httpTlsClientCaFile.empty()) {
      return Error{"--http-tls-client-ca-file needs --http-tls-cert-file and --http-tls-key-file"};
    }
    return std::shared_ptr<boost::asio::ssl::context>();
  }
  if (!cert) return Error{"--http-tls-cert-file is needed with --http-tls-key-file"};
  if (!key) return Error{"--http-tls-key-file is needed with --http-tls-cert-file"};
  auto context = makeTlsServerContext(
      TlsServerFiles{options.httpTlsCertFile, options.httpTlsKeyFile, options.httpTlsClientCaFile});
  if (!context)
    return Error{httpTlsFlagOf(context.error().message) + ": " + context.error().message};
  return *context;
}

void addAggregatorOptions(CLI::App& app, AggregatorOptions& options) {
  addCommonOptions(app, options.common);
  addAgentOptions(app, options);
  addHttpOptions(app, options);
  addStateOptions(app, options);
  addScalingOptions(app, options);
  addElectionOptions(app, options.election);
}

unsigned ioThreads(const AggregatorOptions& options) {
  return options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
}

Result<AggregatorSettings> resolveOptions(const AggregatorOptions& options) {
  auto listen = parseHostPort(options.listen);
  auto httpListen = parseHostPort(options.httpListen);
  auto durations = parseDurations(options);
  // Fail closed: a token file that was named must hold a token. Only an absent flag means "no
  // token" (any agent may connect; mutating endpoints disabled).
  auto readToken = [](const std::string& path) -> Result<std::string> {
    return path.empty() ? Result<std::string>(std::string()) : readTokenFile(path);
  };
  auto token = readToken(options.tokenFile);
  auto apiTokens = readApiTokens(options.apiTokensFile, options.adminTokenFile);  // names its flag
  std::optional<HostPort> metricsListen;
  std::string metricsListenError;
  if (!options.metricsListen.empty()) {
    auto parsed = parseHostPort(options.metricsListen);
    if (parsed) {
      metricsListen = *parsed;
    } else {
      metricsListenError = parsed.error().message;
    }
  }
  auto agentTokens = readAgentTokens(options);
  for (const auto& [flag, error] :
       {std::pair{"--listen", listen ? "" : listen.error().message},
        std::pair{"--http-listen", httpListen ? "" : httpListen.error().message},
        std::pair{"--metrics-listen", metricsListenError},
        std::pair{"", durations ? "" : durations.error().message},
        std::pair{"--token-file", token ? "" : token.error().message},
        std::pair{"", apiTokens ? "" : apiTokens.error().message},
        std::pair{"--agent-tokens-dir", agentTokens ? "" : agentTokens.error().message}}) {
    if (!error.empty()) return Error{std::string(flag) + (*flag ? ": " : "") + error};
  }
  auto tls = resolveTls(options);
  if (!tls) return tls.error();
  auto httpTls = resolveHttpTls(options);
  if (!httpTls) return httpTls.error();
  AggregatorSettings out;
  out.listen = *listen;
  out.httpListen = *httpListen;
  out.durations = *durations;
  out.token = *token;
  out.apiTokens = std::move(*apiTokens);
  out.httpTls = *httpTls;
  out.metricsListen = metricsListen;
  out.agentTokens = *agentTokens;
  out.clientIdentity =
      options.tlsClientIdentity == "any" ? ClientIdentity::kAny : ClientIdentity::kCluster;
  out.tls = *tls;
  out.threads = ioThreads(options);
  out.identity = options.aggregatorId.empty() ? localHostName() : options.aggregatorId;
  out.userAgent = std::string("fleetscale-aggregator/") + kVersion + " " + out.identity;
  return out;
}

}  // namespace fleetscale::aggregator
