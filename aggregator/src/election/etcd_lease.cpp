#include "fleetscale/aggregator/election/etcd_lease.h"

#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/election/election_responses.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

}  // namespace

EtcdLeaseBackend::EtcdLeaseBackend(std::unique_ptr<HttpClient> http, EtcdElectionOptions options)
    : http_(std::move(http)), options_(std::move(options)) {}

std::string EtcdLeaseBackend::describe() const {
  std::string endpoints;
  for (const auto& endpoint : options_.endpoints) {
    endpoints += (endpoints.empty() ? "" : ",") + endpoint;
  }
  return "etcd " + endpoints + " key " + options_.key;
}

Result<json> EtcdLeaseBackend::call(const std::string& path, const json& body) {
  if (options_.endpoints.empty()) return Error{"etcd: no endpoints"};
  std::string failures;
  for (std::size_t tried = 0; tried < options_.endpoints.size(); ++tried) {
    const std::size_t index = (endpoint_ + tried) % options_.endpoints.size();
    HttpClientRequest request;
    request.method = "POST";
    request.url = options_.endpoints[index] + path;
    request.body = body.dump();
    request.headers.emplace_back("Content-Type", "application/json");
    request.connectTimeout = options_.requestTimeout;
    request.totalTimeout = options_.requestTimeout;
    request.maxResponseBytes = 1024 * 1024;
    auto response = http_->send(request);
    std::string failure;
    if (!response) {
      failure = response.error().message;
    } else {
      auto parsed = json::parse(response->body, nullptr, false);
      if (response->status == 200 && parsed.is_object()) {
        endpoint_ = index;
        return parsed;
      }
      const std::string message =
          parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()
              ? parsed["message"].get<std::string>()
              : response->body.substr(0, 200);
      // A member that answers with a client error speaks for the cluster: no other member
      // would answer differently.
      if (response->status >= 400 && response->status < 500) {
        endpoint_ = index;
        return Error{"etcd " + path + ": HTTP " + std::to_string(response->status) + ": " +
                     message};
      }
      failure = "HTTP " + std::to_string(response->status) + ": " + message;
    }
    failures += (failures.empty() ? "" : "; ") + options_.endpoints[index] + ": " + failure;
  }
  return Error{"etcd " + path + ": no member answered (" + failures + ")"};
}

Result<LeaseObservation> EtcdLeaseBackend::readHolder() {
  auto range = call("/v3/kv/range", json{{"key", encodeBase64(options_.key)}});
  if (!range) return range.error();
  auto state = parseEtcdRange(*range);
  if (!state) return state.error();
  return LeaseObservation{false, state->holder, state->term};
}

Result<LeaseObservation> EtcdLeaseBackend::tryAcquireOrRenew() {
  return held_ ? renew() : acquire();
}

Result<LeaseObservation> EtcdLeaseBackend::renew() {
  auto alive = call("/v3/lease/keepalive", json{{"ID", *leaseId_}});
  if (!alive) return alive.error();
  if (etcdInt64(alive->value("result", json::object()), "TTL") == 0) {
    // The lease expired (etcd deleted the key with it): campaign again like anyone else.
    held_ = false;
    leaseId_.reset();
    return acquire();
  }
  auto range = call("/v3/kv/range", json{{"key", encodeBase64(options_.key)}});
  if (!range) return range.error();
  auto state = parseEtcdRange(*range);
  if (!state) return state.error();
  if (state->term == term_ && state->lease == *leaseId_) {
    return LeaseObservation{true, options_.identity, term_};
  }
  // Someone deleted or replaced the key: this lease no longer makes us the leader.
  held_ = false;
  release();
  return LeaseObservation{false, state->holder, state->term};
}

Result<LeaseObservation> EtcdLeaseBackend::acquire() {
  auto current = readHolder();
  if (!current || !current->holder.empty()) return current;
  auto granted =
      call("/v3/lease/grant", json{{"TTL", static_cast<std::int64_t>(options_.leaseTtl.count())}});
  if (!granted) return granted.error();
  const std::uint64_t id = etcdInt64(*granted, "ID");
  if (id == 0) return Error{"etcd /v3/lease/grant: no lease ID in " + granted->dump()};
  leaseId_ = std::to_string(id);
  const std::string key = encodeBase64(options_.key);
  const json txn{
      {"compare", json::array({{{"key", key}, {"target", "CREATE"}, {"create_revision", "0"}}})},
      {"success",
       json::array(
           {{{"request_put",
              {{"key", key}, {"value", encodeBase64(options_.identity)}, {"lease", *leaseId_}}}}})},
      {"failure", json::array({{{"request_range", {{"key", key}}}}})}};
  auto result = call("/v3/kv/txn", txn);
  if (result && result->contains("succeeded") && (*result)["succeeded"] == true) {
    held_ = true;
    term_ = etcdInt64(result->value("header", json::object()), "revision");
    return LeaseObservation{true, options_.identity, term_};
  }
  release();  // lost the race (or the transaction failed): no lease left behind
  if (!result) return result.error();
  const json responses = result->value("responses", json::array());
  if (!responses.is_array() || responses.empty() || !responses[0].is_object()) {
    return Error{"etcd /v3/kv/txn: no range in the failed transaction's response"};
  }
  auto state = parseEtcdRange(responses[0].value("response_range", json::object()));
  if (!state) return state.error();
  return LeaseObservation{false, state->holder, state->term};
}

void EtcdLeaseBackend::release() {
  held_ = false;
  if (!leaseId_) return;
  // Revoking deletes the leader key with the lease. Best effort: otherwise it expires.
  (void)call("/v3/lease/revoke", json{{"ID", *leaseId_}});
  leaseId_.reset();
}

}  // namespace fleetscale::aggregator
