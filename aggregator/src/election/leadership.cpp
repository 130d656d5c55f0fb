#include "fleetscale/aggregator/election/leadership.h"

#include "fleetscale/aggregator/election/etcd_lease.h"
#include "fleetscale/aggregator/election/kubernetes_lease.h"
#include "fleetscale/aggregator/kube/kube_http_client.h"
#include "fleetscale/aggregator/kube/kubeconfig.h"
#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/shared/metric_family.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

Result<std::chrono::milliseconds> durationFlag(const char* flag, const std::string& text) {
  auto parsed = parseDuration(text);
  if (!parsed) return Error{std::string(flag) + ": " + parsed.error().message};
  return std::chrono::duration_cast<std::chrono::milliseconds>(*parsed);
}

MetricFamily oneSeries(const char* name, const char* help, double value,
                       const std::vector<ClientMetric::Label>& labels, MetricType type) {
  MetricFamily family{name, help, type, {}};
  addSample(family, labels, value);
  return family;
}

}  // namespace

Result<std::optional<Election>> makeElection(const ElectionSettings& settings,
                                             const std::string& identity,
                                             const std::string& userAgent, const Clock& clock,
                                             std::chrono::milliseconds scaleRequestTimeout) {
  if (settings.backend == "none") return std::optional<Election>();
  if (settings.backend != "etcd" && settings.backend != "kubernetes") {
    return Error{"--leader-election: '" + settings.backend + "' is not none, etcd or kubernetes"};
  }
  Election election;
  for (auto [flag, text, target] :
       {std::tuple{"--lease-duration", &settings.leaseDuration, &election.timing.leaseDuration},
        std::tuple{"--renew-deadline", &settings.renewDeadline, &election.timing.renewDeadline},
        std::tuple{"--retry-period", &settings.retryPeriod, &election.timing.retryPeriod}}) {
    auto parsed = durationFlag(flag, *text);
    if (!parsed) return parsed.error();
    *target = *parsed;
  }
  if (Status valid = election.timing.validate(); !valid) return Error{valid.message()};
  if (scaleRequestTimeout + election.timing.retryPeriod >= election.timing.leaseDuration) {
    return Error{"--scale-request-timeout (" + std::to_string(scaleRequestTimeout.count()) +
                 " ms) plus --retry-period (" +
                 std::to_string(election.timing.retryPeriod.count()) +
                 " ms) must be shorter than --lease-duration (" +
                 std::to_string(election.timing.leaseDuration.count()) +
                 " ms): a scale write is only sent when it can end before the leader's lease "
                 "could expire"};
  }
  if (election.timing.leaseDuration % std::chrono::seconds(1) != std::chrono::milliseconds(0)) {
    return Error{"--lease-duration: whole seconds (etcd and Lease TTLs are in seconds)"};
  }
  const auto ttl = std::chrono::duration_cast<std::chrono::seconds>(election.timing.leaseDuration);
  // A round must end before the next is due, or a slow engine delays the renewals.
  const auto requestTimeout = std::max(std::chrono::milliseconds(500), election.timing.retryPeriod);

  if (settings.backend == "etcd") {
    EtcdElectionOptions options;
    for (auto endpoint : splitFields(settings.etcdEndpoints, ", ")) {
      options.endpoints.emplace_back(endpoint);
      if (options.endpoints.back().back() == '/') options.endpoints.back().pop_back();
    }
    if (options.endpoints.empty()) {
      return Error{"--etcd-endpoints: required with --leader-election etcd"};
    }
    options.key = settings.electionKey;
    options.identity = identity;
    options.leaseTtl = ttl;
    options.requestTimeout = requestTimeout;
    TlsClientOptions tls;
    tls.caFile = settings.etcdCaFile;
    tls.clientCertFile = settings.etcdCertFile;
    tls.clientKeyFile = settings.etcdKeyFile;
    election.backend = std::make_unique<EtcdLeaseBackend>(std::make_unique<CurlHttpClient>(tls),
                                                          std::move(options));
    return std::optional<Election>(std::move(election));
  }

  ClusterAccess access;
  if (settings.leaseKubeconfig.empty()) {
    access.kind = ClusterAccess::Kind::kInCluster;
  } else {
    access.kubeconfig = settings.leaseKubeconfig;
    access.context = settings.leaseContext;
  }
  auto credentials = resolveCredentials(access);
  if (!credentials) return Error{"--lease-kubeconfig: " + credentials.error().message};
  KubernetesLeaseOptions options;
  options.credentials = *credentials;
  options.namespaceName = settings.leaseNamespace;
  options.name = settings.leaseName;
  options.identity = identity;
  options.leaseDuration = ttl;
  options.requestTimeout = requestTimeout;
  options.userAgent = userAgent;
  auto http = makeClusterHttpClient(
      *credentials, changingCredentials(*credentials, "lease", clock),
      [](const TlsClientOptions& tls) { return std::make_unique<CurlHttpClient>(tls); });
  election.backend =
      std::make_unique<KubernetesLeaseBackend>(std::move(http), std::move(options), clock);
  return std::optional<Election>(std::move(election));
}

LeaderElector::ChangeListener recordLeadershipChanges(Store& store, const Clock& clock,
                                                      const std::string& identity) {
  return [&store, &clock, identity](const LeadershipChange& change) {
    const std::string role(leaderRoleName(change.role));
    EventRecord event;
    event.timeUnixMs = toUnixMillis(clock.wallNow());
    event.kind = std::string(kEventLeadership);
    event.message = identity + " is now " + role + ": " + change.reason;
    event.details = json{{"role", role}, {"term", change.term}, {"identity", identity}}.dump();
    store.recordEvent(std::move(event));
  };
}

json leadershipJson(const std::optional<LeadershipStatus>& status, const std::string& identity) {
  if (!status) {
    return json{{"enabled", false},   {"role", "leader"}, {"identity", identity},
                {"leader", identity}, {"term", 0},        {"backend", "none"}};
  }
  return json{{"enabled", true},
              {"role", std::string(leaderRoleName(status->role))},
              {"identity", status->identity},
              {"leader", status->leader},
              {"term", status->term},
              {"lastRenewAgeSeconds",
               status->sinceRenew ? json(std::chrono::duration<double>(*status->sinceRenew).count())
                                  : json(nullptr)},
              {"backend", status->backend},
              {"acquisitions", status->acquisitions},
              {"stepDowns", status->stepDowns},
              {"errors", status->errors},
              {"lastError", status->lastError}};
}

std::vector<MetricFamily> leadershipMetrics(const std::optional<LeadershipStatus>& status,
                                            const std::string& identity) {
  const std::vector<ClientMetric::Label> labels{{"aggregator", identity}};
  const bool leading = !status || status->role == LeaderRole::kLeader;
  std::vector<MetricFamily> out{
      oneSeries("fleetscale_aggregator_leader",
                "1 while this aggregator leads (and may write to clusters), 0 on standby", leading,
                labels, MetricType::Gauge),
      oneSeries("fleetscale_aggregator_leader_term",
                "Term (fencing token) of the leader this aggregator last saw; 0 without election",
                status ? static_cast<double>(status->term) : 0, labels, MetricType::Gauge)};
  if (!status) return out;
  if (status->sinceRenew) {
    out.push_back(oneSeries("fleetscale_aggregator_leader_last_renew_age_seconds",
                            "Seconds since this aggregator last renewed its lease",
                            std::chrono::duration<double>(*status->sinceRenew).count(), labels,
                            MetricType::Gauge));
  }
  out.push_back(oneSeries("fleetscale_aggregator_leader_acquisitions_total",
                          "Times this aggregator became the leader",
                          static_cast<double>(status->acquisitions), labels, MetricType::Counter));
  out.push_back(
      oneSeries("fleetscale_aggregator_leader_step_downs_total",
                "Times this aggregator stopped leading (lease lost or not renewed in time)",
                static_cast<double>(status->stepDowns), labels, MetricType::Counter));
  out.push_back(oneSeries("fleetscale_aggregator_leader_election_errors_total",
                          "Election rounds that failed (engine unreachable or answering errors)",
                          static_cast<double>(status->errors), labels, MetricType::Counter));
  return out;
}

}  // namespace fleetscale::aggregator
