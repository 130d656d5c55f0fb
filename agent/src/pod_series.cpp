#include "fleetscale/agent/pod_series.h"

#include <cmath>

namespace fleetscale::agent {
namespace {

// Name and labels, one string: the key under which a counter's last value is kept.
std::string seriesKey(const ExpositionSample& sample) {
  std::string key = sample.name;
  for (const auto& [name, value] : sample.labels) {
    key += '\0';
    key += name;
    key += '\0';
    key += value;
  }
  return key;
}

void addSeries(v1::PodMetrics& out, std::string name, const ExpositionSample& sample,
               double value) {
  auto* series = out.add_series();
  series->set_name(std::move(name));
  for (const auto& [label, text] : sample.labels) {
    series->add_labels(label);
    series->add_labels(text);
  }
  series->set_value(value);
}

}  // namespace

std::string rateName(const std::string& counterName) {
  constexpr std::string_view kTotal = "_total";
  if (counterName.size() > kTotal.size() &&
      counterName.compare(counterName.size() - kTotal.size(), kTotal.size(), kTotal) == 0) {
    return counterName.substr(0, counterName.size() - kTotal.size()) + "_per_second";
  }
  return counterName + "_per_second";
}

PodSeriesResult PodSeriesBuilder::build(const std::string& podUid, const Exposition& exposition,
                                        WallTime at) {
  PodSeriesResult result;
  result.metrics.set_pod_uid(podUid);
  result.metrics.set_scraped_unix_ms(toUnixMillis(at));
  const auto before = previous_.find(podUid);
  const double elapsed =
      before == previous_.end() ? 0 : std::chrono::duration<double>(at - before->second.at).count();
  Previous now{at, {}};
  std::size_t kept = 0;
  for (const auto& sample : exposition.samples) {
    if (!std::isfinite(sample.value)) continue;
    const bool counter = sample.type == SeriesType::kCounter;
    if (!counter && sample.type != SeriesType::kGauge && sample.type != SeriesType::kUntyped) {
      continue;
    }
    // OpenMetrics' _created series is a timestamp, not a count.
    if (counter && sample.name.ends_with("_created")) continue;
    if (kept == maxSeries_) {
      ++result.dropped;
      continue;
    }
    ++kept;
    if (!counter) {
      addSeries(result.metrics, sample.name, sample, sample.value);
      continue;
    }
    std::string key = seriesKey(sample);
    if (elapsed > 0) {
      const auto last = before->second.counters.find(key);
      if (last != before->second.counters.end() && sample.value >= last->second) {
        addSeries(result.metrics, rateName(sample.name), sample,
                  (sample.value - last->second) / elapsed);
      }
    }
    now.counters.emplace(std::move(key), sample.value);
  }
  previous_.insert_or_assign(podUid, std::move(now));
  return result;
}

void PodSeriesBuilder::retain(const std::set<std::string>& live) {
  std::erase_if(previous_, [&](const auto& entry) { return !live.contains(entry.first); });
}

}  // namespace fleetscale::agent
