// The pods' own Prometheus endpoints, for the agent's per-pod scraping (HPA `Pods` metrics): every
// pod of a workload with requests-per-core carries the scrape annotations and answers
// GET http://<podIP>:<port>/metrics with its request counter. One plain-HTTP server on
// 0.0.0.0:<port> stands in for all of them and tells the pods apart by the address the client
// dialled (pod addresses are on loopback: cluster_model.h, podIpAddress()).
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fleetscale/shared/http_server.h"
#include "fleetscale/sim/shared_fleet.h"

namespace fleetscale::sim {

// The annotations that ask the agent to scrape a pod, and where.
inline constexpr std::string_view kScrapeAnnotation = "fleetscale.io/scrape";
inline constexpr std::string_view kScrapePortAnnotation = "fleetscale.io/port";
inline constexpr std::string_view kScrapePathAnnotation = "fleetscale.io/path";
inline constexpr std::string_view kPodMetricsPath = "/metrics";

// {"fleetscale.io/scrape": "true", "fleetscale.io/port": "<port>", "fleetscale.io/path":
// "/metrics"}: what the pod template of a workload with requests-per-core carries.
nlohmann::json podMetricsAnnotations(std::uint16_t port);

// What one pod's endpoint shows: its request counter (cumulative, requests) in the Prometheus
// text format 0.0.4.
std::string podMetricsText(double requestsTotal);

// The answer for a request to a pod's endpoint, by the address the client dialled
// (request.localAddress): the pod's metrics, or 404 for an address no pod has, a pod that is not
// annotated for scraping or whose workload has no requests-per-core, and any other path.
// Takes the fleet's mutex.
HttpResponse podMetricsResponse(SharedFleet& fleet, const HttpRequest& request);

// Whether a connection to `localAddress` is answered at all: not when the address is outside
// loopback (the server listens on every interface but serves only pods), nor when it is in the
// pod range of a killed cluster, whose pods are gone from the network as its machines are.
// Takes the fleet's mutex.
bool podAddressAnswers(SharedFleet& fleet, std::string_view localAddress);

// The server behind every pod's endpoint. It listens as soon as it is made, before the fleet
// exists, because the port goes into the annotations the model writes when it is built; until
// serve() every request is answered 503. Thread-safe.
class PodMetricsServer {
 public:
  // Listens on 0.0.0.0:`port` (0 = any free port). Throws std::runtime_error when it cannot.
  explicit PodMetricsServer(boost::asio::io_context& io, std::uint16_t port = 0);
  ~PodMetricsServer();
  PodMetricsServer(const PodMetricsServer&) = delete;
  PodMetricsServer& operator=(const PodMetricsServer&) = delete;

  // Serves `fleet`'s pods from now on; `fleet` must outlive the server (or stop()).
  void serve(SharedFleet& fleet);
  std::uint16_t port() const { return server_.port(); }
  void stop() { server_.stop(); }

 private:
  // Shared with the server's handlers, which may run after the server object is gone.
  struct Target;
  std::shared_ptr<Target> target_;
  HttpServer server_;
};

}  // namespace fleetscale::sim
