// The aggregator's durable store: agent progress (the dedup state), events, scaling decisions
// and per-workload per-cluster rollups downsampled to 10 s. Writes are queued and committed in
// batches by a writer thread, off the ingest path; reads go to their own connection.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fleetscale/aggregator/state/model.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/result.h"
#include "fleetscale/shared/sqlite.h"

namespace fleetscale::aggregator {

class StoreMetrics;

// Event kinds written by the aggregator.
inline constexpr std::string_view kEventAgentConnected = "agent_connected";
inline constexpr std::string_view kEventAgentDisconnected = "agent_disconnected";
// A hello authenticated, but not for the cluster it claims (its token or client certificate is
// another cluster's): refused.
inline constexpr std::string_view kEventAgentRefused = "agent_refused";
inline constexpr std::string_view kEventClusterHealth = "cluster_health";
inline constexpr std::string_view kEventConfigReload = "config_reload";
inline constexpr std::string_view kEventAction = "action";
inline constexpr std::string_view kEventCapacity = "capacity";
// Another autoscaler (an HPA, a KEDA ScaledObject) targets a workload: fleetscale holds off.
inline constexpr std::string_view kEventForeignAutoscaler = "foreign_autoscaler";
inline constexpr std::string_view kEventLeadership = "leadership";  // became leader / stepped down
// A drain paused (its cluster is some workload's last resort) or resumed.
inline constexpr std::string_view kEventDrainPaused = "drain_paused";
// The aggregator lost sight of every cluster, or regained sight of one.
inline constexpr std::string_view kEventReachability = "reachability";

struct EventRecord {
  std::int64_t id = 0;  // assigned by the store
  std::int64_t timeUnixMs = 0;
  std::string kind;
  std::string cluster;
  std::string agentId;
  std::string workload;  // "namespace/kind/name" when about a workload
  std::string message;
  std::string details = "{}";  // JSON object
};

struct EventQuery {
  std::string kind, cluster, agentId;
  std::int64_t sinceUnixMs = 0;
  std::size_t limit = 100;  // newest first
};

// One scaling decision for a workload (written by the scaling engine): the replica counts and,
// in `details` (JSON), its inputs, formula, clamps and placement.
struct DecisionRecord {
  std::int64_t id = 0;
  std::int64_t timeUnixMs = 0;
  WorkloadKey workload;
  int currentReplicas = 0;
  int desiredReplicas = 0;
  std::string reason;
  std::string details = "{}";
};

struct DecisionQuery {
  std::string namespaceName, workload;
  std::int64_t sinceUnixMs = 0;
  std::size_t limit = 100;  // newest first
};

struct RollupQuery {
  std::int64_t sinceUnixMs = 0;
  std::string namespaceName, name;       // both empty: every workload
  std::int64_t untilUnixMs = INT64_MAX;  // buckets before this one only
};

// One (workload, container name) of the right-sizing recommender: its state in the recommender's
// own stored form (rightsizing/recommender.h), opaque here.
struct RecommenderStateRow {
  WorkloadKey workload;
  std::string container;
  std::int64_t updatedUnixMs = 0;
  std::string state;
};

// Thread-safe. Record* methods never block on the disk.
class Store {
 public:
  virtual ~Store() = default;
  // Coalesced per agent: only the latest progress of each agent is written (the one with the
  // most batches accepted), and a stored row only moves forward.
  virtual void recordProgress(const AgentProgress& progress) = 0;
  // Coalesced per node: the latest record of each node is written.
  virtual void recordNode(const NodeRecord& node) = 0;
  virtual void recordEvent(EventRecord event) = 0;
  virtual void recordDecision(DecisionRecord decision) = 0;
  virtual void recordRollups(std::vector<RollupRow> rows) = 0;
  // Coalesced per (workload, container): the latest state of each is written over the stored one.
  // By value like the other records (the store keeps them); a store without the table drops them.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  virtual void recordRecommenderState(std::vector<RecommenderStateRow> /*rows*/) {}

  virtual Result<std::vector<AgentProgress>> loadProgress() = 0;
  virtual Result<std::vector<NodeRecord>> loadNodes() = 0;
  virtual Result<std::vector<EventRecord>> events(const EventQuery& query) = 0;
  virtual Result<std::vector<DecisionRecord>> decisions(const DecisionQuery& query) = 0;
  virtual Result<std::vector<RollupRow>> rollups(const RollupQuery& query) = 0;
  virtual Result<std::vector<RecommenderStateRow>> loadRecommenderState() {
    return std::vector<RecommenderStateRow>{};
  }

  // Blocks until everything recorded before the call is committed (or failed).
  virtual void flush() = 0;
  // Why the latest commit failed (a full disk, a read-only file system), while commits keep
  // failing; std::nullopt once one succeeds. /readyz reports it.
  virtual std::optional<std::string> writeError() const { return std::nullopt; }
};

struct SqliteStoreOptions {
  std::string stateDir;
  std::chrono::milliseconds commitInterval{100};  // how long writes gather before a commit
  std::chrono::nanoseconds rollupRetention = std::chrono::hours(24);
  std::chrono::nanoseconds eventRetention = std::chrono::hours(24 * 30);
  // Recommender state not updated for this long (its container gone for longer than the
  // recommender's 8-day memory window, plus a day) is deleted.
  std::chrono::nanoseconds recommenderRetention = std::chrono::hours(24 * 9);
  std::size_t maxQueuedRows = 1'000'000;  // beyond it, new events and rollups are dropped
};

// SQLite (WAL) at <stateDir>/aggregator.db. Text is valid UTF-8 in and out: rows recorded or
// read with bytes that are not (an older version stored them) are repaired with U+FFFD.
class SqliteStore final : public Store {
 public:
  // Creates the directory and schema. `metrics` may be null.
  static Result<std::unique_ptr<SqliteStore>> open(SqliteStoreOptions options,
                                                   StoreMetrics* metrics, const Clock& clock);
  ~SqliteStore() override;

  // Called on the writer thread after each commit with the progress it made durable (stored
  // rows only: a record older than the row is not reported). Set once, before recording.
  void setCommitListener(std::function<void(const std::vector<AgentProgress>&)> listener);

  void recordProgress(const AgentProgress& progress) override;
  void recordNode(const NodeRecord& node) override;
  void recordEvent(EventRecord event) override;
  void recordDecision(DecisionRecord decision) override;
  void recordRollups(std::vector<RollupRow> rows) override;
  void recordRecommenderState(std::vector<RecommenderStateRow> rows) override;
  Result<std::vector<AgentProgress>> loadProgress() override;
  Result<std::vector<NodeRecord>> loadNodes() override;
  Result<std::vector<EventRecord>> events(const EventQuery& query) override;
  Result<std::vector<DecisionRecord>> decisions(const DecisionQuery& query) override;
  Result<std::vector<RollupRow>> rollups(const RollupQuery& query) override;
  Result<std::vector<RecommenderStateRow>> loadRecommenderState() override;
  void flush() override;
  std::optional<std::string> writeError() const override;

  // Deletes rows older than the retention settings; the writer also does this every minute.
  Status prune();
  std::string path() const;

 private:
  struct Pending {
    std::unordered_map<std::string, AgentProgress> progress;
    std::unordered_map<std::string, NodeRecord> nodes;  // by "<cluster>\n<node>"
    std::vector<EventRecord> events;
    std::vector<DecisionRecord> decisions;
    std::vector<RollupRow> rollups;
    // By "<namespace>\n<kind>\n<name>\n<container>".
    std::unordered_map<std::string, RecommenderStateRow> recommender;
    std::size_t rows() const {
      return progress.size() + nodes.size() + events.size() + decisions.size() + rollups.size() +
             recommender.size();
    }
  };

  SqliteStore(SqliteStoreOptions options, StoreMetrics* metrics, const Clock& clock,
              std::unique_ptr<SqliteDatabase> writer, std::unique_ptr<SqliteDatabase> reader);
  void run();
  Status write(Pending& batch);
  Status writeRecommenderState(const Pending& batch);
  void enqueued(std::unique_lock<std::mutex>& lock);
  bool roomFor(std::size_t rows, const char* what);

  // Text columns as valid UTF-8; counts a row that needed repair under `table`.
  void repair(const char* table, std::initializer_list<std::string*> columns);

  SqliteStoreOptions options_;
  StoreMetrics* metrics_;
  const Clock& clock_;
  std::unique_ptr<SqliteDatabase> writer_;  // writer thread only
  std::mutex readerMutex_;
  std::unique_ptr<SqliteDatabase> reader_;
  std::function<void(const std::vector<AgentProgress>&)> listener_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable committed_;
  Pending pending_;
  std::uint64_t enqueuedCount_ = 0;
  std::uint64_t committedCount_ = 0;
  bool flushRequested_ = false;
  bool busy_ = false;        // a batch is being written or its listener called
  bool writerIdle_ = false;  // the writer waits for a row to arrive
  bool stopping_ = false;
  std::optional<std::string> writeError_;  // under mutex_
  std::thread thread_;
};

// The rollups table of an aggregator.db opened by anyone (the store's reader, `replay`).
Result<std::vector<RollupRow>> readRollups(SqliteDatabase& database, const RollupQuery& query);

}  // namespace fleetscale::aggregator
