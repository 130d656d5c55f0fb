// Leader election on etcd v3 through its JSON gateway (/v3/...), the way etcd's own
// concurrency.Election does it: a lease with a TTL, a transaction that creates the leader key
// attached to the lease only if the key does not exist, keep-alives, and the key's
// create_revision as the fencing token (it grows with every new leader). When the leader stops
// renewing, etcd deletes the key with the lease and the next candidate's transaction succeeds.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/aggregator/election/leader_election.h"
#include "fleetscale/shared/http_client.h"

namespace fleetscale::aggregator {

struct EtcdElectionOptions {
  std::vector<std::string> endpoints;  // http(s)://host:port of the etcd members
  std::string key = "/fleetscale/leader";
  std::string identity;
  std::chrono::seconds leaseTtl{10};
  std::chrono::milliseconds requestTimeout{std::chrono::seconds(1)};  // per member tried
};

class EtcdLeaseBackend final : public LeaseBackend {
 public:
  EtcdLeaseBackend(std::unique_ptr<HttpClient> http, EtcdElectionOptions options);

  Result<LeaseObservation> tryAcquireOrRenew() override;
  void release() override;
  std::string describe() const override;

 private:
  // POSTs to the first member that answers, starting with the one that answered last.
  Result<nlohmann::json> call(const std::string& path, const nlohmann::json& body);
  Result<LeaseObservation> renew();
  Result<LeaseObservation> acquire();
  // Who holds the key now (holder "" and term 0 when nobody does).
  Result<LeaseObservation> readHolder();

  std::unique_ptr<HttpClient> http_;
  EtcdElectionOptions options_;
  std::size_t endpoint_ = 0;
  std::optional<std::string> leaseId_;  // int64 as etcd's JSON writes it
  bool held_ = false;
  std::uint64_t term_ = 0;
};

}  // namespace fleetscale::aggregator
