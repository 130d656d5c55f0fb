#include "fleetscale/aggregator/app/aggregator_app.h"

#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "fleetscale/aggregator/api/api_auth.h"
#include "fleetscale/aggregator/api/fleet_metrics.h"
#include "fleetscale/aggregator/api/health_routes.h"
#include "fleetscale/aggregator/api/http_api.h"
#include "fleetscale/aggregator/api/metrics.h"
#include "fleetscale/aggregator/api/metrics_routes.h"
#include "fleetscale/aggregator/api/rightsizing_routes.h"
#include "fleetscale/aggregator/api/scaling_routes.h"
#include "fleetscale/aggregator/app/decide_command.h"
#include "fleetscale/aggregator/app/replay_command.h"
#include "fleetscale/aggregator/app/startup_steps.h"
#include "fleetscale/aggregator/control/cluster_registry.h"
#include "fleetscale/aggregator/control/prometheus_poller.h"
#include "fleetscale/aggregator/control/rightsizing_applier.h"
#include "fleetscale/aggregator/control/rightsizing_feed.h"
#include "fleetscale/aggregator/control/scaling_loop.h"
#include "fleetscale/aggregator/control/scaling_metrics.h"
#include "fleetscale/aggregator/control/state_loop.h"
#include "fleetscale/aggregator/election/leader_election.h"
#include "fleetscale/aggregator/election/leadership.h"
#include "fleetscale/aggregator/ingest/agent_token_watcher.h"
#include "fleetscale/aggregator/ingest/ingest_server.h"
#include "fleetscale/aggregator/policy/policy_holder.h"
#include "fleetscale/aggregator/state/fleet_state.h"
#include "fleetscale/aggregator/state/history.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/asio_listen.h"
#include "fleetscale/shared/file_watch.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/shared/token.h"
#include "fleetscale/shared/version.h"

namespace fleetscale::aggregator {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Descriptors the aggregator needs besides agent connections: the store, HTTP clients and
// connections, cluster probes, the log.
constexpr std::uint64_t kReservedDescriptors = 256;

// How often the API's token files and certificates are checked for a change (a rotation by
// cert-manager or a Kubernetes Secret volume): a few stat() calls.
constexpr milliseconds kCredentialCheckInterval{2000};

// Written atomically (temp file + rename) so a reader never sees half a file. `metricsPort` 0:
// no metrics listener, no "metrics_port".
Status writeReadyFile(const std::string& path, std::uint16_t ingestPort, std::uint16_t httpPort,
                      std::uint16_t metricsPort) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    nlohmann::json ready{{"ingest_port", ingestPort}, {"http_port", httpPort}, {"pid", ::getpid()}};
    if (metricsPort != 0) ready["metrics_port"] = metricsPort;
    out << ready.dump() << "\n";
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

// What startup builds, and the steps that build, start and stop it (steps()). Members are
// declared after what they depend on, so they are destroyed, after the teardown, dependents
// first. The steps run on the main thread; the signal handlers on the I/O threads once serving.
class AggregatorApp {
 public:
  AggregatorApp(const AggregatorOptions& options, std::shared_ptr<spdlog::logger> log);

  // Capture `this`: the app must outlive them.
  std::vector<Step> steps();

 private:
  // The steps' starts and stops, in the order of steps().
  StepResult resolve();
  StepResult openStore();
  void flushStore() { store_->flush(); }
  StepResult restore();
  StepResult createElection();
  std::size_t connectionLimit() const;
  StepResult createIngest();
  void detachIngest() {
    if (tokenWatcher_) tokenWatcher_->stop();
    store_->setCommitListener(nullptr);
  }
  StepResult createScaling();
  StepResult createHttp();
  StepResult listen();
  void stopListeners();
  StepResult startStateLoop();
  void stopStateLoop() {
    foldListener_ = nullptr;
    stateLoop_->stop();
  }
  StepResult startElection();
  void stopElection();
  StepResult startProber();
  void stopProber() { clusters_->stopProber(); }
  StepResult startMetricSources();
  void stopMetricSources();
  StepResult startScalingLoop();
  void stopScalingLoop();
  StepResult writeReady();
  void removeReadyFile();
  StepResult watchSignals();
  void ignoreSignals();
  void watchCredentialFiles();
  StepResult announceReady();
  void notReady() { ready_ = false; }
  StepResult serve();

  std::optional<LeadershipStatus> leadership() const;
  milliseconds scaleRequestTimeout() const;
  Status reloadPolicy();
  void reloadTokens();
  void reloadApiTokens(const char* why);
  void reloadHttpTls(const char* why);
  void recordReload(std::string message);
  void waitForReload();
  void shutDown(int signal);

  const AggregatorOptions& options_;
  std::shared_ptr<spdlog::logger> log_;
  AggregatorSettings settings_;
  PolicyHolder policy_;
  SystemClock clock_;
  AggregatorMetrics metrics_;
  std::optional<TemporaryStateDir> temporaryDir_;
  std::unique_ptr<SqliteStore> store_;
  FleetState fleet_;
  std::optional<WorkloadHistory> history_;
  SnapshotHolder snapshots_;
  std::optional<RightsizingFeed> rightsizing_;  // restored with the store, fed by the state loop
  std::atomic<bool> ready_{false};
  boost::asio::io_context io_;
  // Created with the app, so a signal that arrives during startup waits for the serve step
  // (then shuts down, or reloads) instead of ending the process before the teardown.
  boost::asio::signal_set reload_;     // SIGHUP: re-read the token files and the policy
  boost::asio::signal_set terminate_;  // SIGINT, SIGTERM: shut down
  // Every kCredentialCheckInterval: the API's token files and certificate changed?
  boost::asio::steady_timer credentialTimer_;
  std::mutex credentialMutex_;  // the reloads below, from SIGHUP and the timer (I/O threads)
  std::optional<FileChangeWatch> apiTokenFiles_;  // --api-tokens-file, --admin-token-file
  std::optional<FileChangeWatch> httpTlsFiles_;   // --http-tls-*
  std::optional<ApiAuth> auth_;
  std::optional<IngestServer> ingest_;
  std::optional<AgentTokenWatcher> tokenWatcher_;  // with --agent-tokens-dir
  std::optional<StateLoop> stateLoop_;
  // The running state loop, for the ingest threads (which start before it and stop after it).
  std::atomic<StateLoop*> foldListener_{nullptr};
  std::optional<Election> election_;
  std::optional<LeaderElector> elector_;
  std::optional<ClusterRegistry> clusters_;
  std::optional<PrometheusPoller> prometheus_;  // Object and External metric values
  std::optional<ScalingLoop> scalingLoop_;
  std::optional<RightsizingApplier> rightsizingApplier_;  // in-place and recreate modes
  // /metrics' series besides the registry's.
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::optional<ApiContext> api_;
  std::optional<ScalingApiContext> scalingApi_;
  HttpRouter router_;
  std::optional<HttpServer> http_;
  HttpRouter metricsRouter_;  // /metrics and the probes alone, on --metrics-listen
  std::optional<HttpServer> metricsHttp_;
};

AggregatorApp::AggregatorApp(const AggregatorOptions& options, std::shared_ptr<spdlog::logger> log)
    : options_(options),
      log_(std::move(log)),
      policy_(options.policy),
      io_(static_cast<int>(ioThreads(options))),
      reload_(io_, SIGHUP),
      terminate_(io_, SIGINT, SIGTERM),
      credentialTimer_(io_) {}

// In order; the teardown runs the stops backwards: not ready, signals ignored, ready file gone,
// the scaling loop's writes finished before the lease is released, then the loops, listeners
// and store.
std::vector<Step> AggregatorApp::steps() {
  using A = AggregatorApp;
  auto start = [this](StepResult (A::*step)()) { return std::bind_front(step, this); };
  auto stop = [this](void (A::*step)()) { return std::bind_front(step, this); };
  return {
      {"options", start(&A::resolve)},
      {"store", start(&A::openStore), stop(&A::flushStore)},
      {"restore", start(&A::restore)},
      {"election", start(&A::createElection)},
      {"ingest", start(&A::createIngest), stop(&A::detachIngest)},
      {"scaling engine", start(&A::createScaling)},
      {"http api", start(&A::createHttp)},
      {"listeners", start(&A::listen), stop(&A::stopListeners)},
      {"state loop", start(&A::startStateLoop), stop(&A::stopStateLoop)},
      {"leader election", start(&A::startElection), stop(&A::stopElection)},
      {"cluster prober", start(&A::startProber), stop(&A::stopProber)},
      {"metric sources", start(&A::startMetricSources), stop(&A::stopMetricSources)},
      {"scaling loop", start(&A::startScalingLoop), stop(&A::stopScalingLoop)},
      {"ready file", start(&A::writeReady), stop(&A::removeReadyFile)},
      {"signals", start(&A::watchSignals), stop(&A::ignoreSignals)},
      {"ready", start(&A::announceReady), stop(&A::notReady)},
      {"serve", start(&A::serve)},
  };
}

StepResult AggregatorApp::resolve() {
  auto settings = resolveOptions(options_);
  if (!settings) return StepResult::fatal(2, settings.error().message);
  settings_ = std::move(*settings);
  if (Status loaded = policy_.reload(); !loaded) {
    return StepResult::fatal(2, "--policy: " + loaded.message());
  }
  return StepResult::ok();
}

StepResult AggregatorApp::openStore() {
  std::string stateDir = options_.stateDir;
  if (stateDir.empty()) {
    temporaryDir_.emplace();
    stateDir = temporaryDir_->path();
    log_->warn(
        "no --state-dir: keeping state in {}, removed at exit; history, events and dedup "
        "state do not survive a restart",
        stateDir);
  }
  SqliteStoreOptions storeOptions;
  storeOptions.stateDir = stateDir;
  storeOptions.commitInterval = duration_cast<milliseconds>(settings_.durations.commit);
  storeOptions.rollupRetention = settings_.durations.historyRetention;
  storeOptions.eventRetention = settings_.durations.eventRetention;
  auto store = SqliteStore::open(storeOptions, &metrics_.store(), clock_);
  if (!store) return StepResult::fatal(1, "store: " + store.error().message);
  store_ = std::move(*store);
  return StepResult::ok();
}

// The agents' progress (dedup state) and the recent history the scaling decisions look back on.
StepResult AggregatorApp::restore() {
  auto progress = store_->loadProgress();
  if (!progress) return StepResult::fatal(1, "store: " + progress.error().message);
  fleet_.restoreProgress(*progress);
  auto nodes = store_->loadNodes();
  if (!nodes) return StepResult::fatal(1, "store: " + nodes.error().message);
  fleet_.restoreNodes(*nodes);
  const auto window = duration_cast<milliseconds>(settings_.durations.historyWindow);
  history_.emplace(window, options_.historyMaxRows);
  const std::int64_t now = toUnixMillis(clock_.wallNow());
  // A minute of buckets at a time, oldest first: what is in memory at once stays one read's
  // worth, and the history's row budget drops the oldest when the window holds more.
  constexpr std::int64_t kReadBackStepMs = 60'000;
  std::size_t rows = 0;
  for (std::int64_t since = now - window.count(); since <= now; since += kReadBackStepMs) {
    auto recent = store_->rollups(RollupQuery{since, "", "", since + kReadBackStepMs});
    if (!recent) return StepResult::fatal(1, "store: " + recent.error().message);
    history_->add(*recent);
    rows += recent->size();
  }
  rightsizing_.emplace(store_.get(), policy_);
  auto containers = rightsizing_->restore();
  if (!containers) return StepResult::fatal(1, "store: " + containers.error().message);
  log_->info(
      "store {}: {} agents' progress, {} recent rollups ({} kept in memory) and {} containers' "
      "right-sizing state restored",
      store_->path(), progress->size(), rows, history_->size(), *containers);
  return StepResult::ok();
}

StepResult AggregatorApp::createElection() {
  auto election = makeElection(options_.election, settings_.identity, settings_.userAgent, clock_,
                               scaleRequestTimeout());
  if (!election) return StepResult::fatal(2, election.error().message);
  if (*election) {
    election_ = std::move(**election);
    elector_.emplace(*election_->backend, settings_.identity, election_->timing, clock_,
                     recordLeadershipChanges(*store_, clock_, settings_.identity));
  }
  return StepResult::ok();
}

// --max-connections, within the open file limit: each agent connection is a descriptor, and
// past the limit accepts fail (EMFILE) instead of closing the excess connection cleanly. The soft
// limit (often 1024) is raised to the hard one first.
std::size_t AggregatorApp::connectionLimit() const {
  const std::uint64_t fileLimit = raiseOpenFileLimit();
  if (fileLimit == 0 || options_.maxConnections + kReservedDescriptors <= fileLimit) {
    return options_.maxConnections;
  }
  const std::size_t fitted = fileLimit > kReservedDescriptors
                                 ? static_cast<std::size_t>(fileLimit - kReservedDescriptors)
                                 : 1;
  log_->warn(
      "--max-connections {} does not fit the open file limit {} ({} kept for the store, HTTP and "
      "clusters): serving at most {} agent connections",
      options_.maxConnections, fileLimit, kReservedDescriptors, fitted);
  return fitted;
}

StepResult AggregatorApp::createIngest() {
  IngestOptions ingestOptions;
  ingestOptions.maxFrameBytes = options_.maxFrameBytes;
  ingestOptions.maxProtocolVersion = options_.maxProtocolVersion;
  ingestOptions.maxFramesPerSecond = options_.maxFramesPerSecond;
  ingestOptions.maxConnections = connectionLimit();
  ingestOptions.handshakeTimeout = duration_cast<milliseconds>(settings_.durations.handshake);
  ingestOptions.idleTimeout = duration_cast<milliseconds>(settings_.durations.idle);
  ingestOptions.token = settings_.token;
  ingestOptions.agentTokens = settings_.agentTokens;
  ingestOptions.tls = settings_.tls;
  ingestOptions.clientIdentity = settings_.clientIdentity;
  ingestOptions.aggregatorId = settings_.identity;
  // Batches are folded from the listeners' start; the state loop hears of them once it runs.
  ingestOptions.onFolded = [this] {
    if (StateLoop* loop = foldListener_.load()) loop->dataArrived();
  };
  ingest_.emplace(io_, ingestOptions, fleet_, metrics_.ingest(), clock_, store_.get());
  if (settings_.agentTokens) {
    tokenWatcher_.emplace(io_, options_.agentTokensDir, *settings_.agentTokens, *ingest_,
                          metrics_.ingest(), clock_, store_.get());
    tokenWatcher_->start();
  }
  // Agents get their acks once what they sent is committed.
  store_->setCommitListener(
      [this](const std::vector<AgentProgress>& durable) { ingest_->progressDurable(durable); });
  return StepResult::ok();
}

// Cluster connections and health, decisions, placement, actions.
StepResult AggregatorApp::createScaling() {
  scaling::HealthThresholds thresholds;
  thresholds.failedAfter = duration_cast<milliseconds>(settings_.durations.failedAfter);
  thresholds.healthyAfter = duration_cast<milliseconds>(settings_.durations.healthyAfter);
  clusters_.emplace(realClusterConnector(settings_.userAgent, scaleRequestTimeout()), thresholds,
                    clock_);
  clusters_->configure(policy_.get()->clusters);
  restoreDrains(*clusters_, *store_);
  ScalingLoopOptions scalingOptions;
  scalingOptions.dryRun = options_.dryRun;
  scalingOptions.takeOverAutoscalers = options_.takeOverHpa;
  scalingOptions.window = duration_cast<milliseconds>(settings_.durations.tick);
  scalingOptions.actuation.writesPerSecond = options_.writesPerSecond;
  scalingOptions.actuation.burst = std::max(1.0, options_.writesPerSecond * 2);
  prometheus_.emplace(policy_, clock_);
  scalingOptions.metricValues = &*prometheus_;
  scalingLoop_.emplace(policy_, *clusters_, snapshots_, store_.get(), clock_, scalingOptions);
  scalingLoop_->restoreHistory();
  RightsizingApplierOptions applierOptions;
  applierOptions.dryRun = options_.dryRun;
  rightsizingApplier_.emplace(
      [this] { return rightsizing_->current(); }, policy_,
      [this](const std::string& cluster) { return clusters_->actuator(cluster); }, store_.get(),
      clock_, applierOptions);
  if (elector_) {
    scalingLoop_->setLeadership(
        [this](milliseconds within) { return elector_->fencingToken(within); });
    rightsizingApplier_->setLeadership(
        [this] { return elector_->fencingToken(milliseconds(5000)).has_value(); });
  }
  return StepResult::ok();
}

// The routes, /metrics' collectables and the server; nothing is served before the serve step.
StepResult AggregatorApp::createHttp() {
  auth_.emplace(ApiAuthOptions{options_.httpAnonymousReads, [this](std::string_view reason) {
                                 metrics_.httpDenied(reason).Increment();
                               }});
  auth_->setTokens(settings_.apiTokens);
  if (settings_.apiTokens.empty() && !options_.httpAnonymousReads) {
    log_->warn(
        "no --api-tokens-file or --admin-token-file, and no --http-anonymous-reads: the HTTP API "
        "answers only /healthz and /readyz (everything else is 401)");
  } else if (options_.httpAnonymousReads) {
    log_->warn(
        "--http-anonymous-reads: anyone who reaches the HTTP API can read it without a token "
        "(a lab setting)");
  }
  apiTokenFiles_.emplace(std::vector{options_.apiTokensFile, options_.adminTokenFile});
  httpTlsFiles_.emplace(
      std::vector{options_.httpTlsCertFile, options_.httpTlsKeyFile, options_.httpTlsClientCaFile});
  auto leadershipView = [this] { return leadershipJson(leadership(), settings_.identity); };
  api_.emplace(ApiContext{fleet_, snapshots_, metrics_, store_.get(), *history_, clock_, ready_,
                          leadershipView});
  scalingApi_.emplace(ScalingApiContext{*scalingLoop_, *clusters_, store_.get(), clock_,
                                        [this] { return reloadPolicy(); }, leadershipView});
  addAggregatorRoutes(router_, *api_, *scalingApi_);
  addRightsizingRoutes(router_, *rightsizing_, &*rightsizingApplier_);
  collectables_ = {
      std::make_shared<FleetMetrics>(fleet_, snapshots_, clock_, options_.perContainerMetrics),
      std::make_shared<ScalingLoopMetrics>(*scalingLoop_),
      std::make_shared<PrometheusPollerMetrics>(*prometheus_),
      std::make_shared<LeadershipMetrics>(elector_ ? &*elector_ : nullptr, settings_.identity),
      std::make_shared<RecommendationMetrics>(*rightsizing_),
      std::make_shared<RightsizingApplyMetrics>(*rightsizingApplier_)};
  for (const auto& collectable : collectables_) metrics_.add(collectable);
  HttpServerOptions httpOptions;
  httpOptions.onRejected = [this](const std::string& reason) {
    metrics_.httpRejected(reason).Increment();
  };
  httpOptions.onAcceptError = [this](const std::string& reason) {
    metrics_.httpAcceptErrors(reason).Increment();
  };
  if (settings_.metricsListen) {
    addHealthRoutes(metricsRouter_, *api_);
    addMetricsRoutes(metricsRouter_, *api_);
    metricsHttp_.emplace(
        io_, [this](HttpRequest& request) { return metricsRouter_.handle(request); }, httpOptions);
  }
  httpOptions.tls = settings_.httpTls;
  http_.emplace(io_, auth_->wrap([this](HttpRequest& request) { return router_.handle(request); }),
                std::move(httpOptions));
  return StepResult::ok();
}

// Binding fails fast (a port in use throws: fatal); connections wait for the serve step.
StepResult AggregatorApp::listen() {
  ingest_->listen(settings_.listen);
  http_->listen(settings_.httpListen);
  if (metricsHttp_) metricsHttp_->listen(*settings_.metricsListen);
  return StepResult::ok();
}

void AggregatorApp::stopListeners() {
  ingest_->stop();
  http_->stop();
  if (metricsHttp_) metricsHttp_->stop();
}

StepResult AggregatorApp::startStateLoop() {
  StateLoopOptions options{duration_cast<milliseconds>(settings_.durations.tick),
                           settings_.durations.forgetAfter};
  options.keepProgressFor = settings_.durations.eventRetention;
  options.debounce = duration_cast<milliseconds>(settings_.durations.decisionDebounce);
  options.minInterval = duration_cast<milliseconds>(settings_.durations.minDecisionInterval);
  stateLoop_.emplace(fleet_, store_.get(), *history_, snapshots_, clock_, options);
  stateLoop_->setRightsizing(&*rightsizing_);
  stateLoop_->start();
  foldListener_ = &*stateLoop_;
  return StepResult::ok();
}

StepResult AggregatorApp::startElection() {
  if (!elector_) return StepResult::ok();
  log_->info("leader election on {}: lease {} s, renew deadline {} ms, retry every {} ms",
             election_->backend->describe(), election_->timing.leaseDuration.count() / 1000,
             election_->timing.renewDeadline.count(), election_->timing.retryPeriod.count());
  elector_->start();
  return StepResult::ok();
}

// Runs after the scaling loop stopped and its last write ended, so the next leader never
// overlaps this one.
void AggregatorApp::stopElection() {
  if (elector_) elector_->stop(true);
}

StepResult AggregatorApp::startProber() {
  clusters_->startProber(duration_cast<milliseconds>(settings_.durations.probeInterval),
                         duration_cast<milliseconds>(settings_.durations.scaleRefresh));
  return StepResult::ok();
}

// Idle until the policy names a Prometheus; a reload that adds one is picked up.
StepResult AggregatorApp::startMetricSources() {
  prometheus_->start();
  return StepResult::ok();
}

void AggregatorApp::stopMetricSources() { prometheus_->stop(); }

StepResult AggregatorApp::startScalingLoop() {
  scalingLoop_->start();
  rightsizingApplier_->start();
  return StepResult::ok();
}

void AggregatorApp::stopScalingLoop() {
  rightsizingApplier_->stop();
  scalingLoop_->stop();
  scalingLoop_->drainActions();
}

StepResult AggregatorApp::writeReady() {
  if (options_.readyFile.empty()) return StepResult::ok();
  if (Status status = writeReadyFile(options_.readyFile, ingest_->port(), http_->port(),
                                     metricsHttp_ ? metricsHttp_->port() : 0);
      !status) {
    return StepResult::fatal(1, "--ready-file: " + status.message());
  }
  return StepResult::ok();
}

void AggregatorApp::removeReadyFile() {
  if (!options_.readyFile.empty()) std::remove(options_.readyFile.c_str());
}

StepResult AggregatorApp::watchSignals() {
  waitForReload();
  terminate_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (!ec) shutDown(signal);
  });
  watchCredentialFiles();
  return StepResult::ok();
}

void AggregatorApp::ignoreSignals() {
  reload_.cancel();
  terminate_.cancel();
  credentialTimer_.cancel();
}

// Rotated API tokens and certificates take effect without a SIGHUP: a Kubernetes Secret volume
// or cert-manager replaces the files, nobody signals the process.
void AggregatorApp::watchCredentialFiles() {
  credentialTimer_.expires_after(kCredentialCheckInterval);
  credentialTimer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    bool tokens = false, tls = false;
    {
      std::lock_guard lock(credentialMutex_);
      tokens = apiTokenFiles_->changed();
      tls = httpTlsFiles_->changed();
    }
    if (tokens) reloadApiTokens("changed on disk");
    if (tls) reloadHttpTls("changed on disk");
    watchCredentialFiles();
  });
}

StepResult AggregatorApp::announceReady() {
  ready_ = true;
  log_->info(
      "fleetscale-aggregator {} ({}) serving agents on {}:{}{} and {} on {}:{} with {} threads",
      kVersion, settings_.identity, settings_.listen.host, ingest_->port(),
      settings_.tls ? (options_.tlsClientCaFile.empty() ? " (TLS)" : " (mutual TLS)") : "",
      settings_.httpTls ? (options_.httpTlsClientCaFile.empty() ? "HTTPS" : "HTTPS (mutual TLS)")
                        : "HTTP",
      settings_.httpListen.host, http_->port(), settings_.threads);
  if (metricsHttp_) {
    log_->info("/metrics and probes without authentication on http://{}:{}",
               settings_.metricsListen->host, metricsHttp_->port());
  }
  if (settings_.agentTokens && settings_.agentTokens->size() == 0) {
    log_->warn(
        "--agent-tokens-dir {} holds no cluster's token: no agent can connect until a file "
        "appears",
        options_.agentTokensDir);
  } else if (settings_.agentTokens) {
    log_->info("agents authenticate with their cluster's token from {} ({} clusters)",
               options_.agentTokensDir, settings_.agentTokens->size());
  } else if (settings_.token.empty()) {
    log_->warn("no --token-file or --agent-tokens-dir: any agent may connect");
  }
  if (settings_.tls && !options_.tlsClientCaFile.empty() &&
      settings_.clientIdentity == ClientIdentity::kAny) {
    log_->warn("--tls-client-identity any: a client certificate need not name its cluster");
  }
  return StepResult::ok();
}

// Runs the I/O threads (this one among them) until shutDown() stops them.
StepResult AggregatorApp::serve() {
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < settings_.threads; ++i) pool.emplace_back([this] { io_.run(); });
  try {
    io_.run();
  } catch (...) {
    io_.stop();
    for (auto& thread : pool) thread.join();
    throw;
  }
  for (auto& thread : pool) thread.join();
  return StepResult::ok();
}

std::optional<LeadershipStatus> AggregatorApp::leadership() const {
  return elector_ ? std::optional(elector_->status()) : std::nullopt;
}

milliseconds AggregatorApp::scaleRequestTimeout() const {
  return duration_cast<milliseconds>(settings_.durations.scaleRequest);
}

Status AggregatorApp::reloadPolicy() {
  Status status = policy_.reload();
  EventRecord event;
  event.timeUnixMs = toUnixMillis(clock_.wallNow());
  event.kind = std::string(kEventConfigReload);
  if (status) {
    clusters_->configure(policy_.get()->clusters);
    event.message = "policy reloaded from " + options_.policy + ": " +
                    std::to_string(policy_.get()->clusters.size()) + " clusters, " +
                    std::to_string(policy_.get()->workloads.size()) + " workloads";
    log_->info("{}", event.message);
  } else {
    event.message = "policy reload rejected, the running policy stays: " + status.message();
    log_->error("{}", event.message);
  }
  store_->recordEvent(std::move(event));
  return status;
}

// SIGHUP re-reads the agents' token file, so secrets rotate without dropping agents (the HTTP
// API's token files: reloadApiTokens). Fails closed: a file that became unreadable or empty
// leaves the token as it was, and says so.
void AggregatorApp::reloadTokens() {
  if (options_.tokenFile.empty()) return;
  auto newToken = readTokenFile(options_.tokenFile);
  if (newToken) {
    (void)ingest_->setToken(*newToken);  // never empty here
    settings_.token = *newToken;
    log_->info("SIGHUP: token files reloaded");
    recordReload("token files reloaded");
  } else {
    const std::string message = "reload failed: --token-file: " + newToken.error().message;
    log_->error("SIGHUP: {}; keeping the current tokens", message);
    recordReload(message);
  }
}

// The HTTP API's tokens (SIGHUP, or their files changed). A file that became unreadable, empty
// or malformed keeps the current set in force.
void AggregatorApp::reloadApiTokens(const char* why) {
  if (options_.apiTokensFile.empty() && options_.adminTokenFile.empty()) return;
  std::lock_guard lock(credentialMutex_);
  (void)apiTokenFiles_->changed();  // what is read now is the new baseline
  auto tokens = readApiTokens(options_.apiTokensFile, options_.adminTokenFile);
  if (tokens) {
    const std::size_t count = tokens->size();
    auth_->setTokens(std::move(*tokens));
    const std::string message =
        "HTTP API tokens reloaded (" + std::string(why) + "): " + std::to_string(count) + " tokens";
    log_->info("{}", message);
    recordReload(message);
  } else {
    const std::string message = "HTTP API tokens reload failed (" + std::string(why) +
                                "), keeping the current " + std::to_string(auth_->tokenCount()) +
                                " tokens: " + tokens.error().message;
    log_->error("{}", message);
    recordReload(message);
  }
}

// The HTTP API's certificate (SIGHUP, or its files changed), for connections from now on. Files
// that cannot be used (a half-written rotation) keep the current certificate.
void AggregatorApp::reloadHttpTls(const char* why) {
  if (!settings_.httpTls) return;
  std::lock_guard lock(credentialMutex_);
  (void)httpTlsFiles_->changed();
  auto tls = resolveHttpTls(options_);
  if (tls && *tls) {
    http_->setTls(*tls);
    const std::string message = "HTTP API certificate reloaded (" + std::string(why) + ")";
    log_->info("{}", message);
    recordReload(message);
  } else {
    const std::string message = "HTTP API certificate reload failed (" + std::string(why) +
                                "), keeping the current one: " +
                                (tls ? std::string("no certificate") : tls.error().message);
    log_->error("{}", message);
    recordReload(message);
  }
}

void AggregatorApp::recordReload(std::string message) {
  EventRecord event;
  event.timeUnixMs = toUnixMillis(clock_.wallNow());
  event.kind = kEventConfigReload;
  event.message = std::move(message);
  store_->recordEvent(std::move(event));
}

void AggregatorApp::waitForReload() {
  reload_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    if (tokenWatcher_) tokenWatcher_->reload("SIGHUP");
    reloadTokens();
    reloadApiTokens("SIGHUP");
    reloadHttpTls("SIGHUP");
    if (!options_.policy.empty()) (void)reloadPolicy();
    waitForReload();
  });
}

// Stops serving (not ready, listeners closed) and, once close frames had a moment to go out, the
// I/O threads: the serve step returns and the teardown stops the rest.
void AggregatorApp::shutDown(int signal) {
  log_->info("signal {} received, shutting down", signal);
  ready_ = false;
  ingest_->stop();
  http_->stop();
  if (metricsHttp_) metricsHttp_->stop();
  reload_.cancel();
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, milliseconds(200));
  timer->async_wait([this, timer](const boost::system::error_code&) { io_.stop(); });
}

}  // namespace

int runAggregator(const AggregatorOptions& options) {
  auto log = componentLogger("aggregator");
  AggregatorApp app(options, log);
  const StartupOutcome outcome = runSteps(app.steps(), *log);
  if (outcome.completed) log->info("stopped");
  spdlog::default_logger()->flush();
  return outcome.exitCode;
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
