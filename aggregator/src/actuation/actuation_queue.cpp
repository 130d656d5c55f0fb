#include "fleetscale/aggregator/actuation/actuation_queue.h"

#include <algorithm>

#include "fleetscale/shared/logging.h"

namespace fleetscale::aggregator {

TokenBucket::TokenBucket(double ratePerSecond, double burst, const Clock& clock)
    : rate_(ratePerSecond),
      burst_(std::max(1.0, burst)),
      tokens_(std::max(1.0, burst)),
      last_(clock.now()),
      clock_(clock) {}

void TokenBucket::refill() {
  const SteadyTime now = clock_.now();
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  if (elapsed > 0) tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  last_ = now;
}

bool TokenBucket::tryTake() {
  std::lock_guard lock(mutex_);
  refill();
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

std::chrono::milliseconds TokenBucket::waitTime() {
  std::lock_guard lock(mutex_);
  refill();
  if (tokens_ >= 1.0 || rate_ <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<long>((1.0 - tokens_) / rate_ * 1000.0) + 1);
}

ActuationQueue::ActuationQueue(ActuatorLookup actuators, ActuationQueueOptions options,
                               const Clock& clock, Done done)
    : actuators_(std::move(actuators)),
      options_(options),
      clock_(clock),
      done_(std::move(done)),
      bucket_(options.writesPerSecond, options.burst, clock) {
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { work(); });
}

ActuationQueue::~ActuationQueue() { stop(); }

std::string ActuationQueue::keyOf(const std::string& cluster, const WorkloadKey& workload) {
  return cluster + "|" + workload.kind + "|" + workload.namespaceName + "|" + workload.name;
}

void ActuationQueue::submit(const std::string& cluster, ScaleRequest request) {
  const std::string key = keyOf(cluster, request.workload);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    const bool alreadyWaiting = waitingItems_.count(key) > 0;
    waitingItems_[key] = Item{cluster, std::move(request)};  // the newest decision wins
    if (!alreadyWaiting) order_.push_back(key);
  }
  changed_.notify_all();
}

std::size_t ActuationQueue::waiting() const {
  std::lock_guard lock(mutex_);
  return waitingItems_.size();
}

bool ActuationQueue::busy(const std::string& cluster, const WorkloadKey& workload) const {
  const std::string key = keyOf(cluster, workload);
  std::lock_guard lock(mutex_);
  return waitingItems_.count(key) > 0 || inFlight_.count(key) > 0;
}

void ActuationQueue::drain() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return (waitingItems_.empty() && inFlight_.empty()) || stopping_; });
}

void ActuationQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    waitingItems_.clear();
    order_.clear();
  }
  changed_.notify_all();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
}

void ActuationQueue::work() {
  while (true) {
    Item item;
    std::string key;
    {
      std::unique_lock lock(mutex_);
      // The next waiting key whose target has no write in flight.
      auto ready = [&] {
        return std::find_if(order_.begin(), order_.end(),
                            [&](const std::string& k) { return !inFlight_.count(k); });
      };
      changed_.wait(lock, [&] { return stopping_ || ready() != order_.end(); });
      if (stopping_) return;
      const auto next = ready();
      key = *next;
      order_.erase(next);
      item = std::move(waitingItems_.at(key));
      waitingItems_.erase(key);
      inFlight_.insert(key);
    }
    // Respect the global write rate before touching any API.
    while (!bucket_.tryTake()) {
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, bucket_.waitTime(), [this] { return stopping_; });
      if (stopping_) break;
    }
    CompletedAction completed{item.cluster, item.request, {}, {}};
    const SteadyTime started = clock_.now();
    if (Actuator* actuator = actuators_(item.cluster); actuator == nullptr) {
      completed.outcome.error = ActuationError::kNotFound;
      completed.outcome.message = "no actuator for cluster " + item.cluster;
    } else {
      completed.outcome = actuator->setScale(item.request);
    }
    completed.duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - started);
    try {
      if (done_) done_(completed);
    } catch (const std::exception& e) {
      componentLogger("aggregator.actuation")->error("completion callback threw: {}", e.what());
    }
    {
      std::lock_guard lock(mutex_);
      inFlight_.erase(key);
    }
    changed_.notify_all();
  }
}

}  // namespace fleetscale::aggregator
