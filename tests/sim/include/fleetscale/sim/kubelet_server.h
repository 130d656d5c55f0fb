// A fake kubelet for one simulated node: HTTPS GET /pods with the PodList the real kubelet
// serves on :10250 (every pod bound to the node, Pending ones included), /healthz, and the
// kubelet's auth rules (401 "Unauthorized" without a valid bearer token, 403 "Forbidden (user=...,
// verb=get, resource=nodes, subresource=proxy)" for a token without nodes/proxy). Faults: the
// whole kubelet off the network (stop/start) or /pods answering with broken bodies.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "fleetscale/sim/loopback_server.h"
#include "fleetscale/sim/shared_fleet.h"

namespace fleetscale::sim {

enum class KubeletGarbage { kNone, kGarbage, kTruncated, kWrongTypes, kEmpty, kStatus500 };

// "garbage", "truncated", "wrong-types", "empty", "status-500"; kNone for anything else.
KubeletGarbage kubeletGarbageOf(std::string_view mode);

// Thread-safe.
class KubeletHandler {
 public:
  KubeletHandler(SharedFleet& fleet, std::string cluster, std::string node,
                 std::shared_ptr<const TokenBook> tokens);
  HttpResponse handle(HttpRequest& request);
  void setGarbage(KubeletGarbage mode) { garbage_ = mode; }
  KubeletGarbage garbage() const { return garbage_; }

 private:
  std::string podList();

  SharedFleet& fleet_;
  std::string cluster_;
  std::string node_;
  std::shared_ptr<const TokenBook> tokens_;
  std::atomic<KubeletGarbage> garbage_{KubeletGarbage::kNone};
};

class FakeKubelet {
 public:
  FakeKubelet(boost::asio::io_context& io, std::shared_ptr<boost::asio::ssl::context> tls,
              SharedFleet& fleet, std::string cluster, std::string node,
              std::shared_ptr<const TokenBook> tokens);

  void start(std::uint16_t port = 0) { server_.start(port); }
  void stop() { server_.stop(); }
  bool running() const { return server_.running(); }
  std::uint16_t port() const { return server_.port(); }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port()); }
  void setGarbage(KubeletGarbage mode) { handler_->setGarbage(mode); }

 private:
  std::shared_ptr<KubeletHandler> handler_;
  LoopbackServer server_;
};

}  // namespace fleetscale::sim
