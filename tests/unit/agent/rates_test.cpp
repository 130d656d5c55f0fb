#include "fleetscale/agent/rates.h"

#include <gtest/gtest.h>

namespace fleetscale::agent {
namespace {

using std::chrono::milliseconds;

TEST(RatesTest, PerSecondIncrease) {
  EXPECT_DOUBLE_EQ(*ratePerSecond(1000u, 3000u, milliseconds(500)), 4000.0);
  EXPECT_DOUBLE_EQ(*ratePerSecond(5u, 5u, milliseconds(1000)), 0.0);
}

TEST(RatesTest, CounterGoingBackwardsGivesNoRate) {
  EXPECT_FALSE(ratePerSecond(3000u, 1000u, milliseconds(1000)));
  EXPECT_FALSE(ratePerSecond(UINT64_MAX, 0u, milliseconds(1000))) << "no wrap-around huge rate";
}

TEST(RatesTest, NoElapsedTimeGivesNoRate) {
  EXPECT_FALSE(ratePerSecond(1u, 2u, milliseconds(0)));
  EXPECT_FALSE(ratePerSecond(1u, 2u, milliseconds(-5)));
}

TEST(RatesTest, MissingEitherSideGivesNoRate) {
  EXPECT_FALSE(ratePerSecond(std::optional<std::uint64_t>{}, std::optional<std::uint64_t>{5},
                             milliseconds(1)));
  EXPECT_FALSE(ratePerSecond(std::optional<std::uint64_t>{5}, std::optional<std::uint64_t>{},
                             milliseconds(1)));
  EXPECT_DOUBLE_EQ(*ratePerSecond(std::optional<std::uint64_t>{0}, std::optional<std::uint64_t>{10},
                                  milliseconds(1000)),
                   10.0);
}

}  // namespace
}  // namespace fleetscale::agent
