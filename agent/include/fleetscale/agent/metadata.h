// Container metadata (pod, workload, requests, readiness) from the kubelet or a container engine,
// refreshed on its own thread so a slow or broken source never delays sampling.
//
// Threads and hand-off:
//   metadata thread  MetadataRefresher: every interval, MetadataSource::fetch() (bounded by the
//                    source's timeout), then MetadataStore::publish() of a complete, immutable
//                    snapshot, or MetadataStore::recordFailure().
//   sampling thread  Sampler: MetadataStore::current() once per tick, a shared_ptr copy under a
//                    mutex held for a pointer swap, never for a fetch. A failed refresh leaves the
//                    previous snapshot in place: metadata goes stale (see stalenessSeconds()),
//                    samples keep flowing.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fleetscale/agent/metadata_snapshot.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/log_throttle.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::agent {

// Why a refresh failed. Carried as Error::code by MetadataSource::fetch; the `reason` label of
// fleetscale_agent_metadata_errors_total.
enum class MetadataFailure : int {
  kTransport = 1,     // connect, TLS, timeout, oversized answer
  kUnauthorized = 2,  // 401/403, or the token file is unreadable
  kHttpStatus = 3,    // any other non-200 status
  kParse = 4,         // the body is not what the API returns
};
inline constexpr std::array<MetadataFailure, 4> kMetadataFailures = {
    MetadataFailure::kTransport, MetadataFailure::kUnauthorized, MetadataFailure::kHttpStatus,
    MetadataFailure::kParse};
const char* failureLabel(MetadataFailure failure);

// Where metadata comes from. Implementations: KubeletMetadataSource, EngineMetadataSource.
// Called from one thread at a time.
class MetadataSource {
 public:
  virtual ~MetadataSource() = default;
  virtual const char* name() const = 0;  // "kubelet", "docker", "podman"
  // One fetch; blocks at most for the source's timeout. Errors carry a MetadataFailure as code.
  virtual Result<MetadataSnapshot> fetch() = 0;
};

// Thread-safe.
class MetadataStore {
 public:
  explicit MetadataStore(const Clock& clock) : clock_(clock), lastSuccess_(clock.now()) {}

  // The latest published snapshot; nullptr before the first successful refresh.
  std::shared_ptr<const MetadataSnapshot> current() const;
  void publish(MetadataSnapshot snapshot);
  void recordFailure(MetadataFailure failure);

  // Seconds since the last successful refresh (since construction before the first one).
  double stalenessSeconds() const;
  std::uint64_t refreshes() const { return refreshes_; }
  std::uint64_t failures(MetadataFailure failure) const;
  std::uint64_t consecutiveFailures() const { return consecutiveFailures_; }

 private:
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::shared_ptr<const MetadataSnapshot> current_;
  SteadyTime lastSuccess_;
  std::atomic<std::uint64_t> refreshes_{0};
  std::atomic<std::uint64_t> consecutiveFailures_{0};
  std::array<std::atomic<std::uint64_t>, kMetadataFailures.size()> failures_{};
};

// Runs the metadata thread. Not copyable; stop() (or the destructor) joins the thread.
class MetadataRefresher {
 public:
  MetadataRefresher(MetadataSource& source, MetadataStore& store, const Clock& clock,
                    std::chrono::nanoseconds interval);
  ~MetadataRefresher();
  MetadataRefresher(const MetadataRefresher&) = delete;
  MetadataRefresher& operator=(const MetadataRefresher&) = delete;

  // One fetch on the calling thread, published or recorded as a failure. For --once and tests;
  // do not mix with start().
  Status refreshOnce();
  // Starts the metadata thread: a refresh now, then one every interval.
  void start();
  // Wakes and joins the thread. A fetch in flight finishes first, so this waits at most for the
  // source's timeout.
  void stop();

 private:
  void run();

  MetadataSource& source_;
  MetadataStore& store_;
  std::chrono::nanoseconds interval_;
  LogThrottle failureLog_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fleetscale::agent
