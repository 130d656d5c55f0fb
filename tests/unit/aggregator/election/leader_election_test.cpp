#include "fleetscale/aggregator/election/leader_election.h"

#include <gtest/gtest.h>

#include <deque>

#include "fleetscale/aggregator/scaling/decision.h"

namespace fleetscale::aggregator {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Answers each round with the next scripted result (the last one repeats).
class ScriptedBackend final : public LeaseBackend {
 public:
  void then(Result<LeaseObservation> result) { script_.push_back(std::move(result)); }
  Result<LeaseObservation> tryAcquireOrRenew() override {
    ++rounds;
    if (script_.size() > 1) {
      auto next = script_.front();
      script_.pop_front();
      return next;
    }
    return script_.front();
  }
  void release() override { ++releases; }
  std::string describe() const override { return "scripted"; }
  int rounds = 0;
  int releases = 0;

 private:
  std::deque<Result<LeaseObservation>> script_;
};

LeaseObservation held(std::uint64_t term) { return LeaseObservation{true, "me", term}; }
LeaseObservation heldBy(const std::string& other, std::uint64_t term) {
  return LeaseObservation{false, other, term};
}

class LeaderElectorTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  ScriptedBackend backend_;
  std::vector<LeadershipChange> changes_;
  // Lease 10 s, renew deadline 6 s, retry 1 s: the defaults.
  LeaderElector elector_{backend_, "me", ElectionTiming{}, clock_,
                         [this](const LeadershipChange& change) { changes_.push_back(change); }};
};

TEST_F(LeaderElectorTest, AcquiresAndActsWithItsTerm) {
  backend_.then(held(41));
  EXPECT_FALSE(elector_.fencingToken()) << "no round yet";
  elector_.step();
  EXPECT_EQ(elector_.fencingToken(), 41u);
  const auto status = elector_.status();
  EXPECT_EQ(status.role, LeaderRole::kLeader);
  EXPECT_EQ(status.leader, "me");
  EXPECT_EQ(status.acquisitions, 1u);
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].role, LeaderRole::kLeader);
  EXPECT_EQ(changes_[0].term, 41u);
}

TEST_F(LeaderElectorTest, StandbyWhileAnotherHoldsTheLease) {
  backend_.then(heldBy("other", 7));
  elector_.step();
  EXPECT_FALSE(elector_.fencingToken());
  const auto status = elector_.status();
  EXPECT_EQ(status.role, LeaderRole::kStandby);
  EXPECT_EQ(status.leader, "other");
  EXPECT_EQ(status.term, 7u);
  EXPECT_TRUE(changes_.empty());
}

TEST_F(LeaderElectorTest, StopsActingAtTheRenewDeadlineWithoutAnyRound) {
  backend_.then(held(3));
  elector_.step();
  // The engine hangs: no round returns. Time alone ends the right to act, before the lease.
  clock_.advance(milliseconds(5999));
  EXPECT_EQ(elector_.fencingToken(), 3u);
  clock_.advance(milliseconds(1));
  EXPECT_FALSE(elector_.fencingToken());
  EXPECT_EQ(elector_.status().role, LeaderRole::kStandby);
}

TEST_F(LeaderElectorTest, AWriteMayStartOnlyIfItEndsBeforeTheLeaseCouldExpire) {
  backend_.then(held(3));
  elector_.step();
  clock_.advance(seconds(4));
  EXPECT_EQ(elector_.fencingToken(seconds(5)), 3u) << "ends at 9 s of a 10 s lease";
  EXPECT_FALSE(elector_.fencingToken(seconds(6))) << "would end at 10 s: the lease may be gone";
}

TEST_F(LeaderElectorTest, FailedRoundsPastTheDeadlineStepDown) {
  backend_.then(held(5));
  backend_.then(Error{"etcd: no member answered"});
  elector_.step();
  for (int i = 0; i < 5; ++i) {
    clock_.advance(seconds(1));
    elector_.step();
  }
  EXPECT_EQ(elector_.fencingToken(), 5u) << "5 s without renewal is within the deadline";
  EXPECT_EQ(elector_.status().stepDowns, 0u);
  clock_.advance(seconds(1));
  elector_.step();
  EXPECT_FALSE(elector_.fencingToken());
  const auto status = elector_.status();
  EXPECT_EQ(status.stepDowns, 1u);
  EXPECT_EQ(status.errors, 6u);
  EXPECT_EQ(status.lastError, "etcd: no member answered");
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_EQ(changes_[1].role, LeaderRole::kStandby);
  EXPECT_NE(changes_[1].reason.find("renew deadline"), std::string::npos) << changes_[1].reason;
}

TEST_F(LeaderElectorTest, AFlappingEngineShorterThanTheDeadlineKeepsTheLeader) {
  backend_.then(held(9));
  for (int flap = 0; flap < 5; ++flap) {
    backend_.then(Error{"timeout"});
    backend_.then(Error{"timeout"});
    backend_.then(held(9));
  }
  for (int round = 0; round < 16; ++round) {
    elector_.step();
    EXPECT_EQ(elector_.fencingToken(), 9u) << "round " << round;
    clock_.advance(seconds(1));
  }
  EXPECT_EQ(elector_.status().acquisitions, 1u);
  EXPECT_EQ(elector_.status().stepDowns, 0u);
  EXPECT_EQ(changes_.size(), 1u);
}

TEST_F(LeaderElectorTest, LosingTheLeaseToAnotherStepsDownAtOnce) {
  backend_.then(held(5));
  backend_.then(heldBy("other", 6));
  elector_.step();
  elector_.step();
  EXPECT_FALSE(elector_.fencingToken());
  EXPECT_EQ(elector_.status().leader, "other");
  EXPECT_EQ(elector_.status().term, 6u);
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_EQ(changes_[1].role, LeaderRole::kStandby);
}

TEST_F(LeaderElectorTest, ANewTermIsANewLeadership) {
  backend_.then(held(5));
  backend_.then(held(8));  // lost and re-acquired between two rounds
  elector_.step();
  elector_.step();
  EXPECT_EQ(elector_.fencingToken(), 8u);
  EXPECT_EQ(elector_.status().acquisitions, 2u);
}

TEST_F(LeaderElectorTest, StopWithReleaseGivesTheLeaseUp) {
  backend_.then(held(5));
  elector_.step();
  elector_.stop(true);
  EXPECT_EQ(backend_.releases, 1);
  EXPECT_FALSE(elector_.fencingToken());
}

TEST(ElectionTimingTest, TheDeadlineMustEndBeforeTheLease) {
  EXPECT_TRUE(ElectionTiming{}.validate().ok());
  EXPECT_FALSE((ElectionTiming{seconds(10), seconds(10), seconds(1)}.validate().ok()));
  EXPECT_FALSE((ElectionTiming{seconds(10), seconds(1), seconds(1)}.validate().ok()));
  EXPECT_FALSE((ElectionTiming{seconds(10), seconds(6), milliseconds(0)}.validate().ok()));
}

// A standby promoted before it has watched a workload for the scale-down window keeps the
// count; scale-up is never held.
TEST(TakeoverHoldTest, ScaleDownWaitsForAFullWindowOfObservation) {
  scaling::WorkloadPolicy policy;  // no behavior: the controller's 300 s window
  const WallTime since{seconds(1'700'000'000)};
  EXPECT_EQ(scaling::holdScaleDownUntilObserved(policy, 6, 4, since, since + seconds(299)), 6);
  EXPECT_EQ(scaling::holdScaleDownUntilObserved(policy, 6, 4, since, since + seconds(300)), 4);
  EXPECT_EQ(scaling::holdScaleDownUntilObserved(policy, 6, 9, since, since + seconds(1)), 9);
  policy.behavior = scaling::Behavior{};
  policy.behavior->scaleDown = scaling::ScalingRules{};
  policy.behavior->scaleDown->stabilizationWindowSeconds = 30;
  EXPECT_EQ(scaling::scaleDownWindow(policy), seconds(30));
  EXPECT_EQ(scaling::holdScaleDownUntilObserved(policy, 6, 4, since, since + seconds(29)), 6);
  EXPECT_EQ(scaling::holdScaleDownUntilObserved(policy, 6, 4, since, since + seconds(31)), 4);
}

}  // namespace
}  // namespace fleetscale::aggregator
