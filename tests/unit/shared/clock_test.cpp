#include "fleetscale/shared/clock.h"

#include <gtest/gtest.h>

#include <limits>

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

TEST(UnixSecondsTest, ConvertsFractionalSecondsSinceTheEpoch) {
  EXPECT_EQ(fromUnixSeconds(1'750'000'000.5), fromUnixMillis(1'750'000'000'500));
  EXPECT_EQ(fromUnixSeconds(-1.0), fromUnixMillis(-1'000));
}

// Found by the fuzzer: a Prometheus sample at 17550000000.5 s (year 2526) overflowed the
// conversion to nanoseconds.
TEST(UnixSecondsTest, RefusesTimesWallTimeCannotHold) {
  EXPECT_EQ(fromUnixSeconds(17'550'000'000.5), std::nullopt);
  EXPECT_EQ(fromUnixSeconds(-1e10), std::nullopt);
  EXPECT_EQ(fromUnixSeconds(std::numeric_limits<double>::quiet_NaN()), std::nullopt);
  EXPECT_EQ(fromUnixSeconds(std::numeric_limits<double>::infinity()), std::nullopt);
  EXPECT_TRUE(fromUnixSeconds(9.1e9).has_value());
}

}  // namespace
}  // namespace fleetscale
