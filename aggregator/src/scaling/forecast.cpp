#include "fleetscale/aggregator/scaling/forecast.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fleetscale::aggregator::scaling {

DemandForecaster::DemandForecaster(ForecastSettings settings) : settings_(settings) {
  settings_.seasonMinutes = std::max(1, settings_.seasonMinutes);
  settings_.horizonMinutes = std::max(1, settings_.horizonMinutes);
}

std::size_t DemandForecaster::seasonIndex(std::int64_t minute) const {
  const std::int64_t m = settings_.seasonMinutes;
  return static_cast<std::size_t>(((minute % m) + m) % m);
}

void DemandForecaster::addMinute(std::int64_t minute, double value) {
  if (!std::isfinite(value)) return;
  value = std::max(0.0, value);
  if (last_ && minute <= *last_) return;
  if (last_ && minute - *last_ > settings_.seasonMinutes) *this = DemandForecaster(settings_);
  if (last_) {
    for (std::int64_t missing = *last_ + 1; missing < minute; ++missing) {
      update(missing, forecast(missing).value_or(lastValue_));
    }
  }
  scoreDueForecast(minute, value);
  update(minute, value);
  if (ready_) {
    const std::int64_t due = minute + settings_.horizonMinutes;
    pending_.emplace_back(due, *forecast(due));
  }
}

void DemandForecaster::update(std::int64_t minute, double value) {
  last_ = minute;
  lastValue_ = value;
  if (!ready_) {
    // The first season, whatever minute of the day it starts at, becomes the seasonal profile.
    if (firstSeason_.empty()) season_.assign(static_cast<std::size_t>(settings_.seasonMinutes), 0);
    firstSeason_.push_back(value);
    season_[seasonIndex(minute)] = value;
    if (firstSeason_.size() < static_cast<std::size_t>(settings_.seasonMinutes)) return;
    level_ = std::accumulate(firstSeason_.begin(), firstSeason_.end(), 0.0) /
             static_cast<double>(firstSeason_.size());
    for (double& s : season_) s -= level_;
    trend_ = 0;
    firstSeason_.clear();
    firstSeason_.shrink_to_fit();
    ready_ = true;
    return;
  }
  const std::size_t i = seasonIndex(minute);
  const double a = settings_.levelSmoothing;
  const double b = settings_.trendSmoothing;
  const double g = settings_.seasonSmoothing;
  const double previousLevel = level_;
  level_ = a * (value - season_[i]) + (1 - a) * (level_ + trend_);
  trend_ = b * (level_ - previousLevel) + (1 - b) * trend_;
  season_[i] = g * (value - level_) + (1 - g) * season_[i];
}

void DemandForecaster::scoreDueForecast(std::int64_t minute, double value) {
  while (!pending_.empty() && pending_.front().first < minute) pending_.pop_front();
  if (pending_.empty() || pending_.front().first != minute) return;
  const double signedError = value - pending_.front().second;
  const double error = std::abs(signedError);
  pending_.pop_front();
  recentErrors_.push_back(signedError);
  while (recentErrors_.size() >
         static_cast<std::size_t>(std::max(1, settings_.errorWindowMinutes))) {
    recentErrors_.pop_front();
  }
  std::vector<double> sorted(recentErrors_.begin(), recentErrors_.end());
  const auto rank = static_cast<std::size_t>(std::clamp(settings_.marginQuantile, 0.0, 1.0) *
                                             static_cast<double>(sorted.size() - 1));
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(rank),
                   sorted.end());
  margin_ = std::max(0.0, sorted[rank]);
  const double w = settings_.errorSmoothing;
  mae_ = mae_ ? (1 - w) * *mae_ + w * error : error;
  // Relative to the actual figure, with a floor so an idle minute does not dominate.
  const double relative = error / std::max(value, 0.01);
  mape_ = mape_ ? (1 - w) * *mape_ + w * relative : relative;
}

std::optional<double> DemandForecaster::forecast(std::int64_t minute) const {
  if (!ready_ || !last_) return std::nullopt;
  const auto ahead = static_cast<double>(std::max<std::int64_t>(0, minute - *last_));
  return std::max(0.0, level_ + ahead * trend_ + season_[seasonIndex(minute)]);
}

}  // namespace fleetscale::aggregator::scaling
