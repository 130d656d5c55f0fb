#include "fleetscale/testing/fake_kubelet.h"

#include <boost/asio/ssl/context.hpp>
#include <stdexcept>

#include "fleetscale/testing/test_pki.h"

namespace fleetscale::testing {

namespace asio = boost::asio;

FakeKubelet::FakeKubelet(std::string podList, std::string token)
    : token_(std::move(token)), podList_(std::move(podList)) {
  auto pki = makeTestPki({"localhost", "127.0.0.1"});
  if (!pki) throw std::runtime_error("test PKI: " + pki.error().message);
  caFile_ = dir_.file("ca.crt");
  writeFile(caFile_, pki->ca.certificate);
  tokenFile_ = dir_.file("token");
  writeFile(tokenFile_, token_ + "\n");

  auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  tls->use_certificate_chain(asio::buffer(pki->server.certificate));
  tls->use_private_key(asio::buffer(pki->server.privateKey), asio::ssl::context::pem);
  HttpServerOptions options;
  options.tls = tls;
  options.responseDelay = [this] {
    return mode_ == Mode::kHang ? std::chrono::milliseconds(std::chrono::minutes(1))
                                : std::chrono::milliseconds(0);
  };
  auto handler = [this](HttpRequest& request) {
    if (request.path != "/pods") return HttpResponse::jsonError(404, "not found");
    ++requests_;
    if (mode_ == Mode::kUnauthorized || request.header("authorization") != "Bearer " + token_) {
      return HttpResponse::text(401, "Unauthorized");
    }
    switch (mode_.load()) {
      case Mode::kServerError:
        return HttpResponse::json(
            500, R"({"kind":"Status","status":"Failure","message":"internal error","code":500})");
      case Mode::kGarbage:
        return HttpResponse::json(200, "{\"kind\":\"PodList\",\"items\":[{\"metadata\":");
      default: {
        std::lock_guard lock(mutex_);
        return HttpResponse::json(200, podList_);
      }
    }
  };
  server_ = std::make_unique<TestHttpServer>(handler, options);
}

FakeKubelet::~FakeKubelet() = default;

std::string FakeKubelet::url() const { return server_->url(); }

void FakeKubelet::setPodList(std::string podList) {
  std::lock_guard lock(mutex_);
  podList_ = std::move(podList);
}

}  // namespace fleetscale::testing
