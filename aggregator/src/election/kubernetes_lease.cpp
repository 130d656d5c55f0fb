#include "fleetscale/aggregator/election/kubernetes_lease.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/election/election_responses.h"
#include "fleetscale/aggregator/kube/status.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

// metav1.MicroTime: RFC 3339 with exactly six fractional digits, as the API server parses it.
std::string microTime(WallTime time) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<long long>(micros % 1'000'000));
  return text;
}

Error httpError(const std::string& what, const HttpClientResponse& response) {
  const std::string message = errorDetail(response.body);
  std::string hint;
  if (response.status == 401) hint = " (check --lease-kubeconfig's token or client certificate)";
  if (response.status == 403) {
    hint = " (RBAC must allow get, create and update on leases.coordination.k8s.io)";
  }
  return Error{what + ": HTTP " + std::to_string(response.status) + ": " + message + hint};
}

}  // namespace

KubernetesLeaseBackend::KubernetesLeaseBackend(std::unique_ptr<HttpClient> http,
                                               KubernetesLeaseOptions options, const Clock& clock)
    : http_(std::move(http)), options_(std::move(options)), clock_(clock) {}

std::string KubernetesLeaseBackend::describe() const {
  return "Lease " + options_.namespaceName + "/" + options_.name + " at " +
         options_.credentials.server;
}

std::string KubernetesLeaseBackend::leasesPath() const {
  return "/apis/coordination.k8s.io/v1/namespaces/" + options_.namespaceName + "/leases";
}

Result<HttpClientResponse> KubernetesLeaseBackend::send(const std::string& method,
                                                        const std::string& path,
                                                        const std::string& body) {
  HttpClientRequest request;
  request.method = method;
  request.url = options_.credentials.server + path;
  request.body = body;
  request.connectTimeout = options_.requestTimeout;
  request.totalTimeout = options_.requestTimeout;
  request.maxResponseBytes = 1024 * 1024;
  request.headers.emplace_back("Accept", "application/json");
  if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
  if (!options_.userAgent.empty()) request.headers.emplace_back("User-Agent", options_.userAgent);
  if (!options_.credentials.bearerToken.empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + options_.credentials.bearerToken);
  }
  return http_->send(request);
}

Result<HttpClientResponse> KubernetesLeaseBackend::write(const Record& record,
                                                         const std::string& resourceVersion) {
  json metadata{{"name", options_.name}, {"namespace", options_.namespaceName}};
  if (!resourceVersion.empty()) metadata["resourceVersion"] = resourceVersion;
  const json lease{{"apiVersion", "coordination.k8s.io/v1"},
                   {"kind", "Lease"},
                   {"metadata", std::move(metadata)},
                   {"spec",
                    {{"holderIdentity", record.holder},
                     {"leaseDurationSeconds", record.durationSeconds},
                     {"acquireTime", record.acquireTime},
                     {"renewTime", record.renewTime},
                     {"leaseTransitions", record.transitions}}}};
  return resourceVersion.empty() ? send("POST", leasesPath(), lease.dump())
                                 : send("PUT", leasesPath() + "/" + options_.name, lease.dump());
}

Result<LeaseObservation> KubernetesLeaseBackend::tryAcquireOrRenew() {
  const std::string what = "Lease " + options_.namespaceName + "/" + options_.name;
  auto got = send("GET", leasesPath() + "/" + options_.name, "");
  if (!got) return Error{what + ": " + got.error().message};
  const SteadyTime now = clock_.now();
  const std::string nowText = microTime(clock_.wallNow());
  if (got->status == 404) {
    const Record record{options_.identity, nowText, nowText, options_.leaseDuration.count(), 0};
    auto created = write(record, "");
    if (!created) return Error{what + ": " + created.error().message};
    if (created->status == 409) return LeaseObservation{false, "", 0};  // another was faster
    if (created->status != 201 && created->status != 200) return httpError(what, *created);
    resourceVersion_ = resourceVersionOf(json::parse(created->body, nullptr, false));
    observed_ = record;
    observedAt_ = now;
    held_ = true;
    return LeaseObservation{true, options_.identity, 1};
  }
  if (got->status != 200) return httpError(what, *got);
  auto parsed = parseLease(got->body);
  if (!parsed) return Error{what + ": " + parsed.error().message};
  const Record& current = parsed->record;
  if (!observed_ || !(current == *observed_)) {
    observed_ = current;
    observedAt_ = now;
  }
  resourceVersion_ = parsed->resourceVersion;
  const bool mine = current.holder == options_.identity;
  if (!current.holder.empty() && !mine &&
      now < observedAt_ + std::chrono::seconds(current.durationSeconds)) {
    held_ = false;
    return LeaseObservation{false, current.holder,
                            static_cast<std::uint64_t>(current.transitions) + 1};
  }
  Record next = current;
  next.holder = options_.identity;
  next.durationSeconds = options_.leaseDuration.count();
  next.renewTime = nowText;
  if (!mine) {
    next.acquireTime = nowText;
    next.transitions = current.transitions + 1;
  }
  auto put = write(next, resourceVersion_);
  if (!put) return Error{what + ": " + put.error().message};
  if (put->status == 409) {  // someone else wrote first: their record is the truth next round
    held_ = false;
    return LeaseObservation{false, current.holder,
                            static_cast<std::uint64_t>(current.transitions) + 1};
  }
  if (put->status != 200) return httpError(what, *put);
  resourceVersion_ = resourceVersionOf(json::parse(put->body, nullptr, false));
  observed_ = next;
  observedAt_ = now;
  held_ = true;
  return LeaseObservation{true, options_.identity,
                          static_cast<std::uint64_t>(next.transitions) + 1};
}

void KubernetesLeaseBackend::release() {
  if (!held_ || !observed_) return;
  held_ = false;
  // As client-go's ReleaseOnCancel: nobody holds it, and it expires in a second for old clients.
  const std::string nowText = microTime(clock_.wallNow());
  Record released = *observed_;
  released.holder = "";
  released.durationSeconds = 1;
  released.renewTime = nowText;
  released.acquireTime = nowText;
  (void)write(released, resourceVersion_);
}

}  // namespace fleetscale::aggregator
