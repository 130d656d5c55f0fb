// Leader election on a Kubernetes coordination.k8s.io/v1 Lease, with client-go's semantics
// (leaderelection.LeaderElector with a LeaseLock): the holder renews renewTime; a candidate takes
// the lease only when it has seen the same record unchanged for leaseDurationSeconds on its own
// clock (so clock skew between aggregators does not matter), or when the holder released it
// (holderIdentity ""); every update carries the resourceVersion it read, so two candidates never
// both win. The fencing token is leaseTransitions + 1: it grows with every change of holder.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "fleetscale/aggregator/election/election_responses.h"
#include "fleetscale/aggregator/election/leader_election.h"
#include "fleetscale/aggregator/kube/kubeconfig.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/http_client.h"

namespace fleetscale::aggregator {

struct KubernetesLeaseOptions {
  KubeCredentials credentials;
  std::string namespaceName = "fleetscale-system";
  std::string name = "fleetscale-aggregator";
  std::string identity;
  std::chrono::seconds leaseDuration{10};
  std::chrono::milliseconds requestTimeout{std::chrono::seconds(2)};
  std::string userAgent;
};

class KubernetesLeaseBackend final : public LeaseBackend {
 public:
  KubernetesLeaseBackend(std::unique_ptr<HttpClient> http, KubernetesLeaseOptions options,
                         const Clock& clock);

  Result<LeaseObservation> tryAcquireOrRenew() override;
  void release() override;
  std::string describe() const override;

 private:
  using Record = LeaseRecord;
  Result<HttpClientResponse> send(const std::string& method, const std::string& path,
                                  const std::string& body);
  // PUT (or POST, without a resourceVersion) the lease with `record` as its spec.
  Result<HttpClientResponse> write(const Record& record, const std::string& resourceVersion);
  std::string leasesPath() const;

  std::unique_ptr<HttpClient> http_;
  KubernetesLeaseOptions options_;
  const Clock& clock_;
  std::optional<Record> observed_;  // the last record read or written
  SteadyTime observedAt_{};         // when it last changed, on this aggregator's clock
  std::string resourceVersion_;
  bool held_ = false;
};

}  // namespace fleetscale::aggregator
