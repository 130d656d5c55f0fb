#include "fleetscale/sim/fleet_simulator.h"

#include <linux/magic.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/sim/api_server.h"
#include "fleetscale/sim/child_process.h"
#include "fleetscale/sim/control_api.h"
#include "fleetscale/sim/exec_credential.h"
#include "fleetscale/sim/hpa_baseline.h"
#include "fleetscale/sim/kubelet_server.h"
#include "fleetscale/sim/node_writer.h"
#include "fleetscale/sim/pod_metrics.h"
#include "fleetscale/sim/policy_writer.h"
#include "fleetscale/sim/tcp_relay.h"
#include "fleetscale/testing/test_pki.h"

namespace fleetscale::sim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string randomToken() {
  std::random_device device;
  IdGenerator ids((static_cast<std::uint64_t>(device()) << 32) ^ device());
  return ids.hex(48);
}

Status writeText(const std::string& path, const std::string& content,
                 fs::perms perms = fs::perms(0644)) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (Status s = writeFileAtomic(path, content); !s) return s;
  fs::permissions(path, perms, ec);
  return {};
}

// agents.protocol: whether the agent of the cluster's node `nodeIndex` is held to version 1.
bool offersOnlyVersionOne(AgentSettings::Protocol protocol, int nodeIndex) {
  return protocol == AgentSettings::Protocol::kOne ||
         (protocol == AgentSettings::Protocol::kMixed && nodeIndex % 2 == 1);
}

// agents.auth: cluster-tokens: the aggregator checks each cluster's own token instead of the
// shared one (the two flags exclude each other).
void useAgentTokensDir(std::vector<std::string>& args, const std::string& dir) {
  auto flag = std::find(args.begin(), args.end(), "--token-file");
  if (flag == args.end() || flag + 1 == args.end()) return;
  *flag = "--agent-tokens-dir";
  *(flag + 1) = dir;
}

struct KubeconfigCluster {
  std::string name;
  std::string server;  // URL
  std::string caPem;
  std::string userYaml;  // the `user:` body: tokenUserYaml() or execUserYaml()
};

std::string kubeconfigYaml(const std::vector<KubeconfigCluster>& clusters,
                           const std::string& current, const std::string& user = "admin") {
  std::string out = "apiVersion: v1\nkind: Config\npreferences: {}\nclusters:\n";
  for (const auto& cluster : clusters) {
    out += "- name: " + cluster.name + "\n  cluster:\n    server: " + cluster.server +
           "\n    certificate-authority-data: " + base64(cluster.caPem) + "\n";
  }
  out += "users:\n";
  for (const auto& cluster : clusters) {
    out += "- name: " + cluster.name + "-" + user + "\n  user:\n" + cluster.userYaml;
  }
  out += "contexts:\n";
  for (const auto& cluster : clusters) {
    out += "- name: " + cluster.name + "\n  context:\n    cluster: " + cluster.name +
           "\n    user: " + cluster.name + "-" + user + "\n";
  }
  out += "current-context: " + current + "\n";
  return out;
}

std::string programDirectory() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "." : self.parent_path().string();
}

// CPU seconds a process has used (utime + stime from /proc/<pid>/stat), 0 when it is gone.
double processCpuSeconds(pid_t pid) {
  auto text = readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return 0;
  const auto close = text->rfind(')');
  if (close == std::string::npos) return 0;
  const auto fields = splitFields(std::string_view(*text).substr(close + 2));
  // After "pid (comm) ": state is field 3, utime 14, stime 15 (1-based in proc(5)).
  if (fields.size() < 13) return 0;
  const auto utime = parseUint64(fields[11]);
  const auto stime = parseUint64(fields[12]);
  const long hz = ::sysconf(_SC_CLK_TCK);
  if (!utime || !stime || hz <= 0) return 0;
  return static_cast<double>(*utime + *stime) / static_cast<double>(hz);
}

bool onTmpfs(const std::string& path) {
  struct statfs info {};
  return ::statfs(path.c_str(), &info) == 0 && info.f_type == TMPFS_MAGIC;
}

constexpr std::string_view kTreesPrefix = "fleetscale-sim-trees-";

// Trees of simulators that died without cleaning up (killed, crashed): named after a pid that
// no longer runs.
void removeOrphanedTrees(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kTreesPrefix, 0) != 0) continue;
    const std::size_t digits = name.find('-', kTreesPrefix.size()) - kTreesPrefix.size();
    const auto pid = parseInt64(std::string_view(name).substr(kTreesPrefix.size(), digits));
    if (!pid || *pid <= 0) continue;
    if (::kill(static_cast<pid_t>(*pid), 0) != 0 && errno == ESRCH)
      fs::remove_all(entry.path(), ec);
  }
}

// Where the node trees go. They are rewritten many times a second, and on a disk filesystem
// every rename costs an inode allocation (ext4 scans for recently freed inodes): on tmpfs they
// cost a tenth. Returns the directory and whether it is a temporary one outside the state dir.
std::pair<std::string, bool> chooseTreesDir(const std::string& requested,
                                            const std::string& stateDir) {
  if (!requested.empty()) return {requested, false};
  if (onTmpfs(stateDir)) return {stateDir + "/trees", false};
  if (::access("/dev/shm", W_OK) == 0 && onTmpfs("/dev/shm")) {
    removeOrphanedTrees("/dev/shm");
    std::string pattern =
        "/dev/shm/" + std::string(kTreesPrefix) + std::to_string(::getpid()) + "-XXXXXX";
    if (::mkdtemp(pattern.data())) return {pattern, true};
  }
  return {stateDir + "/trees", false};
}

// When a token minted at `now` expires: `lifetime` later, rounded up to a whole second of wall
// time, so the RFC 3339 expirationTimestamp (whole seconds) is the moment of revocation exactly.
SimTime tokenExpiry(SimTime now, SimTime lifetime, WallTime origin) {
  const auto wall = std::chrono::ceil<std::chrono::seconds>(origin + now + lifetime);
  return std::chrono::duration_cast<SimTime>(wall - origin);
}

bool isNodeSelected(const FaultSpec& fault, const std::string& name, int index) {
  if (fault.nodes.empty()) return true;
  for (const auto& selector : fault.nodes) {
    if (selector == name || selector == std::to_string(index)) return true;
  }
  return false;
}

}  // namespace

struct NodeRuntime {
  std::string name;
  int index = 0;
  std::unique_ptr<FakeKubelet> kubelet;
  std::unique_ptr<NodeWriter> writer;
  ChildProcess agent;
  std::vector<std::string> agentArgs;
  std::string agentLog;
  bool flapping = false;
  double flapPeriodSeconds = 0;
  SimTime nextFlap{};
  bool flappedDown = false;
  std::atomic<double> endedAgentCpuSeconds{0};
  bool reportedWriteError = false;
};

// A rolling restart of a cluster's agents, one node at a time, as a DaemonSet update does it: the
// agent is stopped (SIGTERM) and started again, the next one waits until the new one is back
// (it logged its connection to an aggregator, or kRolloutBackTimeout passed), then `pause`.
struct Rollout {
  enum class Phase { kRestart, kWaitBack, kPause };
  std::vector<NodeRuntime*> nodes;
  std::size_t next = 0;
  double pauseSeconds = 0;
  Phase phase = Phase::kRestart;
  SimTime deadline{};
  std::uintmax_t logOffset = 0;  // where the restarted agent's output begins in its log
};
constexpr double kRolloutBackTimeoutSeconds = 10;
constexpr std::string_view kAgentConnectedLine = "connected to aggregator";

// Whether `path` has `needle` past `offset`.
bool logHasSince(const std::string& path, std::uintmax_t offset, std::string_view needle) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  in.seekg(static_cast<std::streamoff>(offset));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.find(needle) != std::string::npos;
}

// The aggregator's controller token of an exec-expiring cluster: the one in force and when it is
// replaced. Touched by the clock loop only (and by start(), before the loop runs).
struct ExpiringToken {
  std::string token;
  Identity identity;
  SimTime lifetime{};
  SimTime rotateAt{};  // = the expirationTimestamp the plugin prints
  std::string credentialFile;
  std::string tokenFile;  // tokens/controller.token, kept current for other clients
  bool reportedWriteError = false;
};

struct ClusterRuntime {
  std::string name;
  std::shared_ptr<TokenBook> tokens;
  std::optional<ExpiringToken> expiring;
  std::uint64_t tokenRotations = 0;  // guarded by Impl::mutex
  std::unique_ptr<FakeApiServer> api;
  // One per aggregator instance (or external address), all cut together: the cluster's agents
  // reach every aggregator through them.
  std::vector<std::unique_ptr<TcpRelay>> relays;
  std::vector<std::unique_ptr<NodeRuntime>> nodes;
  bool killed = false;
  bool apiPartitioned = false;
  bool agentsPartitioned = false;
  std::size_t writeCursor = 0;
  std::optional<Rollout> rollout;
};

// Brings a cluster's servers, relays, agents and model in line with its fault flags.
void applyClusterState(ClusterRuntime& cluster, SharedFleet& fleet, bool agentsEnabled) {
  const bool apiUp = !cluster.killed && !cluster.apiPartitioned;
  if (apiUp && !cluster.api->running()) cluster.api->start();
  if (!apiUp && cluster.api->running()) cluster.api->stop();
  for (auto& relay : cluster.relays) relay->setBlocked(cluster.killed || cluster.agentsPartitioned);
  for (auto& node : cluster.nodes) {
    if (cluster.killed) {
      node->kubelet->stop();
      node->agent.freeze();
    } else {
      if (!node->kubelet->running()) node->kubelet->start();
      if (agentsEnabled) node->agent.thaw();
    }
  }
  std::lock_guard lock(fleet.mutex);
  fleet.model.setAlive(cluster.name, !cluster.killed, fleet.clock.now());
}

// The credentials of the aggregator's kubeconfig that aggregator-auth asks for beyond a token:
// for the exec kinds, the plugin and the credential file it prints (in clusters/<c>/exec/, 0700:
// the file is replaced through a temporary file that is briefly world-readable otherwise); for
// exec-expiring, the first expiring token (the controller's, minted in start()).
Status writeAggregatorCredentials(const ClusterSpec& spec, const std::string& clusterDir,
                                  const PemPair& ca, const std::string& controllerToken,
                                  const Identity& controller, const SimClock& clock,
                                  ClusterRuntime& runtime, ClusterEndpoints& endpoints) {
  if (spec.aggregatorAuth == AggregatorAuth::kToken) return {};
  const std::string execDir = clusterDir + "/exec";
  std::error_code ec;
  fs::create_directories(execDir, ec);
  fs::permissions(execDir, fs::perms::owner_all, ec);
  if (ec) return Error{execDir + ": " + ec.message()};
  endpoints.execPlugin = execDir + "/credential-plugin.sh";
  endpoints.execCredentialFile = execDir + "/credential.json";
  if (Status s = writeText(endpoints.execPlugin, execPluginScript(spec.name), fs::perms(0755));
      !s) {
    return s;
  }
  std::string credential;
  switch (spec.aggregatorAuth) {
    case AggregatorAuth::kToken:
      return {};
    case AggregatorAuth::kExecToken:
      credential = execTokenCredentialJson(controllerToken);
      break;
    case AggregatorAuth::kExecCertificate: {
      // CN = the controller's user: certificateIdentity() gives it the controller's rights.
      auto certificate = issueCertificate(ca, controller.user, {}, false);
      if (!certificate) {
        return Error{"exec client certificate for " + spec.name + ": " +
                     certificate.error().message};
      }
      credential = execCertificateCredentialJson(certificate->certificate, certificate->privateKey);
      break;
    }
    case AggregatorAuth::kExecExpiring: {
      ExpiringToken expiring;
      expiring.token = controllerToken;
      expiring.identity = controller;
      expiring.lifetime = fromSeconds(spec.tokenLifetimeSeconds);
      expiring.rotateAt = tokenExpiry(clock.now(), expiring.lifetime, clock.origin());
      expiring.credentialFile = endpoints.execCredentialFile;
      expiring.tokenFile = endpoints.tokenFiles.at("controller");
      credential = execTokenCredentialJson(controllerToken, clock.origin() + expiring.rotateAt);
      runtime.expiring = std::move(expiring);
      break;
    }
  }
  return writeText(endpoints.execCredentialFile, credential, fs::perms(0600));
}

constexpr SimTime kRotationRetry = std::chrono::milliseconds(100);

// Replaces each exec-expiring controller token whose time has come: the next one is accepted
// first, the credential file names it next, and only then is the old one revoked, so a plugin
// run at any moment prints a token the API server accepts at least until its expiry. On the
// clock loop's thread.
void rotateDueTokens(std::vector<ClusterRuntime>& clusters, const SimClock& clock,
                     std::mutex& countersMutex) {
  auto log = componentLogger("sim");
  const SimTime now = clock.now();
  for (auto& cluster : clusters) {
    if (!cluster.expiring || now < cluster.expiring->rotateAt) continue;
    ExpiringToken& expiring = *cluster.expiring;
    const std::string next = randomToken();
    const SimTime rotateAt = tokenExpiry(now, expiring.lifetime, clock.origin());
    cluster.tokens->add(next, expiring.identity);
    Status written =
        writeText(expiring.credentialFile, execTokenCredentialJson(next, clock.origin() + rotateAt),
                  fs::perms(0600));
    if (written) written = writeText(expiring.tokenFile, next + "\n", fs::perms(0600));
    if (!written) {
      // The plugin would still print the old token: keep it valid and try again shortly.
      cluster.tokens->revoke(next);
      expiring.rotateAt = now + kRotationRetry;
      if (!expiring.reportedWriteError) {
        expiring.reportedWriteError = true;
        log->error("rotating the aggregator's token of {}: {}", cluster.name, written.message());
      }
      continue;
    }
    cluster.tokens->revoke(expiring.token);
    expiring.token = next;
    expiring.rotateAt = rotateAt;
    std::lock_guard lock(countersMutex);
    ++cluster.tokenRotations;
    log->debug("t={:.1f}s rotated the aggregator's token of {}", toSeconds(now), cluster.name);
  }
}

// The earliest time rotateDueTokens() has work, or SimTime::max().
SimTime nextTokenRotation(const std::vector<ClusterRuntime>& clusters) {
  SimTime next = SimTime::max();
  for (const auto& cluster : clusters) {
    if (cluster.expiring) next = std::min(next, cluster.expiring->rotateAt);
  }
  return next;
}

// One fleetscale-aggregator process the simulator runs.
struct AggregatorInstance {
  std::string id;   // its --aggregator-id: aggregator-<index>
  std::string dir;  // ready file, log, store
  std::string log;
  std::vector<std::string> args;  // all but the listen addresses
  ChildProcess process;
  // {ingest, HTTP}, from its first start; later starts reuse them. Written before the relays and
  // the clock loop exist, read-only after start().
  std::optional<std::pair<std::uint16_t, std::uint16_t>> ports;
  std::atomic<double> endedCpuSeconds{0};  // of processes that have ended
};

struct FleetSimulator::Impl {
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> ioThreads;
  std::vector<ClusterRuntime> clusters;
  std::vector<std::unique_ptr<AggregatorInstance>> aggregators;
  std::string aggregatorBinary;
  std::string adminTokenFile;  // shared by the instances
  // With aggregator.secure-api: the CA of the API's certificate and a viewer token; else "".
  std::string apiCaFile;
  std::string viewerTokenFile;
  std::string policyFile;  // shared by the instances; "" when no workload is autoscaled
  std::unique_ptr<HttpServer> control;
  // The pods' metrics endpoints; only when some workload has requests-per-core.
  std::unique_ptr<PodMetricsServer> podMetrics;
  std::string agentBinary;
  std::string tokenFile;
  std::string agentTokensDir;  // agents.auth: cluster-tokens: <state>/agent-tokens/<cluster>

  // Guarded by mutex.
  mutable std::mutex mutex;
  std::condition_variable changed;
  Timeline timeline;
  std::vector<FaultSpec> scheduled;  // scenario faults still to come, in time order
  std::vector<std::pair<SimTime, FaultSpec>> endings;  // automatic ends of faults with `for`
  std::deque<std::pair<std::uint64_t, FaultSpec>> injected;
  std::uint64_t injectedCount = 0;
  std::uint64_t appliedCount = 0;
  bool timelineClosed = false;
  std::uint64_t ticks = 0;
  std::uint64_t overruns = 0;
  double loopBusySeconds = 0;
  SimTime nextSample{0};

  ClusterRuntime* findCluster(const std::string& name) {
    for (auto& cluster : clusters) {
      if (cluster.name == name) return &cluster;
    }
    return nullptr;
  }
};

FleetSimulator::FleetSimulator(Scenario scenario, SimulatorOptions options, const Clock& clock)
    : scenario_(std::move(scenario)),
      options_(std::move(options)),
      clock_(clock),
      impl_(std::make_unique<Impl>()) {
  if (options_.durationSeconds) scenario_.durationSeconds = *options_.durationSeconds;
  if (options_.agents) scenario_.agents.enabled = *options_.agents;
  if (options_.aggregator) scenario_.aggregator.enabled = *options_.aggregator;
  if (!options_.externalAggregator.empty()) scenario_.aggregator.enabled = false;
}

FleetSimulator::~FleetSimulator() {
  // stop() may throw (a thread that cannot be joined, a report it cannot build); a destructor
  // must not, so the failure is logged.
  try {
    stop();
  } catch (const std::exception& e) {
    componentLogger("sim")->error("stopping the simulated fleet failed: {}", e.what());
  }
}

const ClusterEndpoints* FleetSimulator::findEndpoints(const std::string& cluster) const {
  for (const auto& endpoints : endpoints_) {
    if (endpoints.name == cluster) return &endpoints;
  }
  return nullptr;
}

WriteLog* FleetSimulator::writes(const std::string& cluster) {
  ClusterRuntime* runtime = impl_->findCluster(cluster);
  return runtime ? &runtime->api->writes() : nullptr;
}

std::optional<AuthCounters> FleetSimulator::authCounters(const std::string& cluster) const {
  for (const auto& runtime : impl_->clusters) {
    if (runtime.name != cluster) continue;
    const AuthRefusals refusals = runtime.api->authRefusals();
    std::lock_guard lock(impl_->mutex);
    return AuthCounters{refusals.unauthorized, refusals.revokedToken, runtime.tokenRotations};
  }
  return std::nullopt;
}

std::optional<std::pair<std::uint16_t, std::uint16_t>> FleetSimulator::aggregatorPorts(
    int instance) const {
  if (instance < 0 || instance >= aggregatorCount()) return std::nullopt;
  return impl_->aggregators[static_cast<std::size_t>(instance)]->ports;
}

int FleetSimulator::aggregatorCount() const { return static_cast<int>(impl_->aggregators.size()); }

std::uint16_t FleetSimulator::controlPort() const {
  return impl_->control ? impl_->control->port() : 0;
}

std::uint16_t FleetSimulator::podMetricsPort() const {
  return impl_->podMetrics ? impl_->podMetrics->port() : 0;
}

Status FleetSimulator::start() {
  if (started_.exchange(true)) return Error{"already started"};
  auto log = componentLogger("sim");
  Impl& impl = *impl_;

  // --- state directory ------------------------------------------------------------------------
  stateDir_ = options_.stateDir;
  if (stateDir_.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp ? tmp : "/tmp") + "/fleetscale-sim.XXXXXX";
    if (!::mkdtemp(pattern.data())) return Error{"cannot create a state directory in " + pattern};
    stateDir_ = pattern;
    temporaryStateDir_ = true;
  }
  std::error_code ec;
  fs::create_directories(stateDir_, ec);
  if (ec) return Error{stateDir_ + ": " + ec.message()};
  stateDir_ = fs::absolute(stateDir_).string();
  const std::string binDir = options_.binDir.empty() ? programDirectory() : options_.binDir;
  std::tie(treesDir_, temporaryTreesDir_) = chooseTreesDir(options_.treesDir, stateDir_);
  fs::create_directories(treesDir_, ec);
  if (ec) return Error{treesDir_ + ": " + ec.message()};
  if (temporaryTreesDir_) {
    fs::remove(stateDir_ + "/trees", ec);
    fs::create_directory_symlink(treesDir_, stateDir_ + "/trees", ec);
  }
  impl.agentBinary = binDir + "/fleetscale-agent";
  impl.tokenFile = stateDir_ + "/aggregator.token";
  if (Status s = writeText(impl.tokenFile, randomToken() + "\n", fs::perms(0600)); !s) return s;
  if (scenario_.agents.clusterTokens) {
    impl.agentTokensDir = stateDir_ + "/agent-tokens";
    fs::remove_all(impl.agentTokensDir, ec);
    fs::create_directories(impl.agentTokensDir, ec);
    for (const auto& spec : scenario_.clusters) {
      const std::string file = impl.agentTokensDir + "/" + spec.name;
      if (Status s = writeText(file, randomToken() + "\n", fs::perms(0600)); !s) return s;
    }
  }

  // The pods' metrics server listens before the model is built: its port goes into the scrape
  // annotations of the pod templates the model writes.
  const bool podMetrics = std::any_of(
      scenario_.workloads.begin(), scenario_.workloads.end(),
      [](const WorkloadSpec& workload) { return workload.requestsPerCore.has_value(); });
  if (podMetrics) {
    try {
      impl.podMetrics = std::make_unique<PodMetricsServer>(impl.io);
    } catch (const std::runtime_error& e) {
      return Error{std::string("the pods' metrics server: ") + e.what()};
    }
  }
  fleet_ = std::make_unique<SharedFleet>(scenario_, clock_, podMetricsPort());
  if (impl.podMetrics) impl.podMetrics->serve(*fleet_);
  {
    std::lock_guard lock(fleet_->mutex);
    fleet_->model.step(SimTime{0});
  }

  impl.work.emplace(impl.io.get_executor());
  for (int i = 0; i < std::max(1, options_.ioThreads); ++i) {
    impl.ioThreads.emplace_back([&impl] { impl.io.run(); });
  }

  // Does this agent read the kubelet? (The flags arrived with the agent's metadata work.)
  if (scenario_.agents.enabled) {
    agentsReadKubelet_ =
        captureOutput(impl.agentBinary, {"--help"}).find("--kubelet-url") != std::string::npos;
  }

  // --- clusters -------------------------------------------------------------------------------
  std::vector<KubeconfigCluster> kubeconfigEntries;
  std::uint64_t seed = scenario_.seed;
  for (const auto& spec : scenario_.clusters) {
    ClusterRuntime runtime;
    runtime.name = spec.name;
    ClusterEndpoints endpoints;
    endpoints.name = spec.name;
    endpoints.cloud = spec.cloud;
    endpoints.region = spec.region;
    endpoints.aggregatorAuth = spec.aggregatorAuth;
    const std::string dir = stateDir_ + "/clusters/" + spec.name;
    fs::create_directories(dir + "/tokens", ec);
    fs::create_directories(dir + "/certs", ec);

    auto pki = makeTestPki(
        {"localhost", "127.0.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
        "kubernetes-admin");
    if (!pki) return Error{"certificates for " + spec.name + ": " + pki.error().message};
    endpoints.caFile = dir + "/ca.crt";
    if (Status s = writeText(endpoints.caFile, pki->ca.certificate); !s) return s;

    auto tokens = std::make_shared<TokenBook>();
    const Identity controller{"system:serviceaccount:fleetscale:fleetscale-aggregator",
                              Role::kController};
    const std::pair<const char*, Identity> identities[] = {
        {"admin", {"kubernetes-admin", Role::kAdmin}},
        {"controller", controller},
        {"agent", {"system:serviceaccount:fleetscale:fleetscale-agent", Role::kAgent}},
        {"hpa", {"system:serviceaccount:kube-system:horizontal-pod-autoscaler", Role::kController}},
        {"none", {"system:serviceaccount:default:default", Role::kNone}},
    };
    std::map<std::string, std::string> tokenValues;
    for (const auto& [role, identity] : identities) {
      const std::string token = randomToken();
      tokens->add(token, identity);
      tokenValues[role] = token;
      endpoints.tokenFiles[role] = dir + "/tokens/" + role + ".token";
      if (Status s = writeText(endpoints.tokenFiles[role], token + "\n", fs::perms(0600)); !s)
        return s;
      auto certificate = issueCertificate(pki->ca, identity.user, {}, false);
      if (!certificate)
        return Error{"client certificate for " + spec.name + " " + role + ": " +
                     certificate.error().message};
      if (Status s = writePemPair(*certificate, dir + "/certs", role); !s) return s;
      endpoints.clientCertificateFiles[role] = dir + "/certs/" + role + ".crt";
      endpoints.clientKeyFiles[role] = dir + "/certs/" + role + ".key";
    }
    runtime.tokens = tokens;
    if (Status s = writeAggregatorCredentials(spec, dir, pki->ca, tokenValues["controller"],
                                              controller, fleet_->clock, runtime, endpoints);
        !s) {
      return s;
    }

    runtime.api = std::make_unique<FakeApiServer>(
        impl.io,
        makeServerTls(pki->server.certificate, pki->server.privateKey, pki->ca.certificate),
        *fleet_, spec.name, tokens, ++seed);
    endpoints.writeLog = dir + "/api-writes.jsonl";
    fs::remove(endpoints.writeLog, ec);
    runtime.api->writes().setFile(endpoints.writeLog);
    runtime.api->start(0);
    endpoints.apiUrl = runtime.api->url();
    endpoints.kubeconfig = dir + "/kubeconfig";
    const KubeconfigCluster admin{spec.name, endpoints.apiUrl, pki->ca.certificate,
                                  tokenUserYaml(tokenValues["admin"])};
    if (Status s =
            writeText(endpoints.kubeconfig, kubeconfigYaml({admin}, spec.name), fs::perms(0600));
        !s) {
      return s;
    }
    kubeconfigEntries.push_back(admin);
    // The aggregator's own identity: it may read and scale, nothing more. Reached through the
    // exec plugin instead of the token when the scenario says so (aggregator-auth).
    endpoints.aggregatorKubeconfig = dir + "/aggregator.kubeconfig";
    const std::string aggregatorUser =
        spec.aggregatorAuth == AggregatorAuth::kToken
            ? tokenUserYaml(tokenValues["controller"])
            : execUserYaml({endpoints.execPlugin,
                            {std::string(kExecCredentialFileFlag), endpoints.execCredentialFile},
                            {{std::string(kExecClusterEnv), spec.name}},
                            "fleetscale-sim writes this plugin into its state directory when it "
                            "starts; run the simulator (docs/simulator.md)"});
    if (Status s = writeText(
            endpoints.aggregatorKubeconfig,
            kubeconfigYaml({{spec.name, endpoints.apiUrl, pki->ca.certificate, aggregatorUser}},
                           spec.name, "fleetscale-aggregator"),
            fs::perms(0600));
        !s) {
      return s;
    }

    std::vector<NodeState> nodes;
    {
      std::lock_guard lock(fleet_->mutex);
      nodes = fleet_->model.findCluster(spec.name)->nodes();
    }
    for (const auto& node : nodes) {
      auto runtimeNode = std::make_unique<NodeRuntime>();
      runtimeNode->name = node.name;
      runtimeNode->index = node.index;
      auto certificate =
          issueCertificate(pki->ca, node.name, {node.name, "localhost", "127.0.0.1"}, true);
      if (!certificate) return Error{"kubelet certificate: " + certificate.error().message};
      runtimeNode->kubelet = std::make_unique<FakeKubelet>(
          impl.io,
          makeServerTls(certificate->certificate + pki->ca.certificate, certificate->privateKey),
          *fleet_, spec.name, node.name, tokens);
      runtimeNode->kubelet->start(0);
      NodeEndpoints nodeEndpoints;
      nodeEndpoints.name = node.name;
      nodeEndpoints.zone = node.zone;
      nodeEndpoints.kubeletUrl = runtimeNode->kubelet->url();
      nodeEndpoints.hostRoot = treesDir_ + "/" + spec.name + "/" + node.name;
      nodeEndpoints.agentLog = dir + "/nodes/" + node.name + "/agent.log";
      runtimeNode->agentLog = nodeEndpoints.agentLog;
      fs::create_directories(dir + "/nodes/" + node.name, ec);
      fs::remove_all(nodeEndpoints.hostRoot, ec);
      runtimeNode->writer =
          std::make_unique<NodeWriter>(nodeEndpoints.hostRoot, spec.driver, spec.cgroupVersion,
                                       fleet_->clock.origin() - std::chrono::hours(72));
      NodeSnapshot snapshot;
      {
        std::lock_guard lock(fleet_->mutex);
        ClusterModel* model = fleet_->model.findCluster(spec.name);
        for (auto& state : model->nodes()) {
          if (state.name == node.name) state.kubeletPort = runtimeNode->kubelet->port();
        }
        snapshot = snapshotNode(*model, *model->findNode(node.name), fleet_->model.lastStep());
      }
      if (Status s = runtimeNode->writer->initialize(snapshot); !s) {
        return Error{"node tree " + nodeEndpoints.hostRoot + ": " + s.message()};
      }
      // "--aggregator" and the relay's address come first, once the relay listens.
      runtimeNode->agentArgs = {
          "--token-file",
          impl.agentTokensDir.empty() ? impl.tokenFile : impl.agentTokensDir + "/" + spec.name,
          "--cluster",
          spec.name,
          "--cloud",
          spec.cloud,
          "--region",
          spec.region,
          "--zone",
          node.zone,
          "--node",
          node.name,
          "--host-root",
          nodeEndpoints.hostRoot,
          "--interval",
          scenario_.agents.interval,
          "--rediscover-interval",
          scenario_.agents.rediscoverInterval,
          "--log-level",
          options_.childLogLevel};
      if (agentsReadKubelet_) {
        for (const std::string& arg :
             {std::string("--kubelet-url"), nodeEndpoints.kubeletUrl,
              std::string("--kubelet-token-file"), endpoints.tokenFiles["agent"],
              std::string("--kubelet-ca-file"), endpoints.caFile}) {
          runtimeNode->agentArgs.push_back(arg);
        }
      }
      if (offersOnlyVersionOne(scenario_.agents.protocol, node.index)) {
        runtimeNode->agentArgs.insert(runtimeNode->agentArgs.end(),
                                      {"--max-protocol-version", "1"});
      }
      for (const auto& arg : scenario_.agents.extraArgs) runtimeNode->agentArgs.push_back(arg);
      endpoints.nodes.push_back(std::move(nodeEndpoints));
      runtime.nodes.push_back(std::move(runtimeNode));
    }
    impl.clusters.push_back(std::move(runtime));
    endpoints_.push_back(std::move(endpoints));
  }
  if (!kubeconfigEntries.empty()) {
    if (Status s = writeText(stateDir_ + "/fleet.kubeconfig",
                             kubeconfigYaml(kubeconfigEntries, kubeconfigEntries[0].name),
                             fs::perms(0600));
        !s) {
      return s;
    }
  }

  // --- aggregators, then per cluster a relay in front of each ----------------------------------
  std::vector<HostPort> targets;
  if (scenario_.aggregator.enabled) {
    if (Status s = prepareAggregators(binDir); !s) return s;
    for (int i = 0; i < aggregatorCount(); ++i) {
      if (Status s = launchAggregator(i, "127.0.0.1:0", "127.0.0.1:0"); !s) return s;
      targets.push_back(HostPort{"127.0.0.1", aggregatorPorts(i)->first});
    }
  } else {
    for (std::string_view address : splitFields(options_.externalAggregator, ",")) {
      auto target = parseHostPort(trim(address));
      if (!target) return Error{"aggregator address: " + target.error().message};
      targets.push_back(*target);
    }
  }
  if (targets.empty()) targets.push_back(HostPort{"127.0.0.1", 9});  // discard: nobody listens
  for (std::size_t i = 0; i < impl.clusters.size(); ++i) {
    ClusterRuntime& runtime = impl.clusters[i];
    std::string addresses;  // "127.0.0.1:<relay>[,127.0.0.1:<relay>...]"
    for (const HostPort& target : targets) {
      auto& relay = runtime.relays.emplace_back(std::make_unique<TcpRelay>(impl.io, target));
      relay->start();
      endpoints_[i].relayPorts.push_back(relay->port());
      addresses += (addresses.empty() ? "" : ",") + std::string("127.0.0.1:") +
                   std::to_string(relay->port());
    }
    endpoints_[i].relayPort = endpoints_[i].relayPorts.front();
    for (auto& node : runtime.nodes) {
      node->agentArgs.insert(node->agentArgs.begin(), {"--aggregator", addresses});
    }
  }

  // --- the first tick, then agents -------------------------------------------------------------
  // The trees show the counters of this moment before any agent reads them, and faults due at
  // the start are in force.
  {
    std::lock_guard lock(impl.mutex);
    impl.scheduled = scenario_.faults;
  }
  tick();
  if (scenario_.agents.enabled) {
    for (auto& cluster : impl.clusters) {
      for (auto& node : cluster.nodes) {
        if (Status s = node->agent.start(impl.agentBinary, node->agentArgs, node->agentLog); !s) {
          return Error{"cannot start fleetscale-agent for " + node->name + ": " + s.message()};
        }
      }
      applyClusterState(cluster, *fleet_, true);
    }
  }

  // --- control API, clock -----------------------------------------------------------------------
  if (options_.controlApi) {
    impl.control = std::make_unique<HttpServer>(impl.io, makeControlHandler(*this));
    impl.control->listen(HostPort{"127.0.0.1", 0});
  }
  if (Status s = writeText(stateDir_ + "/ready.json", endpointsJson().dump(2) + "\n"); !s) return s;
  log->info("simulated fleet '{}' running: {} clusters, state in {}", scenario_.name,
            scenario_.clusters.size(), stateDir_);
  loopThread_ = std::thread([this] { loop(); });
  if (options_.hpaBaseline) baselineThread_ = std::thread([this] { baselineLoop(); });
  return {};
}

Status FleetSimulator::prepareAggregators(const std::string& binDir) {
  Impl& impl = *impl_;
  std::error_code ec;
  // Instance 0 lives in aggregator/ (as the single aggregator always did), with the files the
  // instances share; instance i > 0 in aggregator-<i>/.
  const std::string sharedDir = stateDir_ + "/aggregator";
  fs::create_directories(sharedDir, ec);
  if (ec) return Error{sharedDir + ": " + ec.message()};
  impl.aggregatorBinary = binDir + "/fleetscale-aggregator";
  impl.adminTokenFile = sharedDir + "/admin.token";
  const std::string adminToken = randomToken();
  if (Status s = writeText(impl.adminTokenFile, adminToken + "\n", fs::perms(0600)); !s) {
    return s;
  }
  // How the API is reached: plain HTTP with anonymous reads (a lab), or as in production.
  std::vector<std::string> apiArgs = {"--http-anonymous-reads"};
  if (scenario_.aggregator.secureApi) {
    if (Status s = prepareSecureApi(sharedDir, adminToken); !s) return s;
    apiArgs = {"--api-tokens-file",    sharedDir + "/api-tokens.csv",  // sim-admin, sim-viewer
               "--http-tls-cert-file", sharedDir + "/api.crt",         // from api-ca.crt
               "--http-tls-key-file",  sharedDir + "/api.key"};
  }
  const auto& extra = scenario_.aggregator.extraArgs;
  const bool ownStateDir = std::find(extra.begin(), extra.end(), "--state-dir") != extra.end();
  const bool withPolicy = scenario_.autoscaled() && !options_.hpaBaseline;
  if (withPolicy) {
    std::vector<PolicyCluster> clusters;
    for (const auto& endpoints : endpoints_) {
      clusters.push_back({endpoints.name, endpoints.aggregatorKubeconfig, endpoints.name});
    }
    impl.policyFile = sharedDir + "/policy.yaml";
    if (Status s = writeText(impl.policyFile, aggregatorPolicyYaml(scenario_, clusters)); !s) {
      return s;
    }
  }
  std::map<std::string, std::string> placeholders = {{"state", stateDir_}};
  for (const auto& endpoints : endpoints_) {
    placeholders["kubeconfig:" + endpoints.name] = endpoints.aggregatorKubeconfig;
  }
  for (int i = 0; i < std::max(1, scenario_.aggregator.instances); ++i) {
    auto instance = std::make_unique<AggregatorInstance>();
    instance->id = "aggregator-" + std::to_string(i);
    instance->dir = i == 0 ? sharedDir : stateDir_ + "/" + instance->id;
    fs::create_directories(instance->dir, ec);
    if (ec) return Error{instance->dir + ": " + ec.message()};
    instance->log = instance->dir + "/aggregator.log";
    std::vector<std::string> args = {
        "--ready-file",       instance->dir + "/ready.json", "--token-file",    impl.tokenFile,
        "--admin-token-file", impl.adminTokenFile,           "--aggregator-id", instance->id,
        "--log-level",        options_.childLogLevel};
    args.insert(args.end(), apiArgs.begin(), apiArgs.end());
    if (!impl.agentTokensDir.empty()) useAgentTokensDir(args, impl.agentTokensDir);
    if (withPolicy) {
      args.insert(args.end(), {"--policy", impl.policyFile});
      // Decisions, drains and behavior history survive an aggregator restart in its store.
      if (!ownStateDir) args.insert(args.end(), {"--state-dir", instance->dir + "/store"});
    }
    for (auto [flag, value] :
         {std::pair{"--failed-after", &scenario_.aggregator.failedAfter},
          std::pair{"--healthy-after", &scenario_.aggregator.healthyAfter},
          std::pair{"--probe-interval", &scenario_.aggregator.probeInterval}}) {
      if (!value->empty()) args.insert(args.end(), {flag, *value});
    }
    placeholders["id"] = instance->id;
    for (const std::string& arg : extra) {
      auto expanded = expandAggregatorArg(arg, placeholders);
      if (!expanded) return Error{"aggregator.args: " + expanded.error().message};
      args.push_back(std::move(*expanded));
    }
    instance->args = std::move(args);
    impl.aggregators.push_back(std::move(instance));
  }
  return {};
}

// The files of `aggregator.secure-api`: the API's certificate for 127.0.0.1 and localhost from a
// CA of its own (api-ca.crt, for clients), and a tokens file with the admin token as "sim-admin"
// and a viewer token (viewer.token) as "sim-viewer".
Status FleetSimulator::prepareSecureApi(const std::string& dir, const std::string& adminToken) {
  auto pki = makeTestPki({"127.0.0.1", "localhost"});
  if (!pki) return Error{"the aggregator API's certificate: " + pki.error().message};
  impl_->apiCaFile = dir + "/api-ca.crt";
  if (Status s = writeText(impl_->apiCaFile, pki->ca.certificate); !s) return s;
  if (Status s = writeText(dir + "/api.crt", pki->server.certificate); !s) return s;
  if (Status s = writeText(dir + "/api.key", pki->server.privateKey, fs::perms(0600)); !s) {
    return s;
  }
  impl_->viewerTokenFile = dir + "/viewer.token";
  const std::string viewerToken = randomToken();
  if (Status s = writeText(impl_->viewerTokenFile, viewerToken + "\n", fs::perms(0600)); !s) {
    return s;
  }
  return writeText(dir + "/api-tokens.csv",
                   "# written by fleetscale-sim (aggregator.secure-api)\n" + adminToken +
                       ",sim-admin,admin\n" + viewerToken + ",sim-viewer,viewer\n",
                   fs::perms(0600));
}

Status FleetSimulator::launchAggregator(int index, const std::string& listen,
                                        const std::string& httpListen) {
  AggregatorInstance& instance = *impl_->aggregators[static_cast<std::size_t>(index)];
  const std::string readyFile = instance.dir + "/ready.json";
  std::error_code ec;
  fs::remove(readyFile, ec);
  std::vector<std::string> args = {"--listen", listen, "--http-listen", httpListen};
  args.insert(args.end(), instance.args.begin(), instance.args.end());
  if (Status s = instance.process.start(impl_->aggregatorBinary, args, instance.log); !s) {
    return Error{"cannot start fleetscale-aggregator " + instance.id + ": " + s.message()};
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline && instance.process.running()) {
    if (auto text = readFile(readyFile)) {
      const json ready = json::parse(*text, nullptr, false);
      if (!ready.is_discarded() && ready.contains("ingest_port")) {
        if (!instance.ports) {
          instance.ports = std::make_pair(ready["ingest_port"].get<std::uint16_t>(),
                                          ready["http_port"].get<std::uint16_t>());
        }
        return {};
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Error{"fleetscale-aggregator " + instance.id + " did not become ready; see " +
               instance.log};
}

Status FleetSimulator::checkAggregatorIndex(int index) const {
  if (!started_ || stopped_) return Error{"the simulator is not running"};
  if (aggregatorCount() == 0) return Error{"this simulator did not start an aggregator"};
  if (index < 0 || index >= aggregatorCount()) {
    return Error{"no aggregator instance " + std::to_string(index) + " (there are " +
                 std::to_string(aggregatorCount()) + ")"};
  }
  return {};
}

Status FleetSimulator::stopAggregator(int index, int signal) {
  if (Status s = checkAggregatorIndex(index); !s) return s;
  AggregatorInstance& instance = *impl_->aggregators[static_cast<std::size_t>(index)];
  if (instance.process.running()) {
    instance.endedCpuSeconds = instance.endedCpuSeconds + processCpuSeconds(instance.process.pid());
  }
  instance.process.stop(signal, std::chrono::seconds(10));
  return {};
}

Status FleetSimulator::killAggregator(int index) { return stopAggregator(index, SIGKILL); }

Status FleetSimulator::startAggregator(int index) {
  if (Status s = checkAggregatorIndex(index); !s) return s;
  AggregatorInstance& instance = *impl_->aggregators[static_cast<std::size_t>(index)];
  if (instance.process.running()) return Error{instance.id + " is running already"};
  // The same ports: the relays and clients keep their addresses.
  const auto [ingest, http] = *instance.ports;
  return launchAggregator(index, "127.0.0.1:" + std::to_string(ingest),
                          "127.0.0.1:" + std::to_string(http));
}

Status FleetSimulator::restartAggregator() {
  if (Status s = stopAggregator(0, SIGTERM); !s) return s;
  return startAggregator(0);
}

void FleetSimulator::baselineLoop() {
  auto log = componentLogger("sim.baseline");
  HpaBaseline baseline(scenario_, BaselineOptions{});
  std::map<std::string, std::unique_ptr<CurlHttpClient>> clients;
  for (const auto& endpoints : endpoints_) {
    TlsClientOptions tls;
    tls.caFile = endpoints.caFile;
    clients[endpoints.name] = std::make_unique<CurlHttpClient>(tls);
  }
  while (!stopping_) {
    std::vector<BaselineWrite> writes;
    {
      std::lock_guard lock(fleet_->mutex);
      writes = baseline.step(fleet_->model, fleet_->clock.now());
    }
    // As the HPA controller does: through the cluster's API, with its own identity.
    for (const auto& write : writes) {
      const ClusterEndpoints* endpoints = findEndpoints(write.cluster);
      auto token = readSecretFile(endpoints->tokenFiles.at("hpa"));
      HttpClientRequest request;
      request.method = "PATCH";
      request.url = endpoints->apiUrl + "/apis/apps/v1/namespaces/" + write.namespaceName + "/" +
                    (write.kind == WorkloadKind::kStatefulSet ? "statefulsets/" : "deployments/") +
                    write.name + "/scale";
      request.headers = {{"Authorization", "Bearer " + (token ? *token : std::string())},
                         {"Content-Type", "application/merge-patch+json"}};
      request.body = json{{"spec", {{"replicas", write.replicas}}}}.dump();
      request.totalTimeout = std::chrono::seconds(5);
      auto response = clients[write.cluster]->send(request);
      if (!response || response->status != 200) {
        log->warn("baseline: scaling {}/{} in {} to {} failed: {}", write.namespaceName, write.name,
                  write.cluster, write.replicas,
                  response ? std::to_string(response->status) : response.error().message);
      } else {
        log->info("baseline: {}/{} in {} scaled to {}: {}", write.namespaceName, write.name,
                  write.cluster, write.replicas, write.reason);
      }
    }
    std::unique_lock lock(impl_->mutex);
    impl_->changed.wait_for(lock, std::chrono::milliseconds(100),
                            [this] { return stopping_.load(); });
  }
}

json FleetSimulator::endpointsJson() const {
  json clusters = json::array();
  for (const auto& c : endpoints_) {
    json nodes = json::array();
    for (const auto& n : c.nodes) {
      nodes.push_back({{"name", n.name},
                       {"zone", n.zone},
                       {"kubelet_url", n.kubeletUrl},
                       {"host_root", n.hostRoot},
                       {"agent_log", n.agentLog}});
    }
    clusters.push_back({{"name", c.name},
                        {"cloud", c.cloud},
                        {"region", c.region},
                        {"api_url", c.apiUrl},
                        {"kubeconfig", c.kubeconfig},
                        {"aggregator_kubeconfig", c.aggregatorKubeconfig},
                        {"aggregator_auth", toString(c.aggregatorAuth)},
                        {"exec_plugin", c.execPlugin},
                        {"exec_credential_file", c.execCredentialFile},
                        {"ca_file", c.caFile},
                        {"token_files", c.tokenFiles},
                        {"client_certificate_files", c.clientCertificateFiles},
                        {"client_key_files", c.clientKeyFiles},
                        {"write_log", c.writeLog},
                        {"relay_port", c.relayPort},
                        {"relay_ports", c.relayPorts},
                        {"nodes", std::move(nodes)}});
  }
  json out = {{"scenario", scenario_.name},
              {"state_dir", stateDir_},
              {"trees_dir", treesDir_},
              {"fleet_kubeconfig", stateDir_ + "/fleet.kubeconfig"},
              {"aggregator_token_file", impl_->tokenFile},
              {"agents_read_kubelet", agentsReadKubelet_},
              {"clusters", std::move(clusters)}};
  out["control_url"] =
      impl_->control ? "http://127.0.0.1:" + std::to_string(impl_->control->port()) : "";
  // Where every pod's metrics endpoint listens (http://<pod_ip>:<port>/metrics); 0 = none.
  out["pod_metrics_port"] = podMetricsPort();
  json aggregators = json::array();
  for (const auto& instance : impl_->aggregators) {
    if (!instance->ports) continue;  // start() failed before it served
    aggregators.push_back(
        {{"id", instance->id},
         {"ingest_port", instance->ports->first},
         {"http_port", instance->ports->second},
         {"url", aggregatorScheme() + "://127.0.0.1:" + std::to_string(instance->ports->second)},
         {"log", instance->log},
         {"admin_token_file", impl_->adminTokenFile},
         {"viewer_token_file", impl_->viewerTokenFile},
         {"ca_file", impl_->apiCaFile},
         {"policy", impl_->policyFile}});
  }
  // "aggregator" is instance 0, for the clients that know only one.
  out["aggregator"] = aggregators.empty() ? json(nullptr) : aggregators[0];
  out["aggregators"] = std::move(aggregators);
  return out;
}

Status FleetSimulator::inject(const FaultSpec& fault) {
  if (!started_ || stopped_) return Error{"the simulator is not running"};
  if (!fault.cluster.empty() && !scenario_.findCluster(fault.cluster)) {
    return Error{"no cluster named " + fleetscale::singleQuoted(fault.cluster)};
  }
  std::unique_lock lock(impl_->mutex);
  const std::uint64_t id = ++impl_->injectedCount;
  impl_->injected.emplace_back(id, fault);
  impl_->changed.notify_all();
  // Applied by the clock loop within a tick; wait so the caller sees its effect.
  impl_->changed.wait_for(lock, std::chrono::seconds(10),
                          [&] { return impl_->appliedCount >= id || stopping_; });
  if (impl_->appliedCount < id) return Error{"the fault was not applied in time"};
  return {};
}

void FleetSimulator::requestFinish() {
  finished_ = true;
  std::lock_guard lock(impl_->mutex);
  impl_->timelineClosed = true;
  impl_->changed.notify_all();
}

bool FleetSimulator::waitUntilFinished(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] {
    return finished_.load() || stopping_.load();
  }) && finished_;
}

// Applies one fault (its start, or its end) to the runtime. On the clock loop's thread (or in
// start(), before that thread exists).
void FleetSimulator::applyFault(const FaultSpec& fault, bool ending, SimTime now) {
  Impl& impl = *impl_;
  auto log = componentLogger("sim");
  std::vector<ClusterRuntime*> targets;
  if (fault.cluster.empty()) {
    for (auto& cluster : impl.clusters) targets.push_back(&cluster);
  } else if (ClusterRuntime* cluster = impl.findCluster(fault.cluster)) {
    targets.push_back(cluster);
  }
  for (ClusterRuntime* cluster : targets) {
    std::unique_lock flags(impl.mutex);  // stateJson() reads the flags on other threads
    switch (fault.kind) {
      case FaultKind::kKillCluster:
        cluster->killed = !ending;
        break;
      case FaultKind::kReviveCluster:
        cluster->killed = false;
        break;
      case FaultKind::kPartitionApi:
        cluster->apiPartitioned = !ending;
        break;
      case FaultKind::kPartitionAgents:
        cluster->agentsPartitioned = !ending;
        break;
      case FaultKind::kSlowApi: {
        ApiFaults faults = cluster->api->faults().get();
        faults.latency =
            ending ? std::chrono::milliseconds(0)
                   : std::chrono::milliseconds(static_cast<long>(fault.latencySeconds * 1000));
        cluster->api->faults().set(faults);
        break;
      }
      case FaultKind::kFailingApi: {
        ApiFaults faults = cluster->api->faults().get();
        faults.errorRate = ending ? 0 : fault.rate;
        faults.errorStatus = fault.status;
        cluster->api->faults().set(faults);
        break;
      }
      case FaultKind::kConflictStorm: {
        ApiFaults faults = cluster->api->faults().get();
        faults.conflictRate = ending ? 0 : fault.rate;
        cluster->api->faults().set(faults);
        break;
      }
      case FaultKind::kFlapAgents:
        for (auto& node : cluster->nodes) {
          if (!isNodeSelected(fault, node->name, node->index)) continue;
          node->flapping = !ending;
          node->flapPeriodSeconds = fault.periodSeconds;
          node->nextFlap = now;
        }
        break;
      case FaultKind::kRolloutAgents: {
        Rollout rollout;
        for (auto& node : cluster->nodes) {
          if (isNodeSelected(fault, node->name, node->index)) rollout.nodes.push_back(node.get());
        }
        rollout.pauseSeconds = fault.pauseSeconds;
        if (!rollout.nodes.empty()) cluster->rollout = std::move(rollout);
        break;
      }
      case FaultKind::kKubeletGarbage:
        for (auto& node : cluster->nodes) {
          if (!isNodeSelected(fault, node->name, node->index)) continue;
          node->kubelet->setGarbage(ending ? KubeletGarbage::kNone : kubeletGarbageOf(fault.mode));
        }
        break;
      case FaultKind::kResizeUnsupported:
      case FaultKind::kResizeForbidden: {
        ApiFaults faults = cluster->api->faults().get();
        (fault.kind == FaultKind::kResizeUnsupported ? faults.resizeUnsupported
                                                     : faults.resizeForbidden) = !ending;
        cluster->api->faults().set(faults);
        break;
      }
      case FaultKind::kHeal:
        cluster->apiPartitioned = false;
        cluster->agentsPartitioned = false;
        cluster->rollout.reset();
        cluster->api->faults().set(ApiFaults{});
        for (auto& node : cluster->nodes) {
          node->flapping = false;
          node->kubelet->setGarbage(KubeletGarbage::kNone);
        }
        break;
    }
    flags.unlock();
    applyClusterState(*cluster, *fleet_, scenario_.agents.enabled);
    if (fault.kind == FaultKind::kFlapAgents || fault.kind == FaultKind::kHeal) {
      for (auto& node : cluster->nodes) {
        if (!node->flapping && node->flappedDown && scenario_.agents.enabled) {
          node->flappedDown = false;
          if (Status s = node->agent.start(impl.agentBinary, node->agentArgs, node->agentLog); !s) {
            log->error("restarting the agent of {}: {}", node->name, s.message());
          }
        }
      }
    }
  }
  log->info("t={:.1f}s {} {}{}", toSeconds(now), ending ? "end of" : "fault", toString(fault.kind),
            fault.cluster.empty() ? "" : " " + fault.cluster);
  std::lock_guard lock(impl.mutex);
  impl.timeline.faults.push_back({toSeconds(now), fault.kind, fault.cluster, ending});
  if (!ending && fault.forSeconds && fault.kind != FaultKind::kReviveCluster &&
      fault.kind != FaultKind::kHeal) {
    impl.endings.emplace_back(now + fromSeconds(*fault.forSeconds), fault);
  }
}

// Moves a cluster's rolling restart of agents on. On the clock loop's thread.
void stepRollout(ClusterRuntime& cluster, SimTime now, const std::string& agentBinary) {
  auto log = componentLogger("sim");
  Rollout& rollout = *cluster.rollout;
  NodeRuntime& node = *rollout.nodes[rollout.next];
  switch (rollout.phase) {
    case Rollout::Phase::kRestart: {
      std::error_code ec;
      const auto size = fs::file_size(node.agentLog, ec);
      rollout.logOffset = ec ? 0 : size;
      node.endedAgentCpuSeconds += processCpuSeconds(node.agent.pid());
      node.agent.stop(SIGTERM, std::chrono::seconds(5));
      if (Status s = node.agent.start(agentBinary, node.agentArgs, node.agentLog); !s) {
        log->error("restarting the agent of {}: {}", node.name, s.message());
      }
      node.flappedDown = false;
      rollout.phase = Rollout::Phase::kWaitBack;
      rollout.deadline = now + fromSeconds(kRolloutBackTimeoutSeconds);
      return;
    }
    case Rollout::Phase::kWaitBack: {
      const bool back = logHasSince(node.agentLog, rollout.logOffset, kAgentConnectedLine);
      if (!back && now < rollout.deadline) return;
      if (!back) {
        log->warn("rollout of {}: the agent of {} did not connect within {} s; going on",
                  cluster.name, node.name, kRolloutBackTimeoutSeconds);
      }
      if (++rollout.next == rollout.nodes.size()) {
        log->info("t={:.1f}s rollout of the agents of {} done", toSeconds(now), cluster.name);
        cluster.rollout.reset();
        return;
      }
      rollout.phase = Rollout::Phase::kPause;
      rollout.deadline = now + fromSeconds(rollout.pauseSeconds);
      return;
    }
    case Rollout::Phase::kPause:
      if (now >= rollout.deadline) rollout.phase = Rollout::Phase::kRestart;
      return;
  }
}

// One step of the clock: due faults, flapping agents, rollouts, the model, the cgroup trees, the
// scale actions and a timeline sample.
void FleetSimulator::tick() {
  Impl& impl = *impl_;
  auto log = componentLogger("sim");
  const SimTime sampleEvery = fromSeconds(scenario_.sampleIntervalSeconds);
  const SimTime duration = fromSeconds(scenario_.durationSeconds);
  const auto busyStart = std::chrono::steady_clock::now();
  const SimTime now = fleet_->clock.now();

  // Faults due now: the scenario's, the ends of earlier ones, and injected ones.
  std::vector<std::pair<FaultSpec, bool>> due;
  std::uint64_t injectedUpTo = 0;
  {
    std::lock_guard lock(impl.mutex);
    while (!impl.scheduled.empty() && fromSeconds(impl.scheduled.front().atSeconds) <= now) {
      due.emplace_back(impl.scheduled.front(), false);
      impl.scheduled.erase(impl.scheduled.begin());
    }
    for (auto it = impl.endings.begin(); it != impl.endings.end();) {
      if (it->first <= now) {
        due.emplace_back(it->second, true);
        it = impl.endings.erase(it);
      } else {
        ++it;
      }
    }
    while (!impl.injected.empty()) {
      due.emplace_back(impl.injected.front().second, false);
      injectedUpTo = impl.injected.front().first;
      impl.injected.pop_front();
    }
  }
  for (const auto& [fault, ending] : due) applyFault(fault, ending, now);
  rotateDueTokens(impl.clusters, fleet_->clock, impl.mutex);

  // Flapping agents: down for half a period, up for the other half.
  for (auto& cluster : impl.clusters) {
    for (auto& node : cluster.nodes) {
      if (!node->flapping || now < node->nextFlap || cluster.killed || !scenario_.agents.enabled)
        continue;
      node->nextFlap = now + fromSeconds(node->flapPeriodSeconds / 2);
      if (node->flappedDown) {
        if (Status s = node->agent.start(impl.agentBinary, node->agentArgs, node->agentLog); !s) {
          log->error("restarting the agent of {}: {}", node->name, s.message());
        }
      } else {
        node->endedAgentCpuSeconds += processCpuSeconds(node->agent.pid());
        node->agent.stop(SIGKILL, std::chrono::seconds(2));
      }
      node->flappedDown = !node->flappedDown;
    }
  }

  for (auto& cluster : impl.clusters) {
    if (cluster.rollout && !cluster.killed && scenario_.agents.enabled) {
      stepRollout(cluster, now, impl.agentBinary);
    }
  }

  // Advance the model and copy out what the trees need.
  std::vector<std::pair<NodeRuntime*, NodeSnapshot>> snapshots;
  std::optional<TimelineSample> sample;
  bool timelineOpen = false;
  {
    std::lock_guard lock(impl.mutex);
    timelineOpen = !impl.timelineClosed;
  }
  {
    std::lock_guard lock(fleet_->mutex);
    fleet_->model.step(now);
    for (auto& cluster : impl.clusters) {
      const ClusterModel* model = fleet_->model.findCluster(cluster.name);
      if (!model->alive()) continue;
      for (auto& node : cluster.nodes) {
        snapshots.emplace_back(node.get(), snapshotNode(*model, *model->findNode(node->name), now));
      }
    }
    if (timelineOpen && now >= impl.nextSample) {
      sample = fleet_->model.sample();
      impl.nextSample += sampleEvery;
      if (impl.nextSample <= now) impl.nextSample = now + sampleEvery;
    }
  }
  for (auto& [node, snapshot] : snapshots) {
    if (Status s = node->writer->sync(snapshot); !s && !node->reportedWriteError) {
      node->reportedWriteError = true;
      log->error("writing the cgroup tree of {}: {}", node->name, s.message());
    }
  }

  // Scale actions: client writes that changed replicas.
  std::vector<ScaleAction> actions;
  for (auto& cluster : impl.clusters) {
    const auto records = cluster.api->writes().recordsFrom(cluster.writeCursor);
    cluster.writeCursor += records.size();
    for (const auto& record : records) {
      if (record.status == 200 && record.replicasBefore && record.replicasAfter &&
          *record.replicasBefore != *record.replicasAfter) {
        actions.push_back({record.seconds, cluster.name, record.workload, *record.replicasBefore,
                           *record.replicasAfter, record.user});
      }
    }
  }
  {
    std::lock_guard lock(impl.mutex);
    if (sample) impl.timeline.samples.push_back(std::move(*sample));
    for (auto& action : actions) impl.timeline.actions.push_back(std::move(action));
    if (injectedUpTo) impl.appliedCount = injectedUpTo;
    ++impl.ticks;
    if (duration > SimTime{0} && now >= duration && !impl.timelineClosed) {
      impl.timelineClosed = true;
      finished_ = true;
      log->info("scenario '{}' finished after {:.1f}s", scenario_.name, toSeconds(now));
    }
    impl.loopBusySeconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - busyStart).count();
    impl.changed.notify_all();
  }
}

void FleetSimulator::loop() {
  Impl& impl = *impl_;
  const SimTime interval = fromSeconds(scenario_.tickSeconds);
  SimTime nextTick = fleet_->clock.now();
  while (!stopping_) {
    tick();
    nextTick += interval;
    const SimTime after = fleet_->clock.now();
    if (nextTick < after) {
      std::lock_guard lock(impl.mutex);
      ++impl.overruns;
      nextTick = after;
    }
    // Token rotations due before the next tick happen when due, between ticks: a token is
    // revoked at the expiry its plugin announced, not up to a tick later.
    std::unique_lock lock(impl.mutex);
    const auto interrupted = [&] { return stopping_.load() || !impl.injected.empty(); };
    SimTime current = after;
    for (SimTime due = nextTokenRotation(impl.clusters); due < nextTick && !interrupted();) {
      if (impl.changed.wait_for(lock, due - current, interrupted)) break;
      lock.unlock();
      rotateDueTokens(impl.clusters, fleet_->clock, impl.mutex);
      lock.lock();
      current = fleet_->clock.now();
      const SimTime next = nextTokenRotation(impl.clusters);
      if (next == due) break;  // nothing rotated: a clock that does not follow real time
      due = next;
    }
    impl.changed.wait_for(lock, nextTick - current, interrupted);
  }
}

Timeline FleetSimulator::timeline() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->timeline;
}

Report FleetSimulator::report() const {
  return computeReport(scenario_.name, timeline(), measurementOptions(scenario_));
}

json FleetSimulator::reportJson() const {
  const Timeline recorded = timeline();
  json out = sim::reportJson(computeReport(scenario_.name, recorded, measurementOptions(scenario_)),
                             recorded);
  json auth = json::object();
  for (const auto& cluster : impl_->clusters) auth[cluster.name] = authJson(cluster.name);
  std::lock_guard lock(impl_->mutex);
  out["simulator"] = {{"ticks", impl_->ticks},
                      {"tick_overruns", impl_->overruns},
                      {"tick_seconds", scenario_.tickSeconds},
                      {"loop_busy_seconds", impl_->loopBusySeconds},
                      {"auth", std::move(auth)}};
  return out;
}

json FleetSimulator::authJson(const std::string& cluster) const {
  const ClusterSpec* spec = scenario_.findCluster(cluster);
  const auto counters = authCounters(cluster);
  if (!spec || !counters) return nullptr;
  return {{"aggregator_auth", toString(spec->aggregatorAuth)},
          {"unauthorized_requests", counters->unauthorizedRequests},
          {"revoked_token_requests", counters->revokedTokenRequests},
          {"token_rotations", counters->tokenRotations}};
}

json FleetSimulator::costJson() {
  rusage self{};
  ::getrusage(RUSAGE_SELF, &self);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
  };
  double agents = 0;
  int running = 0;
  for (auto& cluster : impl_->clusters) {
    for (auto& node : cluster.nodes) {
      agents += node->endedAgentCpuSeconds;
      if (node->agent.running()) {
        agents += processCpuSeconds(node->agent.pid());
        ++running;
      }
    }
  }
  double aggregator = 0;
  for (auto& instance : impl_->aggregators) {
    aggregator += instance->endedCpuSeconds;
    if (instance->process.running()) aggregator += processCpuSeconds(instance->process.pid());
  }
  const double wall = toSeconds(fleet_ ? fleet_->clock.now() : SimTime{0});
  return {{"wall_seconds", wall},
          {"simulator_cpu_seconds", seconds(self.ru_utime) + seconds(self.ru_stime)},
          {"agents_cpu_seconds", agents},
          {"agents_running", running},
          {"aggregator_cpu_seconds", aggregator}};
}

json FleetSimulator::stateJson() {
  json clusters = json::array();
  std::map<std::string, std::pair<bool, bool>> flags;  // api up, agents partitioned
  std::map<std::string, json> nodeExtras;
  std::map<std::string, json> auth;
  for (const auto& cluster : impl_->clusters) auth[cluster.name] = authJson(cluster.name);
  std::unique_lock runtime(impl_->mutex);
  for (auto& cluster : impl_->clusters) {
    flags[cluster.name] = {cluster.api->running(), cluster.agentsPartitioned};
    for (auto& node : cluster.nodes) {
      nodeExtras[cluster.name + "/" + node->name] = {{"kubelet_up", node->kubelet->running()},
                                                     {"agent_pid", node->agent.pid()},
                                                     {"agent_frozen", node->agent.frozen()},
                                                     {"agent_flapping", node->flapping}};
    }
  }
  runtime.unlock();
  json workloads = json::array();
  std::lock_guard lock(fleet_->mutex);
  const SimTime now = fleet_->model.lastStep();
  const TimelineSample sample = fleet_->model.sample();
  for (const auto& [name, w] : sample.workloads) {
    json perCluster = json::object();
    for (const auto& [cluster, r] : w.clusters) {
      perCluster[cluster] = {{"desired", r.desired},
                             {"pods", r.pods},
                             {"running", r.running},
                             {"ready", r.ready},
                             {"alive", r.alive}};
    }
    workloads.push_back({{"workload", name},
                         {"demand_cores", w.demandCores},
                         {"ready_capacity_cores", w.readyCapacityCores},
                         {"served_cores", w.servedCores},
                         {"oom_kills", w.oomKills},
                         {"crash_looping", w.crashLooping},
                         {"clusters", std::move(perCluster)}});
  }
  for (const auto& model : fleet_->model.clusters()) {
    json nodes = json::array();
    for (const auto& node : model.nodes()) {
      json entry = {{"name", node.name}, {"zone", node.zone}};
      entry.update(nodeExtras[model.name() + "/" + node.name]);
      const NodeResources free = model.freeOn(node.name);
      entry["free_cpu_cores"] = free.cpuCores;
      entry["free_memory_bytes"] = free.memoryBytes;
      nodes.push_back(std::move(entry));
    }
    json pods = json::array();
    for (const auto& pod : model.pods()) {
      json entry = {{"name", pod.name},
                    {"uid", pod.uid},
                    {"workload", pod.isSystem() ? "" : pod.namespaceName + "/" + pod.workload},
                    {"namespace", pod.namespaceName},
                    {"node", pod.node},
                    {"pod_ip", pod.podIp},
                    {"phase", pod.running(now) ? "Running" : "Pending"},
                    {"ready", pod.ready(now)},
                    {"container_id", pod.containerId},
                    {"cpu_cores", pod.counters.cpuCores},
                    {"memory_bytes", pod.counters.memoryBytes}};
      const WorkloadSpec* spec =
          pod.isSystem() ? nullptr : fleet_->model.findWorkload(pod.namespaceName, pod.workload);
      if (spec && spec->requestsPerCore) {
        entry["requests_per_second"] = pod.counters.requestsPerSecond;
        entry["requests_total"] = pod.counters.requests;
      }
      pods.push_back(std::move(entry));
    }
    clusters.push_back({{"name", model.name()},
                        {"alive", model.alive()},
                        {"api_up", flags[model.name()].first},
                        {"agents_partitioned", flags[model.name()].second},
                        {"auth", auth[model.name()]},
                        {"resource_version", model.resourceVersion()},
                        {"nodes", std::move(nodes)},
                        {"pods", std::move(pods)}});
  }
  return {{"seconds", toSeconds(now)},
          {"finished", finished_.load()},
          {"clusters", std::move(clusters)},
          {"workloads", std::move(workloads)}};
}

void FleetSimulator::stop() {
  if (!started_ || stopped_.exchange(true)) return;
  stopping_ = true;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->changed.notify_all();
  }
  if (loopThread_.joinable()) loopThread_.join();
  if (baselineThread_.joinable()) baselineThread_.join();
  Impl& impl = *impl_;
  json cost = costJson();
  for (auto& cluster : impl.clusters) {
    for (auto& node : cluster.nodes) node->agent.stop(SIGTERM, std::chrono::seconds(5));
  }
  for (auto& instance : impl.aggregators) instance->process.stop(SIGTERM, std::chrono::seconds(10));
  if (impl.control) impl.control->stop();
  if (impl.podMetrics) impl.podMetrics->stop();
  for (auto& cluster : impl.clusters) {
    cluster.api->stop();
    for (auto& relay : cluster.relays) relay->stop();  // none when start() failed early
    for (auto& node : cluster.nodes) node->kubelet->stop();
  }
  if (impl.work) impl.work.reset();
  impl.io.stop();
  for (auto& thread : impl.ioThreads) thread.join();
  impl.ioThreads.clear();
  if (fleet_ && !temporaryStateDir_ && !stateDir_.empty()) {
    json report = reportJson();
    report["cost"] = cost;
    (void)writeText(stateDir_ + "/report.json", report.dump(2) + "\n");
    (void)writeText(stateDir_ + "/report.txt", reportTable(this->report()));
  }
  std::error_code ec;
  if (temporaryTreesDir_) {
    fs::remove_all(treesDir_, ec);
    fs::remove(stateDir_ + "/trees", ec);
  }
  if (temporaryStateDir_) fs::remove_all(stateDir_, ec);
}

}  // namespace fleetscale::sim
