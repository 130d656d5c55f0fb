#include "fleetscale/aggregator/api/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "fleetscale/shared/metric_family.h"
#include "fleetscale/shared/version.h"

namespace fleetscale::aggregator {
namespace {

// A constant, so not worth a registered gauge, whose labels prometheus-cpp would reorder.
prometheus::MetricFamily buildInfo() {
  prometheus::MetricFamily build =
      gaugeFamily("fleetscale_build_info", "Build information; always 1");
  addPresentSample(build, {{"version", kVersion}, {"component", "aggregator"}}, 1);
  return build;
}

}  // namespace

AggregatorMetrics::AggregatorMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      ingest_(*registry_),
      store_(*registry_) {}

void AggregatorMetrics::add(const std::weak_ptr<prometheus::Collectable>& collectable) {
  std::lock_guard lock(mutex_);
  collectables_.push_back(collectable);
}

std::string AggregatorMetrics::render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  families.push_back(buildInfo());
  std::vector<std::shared_ptr<prometheus::Collectable>> live;
  {
    std::lock_guard lock(mutex_);
    for (const auto& weak : collectables_) {
      if (auto collectable = weak.lock()) live.push_back(std::move(collectable));
    }
  }
  for (const auto& collectable : live) {
    auto more = collectable->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace fleetscale::aggregator
