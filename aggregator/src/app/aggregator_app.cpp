#include "fleetscale/aggregator/app/aggregator_app.h"

#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "fleetscale/aggregator/api/http_api.h"
#include "fleetscale/aggregator/api/metrics.h"
#include "fleetscale/aggregator/api/scaling_routes.h"
#include "fleetscale/aggregator/app/decide_command.h"
#include "fleetscale/aggregator/app/replay_command.h"
#include "fleetscale/aggregator/control/cluster_registry.h"
#include "fleetscale/aggregator/control/scaling_loop.h"
#include "fleetscale/aggregator/control/state_loop.h"
#include "fleetscale/aggregator/election/leader_election.h"
#include "fleetscale/aggregator/ingest/ingest_server.h"
#include "fleetscale/aggregator/policy/policy_holder.h"
#include "fleetscale/aggregator/state/fleet_state.h"
#include "fleetscale/aggregator/state/history.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/shared/tls.h"
#include "fleetscale/shared/version.h"

namespace fleetscale::aggregator {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Written atomically (temp file + rename) so a reader never sees half a file.
Status writeReadyFile(const std::string& path, std::uint16_t ingestPort, std::uint16_t httpPort) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << nlohmann::json{{"ingest_port", ingestPort}, {"http_port", httpPort}, {"pid", ::getpid()}}
               .dump()
        << "\n";
    if (!out) return Error{"cannot write " + temp};
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) return Error{"cannot rename " + temp + ": " + ec.message()};
  return {};
}

// A state directory under $TMPDIR for runs without --state-dir, removed when the run ends.
class TemporaryStateDir {
 public:
  TemporaryStateDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/fleetscale-state-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TemporaryStateDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct ParsedDurations {
  std::chrono::nanoseconds handshake, idle, commit, historyRetention, eventRetention, historyWindow,
      tick, forgetAfter, probeInterval, scaleRefresh, failedAfter, healthyAfter, scaleRequest;
};

// Parses every duration flag; on failure, names the flag.
Result<ParsedDurations> parseDurations(const AggregatorOptions& o) {
  ParsedDurations out{};
  for (auto [flag, text, target] :
       {std::tuple{"--handshake-timeout", &o.handshakeTimeout, &out.handshake},
        std::tuple{"--idle-timeout", &o.idleTimeout, &out.idle},
        std::tuple{"--commit-interval", &o.commitInterval, &out.commit},
        std::tuple{"--history-retention", &o.historyRetention, &out.historyRetention},
        std::tuple{"--event-retention", &o.eventRetention, &out.eventRetention},
        std::tuple{"--history-window", &o.historyWindow, &out.historyWindow},
        std::tuple{"--tick", &o.tick, &out.tick},
        std::tuple{"--forget-after", &o.forgetAfter, &out.forgetAfter},
        std::tuple{"--probe-interval", &o.probeInterval, &out.probeInterval},
        std::tuple{"--scale-refresh", &o.scaleRefresh, &out.scaleRefresh},
        std::tuple{"--failed-after", &o.failedAfter, &out.failedAfter},
        std::tuple{"--healthy-after", &o.healthyAfter, &out.healthyAfter},
        std::tuple{"--scale-request-timeout", &o.scaleRequestTimeout, &out.scaleRequest}}) {
    auto parsed = parseDuration(*text);
    if (!parsed) return Error{std::string(flag) + ": " + parsed.error().message};
    *target = *parsed;
  }
  if (out.tick.count() <= 0) return Error{"--tick: must be positive"};
  return out;
}

}  // namespace

void addAggregatorOptions(CLI::App& app, AggregatorOptions& o) {
  addCommonOptions(app, o.common);
  app.add_option("--listen", o.listen, "agent stream address HOST:PORT")->capture_default_str();
  app.add_option("--http-listen", o.httpListen, "HTTP address for the API, /metrics and health")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "I/O threads (0 = one per CPU)")->capture_default_str();
  app.add_option("--token-file", o.tokenFile, "file with the token agents must present");
  app.add_option("--admin-token-file", o.adminTokenFile,
                 "file with the bearer token mutating API endpoints require");
  app.add_option("--aggregator-id", o.aggregatorId, "name of this aggregator (default: hostname)");
  app.add_option("--max-frame-bytes", o.maxFrameBytes, "largest frame accepted from an agent")
      ->capture_default_str();
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
  app.add_option("--tick", o.tick, "how often the fleet is rolled up")->capture_default_str();
  app.add_option("--forget-after", o.forgetAfter,
                 "forget disconnected nodes silent this long (their dedup state is kept)")
      ->capture_default_str();
  app.add_flag("--per-container-metrics", o.perContainerMetrics,
               "export per-container series on /metrics (high cardinality)");
  app.add_option("--ready-file", o.readyFile,
                 "write {\"ingest_port\",\"http_port\",\"pid\"} JSON here once serving");
  app.add_option(
      "--policy", o.policy,
      "policy file: clusters, how to reach them, workloads to scale (docs/configuration.md)");
  app.add_flag("--dry-run", o.dryRun,
               "decide and record every decision, but never write to a cluster");
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
  ElectionSettings& e = o.election;
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

int runAggregator(const AggregatorOptions& options) {
  auto log = componentLogger("aggregator");
  auto listen = parseHostPort(options.listen);
  auto httpListen = parseHostPort(options.httpListen);
  auto durations = parseDurations(options);
  auto token = readSecretFile(options.tokenFile);
  auto adminToken = readSecretFile(options.adminTokenFile);
  for (const auto& [flag, error] :
       {std::pair{"--listen", listen ? "" : listen.error().message},
        std::pair{"--http-listen", httpListen ? "" : httpListen.error().message},
        std::pair{"", durations ? "" : durations.error().message},
        std::pair{"--token-file", token ? "" : token.error().message},
        std::pair{"--admin-token-file", adminToken ? "" : adminToken.error().message}}) {
    if (!error.empty()) {
      log->error("{}{}{}", flag, *flag ? ": " : "", error);
      return 2;
    }
  }
  std::shared_ptr<boost::asio::ssl::context> tls;
  if (!options.tlsCertFile.empty() || !options.tlsKeyFile.empty()) {
    auto context = makeTlsServerContext(
        TlsServerFiles{options.tlsCertFile, options.tlsKeyFile, options.tlsClientCaFile});
    if (!context) {
      log->error("TLS: {}", context.error().message);
      return 2;
    }
    tls = *context;
  } else if (!options.tlsClientCaFile.empty()) {
    log->error("--tls-client-ca-file needs --tls-cert-file and --tls-key-file");
    return 2;
  }

  PolicyHolder policy(options.policy);
  if (Status loaded = policy.reload(); !loaded) {
    log->error("--policy: {}", loaded.message());
    return 2;
  }

  SystemClock clock;
  AggregatorMetrics metrics(options.perContainerMetrics);
  std::optional<TemporaryStateDir> temporaryDir;
  std::string stateDir = options.stateDir;
  if (stateDir.empty()) {
    temporaryDir.emplace();
    stateDir = temporaryDir->path();
    log->warn(
        "no --state-dir: keeping state in {}, removed at exit; history, events and dedup "
        "state do not survive a restart",
        stateDir);
  }
  SqliteStoreOptions storeOptions;
  storeOptions.stateDir = stateDir;
  storeOptions.commitInterval = duration_cast<milliseconds>(durations->commit);
  storeOptions.rollupRetention = durations->historyRetention;
  storeOptions.eventRetention = durations->eventRetention;
  auto store = SqliteStore::open(storeOptions, &metrics.store(), clock);
  if (!store) {
    log->error("store: {}", store.error().message);
    return 1;
  }
  FleetState fleet;
  auto progress = (*store)->loadProgress();
  if (!progress) {
    log->error("store: {}", progress.error().message);
    return 1;
  }
  fleet.restoreProgress(*progress);
  auto nodes = (*store)->loadNodes();
  if (!nodes) {
    log->error("store: {}", nodes.error().message);
    return 1;
  }
  fleet.restoreNodes(*nodes);
  WorkloadHistory history(duration_cast<milliseconds>(durations->historyWindow));
  const std::int64_t historySince =
      toUnixMillis(clock.wallNow()) - duration_cast<milliseconds>(durations->historyWindow).count();
  auto recent = (*store)->rollups(RollupQuery{historySince, "", ""});
  if (!recent) {
    log->error("store: {}", recent.error().message);
    return 1;
  }
  history.add(*recent);
  log->info("store {}: {} agents' progress and {} recent rollups restored", (*store)->path(),
            progress->size(), recent->size());

  std::atomic<bool> ready{false};
  const unsigned threads =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  boost::asio::io_context io(static_cast<int>(threads));

  const std::string identity =
      options.aggregatorId.empty() ? localHostName() : options.aggregatorId;
  const std::string userAgent = std::string("fleetscale-aggregator/") + kVersion + " " + identity;
  IngestOptions ingestOptions;
  ingestOptions.maxFrameBytes = options.maxFrameBytes;
  ingestOptions.maxFramesPerSecond = options.maxFramesPerSecond;
  ingestOptions.maxConnections = options.maxConnections;
  ingestOptions.handshakeTimeout = duration_cast<milliseconds>(durations->handshake);
  ingestOptions.idleTimeout = duration_cast<milliseconds>(durations->idle);
  ingestOptions.token = *token;
  ingestOptions.tls = tls;
  ingestOptions.aggregatorId = identity;
  IngestServer ingest(io, ingestOptions, fleet, metrics.ingest(), clock, store->get());
  (*store)->setCommitListener(
      [&ingest](const std::vector<AgentProgress>& durable) { ingest.progressDurable(durable); });

  SnapshotHolder snapshots;
  StateLoop stateLoop(
      fleet, store->get(), history, snapshots, clock,
      StateLoopOptions{duration_cast<milliseconds>(durations->tick), durations->forgetAfter});
  AdminToken admin;
  admin.set(*adminToken);

  // The scaling engine: cluster connections and health, decisions, placement, actions.
  scaling::HealthThresholds thresholds;
  thresholds.failedAfter = duration_cast<milliseconds>(durations->failedAfter);
  thresholds.healthyAfter = duration_cast<milliseconds>(durations->healthyAfter);
  const auto scaleRequestTimeout = duration_cast<milliseconds>(durations->scaleRequest);
  auto election = makeElection(options.election, identity, userAgent, clock, scaleRequestTimeout);
  if (!election) {
    log->error("{}", election.error().message);
    return 2;
  }
  std::optional<LeaderElector> elector;
  if (*election) {
    elector.emplace(*(*election)->backend, identity, (*election)->timing, clock,
                    recordLeadershipChanges(**store, clock, identity));
  }
  auto leadership = [&elector] {
    return elector ? std::optional<LeadershipStatus>(elector->status()) : std::nullopt;
  };
  ClusterRegistry clusters(realClusterConnector(userAgent, scaleRequestTimeout), thresholds, clock);
  clusters.configure(policy.get()->clusters);
  restoreDrains(clusters, **store);
  ScalingLoopOptions scalingOptions;
  scalingOptions.dryRun = options.dryRun;
  scalingOptions.window = duration_cast<milliseconds>(durations->tick);
  scalingOptions.actuation.writesPerSecond = options.writesPerSecond;
  scalingOptions.actuation.burst = std::max(1.0, options.writesPerSecond * 2);
  ScalingLoop scalingLoop(policy, clusters, snapshots, store->get(), clock, scalingOptions);
  scalingLoop.restoreHistory();
  if (elector) {
    scalingLoop.setLeadership(
        [&elector](std::chrono::milliseconds within) { return elector->fencingToken(within); });
  }
  auto reloadPolicy = [&]() -> Status {
    Status status = policy.reload();
    EventRecord event;
    event.timeUnixMs = toUnixMillis(clock.wallNow());
    event.kind = std::string(kEventConfigReload);
    if (status) {
      clusters.configure(policy.get()->clusters);
      event.message = "policy reloaded from " + options.policy + ": " +
                      std::to_string(policy.get()->clusters.size()) + " clusters, " +
                      std::to_string(policy.get()->workloads.size()) + " workloads";
      log->info("{}", event.message);
    } else {
      event.message = "policy reload rejected, the running policy stays: " + status.message();
      log->error("{}", event.message);
    }
    (*store)->recordEvent(std::move(event));
    return status;
  };

  HttpRouter router;
  auto leadershipView = [leadership, identity] { return leadershipJson(leadership(), identity); };
  ApiContext api{fleet,
                 snapshots,
                 metrics,
                 store->get(),
                 history,
                 clock,
                 ready,
                 [&scalingLoop, leadership, identity] {
                   auto families = scalingLoop.collectMetrics();
                   for (auto& family : leadershipMetrics(leadership(), identity)) {
                     families.push_back(std::move(family));
                   }
                   return families;
                 },
                 leadershipView};
  addApiRoutes(router, api);
  ScalingApiContext scalingApi{scalingLoop, clusters,     admin,         store->get(),
                               clock,       reloadPolicy, leadershipView};
  addScalingRoutes(router, scalingApi);
  HttpServer http(io, [&router](HttpRequest& request) { return router.handle(request); });

  try {
    ingest.listen(*listen);
    http.listen(*httpListen);
  } catch (const std::exception& e) {
    log->error("{}", e.what());
    return 1;
  }
  stateLoop.start();
  if (elector) {
    log->info("leader election on {}: lease {} s, renew deadline {} ms, retry every {} ms",
              (*election)->backend->describe(), (*election)->timing.leaseDuration.count() / 1000,
              (*election)->timing.renewDeadline.count(), (*election)->timing.retryPeriod.count());
    elector->start();
  }
  clusters.startProber(duration_cast<milliseconds>(durations->probeInterval),
                       duration_cast<milliseconds>(durations->scaleRefresh));
  scalingLoop.start();
  if (!options.readyFile.empty()) {
    if (Status status = writeReadyFile(options.readyFile, ingest.port(), http.port()); !status) {
      log->error("--ready-file: {}", status.message());
      return 1;
    }
  }
  ready = true;
  log->info(
      "fleetscale-aggregator {} ({}) serving agents on {}:{}{} and HTTP on {}:{} with {} threads",
      kVersion, ingestOptions.aggregatorId, listen->host, ingest.port(),
      tls ? (options.tlsClientCaFile.empty() ? " (TLS)" : " (mutual TLS)") : "", httpListen->host,
      http.port(), threads);
  if (ingestOptions.token.empty()) log->warn("no --token-file: any agent may connect");

  // SIGHUP re-reads the token files, so secrets rotate without dropping agents.
  boost::asio::signal_set reload(io, SIGHUP);
  std::function<void()> waitForReload = [&] {
    reload.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      auto newToken = readSecretFile(options.tokenFile);
      auto newAdmin = readSecretFile(options.adminTokenFile);
      EventRecord event;
      event.timeUnixMs = toUnixMillis(clock.wallNow());
      event.kind = kEventConfigReload;
      if (newToken && newAdmin) {
        ingest.setToken(*newToken);
        admin.set(*newAdmin);
        event.message = "token files reloaded";
        log->info("SIGHUP: token files reloaded");
      } else {
        event.message =
            "reload failed: " + (newToken ? newAdmin.error().message : newToken.error().message);
        log->error("SIGHUP: {}; keeping the current tokens", event.message);
      }
      (*store)->recordEvent(std::move(event));
      if (!options.policy.empty()) (void)reloadPolicy();
      waitForReload();
    });
  };
  waitForReload();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log->info("signal {} received, shutting down", signal);
    ready = false;
    ingest.stop();
    http.stop();
    reload.cancel();
    // Give close frames a moment to go out, then stop the loop.
    auto timer = std::make_shared<boost::asio::steady_timer>(io, milliseconds(200));
    timer->async_wait([&io, timer](const boost::system::error_code&) { io.stop(); });
  });

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& thread : pool) thread.join();
  scalingLoop.stop();
  scalingLoop.drainActions();
  // Released only after the last write ended, so the next leader never overlaps this one.
  if (elector) elector->stop(true);
  clusters.stopProber();
  stateLoop.stop();
  (*store)->setCommitListener(nullptr);
  (*store)->flush();
  if (!options.readyFile.empty()) std::remove(options.readyFile.c_str());
  log->info("stopped");
  spdlog::default_logger()->flush();
  return 0;
}

// `fleetscale-aggregator decide --input snapshot.json [--config policy.yaml]`
int decideMain(int argc, char** argv) {
  CLI::App app{"evaluate one scaling decision offline from a JSON snapshot (docs/decide.md)",
               "fleetscale-aggregator decide"};
  std::string input;
  std::string config;
  app.add_option("--input", input, "snapshot JSON file")->required();
  app.add_option("--config", config, "policy file holding the snapshot's workload");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return runDecideCommand(input, config, std::cout, std::cerr);
}

// `fleetscale-aggregator replay --history <store.db|CSV> --config policy.yaml [...]`
int replayMain(int argc, char** argv) {
  CLI::App app{"replay a policy over recorded history and measure it (docs/replay.md)",
               "fleetscale-aggregator replay"};
  ReplayCommandOptions options;
  app.add_option("--history", options.historyPath, "aggregator.db store or CSV file")->required();
  app.add_option("--config", options.configPath, "policy file")->required();
  app.add_option("--workload", options.workload, "namespace/name (default: every one)");
  app.add_option("--readiness-delay", options.readinessDelay,
                 "from asking for a replica to it serving")
      ->capture_default_str();
  app.add_option("--capacity-per-replica", options.capacityPerReplica,
                 "CPU one ready replica serves (default: its request)");
  app.add_flag("--json", options.json, "print JSON");
  app.add_flag("--changes-only", options.changesOnly, "print only the steps that scale");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return runReplayCommand(options, std::cout, std::cerr);
}

int aggregatorMain(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "decide") return decideMain(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "replay") return replayMain(argc - 1, argv + 1);
  CLI::App app{
      "fleetscale-aggregator: receives agent streams, keeps the fleet's state and "
      "serves it over HTTP and /metrics",
      "fleetscale-aggregator"};
  AggregatorOptions options;
  addAggregatorOptions(app, options);
  app.set_version_flag("--version", std::string("fleetscale-aggregator ") + kVersion);
  if (auto code = parseCommandLine(app, argc, argv)) return *code;
  if (Status status = applyLogging(options.common); !status) {
    std::cerr << "fleetscale-aggregator: " << status.message() << "\n";
    return 2;
  }
  return runAggregator(options);
}

}  // namespace fleetscale::aggregator
