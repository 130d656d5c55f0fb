#include "fleetscale/sim/tcp_relay.h"

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <mutex>
#include <vector>

#include "fleetscale/shared/asio_listen.h"

namespace fleetscale::sim {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

class Connection;

}  // namespace

struct TcpRelay::Impl : std::enable_shared_from_this<TcpRelay::Impl> {
  Impl(asio::io_context& ioContext, HostPort to)
      : io(ioContext), target(std::move(to)), acceptor(ioContext) {}

  void accept();
  // Runs `step` now when traffic may flow, else once the relay is unblocked (on `executor`).
  void whenOpen(const asio::any_io_executor& executor, std::function<void()> step) {
    std::lock_guard lock(mutex);
    if (!blocked) {
      asio::post(executor, std::move(step));
      return;
    }
    parked.emplace_back(executor, std::move(step));
  }

  asio::io_context& io;
  HostPort target;
  tcp::acceptor acceptor;
  std::uint16_t port = 0;
  std::atomic<std::uint64_t> bytes{0};
  std::mutex mutex;
  bool blocked = false;
  bool stopped = false;
  std::vector<std::pair<asio::any_io_executor, std::function<void()>>> parked;
  std::vector<std::weak_ptr<Connection>> connections;
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket client, std::shared_ptr<TcpRelay::Impl> relay)
      : strand_(client.get_executor()),
        client_(std::move(client)),
        upstream_(strand_),
        relay_(std::move(relay)) {}

  void start() {
    auto self = shared_from_this();
    relay_->whenOpen(strand_, [self] { self->connectUpstream(); });
  }

  void close() {
    asio::post(strand_, [self = shared_from_this()] {
      boost::system::error_code ignored;
      self->client_.close(ignored);
      self->upstream_.close(ignored);
    });
  }

 private:
  void connectUpstream() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(relay_->target.host, ec);
    if (ec) {
      close();
      return;
    }
    upstream_.async_connect(tcp::endpoint(address, relay_->target.port),
                            [self = shared_from_this()](const boost::system::error_code& error) {
                              if (error) {
                                self->close();
                                return;
                              }
                              self->pump(self->client_, self->upstream_, self->toUpstream_);
                              self->pump(self->upstream_, self->client_, self->toClient_);
                            });
  }

  void pump(tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buffer) {
    from.async_read_some(
        asio::buffer(buffer), [self = shared_from_this(), &from, &to, &buffer](
                                  const boost::system::error_code& ec, std::size_t n) {
          if (ec) {
            self->close();
            return;
          }
          self->relay_->whenOpen(self->strand_, [self, &from, &to, &buffer, n] {
            asio::async_write(to, asio::buffer(buffer.data(), n),
                              [self, &from, &to, &buffer](const boost::system::error_code& error,
                                                          std::size_t written) {
                                if (error) {
                                  self->close();
                                  return;
                                }
                                self->relay_->bytes += written;
                                self->pump(from, to, buffer);
                              });
          });
        });
  }

  asio::strand<asio::any_io_executor> strand_;
  tcp::socket client_;
  tcp::socket upstream_;
  std::shared_ptr<TcpRelay::Impl> relay_;
  std::array<char, 16384> toUpstream_{};
  std::array<char, 16384> toClient_{};
};

}  // namespace

void TcpRelay::Impl::accept() {
  acceptor.async_accept(
      asio::make_strand(io),
      [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) {
          auto connection = std::make_shared<Connection>(std::move(socket), self);
          {
            std::lock_guard lock(self->mutex);
            if (self->stopped) return;
            std::erase_if(self->connections, [](const auto& weak) { return weak.expired(); });
            self->connections.push_back(connection);
          }
          connection->start();
        }
        self->accept();
      });
}

TcpRelay::TcpRelay(asio::io_context& io, HostPort target)
    : impl_(std::make_shared<Impl>(io, std::move(target))) {}

TcpRelay::~TcpRelay() { stop(); }

void TcpRelay::start() {
  impl_->port = openAcceptor(impl_->acceptor, HostPort{"127.0.0.1", 0});
  impl_->accept();
}

std::uint16_t TcpRelay::port() const { return impl_->port; }

void TcpRelay::setBlocked(bool blocked) {
  std::vector<std::pair<asio::any_io_executor, std::function<void()>>> resume;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->blocked = blocked;
    if (!blocked) resume.swap(impl_->parked);
  }
  for (auto& [executor, step] : resume) asio::post(executor, std::move(step));
}

bool TcpRelay::blocked() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->blocked;
}

void TcpRelay::stop() {
  std::vector<std::weak_ptr<Connection>> connections;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->parked.clear();
    connections.swap(impl_->connections);
  }
  asio::post(impl_->io, [impl = impl_] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
  for (const auto& weak : connections) {
    if (auto connection = weak.lock()) connection->close();
  }
}

std::uint64_t TcpRelay::bytesRelayed() const { return impl_->bytes; }

}  // namespace fleetscale::sim
