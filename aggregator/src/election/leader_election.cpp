#include "fleetscale/aggregator/election/leader_election.h"

#include "fleetscale/shared/logging.h"

namespace fleetscale::aggregator {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

Status ElectionTiming::validate() const {
  if (retryPeriod.count() <= 0) return Error{"--retry-period must be positive"};
  if (renewDeadline <= retryPeriod) {
    return Error{
        "--renew-deadline must be longer than --retry-period (a leader renews several "
        "times before it gives up)"};
  }
  if (leaseDuration <= renewDeadline) {
    return Error{
        "--lease-duration must be longer than --renew-deadline, so a leader stops "
        "acting before its lease can expire"};
  }
  return {};
}

std::string_view leaderRoleName(LeaderRole role) {
  return role == LeaderRole::kLeader ? "leader" : "standby";
}

LeaderElector::LeaderElector(LeaseBackend& backend, std::string identity, ElectionTiming timing,
                             const Clock& clock, ChangeListener onChange)
    : backend_(backend),
      identity_(std::move(identity)),
      timing_(timing),
      clock_(clock),
      onChange_(std::move(onChange)) {
  counters_.identity = identity_;
  counters_.backend = backend_.describe();
}

LeaderElector::~LeaderElector() { stop(false); }

bool LeaderElector::mayActLocked(SteadyTime now, milliseconds within) const {
  if (!leading_ || !renewedAt_) return false;
  return now < *renewedAt_ + timing_.renewDeadline &&
         now + within < *renewedAt_ + timing_.leaseDuration;
}

std::optional<std::uint64_t> LeaderElector::fencingToken(milliseconds within) const {
  std::lock_guard lock(mutex_);
  if (!mayActLocked(clock_.now(), within)) return std::nullopt;
  return term_;
}

LeadershipStatus LeaderElector::status() const {
  std::lock_guard lock(mutex_);
  LeadershipStatus out = counters_;
  const SteadyTime now = clock_.now();
  out.role = mayActLocked(now, {}) ? LeaderRole::kLeader : LeaderRole::kStandby;
  out.leader = holder_;
  out.term = term_;
  if (renewedAt_) out.sinceRenew = duration_cast<milliseconds>(now - *renewedAt_);
  return out;
}

void LeaderElector::changeLocked(LeaderRole role, std::uint64_t term, std::string reason,
                                 std::optional<LeadershipChange>& change) {
  leading_ = role == LeaderRole::kLeader;
  if (leading_) {
    ++counters_.acquisitions;
  } else {
    ++counters_.stepDowns;
  }
  change = LeadershipChange{role, term, std::move(reason)};
}

void LeaderElector::step() {
  const SteadyTime started = clock_.now();
  auto observed = backend_.tryAcquireOrRenew();
  std::optional<LeadershipChange> change;
  {
    std::lock_guard lock(mutex_);
    const SteadyTime now = clock_.now();
    if (observed && observed->held) {
      const bool newTerm = !leading_ || observed->term != term_;
      renewedAt_ = started;  // the lease was renewed no earlier than this
      holder_ = identity_;
      if (newTerm) {
        term_ = observed->term;
        changeLocked(LeaderRole::kLeader, term_,
                     "acquired the lease (term " + std::to_string(term_) + ")", change);
      }
    } else if (observed) {
      holder_ = observed->holder;
      if (leading_) {
        changeLocked(LeaderRole::kStandby, term_,
                     "the lease is held by " +
                         (observed->holder.empty() ? std::string("nobody") : observed->holder) +
                         " (term " + std::to_string(observed->term) + ")",
                     change);
      }
      term_ = observed->term;
    } else {
      ++counters_.errors;
      counters_.lastError = observed.error().message;
      if (leading_ && !mayActLocked(now, {})) {
        changeLocked(
            LeaderRole::kStandby, term_,
            "could not renew the lease within the renew deadline: " + observed.error().message,
            change);
      }
    }
  }
  auto log = componentLogger("aggregator.election");
  if (!observed)
    log->warn("leader election ({}): {}", backend_.describe(), observed.error().message);
  if (change) {
    if (change->role == LeaderRole::kLeader) {
      log->warn("{} is now the leader: {}", identity_, change->reason);
    } else {
      log->warn("{} stepped down: {}", identity_, change->reason);
    }
    if (onChange_) onChange_(*change);
  }
}

void LeaderElector::start() {
  stop(false);
  {
    std::lock_guard lock(threadMutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    std::unique_lock lock(threadMutex_);
    while (!stopping_) {
      lock.unlock();
      step();
      lock.lock();
      wake_.wait_for(lock, timing_.retryPeriod, [this] { return stopping_; });
    }
  });
}

void LeaderElector::stop(bool release) {
  {
    std::lock_guard lock(threadMutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!release) return;
  bool wasLeading = false;
  {
    std::lock_guard lock(mutex_);
    wasLeading = leading_;
    leading_ = false;
  }
  backend_.release();  // also drops a lease granted but not (yet) used
  if (wasLeading) componentLogger("aggregator.election")->info("{} released the lease", identity_);
}

}  // namespace fleetscale::aggregator
