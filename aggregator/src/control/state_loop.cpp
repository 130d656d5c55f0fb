#include "fleetscale/aggregator/control/state_loop.h"

#include <nlohmann/json.hpp>

#include "fleetscale/shared/logging.h"

namespace fleetscale::aggregator {

namespace {
constexpr std::chrono::minutes kNamesSweepInterval{1};
// How often a round that is not in yet is looked at again: a pass over the nodes each time.
constexpr std::chrono::milliseconds kRoundPoll{5};
}  // namespace

std::vector<EventRecord> clusterHealthChanges(std::map<std::string, ReportingState>& previous,
                                              const FleetSnapshot& snapshot) {
  std::vector<EventRecord> events;
  for (const auto& cluster : snapshot.clusters) {
    auto [it, inserted] = previous.try_emplace(cluster.name, cluster.reporting);
    if (!inserted && it->second == cluster.reporting) continue;
    const std::string before = inserted ? "unknown" : std::string(toString(it->second));
    it->second = cluster.reporting;
    EventRecord event;
    event.timeUnixMs = toUnixMillis(snapshot.takenAt);
    event.kind = kEventClusterHealth;
    event.cluster = cluster.name;
    event.message = "cluster " + cluster.name + " " + before + " -> " +
                    std::string(toString(cluster.reporting)) + " (" +
                    std::to_string(cluster.staleNodes) + " of " + std::to_string(cluster.nodes) +
                    " nodes stale)";
    event.details = nlohmann::json{{"from", before},
                                   {"to", toString(cluster.reporting)},
                                   {"nodes", cluster.nodes},
                                   {"stale_nodes", cluster.staleNodes}}
                        .dump();
    events.push_back(std::move(event));
  }
  return events;
}

StateLoop::StateLoop(FleetState& fleet, Store* store, WorkloadHistory& history,
                     SnapshotHolder& snapshots, const Clock& clock, StateLoopOptions options)
    : fleet_(fleet),
      store_(store),
      history_(history),
      snapshots_(snapshots),
      clock_(clock),
      options_(options) {}

StateLoop::~StateLoop() { stop(); }

void StateLoop::start() {
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    auto next = std::chrono::steady_clock::now();
    while (!stopping_) {
      lock.unlock();
      tick();
      lock.lock();
      // Fixed rate: a slow tick does not push the next ones back.
      next += options_.interval;
      if (const auto now = std::chrono::steady_clock::now(); next < now) next = now;
      // New data in between gets its own snapshot; the loop returns here until the tick is due.
      while (waitForWork(lock, next)) {
        lock.unlock();
        publishSnapshot(clock_.wallNow());
        lock.lock();
      }
    }
  });
}

bool StateLoop::waitForWork(std::unique_lock<std::mutex>& lock,
                            std::chrono::steady_clock::time_point nextTick) {
  using std::chrono::steady_clock;
  for (;;) {
    if (stopping_) return false;
    const bool pending =
        pendingSince_.has_value() && options_.debounce.count() > 0 && !roundsUnaligned_;
    std::optional<steady_clock::time_point> early;
    bool roundIn = false;
    if (pending) {
      lock.unlock();
      const auto progress = fleet_.roundProgress(clock_.wallNow());
      lock.lock();
      if (progress == FleetState::RoundProgress::kUnaligned) {
        roundsUnaligned_ = true;
        continue;
      }
      roundIn = progress == FleetState::RoundProgress::kComplete;
      const auto due = roundIn ? steady_clock::now() : *pendingSince_ + options_.debounce;
      early = std::max(due, lastSnapshot_ + options_.minInterval);
      if (*early >= nextTick) early.reset();  // the tick comes first anyway
    }
    const auto now = steady_clock::now();
    const auto until = early.value_or(nextTick);
    if (now >= until) return early.has_value();
    // Woken by stop(), the time, (with nothing pending yet) the first new batch, or, while a
    // round is coming in, to look at it again.
    const auto wakeAt = pending && !roundIn ? std::min(until, now + kRoundPoll) : until;
    wake_.wait_until(lock, wakeAt, [&] {
      return stopping_ ||
             (!pending && pendingSince_ && options_.debounce.count() > 0 && !roundsUnaligned_);
    });
  }
}

void StateLoop::dataArrived() {
  {
    std::lock_guard lock(mutex_);
    if (pendingSince_) return;
    pendingSince_ = std::chrono::steady_clock::now();
  }
  wake_.notify_all();
}

std::uint64_t StateLoop::snapshotsPublished() const {
  std::lock_guard lock(mutex_);
  return published_;
}

std::shared_ptr<const FleetSnapshot> StateLoop::publishSnapshot(WallTime now) {
  {
    // Batches folded from here on wait for the next snapshot.
    std::lock_guard lock(mutex_);
    pendingSince_.reset();
    roundsUnaligned_ = false;
    lastSnapshot_ = std::chrono::steady_clock::now();
    ++published_;
  }
  auto snapshot = std::make_shared<const FleetSnapshot>(fleet_.snapshot(now));
  snapshots_.set(snapshot);
  return snapshot;
}

void StateLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  auto rows = downsampler_.drain();
  if (!rows.empty()) {
    history_.add(rows);
    if (store_ != nullptr) store_->recordRollups(std::move(rows));
  }
  if (rightsizing_ != nullptr) rightsizing_->save(clock_.wallNow());
}

void StateLoop::tick() {
  const WallTime now = clock_.wallNow();
  const auto snapshot = publishSnapshot(now);
  // The full ticks only: one sample per container per tick, as the recommender counts them.
  if (rightsizing_ != nullptr) rightsizing_->observe(*snapshot);
  auto rows = downsampler_.add(*snapshot);
  if (!rows.empty()) {
    history_.add(rows);
    if (store_ != nullptr) store_->recordRollups(std::move(rows));
  }
  auto log = componentLogger("aggregator.state");
  for (auto& event : clusterHealthChanges(health_, *snapshot)) {
    log->info("{}", event.message);
    if (store_ != nullptr) store_->recordEvent(std::move(event));
  }
  for (const auto& gone :
       fleet_.forgetSilentNodes(now, options_.forgetAfter, options_.keepProgressFor)) {
    log->info("forgot node {} (agent {}) of cluster {}: silent for longer than the forget delay",
              gone.node, gone.agentId, gone.cluster);
  }
  // Names cost a pass over every container: once a minute keeps it off the per-tick path.
  if (now - lastNamesSweep_ >= kNamesSweepInterval) {
    lastNamesSweep_ = now;
    if (const auto forgotten = fleet_.forgetUnusedWorkloadNames(now, options_.forgetAfter)) {
      log->debug("forgot {} workload names no container carried for {}s", forgotten,
                 std::chrono::duration_cast<std::chrono::seconds>(options_.forgetAfter).count());
    }
  }
}

}  // namespace fleetscale::aggregator
