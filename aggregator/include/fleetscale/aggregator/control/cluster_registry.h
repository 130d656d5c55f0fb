// The clusters the policy names, at run time: for each one its actuator, its API probe, its
// health state machine, its drain flag, and the last scale read per workload. The scaling loop
// reads it; a prober thread keeps API reachability and scales fresh.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fleetscale/aggregator/actuation/actuator.h"
#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/aggregator/scaling/cluster_health.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/http_client.h"

namespace fleetscale::aggregator {

struct CachedScale {
  ScaleStatus status;
  WallTime readAt{};
};

// Builds the runtime pieces of one cluster; tests pass fakes.
struct ClusterConnector {
  std::function<Result<std::unique_ptr<Actuator>>(const ClusterConfig&)> actuator;
  // GET <server>/readyz; true when the API answered 200. Absent for webhook clusters.
  std::function<Result<std::function<bool()>>(const ClusterConfig&)> prober;
};

// Connects to real clusters: kubeconfig/token/in-cluster credentials, libcurl clients. Scale
// requests name the aggregator in their User-Agent ("" = libcurl's).
ClusterConnector realClusterConnector(
    const std::string& userAgent = "",
    std::chrono::milliseconds requestTimeout = std::chrono::seconds(5));

struct ClusterStatus {
  std::string name;
  std::string cloud;
  std::string region;
  scaling::HealthState health = scaling::HealthState::kHealthy;
  WallTime healthSince{};
  bool apiReachable = false;  // the latest /readyz probe answered; false without an API
  bool hasApi = true;         // false for a webhook cluster: no API to probe
  bool draining = false;
  std::string error;  // why the cluster could not be connected, if it could not
};

// Thread-safe.
class ClusterRegistry {
 public:
  ClusterRegistry(ClusterConnector connector, scaling::HealthThresholds thresholds,
                  const Clock& clock);
  ~ClusterRegistry();
  ClusterRegistry(const ClusterRegistry&) = delete;
  ClusterRegistry& operator=(const ClusterRegistry&) = delete;

  // Adds clusters that are new in `clusters`, drops ones that are gone; existing clusters keep
  // their health and caches. Connection errors are kept per cluster (see status()).
  void configure(const std::vector<ClusterConfig>& clusters);

  Actuator* actuator(const std::string& cluster);

  // Feeds agent coverage and the latest probe into each health machine; returns transitions.
  // `agentsSilentFor`: per cluster, the age of its newest agent batch (absent: unknown), so a
  // cluster's failure counts from when it went silent.
  struct Transition {
    std::string cluster;
    scaling::HealthTransition change;
  };
  std::vector<Transition> updateHealth(
      const std::map<std::string, double>& agentCoverage,
      const std::map<std::string, std::chrono::milliseconds>& agentsSilentFor = {});
  // True while no cluster shows any sign of life: every cluster is then held (suspect at worst,
  // never failed), since the aggregator's own network is the likeliest cause.
  bool noClusterReachable() const;

  scaling::HealthState health(const std::string& cluster) const;
  bool draining(const std::string& cluster) const;
  // Returns false for an unknown cluster.
  bool setDraining(const std::string& cluster, bool draining);

  std::optional<CachedScale> scale(const std::string& cluster, const WorkloadKey& workload) const;
  void rememberScale(const std::string& cluster, const WorkloadKey& workload,
                     const ScaleStatus& status);
  // Workloads whose scale should be kept fresh, per cluster (set by the scaling loop).
  void watch(const std::string& cluster, const WorkloadKey& workload);
  // The other autoscalers (HorizontalPodAutoscalers, KEDA ScaledObjects) that target a watched
  // `workload` in `cluster`, as last listed (every kAutoscalerListMaxAge). std::nullopt until
  // its namespace was first listed there. A listing that fails (RBAC without list on them, an
  // API that answers garbage) counts as none and is logged: it must not stop all scaling.
  std::optional<std::vector<ForeignAutoscaler>> foreignAutoscalers(
      const std::string& cluster, const WorkloadKey& workload) const;
  static constexpr std::chrono::seconds kAutoscalerListMaxAge{10};

  std::vector<ClusterStatus> status() const;

  // Probes every cluster's API and reads every watched scale whose cache is older than
  // `scaleMaxAge`. The prober thread calls this every `interval`; tests call it directly.
  void refresh(std::chrono::milliseconds scaleMaxAge,
               std::chrono::milliseconds autoscalerMaxAge = kAutoscalerListMaxAge);
  void startProber(std::chrono::milliseconds interval, std::chrono::milliseconds scaleMaxAge);
  void stopProber();

 private:
  struct Cluster;
  // Lists the other autoscalers of each namespace with a watched workload, when due.
  void listAutoscalers(Cluster& cluster, WallTime now, std::chrono::milliseconds maxAge);
  scaling::HealthSignals signalsLocked(
      const Cluster& cluster, const std::map<std::string, double>& agentCoverage,
      const std::map<std::string, std::chrono::milliseconds>& agentsSilentFor,
      SteadyTime now) const;

  ClusterConnector connector_;
  scaling::HealthThresholds thresholds_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  bool noClusterReachable_ = false;
  std::map<std::string, std::shared_ptr<Cluster>> clusters_;
  std::mutex proberMutex_;
  std::condition_variable proberWake_;
  bool proberStop_ = false;
  std::thread prober_;
};

}  // namespace fleetscale::aggregator
