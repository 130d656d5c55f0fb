// Predictive scaling's forecaster: Holt-Winters with additive trend and season over one
// workload's CPU demand averaged per minute, the season a day. Pure and incremental: feed it
// each minute's figure in order and ask what it expects some minutes on. It forecasts nothing
// until it has seen one whole season (the first day initializes the seasonal profile), and it
// keeps its own error at the horizon it is asked for most, which the caller adds as a margin.
//
// Holt-Winters, for an observation x at minute t with season index i = t mod m:
//   level  = a (x - season[i]) + (1 - a)(level + trend)
//   trend  = b (level - previous level) + (1 - b) trend
//   season[i] = g (x - level) + (1 - g) season[i]
//   forecast(t + h) = level + h trend + season[(t + h) mod m], at least 0.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace fleetscale::aggregator::scaling {

inline constexpr int kMinutesPerDay = 1440;

struct ForecastSettings {
  int seasonMinutes = kMinutesPerDay;
  double levelSmoothing = 0.2;    // a: how fast the level follows the data
  double trendSmoothing = 0.01;   // b: the trend changes slowly (minutes are noisy)
  double seasonSmoothing = 0.25;  // g: each day's shape weighs a quarter against the past ones
  int horizonMinutes = 5;         // the horizon whose errors are tracked
  double errorSmoothing = 0.05;   // weight of each new error in the running means (~20 minutes)
  int errorWindowMinutes = kMinutesPerDay;  // the errors the margin is the quantile of
  double marginQuantile = 0.9;              // the margin covers this share of recent errors
};

class DemandForecaster {
 public:
  DemandForecaster() : DemandForecaster(ForecastSettings{}) {}
  explicit DemandForecaster(ForecastSettings settings);

  // The mean demand over `minute` (minutes since the epoch). Minutes come in order; one already
  // seen is ignored. A gap is filled with what the model expected (before it is ready: the last
  // figure); a gap longer than a season starts the model over.
  void addMinute(std::int64_t minute, double value);

  // A whole season has been seen.
  bool ready() const { return ready_; }
  std::optional<std::int64_t> lastMinute() const { return last_; }
  // What the model expects at `minute` (after lastMinute()); nullopt until ready().
  std::optional<double> forecast(std::int64_t minute) const;

  // Running means of the error of the forecasts made horizonMinutes ahead, once one has come
  // due: absolute (in the demand's unit) and relative to the actual figure (MAPE, 0.1 = 10%).
  std::optional<double> meanAbsoluteError() const { return mae_; }
  std::optional<double> meanAbsolutePercentageError() const { return mape_; }
  // What to add to a forecast so that it would have covered the actual figure in
  // marginQuantile of the forecasts that came due within errorWindowMinutes: that quantile of
  // (actual - forecast), at least 0. Absent until a forecast has come due.
  std::optional<double> margin() const { return margin_; }
  int horizonMinutes() const { return settings_.horizonMinutes; }

 private:
  void update(std::int64_t minute, double value);
  void scoreDueForecast(std::int64_t minute, double value);
  std::size_t seasonIndex(std::int64_t minute) const;

  ForecastSettings settings_;
  std::optional<std::int64_t> last_;
  double lastValue_ = 0;
  bool ready_ = false;
  std::vector<double> firstSeason_;  // until ready
  double level_ = 0;
  double trend_ = 0;
  std::vector<double> season_;
  std::deque<std::pair<std::int64_t, double>> pending_;  // forecasts not yet due, by minute
  std::optional<double> mae_, mape_, margin_;
  std::deque<double> recentErrors_;  // actual - forecast, oldest first
};

}  // namespace fleetscale::aggregator::scaling
