#include "fleetscale/agent/metadata.h"

#include <malloc.h>

#include "fleetscale/shared/logging.h"

namespace fleetscale::agent {
namespace {

// Failures of a source that stays down are logged once per this interval, with a count.
constexpr std::chrono::minutes kFailureLogInterval{1};

std::size_t failureIndex(MetadataFailure failure) {
  return static_cast<std::size_t>(static_cast<int>(failure) - 1);
}

}  // namespace

const char* failureLabel(MetadataFailure failure) {
  switch (failure) {
    case MetadataFailure::kTransport:
      return "transport";
    case MetadataFailure::kUnauthorized:
      return "unauthorized";
    case MetadataFailure::kHttpStatus:
      return "http_status";
    case MetadataFailure::kParse:
      return "parse";
  }
  return "unknown";
}

std::shared_ptr<const MetadataSnapshot> MetadataStore::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void MetadataStore::publish(MetadataSnapshot snapshot) {
  auto published = std::make_shared<const MetadataSnapshot>(std::move(snapshot));
  std::shared_ptr<const MetadataSnapshot> previous;
  {
    std::lock_guard lock(mutex_);
    previous = std::move(current_);  // freed outside the lock, off the sampler's path
    current_ = std::move(published);
    lastSuccess_ = clock_.now();
  }
  ++refreshes_;
  consecutiveFailures_ = 0;
}

void MetadataStore::recordFailure(MetadataFailure failure) {
  ++failures_[failureIndex(failure)];
  ++consecutiveFailures_;
}

double MetadataStore::stalenessSeconds() const {
  std::lock_guard lock(mutex_);
  return std::chrono::duration<double>(clock_.now() - lastSuccess_).count();
}

std::uint64_t MetadataStore::failures(MetadataFailure failure) const {
  return failures_[failureIndex(failure)];
}

MetadataRefresher::MetadataRefresher(MetadataSource& source, MetadataStore& store,
                                     const Clock& clock, std::chrono::nanoseconds interval)
    : source_(source),
      store_(store),
      interval_(interval),
      failureLog_(clock, kFailureLogInterval) {}

MetadataRefresher::~MetadataRefresher() { stop(); }

Status MetadataRefresher::refreshOnce() {
  auto log = componentLogger("agent.metadata");
  auto snapshot = source_.fetch();
  if (!snapshot) {
    const auto failure = static_cast<MetadataFailure>(snapshot.error().code);
    store_.recordFailure(failure);
    std::uint64_t suppressed = 0;
    if (failureLog_.allow(&suppressed)) {
      log->warn(
          "{} metadata refresh failed ({}): {}; {} similar failures not logged; samples "
          "keep flowing with metadata {:.0f} s old",
          source_.name(), failureLabel(failure), snapshot.error().message, suppressed,
          store_.stalenessSeconds());
    }
    return Error{snapshot.error().message};
  }
  if (store_.consecutiveFailures() > 0) {
    log->info("{} metadata refreshed again after {} failed attempts", source_.name(),
              store_.consecutiveFailures());
  }
  if (snapshot->skippedEntries > 0) {
    log->debug("{}: {} entries without usable identity skipped", source_.name(),
               snapshot->skippedEntries);
  }
  store_.publish(std::move(*snapshot));
  return {};
}

void MetadataRefresher::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void MetadataRefresher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MetadataRefresher::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    (void)refreshOnce();  // outcome recorded in the store and the log
#ifdef __GLIBC__
    // A PodList answer is parsed in a few MiB that are free again now; hand them back rather
    // than keep them in this thread's malloc arena until the next refresh.
    ::malloc_trim(0);
#endif
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace fleetscale::agent
