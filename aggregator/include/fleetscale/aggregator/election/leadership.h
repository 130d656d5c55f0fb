// The aggregator's leader election at its edges: the flags' settings turned into a backend (etcd
// or a Kubernetes Lease), and the election's state as JSON (/readyz, /api/v1/status) and as
// /metrics series. Without election (`none`) the aggregator always leads, at term 0.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/aggregator/election/leader_election.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

struct ElectionSettings {
  std::string backend = "none";  // none, etcd, kubernetes
  std::string etcdEndpoints;     // comma-separated http(s)://host:port
  std::string electionKey = "/fleetscale/leader";
  std::string etcdCaFile, etcdCertFile, etcdKeyFile;
  std::string leaseKubeconfig;  // "" = in-cluster ServiceAccount
  std::string leaseContext;
  std::string leaseNamespace = "fleetscale-system";
  std::string leaseName = "fleetscale-aggregator";
  std::string leaseDuration = "10s";
  std::string renewDeadline = "6s";
  std::string retryPeriod = "1s";
};

struct Election {
  std::unique_ptr<LeaseBackend> backend;
  ElectionTiming timing;
};

// nullopt for `none`; an Error names the flag that is wrong. `scaleRequestTimeout` is checked
// against the lease: a fenced write is only sent when it can end before the lease could expire.
Result<std::optional<Election>> makeElection(const ElectionSettings& settings,
                                             const std::string& identity,
                                             const std::string& userAgent, const Clock& clock,
                                             std::chrono::milliseconds scaleRequestTimeout);

// Records each change of role as a `leadership` event in the store.
LeaderElector::ChangeListener recordLeadershipChanges(Store& store, const Clock& clock,
                                                      const std::string& identity);

// {"enabled", "role", "identity", "leader", "term", "lastRenewAgeSeconds", "backend", ...};
// nullopt = no election: this aggregator leads.
nlohmann::json leadershipJson(const std::optional<LeadershipStatus>& status,
                              const std::string& identity);
std::vector<prometheus::MetricFamily> leadershipMetrics(
    const std::optional<LeadershipStatus>& status, const std::string& identity);

// leadershipMetrics of `elector` (null: no election) at each scrape. Thread-safe; the elector
// must outlive it.
class LeadershipMetrics final : public prometheus::Collectable {
 public:
  LeadershipMetrics(const LeaderElector* elector, std::string identity)
      : elector_(elector), identity_(std::move(identity)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    return leadershipMetrics(elector_ != nullptr ? std::optional(elector_->status()) : std::nullopt,
                             identity_);
  }

 private:
  const LeaderElector* elector_;
  std::string identity_;
};

}  // namespace fleetscale::aggregator
