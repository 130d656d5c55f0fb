#include "fleetscale/agent/sqlite_spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/logging.h"

namespace fleetscale::agent {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS spool_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS spool_batches (
  sequence        INTEGER PRIMARY KEY,
  created_unix_ms INTEGER NOT NULL,
  frame           BLOB NOT NULL
);
)sql";

// after() hands out at most this many bytes at once (at least one batch), so replaying a long
// backlog of large batches does not hold the whole backlog in memory.
constexpr std::uint64_t kMaxBytesPerRead = 4 * 1024 * 1024;
constexpr std::chrono::minutes kErrorLogInterval{1};

std::string moveAside(const std::string& path, WallTime now) {
  std::string target =
      path + ".corrupt-" +
      std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
  std::error_code ec;
  std::filesystem::rename(path, target, ec);
  for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(path + suffix, ec);
  return target;
}

// What encodeBatchFrame writes: a length prefix matching the rest, then the Envelope's `batch`
// field tag. Catches truncated or overwritten rows without decoding the batch.
bool looksLikeBatchFrame(const std::string& frame) {
  if (frame.size() < kFrameHeaderBytes + 2) return false;
  std::uint32_t length = 0;
  for (std::size_t i = 0; i < kFrameHeaderBytes; ++i) {
    length = (length << 8) | static_cast<unsigned char>(frame[i]);
  }
  return length == frame.size() - kFrameHeaderBytes &&
         static_cast<unsigned char>(frame[kFrameHeaderBytes]) == ((3 << 3) | 2);
}

Error withContext(const std::string& what, const Error& error) {
  return Error{what + ": " + error.message, error.code};
}

}  // namespace

SqliteSpool::SqliteSpool(std::unique_ptr<SqliteDatabase> db, SpoolLimits limits, const Clock& clock)
    : db_(std::move(db)), limits_(limits), clock_(clock), errorLog_(clock, kErrorLogInterval) {}

SqliteSpool::~SqliteSpool() {
  db_.reset();  // close the database before giving up the lock
  if (lockFd_ >= 0) ::close(lockFd_);
}

Result<std::unique_ptr<SqliteSpool>> SqliteSpool::open(const std::string& path, SpoolLimits limits,
                                                       const Clock& clock) {
  // Two agents on one spool would interleave their sequences; the second one is refused.
  const std::string lockPath = path + ".lock";
  const int lockFd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lockFd < 0) return Error{"spool lock " + lockPath + ": " + std::strerror(errno), errno};
  if (::flock(lockFd, LOCK_EX | LOCK_NB) != 0) {
    const int code = errno;
    ::close(lockFd);
    return Error{
        "spool " + path + " is in use by another fleetscale-agent (" + lockPath + " is locked)",
        code};
  }
  std::optional<std::string> movedAside;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::error_code ec;
    const bool existed = std::filesystem::exists(path, ec);
    auto db = SqliteDatabase::open(path);
    Error error{""};
    if (db) {
      std::unique_ptr<SqliteSpool> spool(new SqliteSpool(std::move(*db), limits, clock));
      Status status = spool->load();
      if (status) {
        spool->lockFd_ = lockFd;
        spool->movedAside_ = movedAside;
        return spool;
      }
      error = Error{status.message()};
    } else {
      error = db.error();
    }
    // A file we hold the lock for that fails to open or load is broken (not a database,
    // corrupt, another schema): keep it for inspection and start over. A file that could not
    // be created is a configuration error.
    if (!existed || attempt > 0) {
      ::close(lockFd);
      return withContext("spool " + path, error);
    }
    movedAside = moveAside(path, clock.wallNow());
    componentLogger("agent.spool")
        ->error("spool {} is not usable ({}); moved it to {} and started an empty spool", path,
                error.message, *movedAside);
  }
  ::close(lockFd);
  return Error{"spool " + path + ": unusable"};
}

Status SqliteSpool::load() {
  // The spool only appends at the end and deletes from the front: a small page cache does.
  if (Status status = db_->exec("PRAGMA cache_size = -512"); !status) return status;
  if (Status status = db_->exec(kSchema); !status) return status;
  auto meta = db_->prepare("SELECT key, value FROM spool_meta");
  if (!meta) return meta.error();
  std::uint64_t storedNext = 1;
  while (true) {
    auto row = meta->step();
    if (!row) return row.error();
    if (!*row) break;
    const std::string key = meta->columnText(0);
    if (key == "agent_id") agentId_ = meta->columnText(1);
    if (key == "next_sequence") {
      const std::string value = meta->columnText(1);
      storedNext =
          std::clamp<std::uint64_t>(std::strtoull(value.c_str(), nullptr, 10), 1, kMaxSequence);
    }
    if (key == "sequence_epoch") {
      const std::string value = meta->columnText(1);
      epoch_ = std::strtoull(value.c_str(), nullptr, 10);
    }
  }
  if (epoch_ == 0 || epoch_ > kMaxSequence) {
    // A new spool, or one from before epochs: its numbering carries on under its first epoch.
    epoch_ = randomSequenceEpoch();
    if (Status status = setMeta("sequence_epoch", std::to_string(epoch_)); !status) return status;
  }
  auto batches = db_->prepare(
      "SELECT sequence, created_unix_ms, length(frame) FROM spool_batches ORDER BY sequence");
  if (!batches) return batches.error();
  index_.clear();
  bytes_ = 0;
  while (true) {
    auto row = batches->step();
    if (!row) return row.error();
    if (!*row) break;
    const auto sequence = static_cast<std::uint64_t>(batches->columnInt(0));
    const auto size = static_cast<std::uint64_t>(batches->columnInt(2));
    index_.push_back(Entry{sequence, batches->columnInt(1), size});
    bytes_ += size;
  }
  nextSequence_ = std::max(storedNext, index_.empty() ? 1 : index_.back().sequence + 1);
  return {};
}

Status SqliteSpool::setMeta(const char* key, const std::string& value) {
  auto statement = db_->prepare(
      "INSERT INTO spool_meta(key, value) VALUES(?1, ?2) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!statement) return statement.error();
  return statement->bind(1, std::string_view(key)).bind(2, value).run();
}

Status SqliteSpool::setAgentId(const std::string& agentId) {
  if (Status status = setMeta("agent_id", agentId); !status) return status;
  agentId_ = agentId;
  return {};
}

Status SqliteSpool::deleteOne(std::uint64_t sequence) {
  auto statement = db_->prepare("DELETE FROM spool_batches WHERE sequence = ?1");
  if (!statement) return statement.error();
  if (Status status = statement->bind(1, static_cast<std::int64_t>(sequence)).run(); !status) {
    return status;
  }
  const auto it = std::find_if(index_.begin(), index_.end(),
                               [&](const Entry& entry) { return entry.sequence == sequence; });
  if (it != index_.end()) {
    bytes_ -= it->bytes;
    index_.erase(it);
  }
  return {};
}

Status SqliteSpool::deleteUpTo(std::uint64_t sequence) {
  auto statement = db_->prepare("DELETE FROM spool_batches WHERE sequence <= ?1");
  if (!statement) return statement.error();
  return statement->bind(1, static_cast<std::int64_t>(sequence)).run();
}

std::size_t SqliteSpool::oldestToDrop(std::uint64_t incomingBytes) const {
  const std::int64_t nowMs = toUnixMillis(clock_.wallNow());
  const std::int64_t maxAgeMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(limits_.maxAge).count();
  std::size_t drop = 0;
  std::uint64_t remainingBytes = bytes_;
  while (drop < index_.size()) {
    const Entry& oldest = index_[drop];
    const bool overCount = index_.size() - drop + 1 > limits_.maxBatches;
    const bool overBytes = remainingBytes + incomingBytes > limits_.maxBytes;
    const bool tooOld = maxAgeMs > 0 && nowMs - oldest.createdUnixMs > maxAgeMs;
    if (!overCount && !overBytes && !tooOld) break;
    remainingBytes -= oldest.bytes;
    ++drop;
  }
  return drop;
}

void SqliteSpool::recordError(const std::string& what, const std::string& message) {
  ++errors_;
  std::uint64_t suppressed = 0;
  if (errorLog_.allow(&suppressed)) {
    componentLogger("agent.spool")
        ->error("spool {} {}: {} ({} similar errors not logged)", db_->path(), what, message,
                suppressed);
  }
}

std::uint64_t SqliteSpool::append(v1::SampleBatch& batch) {
  const std::uint64_t sequence = nextSequence_++;
  batch.set_sequence(sequence);
  const std::string frame = encodeBatchFrame(batch);
  const std::int64_t createdMs = toUnixMillis(clock_.wallNow());
  const std::size_t drop = oldestToDrop(frame.size());

  // One transaction: the oldest batches out, the new one in, the sequence stored. The index in
  // memory changes only after the commit, so a failure leaves file and index as they were.
  Status status = db_->begin();
  if (status && drop > 0) status = deleteUpTo(index_[drop - 1].sequence);
  if (status) {
    auto insert = db_->prepare(
        "INSERT INTO spool_batches(sequence, created_unix_ms, frame) VALUES(?1, ?2, ?3)");
    status = insert ? insert->bind(1, static_cast<std::int64_t>(sequence))
                          .bind(2, createdMs)
                          .bindBlob(3, frame)
                          .run()
                    : Status(insert.error());
  }
  if (status) status = setMeta("next_sequence", std::to_string(nextSequence_));
  if (status) status = db_->commit();
  if (!status) {
    (void)db_->rollback();
    ++dropped_;  // this batch is lost; the ones already spooled are intact
    recordError("append of batch " + std::to_string(sequence), status.message());
    return sequence;
  }
  for (std::size_t i = 0; i < drop; ++i) {
    bytes_ -= index_.front().bytes;
    index_.pop_front();
  }
  dropped_ += drop;
  index_.push_back(Entry{sequence, createdMs, frame.size()});
  bytes_ += frame.size();
  return sequence;
}

std::vector<QueuedBatch> SqliteSpool::after(std::uint64_t afterSequence, std::size_t max) {
  std::vector<QueuedBatch> out;
  if (max == 0 || index_.empty() || index_.back().sequence <= afterSequence) return out;
  auto select = db_->prepare(
      "SELECT sequence, frame FROM spool_batches WHERE sequence > ?1 ORDER BY sequence "
      "LIMIT ?2");
  if (!select) {
    recordError("read", select.error().message);
    return out;
  }
  select->bind(1, static_cast<std::int64_t>(afterSequence)).bind(2, static_cast<std::int64_t>(max));
  std::uint64_t handedOut = 0;
  while (true) {
    auto row = select->step();
    if (!row) {
      recordError("read", row.error().message);
      break;
    }
    if (!*row) break;
    QueuedBatch batch{static_cast<std::uint64_t>(select->columnInt(0)), select->columnBlob(1)};
    if (!looksLikeBatchFrame(batch.frame)) {
      // A damaged row would be rejected by the aggregator on every reconnect and block every
      // batch behind it: drop it, counted, instead.
      recordError("read of batch " + std::to_string(batch.sequence), "damaged frame, dropped");
      if (Status status = deleteOne(batch.sequence); status) ++dropped_;
      continue;
    }
    handedOut += batch.frame.size();
    out.push_back(std::move(batch));
    if (handedOut >= kMaxBytesPerRead) break;
  }
  return out;
}

void SqliteSpool::renewSequenceEpoch() {
  epoch_ = randomSequenceEpoch();
  if (Status status = setMeta("sequence_epoch", std::to_string(epoch_)); !status) {
    recordError("store sequence epoch", status.message());
  }
}

void SqliteSpool::continueAfter(std::uint64_t sequence) {
  if (sequence < nextSequence_ || sequence >= kMaxSequence) return;
  nextSequence_ = sequence + 1;
  if (Status status = setMeta("next_sequence", std::to_string(nextSequence_)); !status) {
    recordError("store next sequence", status.message());
  }
}

std::size_t SqliteSpool::countAfter(std::uint64_t sequence) const {
  const auto first = std::partition_point(index_.begin(), index_.end(),
                                          [&](const Entry& e) { return e.sequence <= sequence; });
  return static_cast<std::size_t>(index_.end() - first);
}

void SqliteSpool::ack(std::uint64_t sequence) {
  sequence = std::min(sequence, kMaxSequence);  // the file keeps sequences as signed numbers
  continueAfter(sequence);
  if (index_.empty() || index_.front().sequence > sequence) return;
  if (Status status = deleteUpTo(sequence); !status) {
    recordError("release acked batches", status.message());
    return;
  }
  while (!index_.empty() && index_.front().sequence <= sequence) {
    bytes_ -= index_.front().bytes;
    index_.pop_front();
  }
}

}  // namespace fleetscale::agent
