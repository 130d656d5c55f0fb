#include "fleetscale/aggregator/api/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "fleetscale/aggregator/api/api_auth.h"
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
      store_(*registry_),
      httpRejected_(prometheus::BuildCounter()
                        .Name("fleetscale_http_rejected_requests_total")
                        .Help("HTTP requests answered 400, 413 or 431 before reaching a route, "
                              "by reason")
                        .Register(*registry_)),
      httpDenied_(prometheus::BuildCounter()
                      .Name("fleetscale_http_requests_denied_total")
                      .Help("HTTP API requests refused for want of a valid token (401) or of the "
                            "admin role (403), by reason")
                      .Register(*registry_)),
      httpAcceptErrors_(prometheus::BuildCounter()
                            .Name("fleetscale_http_accept_errors_total")
                            .Help("Failed accepts on the HTTP port (out of file descriptors, ...), "
                                  "by reason; the accept loop pauses after each")
                            .Register(*registry_)) {
  for (const char* reason : {"malformed", "bad_encoding", "header_too_large", "body_too_large"}) {
    httpRejected(reason);
  }
  for (const std::string_view reason :
       {kDeniedMissingToken, kDeniedUnknownToken, kDeniedForbidden}) {
    httpDenied(reason);
  }
}

prometheus::Counter& AggregatorMetrics::httpRejected(const std::string& reason) {
  return httpRejected_.Add({{"reason", reason}});
}

prometheus::Counter& AggregatorMetrics::httpDenied(std::string_view reason) {
  return httpDenied_.Add({{"reason", std::string(reason)}});
}

prometheus::Counter& AggregatorMetrics::httpAcceptErrors(const std::string& reason) {
  return httpAcceptErrors_.Add({{"reason", reason}});
}

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
