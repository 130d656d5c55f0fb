#include "fleetscale/sim/pod_metrics.h"

#include <array>
#include <atomic>
#include <charconv>

namespace fleetscale::sim {
namespace {

// The pod at `address`, or nullptr when no pod has it. hostNetwork pods have node addresses,
// outside every cluster's pod range.
const PodState* podAt(const FleetModel& model, std::string_view address) {
  const int clusterIndex = clusterOfPodIp(address);
  if (clusterIndex < 0 || clusterIndex >= static_cast<int>(model.clusters().size())) {
    return nullptr;
  }
  for (const auto& pod : model.clusters()[static_cast<std::size_t>(clusterIndex)].pods()) {
    if (pod.bound() && pod.podIp == address) return &pod;
  }
  return nullptr;
}

HttpResponse notFound(const std::string& message) {
  return HttpResponse::text(404, message + "\n");
}

}  // namespace

nlohmann::json podMetricsAnnotations(std::uint16_t port) {
  return {{std::string(kScrapeAnnotation), "true"},
          {std::string(kScrapePortAnnotation), std::to_string(port)},
          {std::string(kScrapePathAnnotation), std::string(kPodMetricsPath)}};
}

std::string podMetricsText(double requestsTotal) {
  // Shortest round-trip form, as Prometheus' own clients write floats ("1e+06" included).
  std::array<char, 32> value{};
  const auto written = std::to_chars(value.data(), value.data() + value.size(), requestsTotal);
  return "# HELP http_requests_total Requests served by this pod.\n"
         "# TYPE http_requests_total counter\n"
         "http_requests_total{code=\"200\"} " +
         std::string(value.data(), written.ptr) + "\n";
}

HttpResponse podMetricsResponse(SharedFleet& fleet, const HttpRequest& request) {
  if (request.path != kPodMetricsPath) return notFound("404 page not found");
  double requests = 0;
  {
    std::lock_guard lock(fleet.mutex);
    const PodState* pod = podAt(fleet.model, request.localAddress);
    if (pod == nullptr) return notFound("no pod has the address " + request.localAddress);
    const auto scrape = pod->annotations.find(std::string(kScrapeAnnotation));
    const WorkloadSpec* spec =
        pod->specIndex >= 0 ? &fleet.model.workloads()[static_cast<std::size_t>(pod->specIndex)]
                            : nullptr;
    if (scrape == pod->annotations.end() || scrape->second != "true" || spec == nullptr ||
        !spec->requestsPerCore) {
      return notFound("pod " + pod->namespaceName + "/" + pod->name + " serves no metrics");
    }
    requests = pod->counters.requests;
  }
  HttpResponse response = HttpResponse::text(200, podMetricsText(requests));
  response.contentType = "text/plain; version=0.0.4; charset=utf-8";
  return response;
}

bool podAddressAnswers(SharedFleet& fleet, std::string_view localAddress) {
  if (!localAddress.starts_with("127.")) return false;
  const int clusterIndex = clusterOfPodIp(localAddress);
  std::lock_guard lock(fleet.mutex);
  const auto& clusters = fleet.model.clusters();
  if (clusterIndex < 0 || clusterIndex >= static_cast<int>(clusters.size())) return true;
  return clusters[static_cast<std::size_t>(clusterIndex)].alive();
}

struct PodMetricsServer::Target {
  std::atomic<SharedFleet*> fleet{nullptr};  // nullptr until serve()
};

PodMetricsServer::PodMetricsServer(boost::asio::io_context& io, std::uint16_t port)
    : target_(std::make_shared<Target>()),
      server_(
          io,
          [target = target_](HttpRequest& request) {
            SharedFleet* fleet = target->fleet.load();
            if (fleet == nullptr) return HttpResponse::text(503, "the fleet is starting\n");
            return podMetricsResponse(*fleet, request);
          },
          [target = target_] {
            HttpServerOptions options;
            options.answers = [target](const std::string& localAddress) {
              SharedFleet* fleet = target->fleet.load();
              return fleet == nullptr || podAddressAnswers(*fleet, localAddress);
            };
            return options;
          }()) {
  server_.listen(HostPort{"0.0.0.0", port});
}

PodMetricsServer::~PodMetricsServer() { server_.stop(); }

void PodMetricsServer::serve(SharedFleet& fleet) { target_->fleet = &fleet; }

}  // namespace fleetscale::sim
