#include "fleetscale/sim/kubelet_server.h"

#include "fleetscale/sim/kube_objects.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

HttpServerOptions kubeletOptions(std::shared_ptr<boost::asio::ssl::context> tls) {
  HttpServerOptions options;
  options.tls = std::move(tls);
  return options;
}

}  // namespace

KubeletGarbage kubeletGarbageOf(std::string_view mode) {
  if (mode == "garbage") return KubeletGarbage::kGarbage;
  if (mode == "truncated") return KubeletGarbage::kTruncated;
  if (mode == "wrong-types") return KubeletGarbage::kWrongTypes;
  if (mode == "empty") return KubeletGarbage::kEmpty;
  if (mode == "status-500") return KubeletGarbage::kStatus500;
  return KubeletGarbage::kNone;
}

KubeletHandler::KubeletHandler(SharedFleet& fleet, std::string cluster, std::string node,
                               std::shared_ptr<const TokenBook> tokens)
    : fleet_(fleet),
      cluster_(std::move(cluster)),
      node_(std::move(node)),
      tokens_(std::move(tokens)) {}

std::string KubeletHandler::podList() {
  std::lock_guard lock(fleet_.mutex);
  const ClusterModel* cluster = fleet_.model.findCluster(cluster_);
  json items = json::array();
  if (cluster) {
    const SimTime now = fleet_.model.lastStep();
    for (const auto& pod : cluster->pods()) {
      if (pod.node == node_) items.push_back(podJson(*cluster, pod, now));
    }
  }
  // The kubelet's list carries no resourceVersion: it is the node's view, not the API's.
  return json{{"kind", "PodList"},
              {"apiVersion", "v1"},
              {"metadata", json::object()},
              {"items", std::move(items)}}
      .dump();
}

HttpResponse KubeletHandler::handle(HttpRequest& request) {
  const auto identity = tokens_->authenticate(request.header("authorization"));
  if (!identity) return HttpResponse::text(401, "Unauthorized");
  const bool pods = request.path == "/pods" || request.path == "/pods/";
  const bool health = request.path == "/healthz";
  if (!pods && !health) return HttpResponse::text(404, "404 page not found\n");
  if (!mayAccessKubelet(identity->role)) {
    return HttpResponse::text(
        403, "Forbidden (user=" + identity->user +
                 ", verb=get, resource=nodes, subresource=" + (pods ? "proxy" : "healthz") + ")");
  }
  if (request.method != "GET" && request.method != "HEAD") {
    return HttpResponse::text(405, "405: Method Not Allowed");
  }
  if (health) return HttpResponse::text(200, "ok");
  switch (garbage_.load()) {
    case KubeletGarbage::kNone:
      return HttpResponse::json(200, podList());
    case KubeletGarbage::kGarbage: {
      // A gzip header, an HTML fragment and unbalanced JSON: what a broken proxy returns.
      static constexpr char kGarbage[] = "\x1f\x8b\x08\x00<html>\xff\xfe{{{\"items\":[";
      return HttpResponse::json(200, std::string(kGarbage, sizeof(kGarbage) - 1));
    }
    case KubeletGarbage::kTruncated: {
      const std::string full = podList();
      return HttpResponse::json(200, full.substr(0, full.size() / 2));
    }
    case KubeletGarbage::kWrongTypes:
      return HttpResponse::json(
          200, R"({"kind":"PodList","apiVersion":"v1","metadata":{},"items":{"metadata":7,)"
               R"("spec":[],"status":{"containerStatuses":"containerd://nothex","qosClass":3}}})");
    case KubeletGarbage::kEmpty:
      return HttpResponse::json(200, "");
    case KubeletGarbage::kStatus500:
      return HttpResponse::text(500, "Internal Server Error: failed to list pods from pod manager");
  }
  return HttpResponse::json(200, podList());
}

FakeKubelet::FakeKubelet(boost::asio::io_context& io,
                         std::shared_ptr<boost::asio::ssl::context> tls, SharedFleet& fleet,
                         std::string cluster, std::string node,
                         std::shared_ptr<const TokenBook> tokens)
    : handler_(std::make_shared<KubeletHandler>(fleet, std::move(cluster), std::move(node),
                                                std::move(tokens))),
      server_(
          io, [handler = handler_](HttpRequest& request) { return handler->handle(request); },
          kubeletOptions(std::move(tls))) {}

}  // namespace fleetscale::sim
