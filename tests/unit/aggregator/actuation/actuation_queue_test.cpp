#include "fleetscale/aggregator/actuation/actuation_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "fleetscale/testing/wait.h"

namespace fleetscale::aggregator {
namespace {

// Blocks each write until the test releases it, and records what it was asked.
class GatedActuator final : public Actuator {
 public:
  ActuationOutcome getScale(const WorkloadKey&) override { return {}; }
  ActuationOutcome setScale(const ScaleRequest& request) override {
    {
      std::unique_lock lock(mutex);
      started.push_back(request.replicas);
      ++concurrent;
      maxConcurrent = std::max(maxConcurrent, concurrent);
      cv.notify_all();
      cv.wait(lock, [&] { return released > 0; });
      --released;
      --concurrent;
    }
    ActuationOutcome outcome;
    outcome.status.specReplicas = request.replicas;
    return outcome;
  }
  void release(int n = 1) {
    std::lock_guard lock(mutex);
    released += n;
    cv.notify_all();
  }
  bool waitStarted(std::size_t n) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(5), [&] { return started.size() >= n; });
  }
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<int> started;
  int released = 0;
  int concurrent = 0;
  int maxConcurrent = 0;
};

ScaleRequest scaleTo(const std::string& name, int replicas) {
  return ScaleRequest{WorkloadKey{"shop", "Deployment", name}, replicas, "d", "r", 0, {}};
}

TEST(TokenBucketTest, RefillsAtTheRate) {
  ManualClock clock;
  TokenBucket bucket(2.0, 2.0, clock);
  EXPECT_TRUE(bucket.tryTake());
  EXPECT_TRUE(bucket.tryTake());
  EXPECT_FALSE(bucket.tryTake());
  EXPECT_GT(bucket.waitTime().count(), 0);
  clock.advance(std::chrono::milliseconds(500));
  EXPECT_TRUE(bucket.tryTake());
  EXPECT_FALSE(bucket.tryTake());
}

TEST(ActuationQueueTest, OneWriteInFlightPerTargetAndNewestWaitingWins) {
  SystemClock clock;
  GatedActuator actuator;
  std::mutex doneMutex;
  std::vector<int> completed;
  ActuationQueue queue([&](const std::string&) { return &actuator; },
                       ActuationQueueOptions{4, 1000, 1000}, clock,
                       [&](const CompletedAction& action) {
                         std::lock_guard lock(doneMutex);
                         completed.push_back(action.request.replicas);
                       });
  queue.submit("aws", scaleTo("web", 3));
  ASSERT_TRUE(actuator.waitStarted(1));
  queue.submit("aws", scaleTo("web", 4));  // waits: web is in flight
  queue.submit("aws", scaleTo("web", 5));  // replaces 4
  EXPECT_TRUE(queue.busy("aws", WorkloadKey{"shop", "Deployment", "web"}));
  EXPECT_EQ(queue.waiting(), 1u);
  actuator.release(2);
  queue.drain();
  EXPECT_EQ(actuator.started, (std::vector<int>{3, 5}));
  EXPECT_EQ(actuator.maxConcurrent, 1);
  std::lock_guard lock(doneMutex);
  EXPECT_EQ(completed, (std::vector<int>{3, 5}));
}

TEST(ActuationQueueTest, DifferentTargetsRunInParallel) {
  SystemClock clock;
  GatedActuator actuator;
  ActuationQueue queue([&](const std::string&) { return &actuator; },
                       ActuationQueueOptions{2, 1000, 1000}, clock, nullptr);
  queue.submit("aws", scaleTo("web", 3));
  queue.submit("gcp", scaleTo("web", 3));
  ASSERT_TRUE(actuator.waitStarted(2));
  EXPECT_EQ(actuator.maxConcurrent, 2);
  actuator.release(2);
  queue.drain();
}

TEST(ActuationQueueTest, UnknownClusterCompletesWithAnError) {
  SystemClock clock;
  std::promise<CompletedAction> result;
  ActuationQueue queue([](const std::string&) -> Actuator* { return nullptr; },
                       ActuationQueueOptions{}, clock,
                       [&](const CompletedAction& action) { result.set_value(action); });
  queue.submit("nowhere", scaleTo("web", 2));
  auto future = result.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  const auto action = future.get();
  EXPECT_EQ(action.outcome.error, ActuationError::kNotFound);
  EXPECT_NE(action.outcome.message.find("nowhere"), std::string::npos);
}

TEST(ActuationQueueTest, GlobalRateLimitSpacesWrites) {
  ManualClock clock;
  GatedActuator actuator;
  actuator.release(100);
  std::atomic<int> done{0};
  ActuationQueue queue([&](const std::string&) { return &actuator; },
                       ActuationQueueOptions{2, 1.0, 1.0}, clock,
                       [&](const CompletedAction&) { ++done; });
  queue.submit("aws", scaleTo("a", 1));
  queue.submit("aws", scaleTo("b", 1));
  ASSERT_TRUE(testing::waitFor([&] { return done.load() == 1; }));
  EXPECT_FALSE(testing::waitFor([&] { return done.load() == 2; }, std::chrono::milliseconds(200)))
      << "the second write waits for a token";
  clock.advance(std::chrono::seconds(1));
  EXPECT_TRUE(testing::waitFor([&] { return done.load() == 2; }));
}

}  // namespace
}  // namespace fleetscale::aggregator
