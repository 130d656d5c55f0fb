#include "fleetscale/aggregator/store/store.h"

#include <filesystem>

#include "fleetscale/aggregator/store/store_metrics.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/log_throttle.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

// 1: the first. 2: agents.sequence_epoch, the nodes table; sequences and epochs are unsigned
// 64-bit numbers stored as the signed integers with the same bits (readers cast them back).
// 3: rollups.cpu_unmet_demand_cores. 4: the recommender table (created with the schema).
constexpr int kSchemaVersion = 4;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS agents(
  agent_id TEXT PRIMARY KEY,
  node TEXT NOT NULL,
  cluster TEXT NOT NULL,
  last_sequence INTEGER NOT NULL,
  batches_accepted INTEGER NOT NULL,
  samples_accepted INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  sequence_epoch INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS nodes(
  cluster TEXT NOT NULL,
  node TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  sequence_epoch INTEGER NOT NULL,
  agent_started_ms INTEGER NOT NULL,
  agent_restarts INTEGER NOT NULL,
  PRIMARY KEY(cluster, node)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  cluster TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  workload TEXT NOT NULL,
  message TEXT NOT NULL,
  details TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts_ms);
CREATE TABLE IF NOT EXISTS decisions(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ms INTEGER NOT NULL,
  namespace TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  current_replicas INTEGER NOT NULL,
  desired_replicas INTEGER NOT NULL,
  reason TEXT NOT NULL,
  details TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS decisions_ts ON decisions(ts_ms);
CREATE INDEX IF NOT EXISTS decisions_workload ON decisions(namespace, name, ts_ms);
CREATE TABLE IF NOT EXISTS rollups(
  namespace TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  cluster TEXT NOT NULL,
  bucket_ms INTEGER NOT NULL,
  replicas_seen REAL NOT NULL,
  replicas_ready REAL NOT NULL,
  cpu_usage_cores REAL NOT NULL,
  cpu_request_cores REAL NOT NULL,
  memory_usage_bytes REAL NOT NULL,
  memory_request_bytes REAL NOT NULL,
  cpu_utilization REAL,
  memory_utilization REAL,
  load_share REAL,
  ticks INTEGER NOT NULL,
  cpu_unmet_demand_cores REAL NOT NULL DEFAULT 0,
  PRIMARY KEY(namespace, kind, name, cluster, bucket_ms)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rollups_bucket ON rollups(bucket_ms);
CREATE TABLE IF NOT EXISTS recommender(
  namespace TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  container TEXT NOT NULL,
  updated_ms INTEGER NOT NULL,
  state BLOB NOT NULL,
  PRIMARY KEY(namespace, kind, name, container)) WITHOUT ROWID;
)sql";

void bindOptional(SqliteStatement& statement, int index, double value) {
  if (isPresent(value)) {
    statement.bind(index, value);
  } else {
    statement.bindNull(index);
  }
}

double columnOptional(const SqliteStatement& statement, int column) {
  return statement.columnIsNull(column) ? kAbsent : statement.columnDouble(column);
}

// Unsigned 64-bit numbers (sequences, epochs, counters) go to SQLite's signed INTEGER with their
// bits unchanged, so every value round-trips; none is compared in SQL.
std::int64_t toColumn(std::uint64_t value) { return static_cast<std::int64_t>(value); }
std::uint64_t fromColumn(std::int64_t value) { return static_cast<std::uint64_t>(value); }

Result<bool> hasTable(SqliteDatabase& db, const std::string& name) {
  auto statement = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  if (!statement) return statement.error();
  statement->bind(1, name);
  auto row = statement->step();
  if (!row) return row.error();
  return *row;
}

// Schema changes of existing databases, each from the version before it.
Status migrate(SqliteDatabase& db, std::int64_t from) {
  if (from <= 2) {
    // Rollups before throttling-aware demand: their demand is their usage (unmet 0).
    auto rollups = hasTable(db, "rollups");
    if (!rollups) return rollups.error();
    if (*rollups) {
      if (Status status = db.exec(
              "ALTER TABLE rollups ADD COLUMN cpu_unmet_demand_cores REAL NOT NULL DEFAULT 0");
          !status) {
        return status;
      }
    }
  }
  if (from == 1) {
    // Before epochs every agent id had one sequence space: epoch 0 (the nodes table comes with
    // the schema).
    if (Status status =
            db.exec("ALTER TABLE agents ADD COLUMN sequence_epoch INTEGER NOT NULL DEFAULT 0");
        !status) {
      return status;
    }
  }
  return {};
}

// Steps through a query's rows, turning each into a T with `read`.
template <typename T, typename Read>
Result<std::vector<T>> collectRows(SqliteStatement& statement, Read read) {
  std::vector<T> out;
  while (true) {
    auto row = statement.step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(read(statement));
  }
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(SqliteStoreOptions options,
                                                       StoreMetrics* metrics, const Clock& clock) {
  std::error_code ec;
  std::filesystem::create_directories(options.stateDir, ec);
  if (ec) return Error{"cannot create state directory " + options.stateDir + ": " + ec.message()};
  const std::string path = options.stateDir + "/aggregator.db";
  auto writer = SqliteDatabase::open(path);
  if (!writer) return writer.error();
  std::int64_t existing = 0;
  {
    // Finished before the schema changes: a pending statement would lock them out.
    auto version = (*writer)->prepare("PRAGMA user_version");
    if (!version) return version.error();
    if (auto row = version->step(); !row) return row.error();
    existing = version->columnInt(0);
  }
  if (existing > kSchemaVersion) {
    return Error{path + " has schema version " + std::to_string(existing) +
                 ", newer than this aggregator's " + std::to_string(kSchemaVersion)};
  }
  if (Status status = (*writer)->begin(); !status) return Error{status.message()};
  Status status = existing > 0 ? migrate(**writer, existing) : Status{};
  if (status) status = (*writer)->exec(kSchema);
  if (status) {
    status = (*writer)->exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
  }
  if (status) status = (*writer)->commit();
  if (!status) {
    (void)(*writer)->rollback();
    return Error{path + ": schema version " + std::to_string(existing) + " -> " +
                 std::to_string(kSchemaVersion) + ": " + status.message()};
  }
  auto reader = SqliteDatabase::open(path);
  if (!reader) return reader.error();
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(std::move(options), metrics, clock, std::move(*writer), std::move(*reader)));
}

SqliteStore::SqliteStore(SqliteStoreOptions options, StoreMetrics* metrics, const Clock& clock,
                         std::unique_ptr<SqliteDatabase> writer,
                         std::unique_ptr<SqliteDatabase> reader)
    : options_(std::move(options)),
      metrics_(metrics),
      clock_(clock),
      writer_(std::move(writer)),
      reader_(std::move(reader)) {
  thread_ = std::thread([this] { run(); });
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::string SqliteStore::path() const { return writer_->path(); }

void SqliteStore::setCommitListener(
    std::function<void(const std::vector<AgentProgress>&)> listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

void SqliteStore::enqueued(std::unique_lock<std::mutex>& lock) {
  ++enqueuedCount_;
  const auto depth = static_cast<double>(pending_.rows());
  // Only a writer waiting for its first row needs waking: one gathering rows for its commit
  // would wake, find no flush asked for and sleep again, once per batch of every agent.
  const bool wake = writerIdle_;
  lock.unlock();
  if (metrics_ != nullptr) metrics_->queueDepth().Set(depth);
  if (wake) wake_.notify_one();
}

bool SqliteStore::roomFor(std::size_t rows, const char* what) {
  if (pending_.rows() + rows <= options_.maxQueuedRows) return true;
  if (metrics_ != nullptr) metrics_->dropped(what).Increment(static_cast<double>(rows));
  return false;
}

void SqliteStore::recordProgress(const AgentProgress& progress) {
  std::unique_lock lock(mutex_);
  auto [it, inserted] = pending_.progress.try_emplace(progress.agentId, progress);
  // batchesAccepted only grows, whatever the sequence epoch: the larger one is the newer.
  if (!inserted && it->second.batchesAccepted < progress.batchesAccepted) it->second = progress;
  enqueued(lock);
}

void SqliteStore::recordNode(const NodeRecord& node) {
  std::unique_lock lock(mutex_);
  pending_.nodes[node.cluster + "\n" + node.node] = node;
  enqueued(lock);
}

void SqliteStore::repair(const char* table, std::initializer_list<std::string*> columns) {
  bool repaired = false;
  for (std::string* column : columns) {
    if (isValidUtf8(*column)) continue;
    *column = toValidUtf8(*column);
    repaired = true;
  }
  if (repaired && metrics_ != nullptr) metrics_->repaired(table).Increment();
}

void SqliteStore::recordEvent(EventRecord event) {
  repair("events", {&event.kind, &event.cluster, &event.agentId, &event.workload, &event.message,
                    &event.details});
  std::unique_lock lock(mutex_);
  if (!roomFor(1, "events")) return;
  pending_.events.push_back(std::move(event));
  enqueued(lock);
}

void SqliteStore::recordDecision(DecisionRecord decision) {
  repair("decisions", {&decision.workload.namespaceName, &decision.workload.kind,
                       &decision.workload.name, &decision.reason, &decision.details});
  std::unique_lock lock(mutex_);
  if (!roomFor(1, "decisions")) return;
  pending_.decisions.push_back(std::move(decision));
  enqueued(lock);
}

void SqliteStore::recordRollups(std::vector<RollupRow> rows) {
  std::unique_lock lock(mutex_);
  if (!roomFor(rows.size(), "rollups")) return;
  pending_.rollups.insert(pending_.rollups.end(), std::make_move_iterator(rows.begin()),
                          std::make_move_iterator(rows.end()));
  enqueued(lock);
}

void SqliteStore::recordRecommenderState(std::vector<RecommenderStateRow> rows) {
  for (auto& row : rows) {
    repair("recommender",
           {&row.workload.namespaceName, &row.workload.kind, &row.workload.name, &row.container});
  }
  std::unique_lock lock(mutex_);
  // Coalesced: a row already queued is replaced, so only new keys need room.
  for (auto& row : rows) {
    std::string key = row.workload.namespaceName + "\n" + row.workload.kind + "\n" +
                      row.workload.name + "\n" + row.container;
    if (auto it = pending_.recommender.find(key); it != pending_.recommender.end()) {
      it->second = std::move(row);
    } else if (roomFor(1, "recommender")) {
      pending_.recommender.emplace(std::move(key), std::move(row));
    }
  }
  enqueued(lock);
}

void SqliteStore::flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = enqueuedCount_;
  flushRequested_ = true;
  wake_.notify_one();
  committed_.wait(lock, [&] { return (committedCount_ >= target && !busy_) || stopping_; });
}

std::optional<std::string> SqliteStore::writeError() const {
  std::lock_guard lock(mutex_);
  return writeError_;
}

void SqliteStore::run() {
  auto log = componentLogger("aggregator.store");
  // A full disk fails every commit (every --commit-interval): logged once a minute, counted always.
  LogThrottle errorLog(clock_, std::chrono::minutes(1));
  std::uint64_t failures = 0;  // in a row
  auto lastPrune = clock_.now();
  std::unique_lock lock(mutex_);
  while (true) {
    writerIdle_ = true;
    wake_.wait(lock, [&] { return stopping_ || pending_.rows() > 0; });
    writerIdle_ = false;
    if (!stopping_ && !flushRequested_) {
      // Let writes gather so one transaction carries many.
      wake_.wait_for(lock, options_.commitInterval, [&] { return stopping_ || flushRequested_; });
    }
    flushRequested_ = false;
    Pending batch;
    std::swap(batch, pending_);
    const std::uint64_t taken = enqueuedCount_;
    busy_ = true;
    auto listener = listener_;
    lock.unlock();
    if (metrics_ != nullptr) metrics_->queueDepth().Set(0);

    std::vector<AgentProgress> durable;
    if (batch.rows() > 0) {
      const auto started = clock_.now();
      Status status = write(batch);
      const double seconds = std::chrono::duration<double>(clock_.now() - started).count();
      if (metrics_ != nullptr) metrics_->writeSeconds().Observe(seconds);
      if (status) {
        for (auto& [agent, progress] : batch.progress) durable.push_back(std::move(progress));
        if (failures > 0) {
          log->info("commits succeed again after {} failed", failures);
          failures = 0;
          std::lock_guard relock(mutex_);
          writeError_.reset();
        }
      } else {
        ++failures;
        std::uint64_t held = 0;
        if (errorLog.allow(&held)) {
          log->error("commit of {} rows failed: {}{}", batch.rows(), status.message(),
                     held > 0 ? " (" + std::to_string(held) + " more failures since)" : "");
        }
        if (metrics_ != nullptr) metrics_->errors().Increment();
        // Progress is retried with the next commit; nothing is acked until it is durable.
        std::lock_guard relock(mutex_);
        writeError_ = status.message();
        if (!stopping_) {
          for (auto& [agent, p] : batch.progress) pending_.progress.try_emplace(agent, p);
          for (auto& [key, n] : batch.nodes) pending_.nodes.try_emplace(key, n);
        }
      }
    }
    if (!durable.empty() && listener) listener(durable);
    if (clock_.now() - lastPrune > std::chrono::minutes(1)) {
      lastPrune = clock_.now();
      if (Status status = prune(); !status)
        log->warn("pruning old rows failed: {}", status.message());
    }
    lock.lock();
    committedCount_ = taken;
    busy_ = false;
    committed_.notify_all();
    if (stopping_ && pending_.rows() == 0) break;  // else drain what arrived meanwhile
  }
}

Status SqliteStore::write(Pending& batch) {
  if (Status status = writer_->begin(); !status) return status;
  auto fail = [&](const Error& error) {
    (void)writer_->rollback();
    return Status(error);
  };
  if (!batch.progress.empty()) {
    // A row only moves forward: batches_accepted orders two records of an agent whatever their
    // sequence epochs (a new epoch restarts the sequence, never the count).
    auto statement = writer_->prepare(
        "INSERT INTO agents(agent_id, node, cluster, last_sequence, batches_accepted, "
        "samples_accepted, last_seen_ms, sequence_epoch) VALUES(?,?,?,?,?,?,?,?) "
        "ON CONFLICT(agent_id) DO UPDATE SET node=excluded.node, cluster=excluded.cluster, "
        "last_sequence=excluded.last_sequence, batches_accepted=excluded.batches_accepted, "
        "samples_accepted=excluded.samples_accepted, last_seen_ms=excluded.last_seen_ms, "
        "sequence_epoch=excluded.sequence_epoch "
        "WHERE excluded.batches_accepted >= batches_accepted");
    if (!statement) return fail(statement.error());
    for (auto it = batch.progress.begin(); it != batch.progress.end();) {
      const AgentProgress& p = it->second;
      Status status = statement->bind(1, p.agentId)
                          .bind(2, p.node)
                          .bind(3, p.cluster)
                          .bind(4, toColumn(p.lastSequence))
                          .bind(5, toColumn(p.batchesAccepted))
                          .bind(6, toColumn(p.samplesAccepted))
                          .bind(7, p.lastSeenUnixMs)
                          .bind(8, toColumn(p.sequenceEpoch))
                          .run();
      if (!status) return fail(Error{status.message()});
      // A row the guard kept (it held newer progress) is not what this record says: only what
      // is stored may be reported durable, and so acked.
      it = writer_->changes() == 0 ? batch.progress.erase(it) : std::next(it);
    }
  }
  if (!batch.nodes.empty()) {
    auto statement = writer_->prepare(
        "INSERT OR REPLACE INTO nodes(cluster, node, agent_id, sequence_epoch, agent_started_ms, "
        "agent_restarts) VALUES(?,?,?,?,?,?)");
    if (!statement) return fail(statement.error());
    for (const auto& [key, n] : batch.nodes) {
      Status status = statement->bind(1, n.cluster)
                          .bind(2, n.node)
                          .bind(3, n.agentId)
                          .bind(4, toColumn(n.sequenceEpoch))
                          .bind(5, n.agentStartedUnixMs)
                          .bind(6, toColumn(n.agentRestarts))
                          .run();
      if (!status) return fail(Error{status.message()});
    }
  }
  if (!batch.events.empty()) {
    auto statement = writer_->prepare(
        "INSERT INTO events(ts_ms, kind, cluster, agent_id, workload, message, details) "
        "VALUES(?,?,?,?,?,?,?)");
    if (!statement) return fail(statement.error());
    for (const auto& e : batch.events) {
      Status status = statement->bind(1, e.timeUnixMs)
                          .bind(2, e.kind)
                          .bind(3, e.cluster)
                          .bind(4, e.agentId)
                          .bind(5, e.workload)
                          .bind(6, e.message)
                          .bind(7, e.details)
                          .run();
      if (!status) return fail(Error{status.message()});
    }
  }
  if (!batch.decisions.empty()) {
    auto statement = writer_->prepare(
        "INSERT INTO decisions(ts_ms, namespace, kind, name, current_replicas, desired_replicas, "
        "reason, details) VALUES(?,?,?,?,?,?,?,?)");
    if (!statement) return fail(statement.error());
    for (const auto& d : batch.decisions) {
      Status status = statement->bind(1, d.timeUnixMs)
                          .bind(2, d.workload.namespaceName)
                          .bind(3, d.workload.kind)
                          .bind(4, d.workload.name)
                          .bind(5, static_cast<std::int64_t>(d.currentReplicas))
                          .bind(6, static_cast<std::int64_t>(d.desiredReplicas))
                          .bind(7, d.reason)
                          .bind(8, d.details)
                          .run();
      if (!status) return fail(Error{status.message()});
    }
  }
  if (!batch.rollups.empty()) {
    auto statement = writer_->prepare(
        "INSERT OR REPLACE INTO rollups(namespace, kind, name, cluster, bucket_ms, replicas_seen, "
        "replicas_ready, cpu_usage_cores, cpu_request_cores, memory_usage_bytes, "
        "memory_request_bytes, cpu_utilization, memory_utilization, load_share, ticks, "
        "cpu_unmet_demand_cores) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!statement) return fail(statement.error());
    for (const auto& r : batch.rollups) {
      statement->bind(1, r.workload.namespaceName)
          .bind(2, r.workload.kind)
          .bind(3, r.workload.name)
          .bind(4, r.cluster)
          .bind(5, r.bucketStartUnixMs)
          .bind(6, r.replicasSeen)
          .bind(7, r.replicasReady)
          .bind(8, r.cpuUsageCores)
          .bind(9, r.cpuRequestCores)
          .bind(10, r.memoryUsageBytes)
          .bind(11, r.memoryRequestBytes);
      bindOptional(*statement, 12, r.cpuUtilization);
      bindOptional(*statement, 13, r.memoryUtilization);
      bindOptional(*statement, 14, r.loadShare);
      if (Status status = statement->bind(15, static_cast<std::int64_t>(r.ticks))
                              .bind(16, r.cpuUnmetDemandCores)
                              .run();
          !status) {
        return fail(Error{status.message()});
      }
    }
  }
  if (Status status = writeRecommenderState(batch); !status) return fail(Error{status.message()});
  if (Status status = writer_->commit(); !status) return fail(Error{status.message()});
  if (metrics_ != nullptr) {
    metrics_->rowsWritten("agents").Increment(static_cast<double>(batch.progress.size()));
    metrics_->rowsWritten("nodes").Increment(static_cast<double>(batch.nodes.size()));
    metrics_->rowsWritten("events").Increment(static_cast<double>(batch.events.size()));
    metrics_->rowsWritten("decisions").Increment(static_cast<double>(batch.decisions.size()));
    metrics_->rowsWritten("rollups").Increment(static_cast<double>(batch.rollups.size()));
    metrics_->rowsWritten("recommender").Increment(static_cast<double>(batch.recommender.size()));
  }
  return {};
}

// Within write()'s transaction.
Status SqliteStore::writeRecommenderState(const Pending& batch) {
  if (batch.recommender.empty()) return {};
  auto statement = writer_->prepare(
      "INSERT OR REPLACE INTO recommender(namespace, kind, name, container, updated_ms, state) "
      "VALUES(?,?,?,?,?,?)");
  if (!statement) return statement.error();
  for (const auto& [key, row] : batch.recommender) {
    if (Status status = statement->bind(1, row.workload.namespaceName)
                            .bind(2, row.workload.kind)
                            .bind(3, row.workload.name)
                            .bind(4, row.container)
                            .bind(5, row.updatedUnixMs)
                            .bindBlob(6, row.state)
                            .run();
        !status) {
      return status;
    }
  }
  return {};
}

Result<std::vector<RecommenderStateRow>> SqliteStore::loadRecommenderState() {
  std::lock_guard lock(readerMutex_);
  auto statement = reader_->prepare(
      "SELECT namespace, kind, name, container, updated_ms, state FROM recommender "
      "ORDER BY namespace, kind, name, container");
  if (!statement) return statement.error();
  return collectRows<RecommenderStateRow>(*statement, [this](const SqliteStatement& row) {
    RecommenderStateRow out;
    out.workload = {row.columnText(0), row.columnText(1), row.columnText(2)};
    out.container = row.columnText(3);
    out.updatedUnixMs = row.columnInt(4);
    out.state = row.columnBlob(5);
    repair("recommender",
           {&out.workload.namespaceName, &out.workload.kind, &out.workload.name, &out.container});
    return out;
  });
}

Status SqliteStore::prune() {
  const std::int64_t now = toUnixMillis(clock_.wallNow());
  const auto millis = [](std::chrono::nanoseconds d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  for (const auto& [sql, cutoff] :
       {std::pair{"DELETE FROM rollups WHERE bucket_ms < ?",
                  now - millis(options_.rollupRetention)},
        std::pair{"DELETE FROM events WHERE ts_ms < ?", now - millis(options_.eventRetention)},
        std::pair{"DELETE FROM decisions WHERE ts_ms < ?", now - millis(options_.eventRetention)},
        std::pair{"DELETE FROM recommender WHERE updated_ms < ?",
                  now - millis(options_.recommenderRetention)},
        // Agents gone that long (churning nodes): their dedup progress, then the rows of nodes
        // whose agent started before then and has no progress left.
        std::pair{"DELETE FROM agents WHERE last_seen_ms < ?",
                  now - millis(options_.eventRetention)},
        std::pair{"DELETE FROM nodes WHERE agent_started_ms < ? AND agent_id NOT IN "
                  "(SELECT agent_id FROM agents)",
                  now - millis(options_.eventRetention)}}) {
    auto statement = writer_->prepare(sql);
    if (!statement) return Error{statement.error().message};
    if (Status status = statement->bind(1, cutoff).run(); !status) return status;
  }
  return {};
}

Result<std::vector<AgentProgress>> SqliteStore::loadProgress() {
  std::lock_guard lock(readerMutex_);
  auto statement = reader_->prepare(
      "SELECT agent_id, node, cluster, last_sequence, batches_accepted, samples_accepted, "
      "last_seen_ms, sequence_epoch FROM agents");
  if (!statement) return statement.error();
  return collectRows<AgentProgress>(*statement, [](const SqliteStatement& row) {
    return AgentProgress{row.columnText(0),
                         row.columnText(1),
                         row.columnText(2),
                         fromColumn(row.columnInt(3)),
                         fromColumn(row.columnInt(4)),
                         fromColumn(row.columnInt(5)),
                         row.columnInt(6),
                         fromColumn(row.columnInt(7))};
  });
}

Result<std::vector<NodeRecord>> SqliteStore::loadNodes() {
  std::lock_guard lock(readerMutex_);
  auto statement = reader_->prepare(
      "SELECT cluster, node, agent_id, sequence_epoch, agent_started_ms, agent_restarts "
      "FROM nodes");
  if (!statement) return statement.error();
  return collectRows<NodeRecord>(*statement, [](const SqliteStatement& row) {
    return NodeRecord{row.columnText(0), row.columnText(1),
                      row.columnText(2), fromColumn(row.columnInt(3)),
                      row.columnInt(4),  fromColumn(row.columnInt(5))};
  });
}

Result<std::vector<EventRecord>> SqliteStore::events(const EventQuery& query) {
  std::lock_guard lock(readerMutex_);
  auto statement = reader_->prepare(
      "SELECT id, ts_ms, kind, cluster, agent_id, workload, message, details FROM events "
      "WHERE ts_ms >= ? AND (?2 = '' OR kind = ?2) AND (?3 = '' OR cluster = ?3) "
      "AND (?4 = '' OR agent_id = ?4) ORDER BY id DESC LIMIT ?5");
  if (!statement) return statement.error();
  statement->bind(1, query.sinceUnixMs)
      .bind(2, query.kind)
      .bind(3, query.cluster)
      .bind(4, query.agentId)
      .bind(5, static_cast<std::int64_t>(query.limit));
  auto rows = collectRows<EventRecord>(*statement, [](const SqliteStatement& row) {
    return EventRecord{row.columnInt(0),  row.columnInt(1),  row.columnText(2), row.columnText(3),
                       row.columnText(4), row.columnText(5), row.columnText(6), row.columnText(7)};
  });
  if (rows) {
    for (auto& e : *rows) {
      repair("events", {&e.kind, &e.cluster, &e.agentId, &e.workload, &e.message, &e.details});
    }
  }
  return rows;
}

Result<std::vector<DecisionRecord>> SqliteStore::decisions(const DecisionQuery& query) {
  std::lock_guard lock(readerMutex_);
  auto statement = reader_->prepare(
      "SELECT id, ts_ms, namespace, kind, name, current_replicas, desired_replicas, reason, "
      "details FROM decisions WHERE ts_ms >= ? AND (?2 = '' OR namespace = ?2) "
      "AND (?3 = '' OR name = ?3) ORDER BY id DESC LIMIT ?4");
  if (!statement) return statement.error();
  statement->bind(1, query.sinceUnixMs)
      .bind(2, query.namespaceName)
      .bind(3, query.workload)
      .bind(4, static_cast<std::int64_t>(query.limit));
  auto rows = collectRows<DecisionRecord>(*statement, [](const SqliteStatement& row) {
    DecisionRecord d;
    d.id = row.columnInt(0);
    d.timeUnixMs = row.columnInt(1);
    d.workload = WorkloadKey{row.columnText(2), row.columnText(3), row.columnText(4)};
    d.currentReplicas = static_cast<int>(row.columnInt(5));
    d.desiredReplicas = static_cast<int>(row.columnInt(6));
    d.reason = row.columnText(7);
    d.details = row.columnText(8);
    return d;
  });
  if (rows) {
    for (auto& d : *rows) {
      repair("decisions", {&d.workload.namespaceName, &d.workload.kind, &d.workload.name, &d.reason,
                           &d.details});
    }
  }
  return rows;
}

Result<std::vector<RollupRow>> SqliteStore::rollups(const RollupQuery& query) {
  std::lock_guard lock(readerMutex_);
  return readRollups(*reader_, query);
}

Result<std::vector<RollupRow>> readRollups(SqliteDatabase& database, const RollupQuery& query) {
  auto statement = database.prepare(
      "SELECT namespace, kind, name, cluster, bucket_ms, replicas_seen, replicas_ready, "
      "cpu_usage_cores, cpu_request_cores, memory_usage_bytes, memory_request_bytes, "
      "cpu_utilization, memory_utilization, load_share, ticks, cpu_unmet_demand_cores FROM rollups "
      "WHERE bucket_ms >= ?1 AND bucket_ms < ?4 AND (?2 = '' OR namespace = ?2) "
      "AND (?3 = '' OR name = ?3) ORDER BY namespace, kind, name, cluster, bucket_ms");
  if (!statement) return statement.error();
  statement->bind(1, query.sinceUnixMs)
      .bind(2, query.namespaceName)
      .bind(3, query.name)
      .bind(4, query.untilUnixMs);
  return collectRows<RollupRow>(*statement, [](const SqliteStatement& row) {
    RollupRow r;
    // Names as valid UTF-8 whatever an older version stored (they reach JSON answers).
    r.workload = WorkloadKey{toValidUtf8(row.columnText(0)), toValidUtf8(row.columnText(1)),
                             toValidUtf8(row.columnText(2))};
    r.cluster = toValidUtf8(row.columnText(3));
    r.bucketStartUnixMs = row.columnInt(4);
    r.replicasSeen = row.columnDouble(5);
    r.replicasReady = row.columnDouble(6);
    r.cpuUsageCores = row.columnDouble(7);
    r.cpuRequestCores = row.columnDouble(8);
    r.memoryUsageBytes = row.columnDouble(9);
    r.memoryRequestBytes = row.columnDouble(10);
    r.cpuUtilization = columnOptional(row, 11);
    r.memoryUtilization = columnOptional(row, 12);
    r.loadShare = columnOptional(row, 13);
    r.ticks = static_cast<int>(row.columnInt(14));
    r.cpuUnmetDemandCores = row.columnDouble(15);
    return r;
  });
}

}  // namespace fleetscale::aggregator
