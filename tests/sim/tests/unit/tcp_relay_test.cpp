#include "fleetscale/sim/tcp_relay.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "fleetscale/testing/wait.h"

namespace fleetscale::sim {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// An echo server on its own thread, plus a relay in front of it.
class TcpRelayTest : public ::testing::Test {
 protected:
  TcpRelayTest() : acceptor_(echoIo_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    echoThread_ = std::thread([this] {
      boost::system::error_code ec;
      acceptor_.accept(echoSocket_, ec);
      if (ec) return;
      char data[256];
      while (true) {
        const std::size_t n = echoSocket_.read_some(asio::buffer(data), ec);
        if (ec) return;
        asio::write(echoSocket_, asio::buffer(data, n), ec);
        if (ec) return;
      }
    });
    relay_ =
        std::make_unique<TcpRelay>(io_, HostPort{"127.0.0.1", acceptor_.local_endpoint().port()});
    relay_->start();
    relayThread_ = std::thread([this] { io_.run(); });
  }
  ~TcpRelayTest() override {
    relay_->stop();
    work_.reset();
    io_.stop();
    relayThread_.join();
    // Unblock the echo thread wherever it waits (accept or read).
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    ::shutdown(echoSocket_.native_handle(), SHUT_RDWR);
    echoThread_.join();
  }

  asio::io_context echoIo_;
  tcp::acceptor acceptor_;
  tcp::socket echoSocket_{echoIo_};
  std::thread echoThread_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<TcpRelay> relay_;
  std::thread relayThread_;
};

TEST_F(TcpRelayTest, RelaysBothWaysAndHoldsTrafficWhileBlocked) {
  asio::io_context clientIo;
  tcp::socket client(clientIo);
  client.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), relay_->port()));
  asio::write(client, asio::buffer(std::string("hello")));
  char reply[5];
  asio::read(client, asio::buffer(reply));
  EXPECT_EQ(std::string(reply, 5), "hello");
  // The count moves once the relay's write completes, which may be after the client has read.
  EXPECT_TRUE(testing::waitFor([&] { return relay_->bytesRelayed() == 10u; }));

  relay_->setBlocked(true);
  asio::write(client, asio::buffer(std::string("again")));
  // Nothing comes back while the link is cut; the connection stays open.
  client.non_blocking(true);
  boost::system::error_code ec;
  ASSERT_FALSE(testing::waitFor(
      [&] {
        client.read_some(asio::buffer(reply), ec);
        return ec != asio::error::would_block;
      },
      std::chrono::milliseconds(300)));
  EXPECT_EQ(relay_->bytesRelayed(), 10u);

  relay_->setBlocked(false);
  client.non_blocking(false);
  asio::read(client, asio::buffer(reply));
  EXPECT_EQ(std::string(reply, 5), "again");
}

}  // namespace
}  // namespace fleetscale::sim
