#include "fleetscale/aggregator/control/cluster_registry.h"

#include <map>
#include <mutex>
#include <set>

#include "fleetscale/aggregator/actuation/kubernetes_actuator.h"
#include "fleetscale/aggregator/actuation/webhook_actuator.h"
#include "fleetscale/aggregator/kube/kube_http_client.h"
#include "fleetscale/aggregator/kube/kubeconfig.h"
#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {

struct ClusterRegistry::Cluster {
  ClusterConfig config;
  std::unique_ptr<Actuator> actuator;
  std::function<bool()> probe;  // empty for webhook clusters: agents are the only signal
  std::atomic<bool> apiReachable{false};
  std::atomic<bool> everReachable{false};
  std::atomic<SteadyTime::rep> lastProbeOk{0};  // steady clock ticks, once everReachable
  scaling::ClusterHealth health;
  WallTime healthSince{};
  bool draining = false;
  std::string error;
  std::map<WorkloadKey, std::optional<CachedScale>> scales;  // watched workloads
  struct Autoscalers {
    std::vector<ForeignAutoscaler> list;
    WallTime listedAt{};
  };
  std::map<std::string, Autoscalers> autoscalers;  // by namespace, once listed

  Cluster(ClusterConfig c, scaling::HealthThresholds thresholds)
      : config(std::move(c)), health(thresholds) {}
};

namespace {

// One CredentialSource per cluster and way in, shared by its actuator and its prober, so an exec
// plugin runs once per credential, not once per client. A changed way in (a policy reload)
// gets a new one.
class SharedCredentials {
 public:
  struct Resolved {
    KubeCredentials credentials;
    std::shared_ptr<CredentialSource> source;
  };
  Result<Resolved> resolve(const ClusterConfig& cluster) {
    auto credentials = resolveCredentials(cluster.access);
    if (!credentials) return credentials.error();
    const ClusterAccess& a = cluster.access;
    const std::string key = cluster.name + '\n' + a.kubeconfig + '\n' + a.context + '\n' +
                            a.server + '\n' + a.tokenFile + '\n' +
                            (a.kind == ClusterAccess::Kind::kInCluster ? "in-cluster" : "");
    std::lock_guard lock(mutex_);
    auto& source = sources_[key];
    if (!source) source = changingCredentials(*credentials, cluster.name, clock_);
    return Resolved{std::move(*credentials), source};
  }

 private:
  SystemClock clock_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<CredentialSource>> sources_;
};

std::unique_ptr<HttpClient> curlClient(const TlsClientOptions& tls) {
  return std::make_unique<CurlHttpClient>(tls);
}

}  // namespace

ClusterConnector realClusterConnector(const std::string& userAgent,
                                      std::chrono::milliseconds requestTimeout) {
  ClusterConnector connector;
  auto shared = std::make_shared<SharedCredentials>();
  connector.actuator = [userAgent, requestTimeout,
                        shared](const ClusterConfig& cluster) -> Result<std::unique_ptr<Actuator>> {
    if (cluster.access.kind == ClusterAccess::Kind::kWebhook) {
      WebhookActuatorOptions options;
      options.url = cluster.access.webhookUrl;
      options.cluster = cluster.name;
      auto token = readSecretFile(cluster.access.tokenFile);
      if (!token) return Error{"webhook token: " + token.error().message};
      options.bearerToken = *token;
      TlsClientOptions tls;
      tls.insecureSkipVerify = cluster.access.insecureSkipTlsVerify;
      return std::unique_ptr<Actuator>(
          std::make_unique<WebhookActuator>(std::make_unique<CurlHttpClient>(tls), options));
    }
    auto resolved = shared->resolve(cluster);
    if (!resolved) return resolved.error();
    auto http = makeClusterHttpClient(resolved->credentials, resolved->source, curlClient);
    KubernetesActuatorOptions options;
    options.userAgent = userAgent;
    options.requestTimeout = requestTimeout;
    return std::unique_ptr<Actuator>(
        std::make_unique<KubernetesActuator>(std::move(http), resolved->credentials, options));
  };
  connector.prober = [shared](const ClusterConfig& cluster) -> Result<std::function<bool()>> {
    if (cluster.access.kind == ClusterAccess::Kind::kWebhook) return std::function<bool()>();
    auto resolved = shared->resolve(cluster);
    if (!resolved) return resolved.error();
    std::shared_ptr<HttpClient> http =
        makeClusterHttpClient(resolved->credentials, resolved->source, curlClient);
    const std::string url = resolved->credentials.server + "/readyz";
    const std::string token = resolved->credentials.bearerToken;
    return std::function<bool()>([http, url, token] {
      HttpClientRequest request;
      request.url = url;
      request.connectTimeout = std::chrono::milliseconds(1000);
      request.totalTimeout = std::chrono::milliseconds(2000);
      if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
      auto response = http->send(request);
      return response && response->status == 200;
    });
  };
  return connector;
}

ClusterRegistry::ClusterRegistry(ClusterConnector connector, scaling::HealthThresholds thresholds,
                                 const Clock& clock)
    : connector_(std::move(connector)), thresholds_(thresholds), clock_(clock) {}

ClusterRegistry::~ClusterRegistry() { stopProber(); }

void ClusterRegistry::configure(const std::vector<ClusterConfig>& clusters) {
  auto log = componentLogger("aggregator.clusters");
  std::map<std::string, std::shared_ptr<Cluster>> next;
  {
    std::lock_guard lock(mutex_);
    for (const auto& config : clusters) {
      if (auto existing = clusters_.find(config.name); existing != clusters_.end()) {
        next[config.name] = existing->second;
      }
    }
  }
  for (const auto& config : clusters) {
    if (next.count(config.name)) continue;
    auto cluster = std::make_shared<Cluster>(config, thresholds_);
    cluster->healthSince = clock_.wallNow();
    if (auto actuator = connector_.actuator(config); actuator) {
      cluster->actuator = std::move(*actuator);
    } else {
      cluster->error = actuator.error().message;
      log->error("cluster {}: {}", config.name, cluster->error);
    }
    if (auto probe = connector_.prober(config); probe) {
      cluster->probe = std::move(*probe);
    } else if (cluster->error.empty()) {
      cluster->error = probe.error().message;
    }
    next[config.name] = std::move(cluster);
  }
  std::lock_guard lock(mutex_);
  clusters_ = std::move(next);
}

Actuator* ClusterRegistry::actuator(const std::string& cluster) {
  std::lock_guard lock(mutex_);
  const auto it = clusters_.find(cluster);
  return it == clusters_.end() ? nullptr : it->second->actuator.get();
}

std::vector<ClusterRegistry::Transition> ClusterRegistry::updateHealth(
    const std::map<std::string, double>& agentCoverage,
    const std::map<std::string, std::chrono::milliseconds>& agentsSilentFor) {
  std::vector<Transition> transitions;
  const SteadyTime now = clock_.now();
  std::lock_guard lock(mutex_);
  std::map<std::string, scaling::HealthSignals> signalsOf;
  for (auto& [name, cluster] : clusters_) {
    signalsOf[name] = signalsLocked(*cluster, agentCoverage, agentsSilentFor, now);
  }
  std::vector<scaling::HealthSignals> all;
  for (const auto& [name, signals] : signalsOf) all.push_back(signals);
  const bool cutOff = scaling::noClusterReachable(all, thresholds_);
  if (cutOff != noClusterReachable_) {
    noClusterReachable_ = cutOff;
    auto log = componentLogger("aggregator.clusters");
    if (cutOff) {
      log->error(
          "no cluster is reachable (no agent reports, no API answers): this aggregator's "
          "own network is the likeliest cause; holding every placement, nothing fails over");
    } else {
      log->warn("a cluster is reachable again: failover may resume");
    }
  }
  for (auto& [name, cluster] : clusters_) {
    if (auto change = cluster->health.update(signalsOf[name], now, cutOff)) {
      cluster->healthSince = clock_.wallNow();
      transitions.push_back({name, *change});
    }
  }
  return transitions;
}

bool ClusterRegistry::noClusterReachable() const {
  std::lock_guard lock(mutex_);
  return noClusterReachable_;
}

scaling::HealthSignals ClusterRegistry::signalsLocked(
    const Cluster& cluster, const std::map<std::string, double>& agentCoverage,
    const std::map<std::string, std::chrono::milliseconds>& agentsSilentFor, SteadyTime now) const {
  const std::string& name = cluster.config.name;
  scaling::HealthSignals signals;
  const auto coverage = agentCoverage.find(name);
  signals.agentCoverage = coverage == agentCoverage.end() ? 0.0 : coverage->second;
  signals.hasApi = static_cast<bool>(cluster.probe);
  signals.apiReachable = cluster.probe ? cluster.apiReachable.load()
                                       : signals.agentCoverage >= thresholds_.minAgentCoverage;
  const auto agentsSilent = agentsSilentFor.find(name);
  if (agentsSilent != agentsSilentFor.end()) {
    signals.silentFor = agentsSilent->second;
    if (cluster.probe && cluster.everReachable) {
      const SteadyTime probeOk{SteadyTime::duration(cluster.lastProbeOk.load())};
      signals.silentFor = std::min(
          signals.silentFor, std::chrono::duration_cast<std::chrono::milliseconds>(now - probeOk));
    }
    signals.silentFor = std::max(signals.silentFor, std::chrono::milliseconds(0));
  }
  return signals;
}

scaling::HealthState ClusterRegistry::health(const std::string& cluster) const {
  std::lock_guard lock(mutex_);
  const auto it = clusters_.find(cluster);
  return it == clusters_.end() ? scaling::HealthState::kFailed : it->second->health.state();
}

bool ClusterRegistry::draining(const std::string& cluster) const {
  std::lock_guard lock(mutex_);
  const auto it = clusters_.find(cluster);
  return it != clusters_.end() && it->second->draining;
}

bool ClusterRegistry::setDraining(const std::string& cluster, bool draining) {
  std::lock_guard lock(mutex_);
  const auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return false;
  it->second->draining = draining;
  return true;
}

std::optional<CachedScale> ClusterRegistry::scale(const std::string& cluster,
                                                  const WorkloadKey& workload) const {
  std::lock_guard lock(mutex_);
  const auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return std::nullopt;
  const auto entry = it->second->scales.find(workload);
  return entry == it->second->scales.end() ? std::nullopt : entry->second;
}

void ClusterRegistry::rememberScale(const std::string& cluster, const WorkloadKey& workload,
                                    const ScaleStatus& status) {
  std::lock_guard lock(mutex_);
  const auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return;
  it->second->scales[workload] = CachedScale{status, clock_.wallNow()};
}

void ClusterRegistry::watch(const std::string& cluster, const WorkloadKey& workload) {
  std::lock_guard lock(mutex_);
  const auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return;
  it->second->scales.try_emplace(workload);
}

std::vector<ClusterStatus> ClusterRegistry::status() const {
  std::lock_guard lock(mutex_);
  std::vector<ClusterStatus> out;
  for (const auto& [name, cluster] : clusters_) {
    out.push_back(ClusterStatus{name, cluster->config.cloud, cluster->config.region,
                                cluster->health.state(), cluster->healthSince,
                                cluster->apiReachable.load(), static_cast<bool>(cluster->probe),
                                cluster->draining, cluster->error});
  }
  return out;
}

void ClusterRegistry::refresh(std::chrono::milliseconds scaleMaxAge,
                              std::chrono::milliseconds autoscalerMaxAge) {
  std::vector<std::shared_ptr<Cluster>> clusters;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, cluster] : clusters_) clusters.push_back(cluster);
  }
  const WallTime now = clock_.wallNow();
  for (const auto& cluster : clusters) {
    if (cluster->probe) {
      cluster->apiReachable = cluster->probe();
      if (cluster->apiReachable) {
        cluster->lastProbeOk = clock_.now().time_since_epoch().count();
        cluster->everReachable = true;
      }
    }
    if (!cluster->actuator || (cluster->probe && !cluster->apiReachable)) continue;
    std::vector<WorkloadKey> due;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [workload, cached] : cluster->scales) {
        if (!cached || now - cached->readAt >= scaleMaxAge) due.push_back(workload);
      }
    }
    listAutoscalers(*cluster, now, autoscalerMaxAge);
    for (const auto& workload : due) {
      const auto outcome = cluster->actuator->getScale(workload);
      if (outcome.ok()) {
        rememberScale(cluster->config.name, workload, outcome.status);
      } else if (outcome.error != ActuationError::kUnsupported) {
        componentLogger("aggregator.clusters")
            ->debug("cluster {}: reading {}: {}", cluster->config.name, workload.describe(),
                    outcome.message);
      }
    }
  }
}

void ClusterRegistry::listAutoscalers(Cluster& cluster, WallTime now,
                                      std::chrono::milliseconds maxAge) {
  std::set<std::string> due;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [workload, cached] : cluster.scales) {
      const auto listed = cluster.autoscalers.find(workload.namespaceName);
      if (listed == cluster.autoscalers.end() || now - listed->second.listedAt >= maxAge) {
        due.insert(workload.namespaceName);
      }
    }
  }
  if (!cluster.actuator->listsAutoscalers()) return;
  for (const auto& namespaceName : due) {
    auto listing = cluster.actuator->listAutoscalers(namespaceName);
    if (!listing.ok() && listing.error != ActuationError::kUnsupported) {
      componentLogger("aggregator.clusters")
          ->warn(
              "cluster {}: cannot list other autoscalers in namespace {}: {}; scaling its "
              "workloads as if there were none",
              cluster.config.name, namespaceName, listing.message);
    }
    std::lock_guard lock(mutex_);
    cluster.autoscalers[namespaceName] = Cluster::Autoscalers{std::move(listing.autoscalers), now};
  }
}

std::optional<std::vector<ForeignAutoscaler>> ClusterRegistry::foreignAutoscalers(
    const std::string& cluster, const WorkloadKey& workload) const {
  std::lock_guard lock(mutex_);
  const auto found = clusters_.find(cluster);
  if (found == clusters_.end() || !found->second->actuator ||
      !found->second->actuator->listsAutoscalers()) {
    return std::vector<ForeignAutoscaler>{};
  }
  const auto listed = found->second->autoscalers.find(workload.namespaceName);
  if (listed == found->second->autoscalers.end()) return std::nullopt;
  std::vector<ForeignAutoscaler> targeting;
  for (const auto& autoscaler : listed->second.list) {
    if (autoscaler.targetKind == workload.kind && autoscaler.targetName == workload.name) {
      targeting.push_back(autoscaler);
    }
  }
  return targeting;
}

void ClusterRegistry::startProber(std::chrono::milliseconds interval,
                                  std::chrono::milliseconds scaleMaxAge) {
  stopProber();
  {
    std::lock_guard lock(proberMutex_);
    proberStop_ = false;
  }
  prober_ = std::thread([this, interval, scaleMaxAge] {
    std::unique_lock lock(proberMutex_);
    while (!proberStop_) {
      lock.unlock();
      refresh(scaleMaxAge);
      lock.lock();
      proberWake_.wait_for(lock, interval, [this] { return proberStop_; });
    }
  });
}

void ClusterRegistry::stopProber() {
  {
    std::lock_guard lock(proberMutex_);
    proberStop_ = true;
  }
  proberWake_.notify_all();
  if (prober_.joinable()) prober_.join();
}

}  // namespace fleetscale::aggregator
