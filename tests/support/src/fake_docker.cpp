#include "fleetscale/testing/fake_docker.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <istream>
#include <mutex>

namespace fleetscale::testing {

namespace asio = boost::asio;
using UnixStream = asio::local::stream_protocol;

namespace {

const std::string& createParent(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  return path;
}

}  // namespace

struct FakeDockerEngine::Impl {
  Impl(const std::string& path, std::string body)
      : socketPath(createParent(path)),
        acceptor(io, UnixStream::endpoint(path)),
        response(std::move(body)) {
    response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(response.size()) + "\r\nConnection: close\r\n\r\n" + response;
  }
  std::string socketPath;
  asio::io_context io;
  UnixStream::acceptor acceptor;
  std::string response;
  mutable std::mutex mutex;
  std::string lastRequestLine;
  std::atomic<bool> stopping{false};
};

FakeDockerEngine::FakeDockerEngine(const std::string& socketPath, std::string containersJson)
    : impl_(std::make_unique<Impl>(socketPath, std::move(containersJson))) {
  thread_ = std::thread([this] {
    // One connection at a time, to completion: curl sends one request per connection here.
    while (true) {
      UnixStream::socket socket(impl_->io);
      boost::system::error_code ec;
      impl_->acceptor.accept(socket, ec);
      if (ec || impl_->stopping) return;
      asio::streambuf request;
      asio::read_until(socket, request, "\r\n\r\n", ec);
      if (ec) continue;
      std::istream lines(&request);
      std::string line;
      std::getline(lines, line);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      {
        std::lock_guard lock(impl_->mutex);
        impl_->lastRequestLine = line;
      }
      ++requests_;
      asio::write(socket, asio::buffer(impl_->response), ec);
    }
  });
}

FakeDockerEngine::~FakeDockerEngine() {
  // A blocking accept() does not return when another thread closes the socket; a connection
  // wakes it, and the flag tells it to stop.
  impl_->stopping = true;
  boost::system::error_code ignored;
  UnixStream::socket waker(impl_->io);
  waker.connect(UnixStream::endpoint(impl_->socketPath), ignored);
  thread_.join();
  impl_->acceptor.close(ignored);
  std::error_code removeError;
  std::filesystem::remove(impl_->socketPath, removeError);
}

std::string FakeDockerEngine::lastRequestLine() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->lastRequestLine;
}

}  // namespace fleetscale::testing
