// At-least-once delivery across agent restarts: the batches the aggregator has not acked, kept in
// a SQLite file (WAL) together with the agent id, the sequence epoch and the next sequence
// number, so a restarted agent replays what it had, in order, and continues its sequence where
// it stopped.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "fleetscale/agent/batch_queue.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/log_throttle.h"
#include "fleetscale/shared/result.h"
#include "fleetscale/shared/sqlite.h"

namespace fleetscale::agent {

// Bounds of the spool. Past any of them the oldest batches are dropped first and counted.
struct SpoolLimits {
  std::size_t maxBatches = 3600;
  std::uint64_t maxBytes = 256ULL * 1024 * 1024;       // at least the newest batch is always kept
  std::chrono::seconds maxAge{std::chrono::hours(1)};  // 0: no age limit
};

// Thread-safety: one thread (the agent's I/O thread), like every BatchQueue.
class SqliteSpool final : public BatchQueue {
 public:
  // Opens or creates the spool at `path`. A file that is not a usable spool (not a database,
  // corrupt, another schema) is renamed to <path>.corrupt-<unix seconds>, logged, and a fresh
  // spool is started: the agent keeps working; movedAside() tells what happened. Errors when the
  // file cannot be created (directory missing, permissions) or another agent holds the spool
  // (an flock on <path>.lock, released when the process exits, however it exits).
  static Result<std::unique_ptr<SqliteSpool>> open(const std::string& path, SpoolLimits limits,
                                                   const Clock& clock);
  ~SqliteSpool() override;

  using BatchQueue::append;
  std::uint64_t append(v1::SampleBatch& batch) override;
  std::vector<QueuedBatch> after(std::uint64_t afterSequence, std::size_t max) override;
  void ack(std::uint64_t sequence) override;
  void continueAfter(std::uint64_t sequence) override;
  std::size_t countAfter(std::uint64_t sequence) const override;
  std::size_t size() const override { return index_.size(); }
  std::uint64_t bytes() const override { return bytes_; }
  std::uint64_t droppedBatches() const override { return dropped_; }
  std::uint64_t nextSequence() const override { return nextSequence_; }
  // Stored with the spool: created with it (or when a spool from before epochs is first opened),
  // so a restarted agent continues the same sequence space.
  std::uint64_t sequenceEpoch() const override { return epoch_; }
  void renewSequenceEpoch() override;

  // The agent id stored with the spool; "" for a new spool.
  const std::string& agentId() const { return agentId_; }
  Status setAgentId(const std::string& agentId);
  // Failed writes and reads (disk full, I/O errors): each failed append drops that batch.
  std::uint64_t errors() const { return errors_; }
  // Where a broken spool file was moved at open, if one was.
  const std::optional<std::string>& movedAside() const { return movedAside_; }

 private:
  struct Entry {
    std::uint64_t sequence;
    std::int64_t createdUnixMs;
    std::uint64_t bytes;
  };

  SqliteSpool(std::unique_ptr<SqliteDatabase> db, SpoolLimits limits, const Clock& clock);
  Status load();
  Status setMeta(const char* key, const std::string& value);
  // How many of the oldest entries must go for `incomingBytes` more to fit the limits.
  std::size_t oldestToDrop(std::uint64_t incomingBytes) const;
  Status deleteUpTo(std::uint64_t sequence);
  Status deleteOne(std::uint64_t sequence);  // file and index
  void recordError(const std::string& what, const std::string& message);

  std::unique_ptr<SqliteDatabase> db_;
  SpoolLimits limits_;
  const Clock& clock_;
  std::deque<Entry> index_;  // what the file holds, oldest first, so limits need no queries
  std::uint64_t bytes_ = 0;
  std::uint64_t nextSequence_ = 1;
  std::uint64_t epoch_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t errors_ = 0;
  std::string agentId_;
  std::optional<std::string> movedAside_;
  LogThrottle errorLog_;
  int lockFd_ = -1;  // flock(2) on <path>.lock, held while the spool is open
};

}  // namespace fleetscale::agent
