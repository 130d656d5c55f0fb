#include "fleetscale/shared/clock.h"

#include <gtest/gtest.h>

namespace fleetscale {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(SamplingRoundTest, AgentsThatStartedAtDifferentTimesSampleOnTheSameBoundaries) {
  const WallTime base = fromUnixMillis(1'700'000'000'000);  // a whole second
  EXPECT_EQ(nextSamplingRound(base + milliseconds(1), seconds(1)), base + seconds(1));
  EXPECT_EQ(nextSamplingRound(base + milliseconds(730), seconds(1)), base + seconds(1));
  EXPECT_EQ(nextSamplingRound(base + seconds(1), seconds(1)), base + seconds(2));
  // Boundaries are multiples since the epoch, not since the agent's start.
  EXPECT_EQ(nextSamplingRound(base + milliseconds(2100), seconds(5)), base + seconds(5));
}

TEST(SamplingRoundTest, ATimerThatFiresEarlyDoesNotSampleTwiceInOneRound) {
  const WallTime boundary = fromUnixMillis(1'700'000'001'000);
  EXPECT_EQ(nextSamplingRound(boundary - milliseconds(2), seconds(1)), boundary + seconds(1));
}

TEST(SamplingRoundTest, ATickThatRanLongSkipsARoundRatherThanSamplingTwiceInARow) {
  const WallTime boundary = fromUnixMillis(1'700'000'001'000);
  EXPECT_EQ(nextSamplingRound(boundary + milliseconds(800), seconds(1)), boundary + seconds(2));
}

}  // namespace
}  // namespace fleetscale
