// The aggregator's decide-and-act loop. On every new fleet snapshot: update each cluster's
// health, then per configured workload gather the pipeline's inputs (pods, scale reads, cluster
// health and drains, leadership), run the decision pipeline (runPipeline: fleet-wide replica
// count by the HPA rules, placed over the clusters with failover, failback and drain), store the
// decision with its explanation, and hand the writes to the actuation queue. Only while this
// aggregator may act (leadership).
#pragma once

#include <prometheus/metric_family.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fleetscale/aggregator/actuation/actuation_queue.h"
#include "fleetscale/aggregator/control/cluster_registry.h"
#include "fleetscale/aggregator/pipeline/decision_pipeline.h"
#include "fleetscale/aggregator/policy/policy_holder.h"
#include "fleetscale/aggregator/sources/metric_values.h"
#include "fleetscale/aggregator/state/snapshot_holder.h"
#include "fleetscale/aggregator/store/store.h"

namespace fleetscale::aggregator {

// Upper bounds (seconds) of fleetscale_scale_action_duration_seconds.
inline constexpr double kScaleActionBuckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct ScalingLoopOptions {
  bool dryRun = false;                                        // decide and record, never write
  std::chrono::milliseconds window{std::chrono::seconds(1)};  // the agents' sample window
  std::chrono::milliseconds heartbeat{
      std::chrono::seconds(30)};  // store unchanged decisions this often
  ActuationQueueOptions actuation;
  // Object and External metric values (the Prometheus poller); none: those metrics have none.
  const sources::MetricValueSource* metricValues = nullptr;
  // --take-over-hpa: scale a workload another autoscaler targets anyway, pinning that
  // autoscaler to each decision first (ScaleRequest::pin). Off: such a workload is held.
  bool takeOverAutoscalers = false;
};

struct ClusterReplicas {
  std::int32_t target = 0;   // where placement wants it
  std::int32_t current = 0;  // spec replicas in the cluster's API (last read or written)
  std::int32_t ready = 0;    // ready pods the agents see
  // Of `target`, what a draining cluster keeps because no destination can take it (last resort).
  std::int32_t lastResort = 0;
  // The learned scale-request-to-Ready time there, once measured.
  std::optional<std::chrono::milliseconds> startupTime = std::nullopt;
};

// One metric of the latest decision, in the target's own terms: utilization as a ratio of
// requests (0.85), an average value per pod, or a value (CPU in cores, memory in bytes).
struct MetricStatus {
  std::string name;    // MetricTarget::label(): "cpu", "app/cpu", "queue_messages_ready", ...
  std::string source;  // Resource, ContainerResource, Pods, Object, External
  std::string type;    // Utilization, AverageValue, Value
  double target = 0;
  std::optional<double> current;         // absent when the metric could not be computed
  std::optional<std::int32_t> proposal;  // the replicas it asks for
};

// The latest decision per workload, for /api/v1/status, fleetscalectl and /metrics.
struct WorkloadStatus {
  std::string namespaceName;
  std::string name;
  std::string kind;
  std::int32_t minReplicas = 0;
  std::int32_t maxReplicas = 0;
  std::int32_t currentReplicas = 0;
  std::int32_t desiredReplicas = 0;
  std::int32_t unplaced = 0;
  std::string unplacedReason;  // each cluster's reason for taking no more ("" when all placed)
  std::map<std::string, ClusterReplicas> clusters;
  std::string reason;
  std::string error;
  std::vector<std::string> notes;
  // Other autoscalers that target the workload ("HorizontalPodAutoscaler shop/web in aws"):
  // while there is one, fleetscale writes nothing for it, unless it takes them over (pinned).
  std::vector<std::string> foreignAutoscalers;
  bool foreignAutoscalersPinned = false;  // --take-over-hpa: scaled through them
  std::optional<ForecastView> forecast;   // predictive scaling, when not off
  std::vector<MetricStatus> metrics;
  std::string decisionId;
  WallTime decidedAt{};
};

// How far a drain of one cluster has got, from the workloads' latest status.
struct DrainProgress {
  std::string cluster;
  int workloads = 0;      // workloads placed in the cluster
  int workloadsDone = 0;  // of those, with no replica left there (spec and ready)
  std::int32_t replicasLeft = 0;
  std::int32_t readyLeft = 0;
  // Workloads for which the cluster is the last resort: the drain waits for a destination.
  int pausedWorkloads = 0;
  bool complete() const { return workloadsDone == workloads; }
  bool paused() const { return pausedWorkloads > 0; }
};
DrainProgress drainProgress(const std::vector<WorkloadStatus>& workloads,
                            const std::string& cluster);

// Who may act, and with which fencing token (the leader's term): nullopt = not the leader, or
// not for `within` more (the lease could expire before something started now ends).
using LeadershipGate =
    std::function<std::optional<std::uint64_t>(std::chrono::milliseconds within)>;

class ScalingLoop {
 public:
  ScalingLoop(PolicyHolder& policy, ClusterRegistry& clusters, SnapshotHolder& snapshots,
              Store* store, const Clock& clock, ScalingLoopOptions options);
  ~ScalingLoop();
  ScalingLoop(const ScalingLoop&) = delete;
  ScalingLoop& operator=(const ScalingLoop&) = delete;

  // Restores each workload's stabilization and rate history from its newest stored decision, and
  // seeds the forecaster of each predictive workload with its stored rollups (at most
  // kDemandHistoryRestored).
  void restoreHistory();
  static constexpr std::chrono::hours kDemandHistoryRestored{72};
  // With leader election: only the leader writes, every write carries its term and is fenced,
  // a standby decides (so its windows stay full) without writing, and a new leader holds
  // scale-down until it has watched a workload for its scale-down window.
  void setLeadership(LeadershipGate gate);

  // Runs tick() on every new snapshot, on its own thread.
  void start();
  void stop();
  // One pass over the given snapshot (tests call it directly).
  void tick(const FleetSnapshot& snapshot);
  // Waits until no write is queued or in flight.
  void drainActions();

  std::vector<WorkloadStatus> status() const;
  // Series for /metrics (served through ScalingLoopMetrics, scaling_metrics.h): per workload and
  // cluster replicas, decisions, actions, cluster health.
  std::vector<prometheus::MetricFamily> collectMetrics() const;

 private:
  struct WorkloadState {
    WorkloadMemory memory;  // the pipeline's: history, placement, fleet size, observing since
    WorkloadStatus status;
    std::int32_t lastStoredDesired = -1;
    std::int32_t lastStoredCurrent = -1;
    std::string lastStoredError;
    WallTime lastStoredAt{};
  };
  // What holds for every workload of one tick.
  struct Pass {
    PipelineContext context;
    std::optional<std::uint64_t> term;  // the fencing token; nullopt = not the leader
    LeadershipGate gate;                // empty without leader election
  };
  void restoreDemandHistory(const PolicyConfig& policy);
  void recordTransition(const ClusterRegistry::Transition& transition);
  Pass beginPass(const PolicyConfig& policy, const FleetSnapshot& snapshot);
  // The pipeline's input for one workload: the snapshot's pods, the clusters' scale reads.
  WorkloadInput gatherInput(const WorkloadConfig& workload, const PolicyConfig& policy,
                            const FleetSnapshot& snapshot);
  // Runs the pipeline, then performs what it asks for: writes, events, status, the record.
  void decideWorkload(const WorkloadConfig& workload, const PolicyConfig& policy,
                      const FleetSnapshot& snapshot, const Pass& pass);
  struct ForeignAutoscalers {
    std::vector<std::string> owners;  // "HorizontalPodAutoscaler shop/web in aws"
    bool waiting = false;             // a healthy cluster not listed yet
    // Per cluster, what a take-over pins: every owner but the HPAs KEDA makes for its
    // ScaledObjects (pausing the ScaledObject stops those).
    std::map<std::string, std::vector<ForeignAutoscaler>> pins;
  };
  ForeignAutoscalers foreignAutoscalersOf(const WorkloadKey& workload,
                                          const WorkloadInput& input) const;
  void holdForForeignAutoscalers(WorkloadState& state, const WorkloadKey& workload,
                                 const ForeignAutoscalers& foreign, WallTime now);
  // Keeps status.foreignAutoscalers current for a workload that is scaled (no owner, or owners
  // taken over), with an event when that changes. True when a take-over starts or changes.
  bool noteForeignAutoscalers(WorkloadState& state, const WorkloadKey& workload,
                              const ForeignAutoscalers& foreign, WallTime now);
  void recordForeignAutoscalerEvent(const WorkloadKey& workload,
                                    const std::vector<std::string>& owners, bool pinned,
                                    WallTime now);
  void submitWrites(const WorkloadKey& workload, const scaling::Allocation& writes,
                    const std::string& reason, const std::string& decisionId, const Pass& pass,
                    const ForeignAutoscalers& foreign);
  void recordCapacityEvent(const WorkloadKey& workload, const PipelineResult& result, WallTime now);
  // Events when a drain pauses (its cluster became some workload's last resort) or resumes, and
  // when the aggregator loses or regains sight of every cluster.
  void recordDrainPauses(WallTime now);
  void recordReachability(WallTime now);
  void recordEvent(std::string_view kind, const std::string& cluster, std::string message,
                   const nlohmann::json& details, WallTime now);
  // Stores the decision when something changed, else once a heartbeat.
  void storeDecision(WorkloadState& state, const WorkloadKey& workload,
                     const PipelineResult& result, const std::string& decisionId, const Pass& pass);
  void onActionDone(const CompletedAction& action);
  std::string nextDecisionId(WallTime now);

  PolicyHolder& policy_;
  ClusterRegistry& clusters_;
  SnapshotHolder& snapshots_;
  Store* store_;
  const Clock& clock_;
  ScalingLoopOptions options_;
  LeadershipGate leadership_;

  mutable std::mutex mutex_;
  std::map<WorkloadKey, WorkloadState> workloads_;
  std::map<std::string, bool> drainPaused_;         // by draining cluster, as last reported
  bool noClusterReachable_ = false;                 // as last reported
  std::map<std::string, std::uint64_t> decisions_;  // by result: scale, hold, error, skipped
  std::map<std::pair<std::string, std::string>, std::uint64_t> actions_;  // (cluster, result)
  struct DurationHistogram {
    std::vector<std::uint64_t> buckets;  // cumulative counts per upper bound in kScaleActionBuckets
    std::uint64_t count = 0;
    double sum = 0;
  };
  std::map<std::string, DurationHistogram> actionSeconds_;                    // by cluster
  std::map<std::pair<std::string, std::string>, std::uint64_t> transitions_;  // (cluster, to)
  std::uint64_t sequence_ = 0;

  ActuationQueue actuation_;

  std::mutex threadMutex_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fleetscale::aggregator
