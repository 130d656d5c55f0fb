#include "fleetscale/aggregator/scaling/forecast.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

namespace fleetscale::aggregator::scaling {
namespace {

// A day-shaped load: 2 cores at night, 10 at the afternoon peak.
double daily(std::int64_t minute) {
  const double phase =
      2 * std::numbers::pi * static_cast<double>(minute % kMinutesPerDay) / kMinutesPerDay;
  return 6 - 4 * std::cos(phase);
}

TEST(DemandForecasterTest, ForecastsNothingBeforeAWholeSeason) {
  DemandForecaster forecaster;
  for (std::int64_t minute = 0; minute < kMinutesPerDay - 1; ++minute) {
    forecaster.addMinute(minute, daily(minute));
  }
  EXPECT_FALSE(forecaster.ready());
  EXPECT_FALSE(forecaster.forecast(kMinutesPerDay + 5).has_value());
  forecaster.addMinute(kMinutesPerDay - 1, daily(kMinutesPerDay - 1));
  EXPECT_TRUE(forecaster.ready());
  EXPECT_TRUE(forecaster.forecast(kMinutesPerDay + 5).has_value());
}

TEST(DemandForecasterTest, ForeseesTheDailyRiseWithinAFewPercent) {
  DemandForecaster forecaster;
  std::mt19937 random(7);
  std::normal_distribution<double> noise(0, 0.2);
  const std::int64_t days = 3;
  for (std::int64_t minute = 0; minute < days * kMinutesPerDay; ++minute) {
    forecaster.addMinute(minute, daily(minute) + noise(random));
  }
  // The morning rise of day 4, 30 minutes before it happens: the level of the moment would miss
  // it (the last figure is the midnight low).
  const std::int64_t at = days * kMinutesPerDay + 6 * 60;
  const double expected = daily(at);
  const auto forecast = forecaster.forecast(at);
  ASSERT_TRUE(forecast.has_value());
  EXPECT_NEAR(*forecast, expected, 0.05 * expected + 0.3);
  EXPECT_GT(*forecast, daily(days * kMinutesPerDay - 1) + 1) << "above the last figure";
  ASSERT_TRUE(forecaster.meanAbsolutePercentageError().has_value());
  // Most of the error is the noise itself: 0.2 cores on a 2-core night is 10%.
  EXPECT_LT(*forecaster.meanAbsolutePercentageError(), 0.15);
  EXPECT_LT(*forecaster.meanAbsoluteError(), 0.5);
}

TEST(DemandForecasterTest, ScoresEachForecastWhenItComesDue) {
  ForecastSettings settings;
  settings.seasonMinutes = 10;
  settings.horizonMinutes = 2;
  settings.errorSmoothing = 1;  // the last error alone
  DemandForecaster forecaster(settings);
  for (std::int64_t minute = 0; minute < 10; ++minute) forecaster.addMinute(minute, 4);
  EXPECT_FALSE(forecaster.meanAbsoluteError().has_value()) << "nothing came due yet";
  forecaster.addMinute(10, 4);  // forecasts minute 12: 4
  forecaster.addMinute(11, 4);
  forecaster.addMinute(12, 6);
  ASSERT_TRUE(forecaster.meanAbsoluteError().has_value());
  EXPECT_NEAR(*forecaster.meanAbsoluteError(), 2, 1e-9);
  EXPECT_NEAR(*forecaster.meanAbsolutePercentageError(), 2.0 / 6, 1e-9);
}

TEST(DemandForecasterTest, GapsAreFilledAndALongOneStartsOver) {
  ForecastSettings settings;
  settings.seasonMinutes = 10;
  DemandForecaster forecaster(settings);
  for (std::int64_t minute = 0; minute < 20; ++minute) forecaster.addMinute(minute, 3);
  forecaster.addMinute(25, 3);  // five minutes missed: filled
  EXPECT_TRUE(forecaster.ready());
  EXPECT_NEAR(*forecaster.forecast(26), 3, 1e-6);
  forecaster.addMinute(25, 100);  // already seen: ignored
  EXPECT_NEAR(*forecaster.forecast(26), 3, 1e-6);
  forecaster.addMinute(40, 3);  // more than a season missed: starts over
  EXPECT_FALSE(forecaster.ready());
}

TEST(DemandForecasterTest, NeverForecastsBelowZeroAndIgnoresNonFiniteFigures) {
  ForecastSettings settings;
  settings.seasonMinutes = 4;
  DemandForecaster forecaster(settings);
  for (const double value : {8.0, 0.0, 0.0, 0.0, 8.0, 0.0, 0.0, 0.0}) {
    forecaster.addMinute(forecaster.lastMinute().value_or(-1) + 1, value);
  }
  forecaster.addMinute(8, std::nan(""));
  EXPECT_EQ(*forecaster.lastMinute(), 7);
  for (std::int64_t minute = 8; minute < 16; ++minute) {
    EXPECT_GE(*forecaster.forecast(minute), 0) << minute;
  }
}

// A model that never moves (no smoothing) forecasts 4 throughout; the actual figures run 4..13,
// so the forecasts fell short by 0..9. The margin is the P90 of those shortfalls.
TEST(DemandForecasterTest, TheMarginCoversTheRecentShortfallsAtItsQuantile) {
  ForecastSettings settings;
  settings.seasonMinutes = 5;
  settings.horizonMinutes = 1;
  settings.levelSmoothing = settings.trendSmoothing = settings.seasonSmoothing = 0;
  settings.errorWindowMinutes = 10;
  DemandForecaster forecaster(settings);
  std::int64_t minute = 0;
  for (; minute < 5; ++minute) forecaster.addMinute(minute, 4);
  EXPECT_FALSE(forecaster.margin().has_value());
  forecaster.addMinute(minute++, 4);  // the first forecast made, none due yet
  for (int shortfall = 0; shortfall < 10; ++shortfall)
    forecaster.addMinute(minute++, 4 + shortfall);
  ASSERT_TRUE(forecaster.margin().has_value());
  EXPECT_DOUBLE_EQ(*forecaster.margin(), 8);
  for (int i = 0; i < 10; ++i) forecaster.addMinute(minute++, 1);  // over-forecasts only
  EXPECT_DOUBLE_EQ(*forecaster.margin(), 0) << "never negative";
}

}  // namespace
}  // namespace fleetscale::aggregator::scaling
