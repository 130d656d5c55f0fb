// Leader election among aggregators (docs/high-availability.md). The election itself lives in
// an existing distributed engine behind LeaseBackend: etcd (etcd_lease.h) or a Kubernetes Lease
// (kubernetes_lease.h). LeaderElector renews the lease on a timer and decides, from its own
// clock, whether this aggregator may act: only up to `renewDeadline` after the start of its last
// successful renewal, which is shorter than the lease, so a leader cut off from the engine stops
// acting before any other aggregator can acquire the lease.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

// What one round against the election engine found.
struct LeaseObservation {
  bool held = false;       // this aggregator holds the lease now
  std::string holder;      // who holds it ("" = nobody)
  std::uint64_t term = 0;  // the holder's fencing token: grows with every new holder
};

// One election engine. Calls come from one thread at a time.
class LeaseBackend {
 public:
  virtual ~LeaseBackend() = default;
  // Acquires the lease when it is free, renews it when this aggregator holds it. Returns within
  // the backend's request timeout. An Error is a failed round (engine unreachable, garbage).
  virtual Result<LeaseObservation> tryAcquireOrRenew() = 0;
  // Gives the lease up at once (graceful shutdown), so a standby need not wait for it to expire.
  virtual void release() = 0;
  virtual std::string describe() const = 0;  // for logs and status: engine and key
};

struct ElectionTiming {
  std::chrono::milliseconds leaseDuration{std::chrono::seconds(10)};
  // A leader that has not renewed for this long stops acting; < leaseDuration.
  std::chrono::milliseconds renewDeadline{std::chrono::seconds(6)};
  std::chrono::milliseconds retryPeriod{std::chrono::seconds(1)};  // renew / try this often
  Status validate() const;
};

enum class LeaderRole { kStandby, kLeader };
std::string_view leaderRoleName(LeaderRole role);

struct LeadershipStatus {
  LeaderRole role = LeaderRole::kStandby;
  std::string identity;  // this aggregator
  std::string leader;    // the holder the last round saw ("" = none or unknown)
  std::uint64_t term = 0;
  std::optional<std::chrono::milliseconds> sinceRenew;  // since this aggregator's last renewal
  std::uint64_t acquisitions = 0;                       // times this aggregator became leader
  std::uint64_t stepDowns = 0;
  std::uint64_t errors = 0;  // failed rounds
  std::string lastError;
  std::string backend;
};

struct LeadershipChange {
  LeaderRole role = LeaderRole::kStandby;
  std::uint64_t term = 0;
  std::string reason;
};

class LeaderElector {
 public:
  using ChangeListener = std::function<void(const LeadershipChange&)>;
  LeaderElector(LeaseBackend& backend, std::string identity, ElectionTiming timing,
                const Clock& clock, ChangeListener onChange = {});
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // One round against the backend (the thread calls it every retryPeriod; tests call it).
  void step();
  // The term while this aggregator may act and anything it starts now that takes at most
  // `within` ends before its lease could expire; nullopt otherwise.
  std::optional<std::uint64_t> fencingToken(std::chrono::milliseconds within = {}) const;
  LeadershipStatus status() const;

  void start();
  // Stops renewing; with `release`, gives the lease up so a standby takes over at once.
  void stop(bool release);

 private:
  bool mayActLocked(SteadyTime now, std::chrono::milliseconds within) const;
  void changeLocked(LeaderRole role, std::uint64_t term, std::string reason,
                    std::optional<LeadershipChange>& change);

  LeaseBackend& backend_;
  const std::string identity_;
  const ElectionTiming timing_;
  const Clock& clock_;
  ChangeListener onChange_;

  mutable std::mutex mutex_;
  bool leading_ = false;  // last round held the lease (time decides whether it may still act)
  std::uint64_t term_ = 0;
  std::string holder_;
  std::optional<SteadyTime> renewedAt_;  // start of the last successful renewal
  LeadershipStatus counters_;

  std::mutex threadMutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fleetscale::aggregator
