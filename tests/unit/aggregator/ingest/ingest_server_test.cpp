// The ingest server over real loopback sockets: well-behaved agents, and hostile ones that must
// be cut off without disturbing the others.
#include "fleetscale/aggregator/ingest/ingest_server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <optional>
#include <sstream>
#include <thread>

#include "fleetscale/agent/batch_queue.h"
#include "fleetscale/agent/stream_client.h"
#include "fleetscale/aggregator/ingest/agent_token_watcher.h"
#include "fleetscale/aggregator/store/store_metrics.h"
#include "fleetscale/shared/compact_batch.h"
#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/protocol.h"
#include "fleetscale/shared/tls.h"
#include "fleetscale/testing/descriptor_hog.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/test_pki.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::aggregator {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using std::chrono::milliseconds;

// A blocking test client speaking the wire protocol by hand.
class RawAgent {
 public:
  explicit RawAgent(std::uint16_t port) : socket_(io_) { connect(port); }
  // A socket opened (its descriptor taken) but not yet connected: connect() later.
  RawAgent() : socket_(io_) { socket_.open(tcp::v4()); }
  void connect(std::uint16_t port) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void sendBytes(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  void send(const v1::Envelope& envelope) { sendBytes(encodeEnvelopeFrame(envelope)); }
  void sendPayload(const std::string& payload) { sendBytes(encodeFrame(payload)); }
  void hello(const std::string& agentId, const std::string& token = "secret") {
    hello(helloFor(agentId, token));
  }
  void hello(const v1::Hello& hello) {
    v1::Envelope envelope;
    *envelope.mutable_hello() = hello;
    send(envelope);
  }
  static v1::Hello helloFor(const std::string& agentId, const std::string& token = "secret",
                            const std::string& cluster = "c1") {
    v1::Hello h;
    h.set_agent_id(agentId);
    h.set_node("node-" + agentId);
    h.set_cluster(cluster);
    h.set_auth_token(token);
    h.set_protocol_version(kProtocolVersion);
    return h;
  }
  void close() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
  void batch(std::uint64_t sequence, const std::string& containerId = "c") {
    v1::Envelope envelope;
    envelope.mutable_batch()->set_sequence(sequence);
    envelope.mutable_batch()->add_containers()->set_id(containerId);
    send(envelope);
  }
  // Reads one envelope; std::nullopt when the peer closed the connection.
  std::optional<v1::Envelope> receive() {
    char header[4];
    boost::system::error_code ec;
    asio::read(socket_, asio::buffer(header), ec);
    if (ec) return std::nullopt;
    const std::uint32_t size = (std::uint32_t(std::uint8_t(header[0])) << 24) |
                               (std::uint32_t(std::uint8_t(header[1])) << 16) |
                               (std::uint32_t(std::uint8_t(header[2])) << 8) |
                               std::uint8_t(header[3]);
    std::string payload(size, '\0');
    asio::read(socket_, asio::buffer(payload), ec);
    if (ec) return std::nullopt;
    auto envelope = decodeEnvelope(payload);
    if (!envelope) return std::nullopt;
    return *envelope;
  }
  // True when the server closed the connection (reads hit EOF after any pending frames).
  bool closedByServer() {
    while (receive()) {
    }
    return true;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
};

class IngestServerTest : public ::testing::Test {
 protected:
  static IngestOptions defaultOptions() {
    IngestOptions options;
    options.token = "secret";
    options.maxFrameBytes = 64 * 1024;
    options.handshakeTimeout = milliseconds(300);
    options.idleTimeout = std::chrono::seconds(30);
    return options;
  }
  void SetUp() override {
    server_ = std::make_unique<IngestServer>(io_, defaultOptions(), fleet_, metrics_, clock_);
    server_->listen(HostPort{"127.0.0.1", 0});
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  // Replaces the server with one built from `options` (and `store`) on a fresh port.
  void restart(const IngestOptions& options, Store* store = nullptr) {
    server_->stop();
    retired_.push_back(std::move(server_));
    server_ = std::make_unique<IngestServer>(io_, options, fleet_, metrics_, clock_, store);
    server_->listen(HostPort{"127.0.0.1", 0});
  }
  void TearDown() override {
    server_->stop();
    if (restartedServer_) restartedServer_->stop();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  std::uint64_t ackAfterHello(RawAgent& agent, const std::string& id) {
    agent.hello(id);
    auto reply = agent.receive();
    EXPECT_TRUE(reply && reply->has_hello_ack());
    return reply ? reply->hello_ack().acked_sequence() : 0;
  }
  double counter(prometheus::Counter& c) { return c.Value(); }
  // A store in storeDir_ that commits every `commitInterval`.
  void openStore(milliseconds commitInterval) {
    storeDir_.emplace();
    SqliteStoreOptions storeOptions;
    storeOptions.stateDir = storeDir_->path();
    storeOptions.commitInterval = commitInterval;
    auto opened = SqliteStore::open(storeOptions, &storeMetrics_, clock_);
    ASSERT_TRUE(opened.ok());
    store_ = std::move(*opened);
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  SystemClock clock_;
  FleetState fleet_;
  prometheus::Registry registry_;
  IngestMetrics metrics_{registry_};
  StoreMetrics storeMetrics_{registry_};
  // A store outlives the I/O threads TearDown joins: stop() closes connections asynchronously,
  // and each close records an event in the store.
  std::optional<testing::TempDir> storeDir_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<IngestServer> server_;
  std::vector<std::unique_ptr<IngestServer>> retired_;
  FleetState restartedFleet_;
  std::unique_ptr<IngestServer> restartedServer_;
  ManualClock manualClock_;  // for servers whose sense of an agent's silence a test steers
  std::vector<std::thread> threads_;
};

// The error a refused connection gets before the server closes it; std::nullopt for any other
// reply.
std::optional<v1::Error> refusalOf(RawAgent& agent) {
  auto reply = agent.receive();
  if (!reply || !reply->has_error()) return std::nullopt;
  EXPECT_TRUE(agent.closedByServer());
  return reply->error();
}

// Reads replies until an ack of `sequence` (true) or anything else (false).
bool ackedUpTo(RawAgent& agent, std::uint64_t sequence) {
  while (true) {
    auto reply = agent.receive();
    if (!reply || !reply->has_ack()) return false;
    if (reply->ack().sequence() >= sequence) return reply->ack().sequence() == sequence;
  }
}

// Issue 19, item 3: a second agent with a connected agent's id (a cloned VM with its spool) took
// over its node and made its batches vanish, without a word.
TEST_F(IngestServerTest, ASecondConnectionWithALiveAgentsIdIsRefusedAndTheFirstStreamsOn) {
  RawAgent victim(server_->port());
  ackAfterHello(victim, "victim");
  for (std::uint64_t s = 1; s <= 6; ++s) victim.batch(s, "victim-c");
  ASSERT_TRUE(ackedUpTo(victim, 6));

  RawAgent clone(server_->port());
  v1::Hello hello = RawAgent::helloFor("victim");
  hello.set_node("clone-node");
  clone.hello(hello);
  auto refusal = refusalOf(clone);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->code(), v1::Error::CODE_DUPLICATE_AGENT);
  EXPECT_NE(refusal->message().find("already connected"), std::string::npos) << refusal->message();
  EXPECT_TRUE(
      testing::waitFor([&] { return counter(metrics_.disconnects("duplicate_agent")) == 1; }));

  victim.batch(7, "victim-c");
  EXPECT_TRUE(ackedUpTo(victim, 7)) << "the first agent keeps its id, node and sequence";
  const auto nodes = fleet_.nodes(clock_.wallNow());
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].identity.node, "node-victim");
  EXPECT_EQ(fleet_.lastAcceptedSequence("victim"), 7u);
}

// The agent's own reconnect must still work when the aggregator never saw the old connection
// close (a half-open TCP connection after a network failure): silent past its liveness window,
// the old connection is replaced.
TEST_F(IngestServerTest, AReconnectOverASilentHalfOpenConnectionReplacesIt) {
  server_->stop();
  retired_.push_back(std::move(server_));
  server_ = std::make_unique<IngestServer>(io_, defaultOptions(), fleet_, metrics_, manualClock_);
  server_->listen(HostPort{"127.0.0.1", 0});
  RawAgent old(server_->port());
  ackAfterHello(old, "roamer");
  old.batch(1);
  ASSERT_TRUE(ackedUpTo(old, 1));
  RawAgent early(server_->port());
  early.hello("roamer");
  auto refused = early.receive();
  ASSERT_TRUE(refused && refused->has_error()) << "alive: 0 s since its last frame";

  manualClock_.advance(std::chrono::seconds(4));  // beyond 3 ticks of 1 s
  RawAgent fresh(server_->port());
  EXPECT_EQ(ackAfterHello(fresh, "roamer"), 1u);
  auto replaced = old.receive();
  ASSERT_TRUE(replaced && replaced->has_error());
  EXPECT_EQ(replaced->error().code(), v1::Error::CODE_DUPLICATE_AGENT);
  EXPECT_TRUE(old.closedByServer());
  EXPECT_TRUE(testing::waitFor([&] { return counter(metrics_.disconnects("replaced")) == 1; }));
  fresh.batch(2);
  EXPECT_TRUE(ackedUpTo(fresh, 2));
  EXPECT_TRUE(fleet_.nodes(manualClock_.wallNow()).front().connected)
      << "the old connection's close does not mark the agent gone";
}

// Issue 19, item 1: a holder of the token, while the victim was away, said hello with its id and
// sent sequence 2^64-1. Every later batch of the victim was dropped as a duplicate, never acked,
// and its reconnect learned acked_sequence 2^64-1.
TEST_F(IngestServerTest, ASequenceNoAgentCouldHaveProducedIsRefusedAndNeverAcked) {
  RawAgent victim(server_->port());
  v1::Hello hello = RawAgent::helloFor("victim");
  hello.set_queue_capacity(100);
  victim.hello(hello);
  ASSERT_TRUE(victim.receive()->has_hello_ack());
  for (std::uint64_t s = 1; s <= 6; ++s) victim.batch(s);
  ASSERT_TRUE(ackedUpTo(victim, 6));
  victim.close();
  ASSERT_TRUE(testing::waitFor([&] { return !fleet_.nodes(clock_.wallNow()).front().connected; }));

  RawAgent hostile(server_->port());
  hostile.hello("victim");
  ASSERT_TRUE(hostile.receive()->has_hello_ack());
  hostile.batch(UINT64_MAX, "evil");
  auto error = hostile.receive();
  ASSERT_TRUE(error && error->has_error()) << "no ack for it";
  EXPECT_EQ(error->error().code(), v1::Error::CODE_PROTOCOL);
  EXPECT_NE(error->error().message().find("2^63-1"), std::string::npos);
  EXPECT_TRUE(hostile.closedByServer());
  EXPECT_EQ(counter(metrics_.decodeErrors("sequence")), 1);
  EXPECT_TRUE(
      testing::waitFor([&] { return counter(metrics_.disconnects("invalid_sequence")) == 1; }));
  RawAgent jumper(server_->port());
  jumper.hello("victim");
  ASSERT_TRUE(jumper.receive()->has_hello_ack());
  jumper.batch(6 + 100'000, "evil");  // far beyond its queue of 3600 (the hello said none)
  ASSERT_TRUE(jumper.receive()->has_error());
  jumper.close();
  ASSERT_TRUE(testing::waitFor([&] { return !fleet_.nodes(clock_.wallNow()).front().connected; }));

  RawAgent back(server_->port());
  EXPECT_EQ(ackAfterHello(back, "victim"), 6u);
  back.batch(7);
  EXPECT_TRUE(ackedUpTo(back, 7));
  EXPECT_TRUE(fleet_.containers({"", "", "", ""}, clock_.wallNow()).front().id == "c");
}

TEST_F(IngestServerTest, AHelloWithANewEpochStartsAFreshSequenceSpaceAndIsEchoed) {
  RawAgent first(server_->port());
  v1::Hello hello = RawAgent::helloFor("c1/n1");
  hello.set_sequence_epoch(5);
  hello.set_started_unix_ms(1000);
  first.hello(hello);
  auto ack = first.receive();
  ASSERT_TRUE(ack && ack->has_hello_ack());
  EXPECT_EQ(ack->hello_ack().sequence_epoch(), 5u);
  for (std::uint64_t s = 1; s <= 3; ++s) first.batch(s);
  ASSERT_TRUE(ackedUpTo(first, 3));
  first.close();
  ASSERT_TRUE(testing::waitFor([&] { return !fleet_.nodes(clock_.wallNow()).front().connected; }));

  // The agent restarted without a spool: a new epoch, numbering from 1.
  RawAgent second(server_->port());
  hello.set_sequence_epoch(6);
  hello.set_started_unix_ms(2000);
  second.hello(hello);
  ack = second.receive();
  ASSERT_TRUE(ack && ack->has_hello_ack());
  EXPECT_EQ(ack->hello_ack().acked_sequence(), 0u);
  EXPECT_EQ(ack->hello_ack().sequence_epoch(), 6u);
  second.batch(1, "after-restart");
  EXPECT_TRUE(ackedUpTo(second, 1)) << "not a duplicate";
  EXPECT_EQ(counter(metrics_.agentRestarts()), 1);
  const auto nodes = fleet_.nodes(clock_.wallNow());
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].agentRestarts, 1u);
  EXPECT_EQ(fleet_.containers({}, clock_.wallNow()).front().id, "after-restart");
}

TEST_F(IngestServerTest, ASupersededAgentIsAckedButNotFolded) {
  RawAgent old(server_->port());
  v1::Hello oldHello = RawAgent::helloFor("old-id");
  oldHello.set_node("shared-node");
  old.hello(oldHello);
  ASSERT_TRUE(old.receive()->has_hello_ack());
  old.batch(1, "from-old");
  ASSERT_TRUE(ackedUpTo(old, 1));
  RawAgent fresh(server_->port());
  v1::Hello freshHello = RawAgent::helloFor("new-id");
  freshHello.set_node("shared-node");
  fresh.hello(freshHello);
  ASSERT_TRUE(fresh.receive()->has_hello_ack());
  old.batch(2, "late-from-old");
  EXPECT_TRUE(ackedUpTo(old, 2)) << "the old agent drains";
  EXPECT_EQ(counter(metrics_.supersededBatches()), 1);
  EXPECT_EQ(fleet_.containers({}, clock_.wallNow()).front().id, "from-old");
  fresh.batch(1, "from-new");
  ASSERT_TRUE(ackedUpTo(fresh, 1));
  const auto containers = fleet_.containers({}, clock_.wallNow());
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].id, "from-new");
}

TEST_F(IngestServerTest, WellBehavedAgentIsAckedAndFolded) {
  RawAgent agent(server_->port());
  EXPECT_EQ(ackAfterHello(agent, "a1"), 0u);
  agent.batch(1, "x");
  agent.batch(2, "x");
  std::uint64_t acked = 0;
  while (acked < 2) {
    auto reply = agent.receive();
    ASSERT_TRUE(reply && reply->has_ack());
    acked = reply->ack().sequence();
  }
  EXPECT_EQ(fleet_.containers({}, clock_.wallNow()).size(), 1u);
  EXPECT_EQ(counter(metrics_.batchesAccepted()), 2);
}

TEST_F(IngestServerTest, DuplicatesAreDroppedCountedAndStillAcked) {
  RawAgent agent(server_->port());
  ackAfterHello(agent, "dup");
  agent.batch(1);
  ASSERT_EQ(agent.receive()->ack().sequence(), 1u);
  agent.batch(1);
  ASSERT_EQ(agent.receive()->ack().sequence(), 1u);
  EXPECT_EQ(counter(metrics_.duplicateBatches()), 1);
  agent.close();
  ASSERT_TRUE(testing::waitFor([&] { return !fleet_.nodes(clock_.wallNow()).front().connected; }));
  RawAgent again(server_->port());
  EXPECT_EQ(ackAfterHello(again, "dup"), 1u)
      << "hello-ack tells a reconnecting agent what is stored";
}

TEST_F(IngestServerTest, HostileClientsAreCutOffWhileAGoodAgentKeepsStreaming) {
  RawAgent good(server_->port());
  ackAfterHello(good, "good");

  RawAgent huge(server_->port());
  huge.sendBytes(std::string("\x7f\xff\xff\xff", 4));
  auto hugeReply = huge.receive();
  ASSERT_TRUE(hugeReply && hugeReply->has_error());
  EXPECT_EQ(hugeReply->error().code(), v1::Error::CODE_BAD_FRAME);
  EXPECT_TRUE(huge.closedByServer());

  RawAgent garbage(server_->port());
  garbage.sendBytes(std::string("\0\0\0\x08", 4) + "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8");
  auto garbageReply = garbage.receive();
  ASSERT_TRUE(garbageReply && garbageReply->has_error());
  EXPECT_EQ(garbageReply->error().code(), v1::Error::CODE_BAD_FRAME);

  RawAgent wrongToken(server_->port());
  wrongToken.hello("intruder", "guess");
  auto tokenReply = wrongToken.receive();
  ASSERT_TRUE(tokenReply && tokenReply->has_error());
  EXPECT_EQ(tokenReply->error().code(), v1::Error::CODE_UNAUTHENTICATED);

  RawAgent batchFirst(server_->port());
  batchFirst.batch(1);
  auto protocolReply = batchFirst.receive();
  ASSERT_TRUE(protocolReply && protocolReply->has_error());
  EXPECT_EQ(protocolReply->error().code(), v1::Error::CODE_PROTOCOL);

  RawAgent silent(server_->port());  // never says hello: cut at the handshake timeout
  EXPECT_TRUE(silent.closedByServer());

  good.batch(1, "still-here");
  auto ack = good.receive();
  ASSERT_TRUE(ack && ack->has_ack());
  EXPECT_EQ(ack->ack().sequence(), 1u);

  EXPECT_EQ(counter(metrics_.decodeErrors("oversized")), 1);
  EXPECT_EQ(counter(metrics_.decodeErrors("undecodable")), 1);
  // A connection is counted as closed once its error frame has been written, which may be just
  // after the client read it.
  auto disconnectsReach = [&](const std::string& reason, double expected) {
    return testing::waitFor([&] { return counter(metrics_.disconnects(reason)) == expected; });
  };
  EXPECT_TRUE(disconnectsReach("unauthenticated", 1));
  EXPECT_TRUE(disconnectsReach("protocol", 1));
  EXPECT_TRUE(disconnectsReach("handshake_timeout", 1));
  EXPECT_TRUE(disconnectsReach("bad_frame", 2));
  EXPECT_EQ(fleet_.containers({"", "node-good", "", ""}, clock_.wallNow()).size(), 1u);
}

TEST_F(IngestServerTest, InvalidBatchClosesTheConnection) {
  RawAgent agent(server_->port());
  ackAfterHello(agent, "bad-batch");
  agent.batch(0);  // sequence 0 is invalid
  auto reply = agent.receive();
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(counter(metrics_.decodeErrors("invalid")), 1);
  EXPECT_TRUE(fleet_.containers({}, clock_.wallNow()).empty());
}

// Issue 19: CPU 1e308 cores, memory 2^64-1 and interval_seconds 1e300 were folded into the fleet
// state. A batch with a figure out of range is refused, counted under its own reason, and folds
// nothing; the agent's other batches are unaffected.
TEST_F(IngestServerTest, AFigureOutOfRangeRefusesTheBatchWithItsOwnReason) {
  struct Case {
    const char* name;
    void (*mutate)(v1::SampleBatch&);
  };
  int refused = 0;
  for (const Case& c :
       {Case{"cpu", [](v1::SampleBatch& b) { b.mutable_containers(0)->set_cpu_cores(1e308); }},
        Case{"memory",
             [](v1::SampleBatch& b) {
               b.mutable_containers(0)->set_memory_working_set_bytes(~std::uint64_t{0});
             }},
        Case{"interval", [](v1::SampleBatch& b) { b.set_interval_seconds(1e9); }},
        Case{"node",
             [](v1::SampleBatch& b) { b.mutable_node()->set_cpu_capacity_cores(1e300); }}}) {
    RawAgent agent(server_->port());
    ackAfterHello(agent, std::string("range-") + c.name);
    v1::Envelope envelope;
    auto* batch = envelope.mutable_batch();
    batch->set_sequence(1);
    batch->set_interval_seconds(1);
    batch->add_containers()->set_id("x");
    c.mutate(*batch);
    agent.send(envelope);
    auto reply = agent.receive();
    ASSERT_TRUE(reply && reply->has_error()) << c.name;
    EXPECT_EQ(reply->error().code(), v1::Error::CODE_PROTOCOL);
    EXPECT_NE(reply->error().message().find("out of range"), std::string::npos)
        << reply->error().message();
    EXPECT_TRUE(agent.closedByServer());
    EXPECT_EQ(counter(metrics_.decodeErrors("out_of_range")), ++refused);
  }
  EXPECT_TRUE(fleet_.containers({}, clock_.wallNow()).empty()) << "nothing folded";
  EXPECT_EQ(counter(metrics_.decodeErrors("invalid")), 0);
}

// Issue 19: every connection cost a 64 KiB read buffer, and could make the aggregator buffer a
// 4 MiB frame, before it had even said Hello. Until then frames are limited to 16 KiB; after it,
// --max-frame-bytes applies from the very next frame, even one sent with the hello.
TEST_F(IngestServerTest, FramesBeforeTheHelloAreSmallAfterItFullSize) {
  RawAgent early(server_->port());
  early.sendBytes(std::string("\0\0\x40\x01", 4) + std::string(100, 'x'));  // 16385 bytes
  auto reply = early.receive();
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::Error::CODE_BAD_FRAME);
  EXPECT_NE(reply->error().message().find("exceeds the maximum of 16384"), std::string::npos)
      << reply->error().message();
  EXPECT_EQ(counter(metrics_.decodeErrors("oversized")), 1);

  // A 40 KiB batch (under this server's 64 KiB limit) pipelined right behind the hello.
  RawAgent pipelined(server_->port());
  v1::Envelope hello;
  auto* h = hello.mutable_hello();
  h->set_agent_id("pipelined");
  h->set_node("node-pipelined");
  h->set_auth_token("secret");
  h->set_protocol_version(kProtocolVersion);
  v1::Envelope batch;
  batch.mutable_batch()->set_sequence(1);
  for (int i = 0; i < 400; ++i) {
    batch.mutable_batch()->add_containers()->set_id(std::to_string(i) + std::string(100, 'c'));
  }
  ASSERT_GT(batch.ByteSizeLong(), 40000u);
  pipelined.sendBytes(encodeEnvelopeFrame(hello) + encodeEnvelopeFrame(batch));
  auto ack = pipelined.receive();
  ASSERT_TRUE(ack && ack->has_hello_ack());
  ack = pipelined.receive();
  ASSERT_TRUE(ack && ack->has_ack()) << (ack && ack->has_error() ? ack->error().message() : "");
  EXPECT_EQ(ack->ack().sequence(), 1u);
  EXPECT_EQ(fleet_.containers({}, clock_.wallNow(), 1000).size(), 400u);
}

// Issue 19: authentication must never fail open, not even at run time.
TEST_F(IngestServerTest, AnEmptyTokenIsRefusedAndTheCurrentOneStays) {
  const Status status = server_->setToken("");
  EXPECT_FALSE(status.ok());
  RawAgent anonymous(server_->port());
  anonymous.hello("anonymous", "");
  auto reply = anonymous.receive();
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::Error::CODE_UNAUTHENTICATED);
  RawAgent good(server_->port());
  EXPECT_EQ(ackAfterHello(good, "good"), 0u) << "the old token still works";
  ASSERT_TRUE(server_->setToken("rotated").ok());
  RawAgent rotated(server_->port());
  rotated.hello("rotated", "rotated");
  reply = rotated.receive();
  ASSERT_TRUE(reply && reply->has_hello_ack());
}

// Issue 19: out of descriptors (EMFILE), the accept loop retried at once: 113% CPU, /healthz
// timing out, nothing logged. Now it pauses (10 ms doubling to 1 s), counts each failure, and
// accepts the waiting agent once descriptors are free again.
TEST_F(IngestServerTest, OutOfDescriptorsPausesAcceptsAndRecovers) {
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  // As HttpServerAcceptTest: the sanitizers' vptr probe needs descriptors; the dev build runs it.
  GTEST_SKIP() << "the sanitizers' runtime needs file descriptors of its own";
#endif
#endif
  testing::FileLimit limit(4096);  // keeps the hog small
  RawAgent waiting;                // its descriptor is taken before the hog takes the rest
  {
    testing::DescriptorHog hog;
    waiting.connect(server_->port());  // completes in the kernel; the server cannot accept it
    ASSERT_TRUE(testing::waitFor([&] { return counter(metrics_.acceptErrors("emfile")) >= 1; }));
    const double before = counter(metrics_.acceptErrors("emfile"));
    std::this_thread::sleep_for(milliseconds(500));  // the window the failures are counted in
    EXPECT_LE(counter(metrics_.acceptErrors("emfile")) - before, 8)
        << "a few paused retries in half a second, not a spinning loop";
  }
  EXPECT_EQ(ackAfterHello(waiting, "waited"), 0u) << "accepted once descriptors were free";
}

TEST_F(IngestServerTest, StreamClientReplaysUnackedBatchesAfterAggregatorRestart) {
  asio::io_context agentIo;
  agent::MemoryBatchQueue queue(100);
  agent::StreamClientOptions options;
  options.aggregator = HostPort{"127.0.0.1", server_->port()};
  options.hello.set_agent_id("streamer");
  options.hello.set_node("n-stream");
  options.hello.set_auth_token("secret");
  options.backoffMin = milliseconds(20);
  options.backoffMax = milliseconds(100);
  agent::StreamClient client(agentIo, options, queue);
  // The queue belongs to the agent's I/O thread; the test touches it only through post().
  auto appendBatches = [&](int count) {
    asio::post(agentIo, [&, count] {
      for (int i = 0; i < count; ++i) {
        v1::SampleBatch batch;
        batch.add_containers()->set_id("s");
        queue.append(std::move(batch));
      }
      client.batchAvailable();
    });
  };
  auto guard = asio::make_work_guard(agentIo);
  std::thread agentThread([&] { agentIo.run(); });
  asio::post(agentIo, [&] { client.start(); });
  appendBatches(3);
  ASSERT_TRUE(testing::waitFor([&] { return client.counters().ackedSequence.load() == 3; }));
  EXPECT_EQ(fleet_.lastAcceptedSequence("streamer"), 3u);

  // The aggregator goes away; the agent keeps sampling into its queue.
  const std::uint16_t port = server_->port();
  server_->stop();
  ASSERT_TRUE(testing::waitFor([&] { return !client.counters().connected.load(); }));
  appendBatches(2);

  // A fresh aggregator (empty state) on the same address gets the unacked batches, in order.
  // Fixture members, so they outlive the I/O threads that TearDown joins.
  FleetState& restarted = restartedFleet_;
  IngestOptions restartedOptions;
  restartedOptions.token = "secret";
  restartedServer_ =
      std::make_unique<IngestServer>(io_, restartedOptions, restarted, metrics_, clock_);
  IngestServer& second = *restartedServer_;
  // The old listener closes asynchronously; retry until the port is free again.
  ASSERT_TRUE(testing::waitFor([&] {
    try {
      second.listen(HostPort{"127.0.0.1", port});
      return true;
    } catch (const std::runtime_error&) {
      return false;
    }
  }));
  ASSERT_TRUE(testing::waitFor([&] { return client.counters().ackedSequence.load() == 5; }));
  EXPECT_EQ(restarted.lastAcceptedSequence("streamer"), 5u);
  EXPECT_GE(client.counters().connects.load(), 2u);

  asio::post(agentIo, [&] { client.stop(); });
  guard.reset();
  agentThread.join();
}

// The aggregator holds more of the agent's sequence epoch than the agent numbered (a cloned VM
// with the same spool streamed under it, or a peer used its id and epoch). Believing the hello's
// acked_sequence would drop the agent's own queued batches as acknowledged; the agent takes a new
// epoch instead and delivers them.
TEST_F(IngestServerTest, AnAgentWhoseEpochAnotherFilledMovesToANewEpochAndLosesNothing) {
  asio::io_context agentIo;
  agent::MemoryBatchQueue queue(100);
  const std::uint64_t polluted = queue.sequenceEpoch();
  fleet_.restoreProgress({AgentProgress{"cloned", "n-cloned", "c1", 1000, 1000, 1000,
                                        toUnixMillis(clock_.wallNow()), polluted}});
  agent::StreamClientOptions options;
  options.aggregator = HostPort{"127.0.0.1", server_->port()};
  options.hello.set_agent_id("cloned");
  options.hello.set_node("n-cloned");
  options.hello.set_cluster("c1");
  options.hello.set_auth_token("secret");
  options.backoffMin = milliseconds(20);
  options.backoffMax = milliseconds(100);
  agent::StreamClient client(agentIo, options, queue);
  auto guard = asio::make_work_guard(agentIo);
  std::thread agentThread([&] { agentIo.run(); });
  asio::post(agentIo, [&] {
    v1::SampleBatch batch;
    batch.add_containers()->set_id("queued-before-connecting");
    queue.append(std::move(batch));
    client.start();
  });
  ASSERT_TRUE(testing::waitFor([&] { return client.counters().ackedSequence.load() == 1; }));
  EXPECT_EQ(client.counters().sequenceConflicts.load(), 1u);
  EXPECT_EQ(fleet_.lastAcceptedSequence("cloned"), 1u);
  ASSERT_EQ(fleet_.containers({}, clock_.wallNow()).size(), 1u);
  EXPECT_EQ(fleet_.containers({}, clock_.wallNow())[0].id, "queued-before-connecting");
  std::uint64_t epoch = 0;
  asio::post(agentIo, [&] { epoch = queue.sequenceEpoch(); });
  ASSERT_TRUE(testing::waitFor([&] { return epoch != 0; }));
  EXPECT_NE(epoch, polluted);
  asio::post(agentIo, [&] { client.stop(); });
  guard.reset();
  agentThread.join();
}

TEST_F(IngestServerTest, SlowlorisIsCutAtTheIdleTimeoutWhileOthersStream) {
  auto options = defaultOptions();
  options.idleTimeout = milliseconds(400);
  restart(options);
  RawAgent slow(server_->port());
  ackAfterHello(slow, "slowloris");
  RawAgent good(server_->port());
  ackAfterHello(good, "steady");
  // The slow one trickles a frame one byte at a time, never completing it; the good one keeps
  // sending whole frames.
  v1::Envelope envelope;
  envelope.mutable_batch()->set_sequence(1);
  envelope.mutable_batch()->add_containers()->set_id("x");
  const std::string frame = encodeEnvelopeFrame(envelope);
  std::uint64_t sequence = 0;
  bool slowClosed = false;
  for (std::size_t i = 0; i + 1 < frame.size() && !slowClosed; ++i) {
    try {
      slow.sendBytes(frame.substr(i, 1));
    } catch (const boost::system::system_error&) {
      slowClosed = true;  // the server closed it
    }
    good.batch(++sequence, "steady-c");
    auto ack = good.receive();
    ASSERT_TRUE(ack && ack->has_ack());
    std::this_thread::sleep_for(milliseconds(150));  // the trickle's pace, not a wait
  }
  EXPECT_TRUE(testing::waitFor([&] { return counter(metrics_.disconnects("idle_timeout")) == 1; }));
  EXPECT_TRUE(slow.closedByServer());
  EXPECT_EQ(fleet_.lastAcceptedSequence("steady"), sequence);
  EXPECT_EQ(fleet_.lastAcceptedSequence("slowloris"), 0u);
}

TEST_F(IngestServerTest, AFloodingAgentIsSlowedToItsFrameAllowance) {
  auto options = defaultOptions();
  options.maxFramesPerSecond = 20;
  options.frameBurst = 5;
  restart(options);
  RawAgent flood(server_->port());
  ackAfterHello(flood, "flood");
  RawAgent good(server_->port());
  ackAfterHello(good, "good");
  const auto started = std::chrono::steady_clock::now();
  std::string burst;
  for (std::uint64_t s = 1; s <= 25; ++s) {
    v1::Envelope envelope;
    envelope.mutable_batch()->set_sequence(s);
    envelope.mutable_batch()->add_containers()->set_id("f");
    burst += encodeEnvelopeFrame(envelope);
  }
  flood.sendBytes(burst);
  good.batch(1, "g");
  auto goodAck = good.receive();
  ASSERT_TRUE(goodAck && goodAck->has_ack());
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(500))
      << "the other agent is served at once";
  std::uint64_t acked = 0;
  while (acked < 25) {
    auto reply = flood.receive();
    ASSERT_TRUE(reply && reply->has_ack());
    acked = reply->ack().sequence();
  }
  // 25 frames at 5 at once and 20 per second take at least (25 - 5) / 20 = 1 s.
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(900));
  EXPECT_GE(counter(metrics_.throttledConnections()), 1);
  EXPECT_EQ(fleet_.lastAcceptedSequence("flood"), 25u) << "slowed down, nothing dropped";
}

TEST_F(IngestServerTest, AcksOnlyWhatTheStoreHasMadeDurable) {
  openStore(milliseconds(200));
  restart(defaultOptions(), store_.get());
  store_->setCommitListener(
      [this](const std::vector<AgentProgress>& p) { server_->progressDurable(p); });
  RawAgent agent(server_->port());
  EXPECT_EQ(ackAfterHello(agent, "durable"), 0u);
  for (std::uint64_t s = 1; s <= 3; ++s) agent.batch(s);
  std::uint64_t acked = 0;
  while (acked < 3) {
    auto reply = agent.receive();
    ASSERT_TRUE(reply && reply->has_ack());
    acked = reply->ack().sequence();
    // Whatever is acked is already in the database.
    auto progress = store_->loadProgress();
    ASSERT_TRUE(progress.ok() && progress->size() == 1u);
    EXPECT_GE((*progress)[0].lastSequence, acked);
  }
  agent.close();
  ASSERT_TRUE(testing::waitFor([&] { return !fleet_.nodes(clock_.wallNow()).front().connected; }));
  RawAgent again(server_->port());
  EXPECT_EQ(ackAfterHello(again, "durable"), 3u) << "hello-ack reports the durable sequence";
  store_->setCommitListener(nullptr);
  server_->stop();
  store_->flush();
}

// A StreamClient on its own thread that queues one batch and connects over TLS.
struct TlsAgent {
  asio::io_context io;
  agent::MemoryBatchQueue queue{100};
  std::unique_ptr<agent::StreamClient> client;
  std::thread thread;
  TlsAgent(std::uint16_t port, const std::string& id, std::shared_ptr<asio::ssl::context> tls,
           const std::string& serverName, const std::string& cluster = "c1") {
    agent::StreamClientOptions o;
    o.aggregator = HostPort{"127.0.0.1", port};
    o.hello.set_agent_id(id);
    o.hello.set_node("n-" + id);
    o.hello.set_cluster(cluster);
    o.hello.set_auth_token("secret");
    o.backoffMin = milliseconds(20);
    o.backoffMax = milliseconds(100);
    o.tls = std::move(tls);
    o.tlsServerName = serverName;
    client = std::make_unique<agent::StreamClient>(io, o, queue);
    asio::post(io, [this] {
      v1::SampleBatch batch;
      batch.add_containers()->set_id("tls-c");
      queue.append(std::move(batch));
      client->start();
    });
    thread = std::thread([this] { io.run(); });
  }
  ~TlsAgent() {
    asio::post(io, [this] { client->stop(); });
    thread.join();
  }
  TlsAgent(const TlsAgent&) = delete;
  TlsAgent& operator=(const TlsAgent&) = delete;
};

class IngestTlsTest : public IngestServerTest, public ::testing::WithParamInterface<bool> {};

TEST_P(IngestTlsTest, StreamClientConnectsOverTlsAndMutualTlsRefusesStrangers) {
  const bool mutual = GetParam();
  testing::TempDir dir;
  auto pki = makeTestPki({"aggregator.test", "127.0.0.1"}, "c1");  // the agents' cluster
  ASSERT_TRUE(pki.ok());
  ASSERT_TRUE(writePemPair(pki->ca, dir.path(), "ca").ok());
  ASSERT_TRUE(writePemPair(pki->server, dir.path(), "server").ok());
  ASSERT_TRUE(writePemPair(pki->client, dir.path(), "client").ok());
  auto serverTls = makeTlsServerContext(TlsServerFiles{
      dir.file("server.crt"), dir.file("server.key"), mutual ? dir.file("ca.crt") : ""});
  ASSERT_TRUE(serverTls.ok()) << serverTls.error().message;
  auto options = defaultOptions();
  options.tls = *serverTls;
  restart(options);

  using Agent = TlsAgent;
  auto withCert = makeTlsClientContext(
      TlsClientFiles{dir.file("ca.crt"), dir.file("client.crt"), dir.file("client.key")});
  auto withoutCert = makeTlsClientContext(TlsClientFiles{dir.file("ca.crt"), "", ""});
  ASSERT_TRUE(withCert.ok() && withoutCert.ok());
  {
    Agent trusted(server_->port(), "trusted", mutual ? *withCert : *withoutCert, "aggregator.test");
    EXPECT_TRUE(testing::waitFor([&] { return fleet_.lastAcceptedSequence("trusted") == 1; }));
    EXPECT_TRUE(
        testing::waitFor([&] { return trusted.client->counters().ackedSequence.load() == 1; }));
  }
  {
    Agent wrongName(server_->port(), "wrong-name", *withCert, "someone-else.test");
    EXPECT_TRUE(
        testing::waitFor([&] { return wrongName.client->counters().connectFailures.load() >= 1; }));
    EXPECT_EQ(fleet_.lastAcceptedSequence("wrong-name"), 0u) << "the host name is checked";
  }
  if (mutual) {
    Agent anonymous(server_->port(), "anonymous", *withoutCert, "aggregator.test");
    EXPECT_TRUE(
        testing::waitFor([&] { return counter(metrics_.disconnects("tls_handshake")) >= 1; }));
    EXPECT_EQ(fleet_.lastAcceptedSequence("anonymous"), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(ServerAndMutual, IngestTlsTest, ::testing::Values(false, true));

// Issue 16: per-cluster agent identity. A node of one cluster must not report for another.
class IngestIdentityTest : public IngestServerTest {
 protected:
  // A server whose agents authenticate with their cluster's token.
  void startWithClusterTokens(const AgentTokens& tokens) {
    openStore(milliseconds(20));
    IngestOptions options = defaultOptions();
    options.token.clear();
    options.agentTokens = std::make_shared<const AgentTokens>(tokens);
    restart(options, store_.get());
  }
  // The code of the error a hello gets, or CODE_UNSPECIFIED when it is accepted.
  v1::Error::Code helloOutcome(RawAgent& agent, const std::string& id, const std::string& cluster,
                               const std::string& token) {
    agent.hello(RawAgent::helloFor(id, token, cluster));
    auto reply = agent.receive();
    if (reply && reply->has_hello_ack()) return v1::Error::CODE_UNSPECIFIED;
    EXPECT_TRUE(reply && reply->has_error()) << id;
    EXPECT_TRUE(agent.closedByServer()) << id;
    return reply && reply->has_error() ? reply->error().code() : v1::Error::CODE_PROTOCOL;
  }
  v1::Error::Code helloOutcome(const std::string& id, const std::string& cluster,
                               const std::string& token) {
    RawAgent agent(server_->port());
    return helloOutcome(agent, id, cluster, token);
  }
  std::vector<EventRecord> events(std::string_view kind) {
    store_->flush();
    auto found = store_->events(EventQuery{std::string(kind), "", "", 0, 100});
    EXPECT_TRUE(found.ok());
    return found ? *found : std::vector<EventRecord>{};
  }
  bool folded(const std::string& agentId, std::uint64_t sequence) {
    return testing::waitFor([&] { return fleet_.lastAcceptedSequence(agentId) == sequence; });
  }

  const AgentTokens tokens_{{{"aws-eu", "token-aws"}, {"gcp-us", "token-gcp"}}};
};

TEST_F(IngestIdentityTest, AnotherClustersTokenIsRefusedAsTheWrongClusterAndNothingIsFolded) {
  startWithClusterTokens(tokens_);
  RawAgent good(server_->port());
  ASSERT_EQ(helloOutcome(good, "aws-1", "aws-eu", "token-aws"), v1::Error::CODE_UNSPECIFIED);
  good.batch(1);
  EXPECT_TRUE(folded("aws-1", 1));

  // A node of aws-eu (its token) reporting as a node of gcp-us, twice from one address.
  for (int attempt = 0; attempt < 2; ++attempt) {
    RawAgent liar(server_->port());
    liar.hello(RawAgent::helloFor("liar", "token-aws", "gcp-us"));
    auto refusal = refusalOf(liar);
    ASSERT_TRUE(refusal);
    EXPECT_EQ(refusal->code(), v1::Error::CODE_PERMISSION_DENIED);
    EXPECT_NE(refusal->message().find("not valid for cluster gcp-us"), std::string::npos)
        << refusal->message();
  }
  EXPECT_TRUE(
      testing::waitFor([&] { return counter(metrics_.disconnects("wrong_cluster")) == 2; }));
  EXPECT_EQ(counter(metrics_.disconnects("unauthenticated")), 0);
  EXPECT_EQ(fleet_.lastAcceptedSequence("liar"), 0u);
  const auto nodes = fleet_.nodes(clock_.wallNow());
  ASSERT_EQ(nodes.size(), 1u) << "nothing of the refused agent is folded";
  EXPECT_EQ(nodes[0].identity.cluster, "aws-eu");

  const auto refused = events(kEventAgentRefused);
  ASSERT_EQ(refused.size(), 1u) << "the same refusal from the same address is recorded once";
  EXPECT_EQ(refused[0].cluster, "gcp-us");
  EXPECT_EQ(refused[0].agentId, "liar");
  EXPECT_NE(refused[0].message.find("claims cluster gcp-us with the token of cluster aws-eu"),
            std::string::npos)
      << refused[0].message;
  EXPECT_NE(refused[0].message.find("127.0.0.1"), std::string::npos) << "the peer address";
  EXPECT_EQ(refused[0].message.find("token-aws"), std::string::npos) << "never a token";
  good.batch(2);
  EXPECT_TRUE(folded("aws-1", 2)) << "the honest agent streams on";
}

TEST_F(IngestIdentityTest, AnUnknownTokenOrAClusterWithoutAFileIsUnauthenticated) {
  startWithClusterTokens(tokens_);
  EXPECT_EQ(helloOutcome("guess", "aws-eu", "token-guess"), v1::Error::CODE_UNAUTHENTICATED);
  EXPECT_EQ(helloOutcome("empty", "aws-eu", ""), v1::Error::CODE_UNAUTHENTICATED);
  EXPECT_EQ(helloOutcome("azure-1", "azure-ne", "token-azure"), v1::Error::CODE_UNAUTHENTICATED)
      << "a cluster without a file";
  EXPECT_EQ(helloOutcome("azure-2", "azure-ne", "token-gcp"), v1::Error::CODE_PERMISSION_DENIED)
      << "a cluster without a file, with another cluster's token";
  EXPECT_TRUE(
      testing::waitFor([&] { return counter(metrics_.disconnects("unauthenticated")) == 3; }));
  EXPECT_TRUE(
      testing::waitFor([&] { return counter(metrics_.disconnects("wrong_cluster")) == 1; }));
  EXPECT_TRUE(fleet_.nodes(clock_.wallNow()).empty());
  EXPECT_EQ(events(kEventAgentRefused).size(), 1u) << "only the wrong cluster is an event";
  EXPECT_FALSE(server_->setToken("shared").ok()) << "no switching to one shared token";
}

// The Secret of one cluster is rotated: new hellos need its new token at once, while the agents
// already connected, of that cluster and of the others, stream on. A file that becomes empty
// keeps its cluster's token; a removed file removes the cluster.
TEST_F(IngestIdentityTest, ReloadingTheDirectoryRotatesOneClusterWithoutDroppingAnyAgent) {
  testing::TempDir dir;
  testing::writeFile(dir.file("aws-eu"), "token-aws\n");
  testing::writeFile(dir.file("gcp-us"), "token-gcp\n");
  auto loaded = loadAgentTokens(dir.path());
  ASSERT_TRUE(loaded.ok());
  startWithClusterTokens(*loaded);
  AgentTokenWatcher watcher(io_, dir.path(), *loaded, *server_, metrics_, clock_, store_.get(),
                            milliseconds(20));
  watcher.start();
  RawAgent aws(server_->port());
  ASSERT_EQ(helloOutcome(aws, "aws-1", "aws-eu", "token-aws"), v1::Error::CODE_UNSPECIFIED);
  RawAgent gcp(server_->port());
  ASSERT_EQ(helloOutcome(gcp, "gcp-1", "gcp-us", "token-gcp"), v1::Error::CODE_UNSPECIFIED);
  aws.batch(1);
  gcp.batch(1);
  ASSERT_TRUE(folded("aws-1", 1) && folded("gcp-1", 1));

  // The periodic check sees the new file, without a SIGHUP.
  testing::writeFile(dir.file("gcp-us"), "token-gcp-2\n");
  ASSERT_TRUE(testing::waitFor([&] { return !events(kEventConfigReload).empty(); }))
      << "the change is recorded";
  EXPECT_NE(events(kEventConfigReload)[0].message.find("rotated gcp-us"), std::string::npos)
      << events(kEventConfigReload)[0].message;
  EXPECT_EQ(helloOutcome("gcp-2", "gcp-us", "token-gcp-2"), v1::Error::CODE_UNSPECIFIED);
  EXPECT_EQ(helloOutcome("gcp-old", "gcp-us", "token-gcp"), v1::Error::CODE_UNAUTHENTICATED);
  aws.batch(2);
  gcp.batch(2);
  EXPECT_TRUE(folded("aws-1", 2) && folded("gcp-1", 2)) << "no connected agent was dropped";
  watcher.stop();

  // Fails closed: an emptied file keeps the token; a removed one removes the cluster.
  testing::writeFile(dir.file("aws-eu"), "");
  std::filesystem::remove(dir.file("gcp-us"));
  const AgentTokensUpdate update = watcher.reload("SIGHUP");
  EXPECT_EQ(update.removed, std::vector<std::string>{"gcp-us"});
  ASSERT_EQ(update.problems.size(), 1u);
  EXPECT_NE(update.problems[0].find("keeping its previous token"), std::string::npos);
  EXPECT_EQ(metrics_.agentTokenProblems().Value(), 1);
  EXPECT_EQ(metrics_.agentTokenClusters().Value(), 1);
  EXPECT_EQ(helloOutcome("aws-2", "aws-eu", "token-aws"), v1::Error::CODE_UNSPECIFIED);
  EXPECT_EQ(helloOutcome("gcp-3", "gcp-us", "token-gcp-2"), v1::Error::CODE_UNAUTHENTICATED);
  gcp.batch(3);
  EXPECT_TRUE(folded("gcp-1", 3)) << "authenticated at its hello: stays until it reconnects";
}

// Under mutual TLS each cluster has its own client certificate (CN = the cluster's name).
class IngestClientIdentityTest : public IngestServerTest {
 protected:
  void SetUp() override {
    IngestServerTest::SetUp();
    auto pki = makeTestPki({"aggregator.test", "127.0.0.1"}, "aws-eu");
    ASSERT_TRUE(pki.ok());
    auto gcp = issueCertificate(pki->ca, "gcp-us", {}, false);
    ASSERT_TRUE(gcp.ok());
    ASSERT_TRUE(writePemPair(pki->ca, dir_.path(), "ca").ok());
    ASSERT_TRUE(writePemPair(pki->server, dir_.path(), "server").ok());
    ASSERT_TRUE(writePemPair(pki->client, dir_.path(), "aws-eu").ok());
    ASSERT_TRUE(writePemPair(*gcp, dir_.path(), "gcp-us").ok());
  }
  void startMutual(ClientIdentity identity) {
    auto serverTls = makeTlsServerContext(
        TlsServerFiles{dir_.file("server.crt"), dir_.file("server.key"), dir_.file("ca.crt")});
    ASSERT_TRUE(serverTls.ok()) << serverTls.error().message;
    auto options = defaultOptions();
    options.tls = *serverTls;
    options.clientIdentity = identity;
    restart(options);
  }
  std::shared_ptr<asio::ssl::context> clientOf(const std::string& cluster) {
    auto tls = makeTlsClientContext(TlsClientFiles{dir_.file("ca.crt"), dir_.file(cluster + ".crt"),
                                                   dir_.file(cluster + ".key")});
    EXPECT_TRUE(tls.ok());
    return tls ? *tls : nullptr;
  }

  testing::TempDir dir_;
};

TEST_F(IngestClientIdentityTest, TheCertificatesCommonNameMustBeTheHellosCluster) {
  startMutual(ClientIdentity::kCluster);
  {
    TlsAgent own(server_->port(), "aws-1", clientOf("aws-eu"), "aggregator.test", "aws-eu");
    EXPECT_TRUE(testing::waitFor([&] { return fleet_.lastAcceptedSequence("aws-1") == 1; }));
  }
  {
    TlsAgent liar(server_->port(), "liar", clientOf("gcp-us"), "aggregator.test", "aws-eu");
    EXPECT_TRUE(testing::waitFor([&] {
      return counter(metrics_.disconnects("wrong_cluster")) >= 2;
    })) << "refused, and again at each retry";
  }
  EXPECT_EQ(fleet_.lastAcceptedSequence("liar"), 0u);
  EXPECT_EQ(counter(metrics_.disconnects("tls_handshake")), 0) << "the handshake itself is fine";
}

TEST_F(IngestClientIdentityTest, AnyCertificateOfTheCaIsEnoughWithIdentityAny) {
  startMutual(ClientIdentity::kAny);
  TlsAgent shared(server_->port(), "shared", clientOf("gcp-us"), "aggregator.test", "aws-eu");
  EXPECT_TRUE(testing::waitFor([&] { return fleet_.lastAcceptedSequence("shared") == 1; }));
  EXPECT_EQ(counter(metrics_.disconnects("wrong_cluster")), 0);
}

// Issue 16: the agent reads --token-file again before every hello, so a rotated token is used
// at the next reconnect, without a restart; a file that became empty keeps the token read before.
TEST_F(IngestServerTest, TheAgentRereadsItsTokenFileAtEachReconnect) {
  testing::TempDir dir;
  testing::writeFile(dir.file("token"), "secret\n");
  asio::io_context agentIo;
  agent::MemoryBatchQueue queue(100);
  agent::StreamClientOptions options;
  options.aggregator = HostPort{"127.0.0.1", server_->port()};
  options.hello = RawAgent::helloFor("rotating", "stale-token-from-startup");
  options.tokenFile = dir.file("token");
  options.backoffMin = milliseconds(20);
  options.backoffMax = milliseconds(100);
  agent::StreamClient client(agentIo, options, queue);
  auto guard = asio::make_work_guard(agentIo);
  std::thread agentThread([&] { agentIo.run(); });
  asio::post(agentIo, [&] { client.start(); });
  ASSERT_TRUE(testing::waitFor([&] { return client.counters().connects.load() == 1; }))
      << "the file's token, not the one given at start";

  // The token rotates on both sides; the aggregator restarts and the agent reconnects.
  const std::uint16_t port = server_->port();
  auto reconnectTo = [&](const std::string& token) {
    server_->stop();
    retired_.push_back(std::move(server_));
    IngestOptions rotated = defaultOptions();
    rotated.token = token;
    server_ = std::make_unique<IngestServer>(io_, rotated, fleet_, metrics_, clock_);
    return testing::waitFor([&] {  // the old listener closes asynchronously
      try {
        server_->listen(HostPort{"127.0.0.1", port});
        return true;
      } catch (const std::runtime_error&) {
        return false;
      }
    });
  };
  testing::writeFile(dir.file("token"), "rotated\n");
  ASSERT_TRUE(reconnectTo("rotated"));
  EXPECT_TRUE(testing::waitFor([&] { return client.counters().connects.load() == 2; }));
  testing::writeFile(dir.file("token"), "");
  ASSERT_TRUE(reconnectTo("rotated"));
  EXPECT_TRUE(testing::waitFor([&] { return client.counters().connects.load() == 3; }))
      << "an emptied file keeps the token read before";

  asio::post(agentIo, [&] { client.stop(); });
  guard.reset();
  agentThread.join();
}

}  // namespace
}  // namespace fleetscale::aggregator

namespace fleetscale::aggregator {
namespace {

// Protocol version 2 (issue 17): negotiation, compact and zstd-wrapped batches, and refusals.

v1::Hello helloOffering(const std::string& agentId, std::uint32_t maxVersion,
                        const std::string& compression = "") {
  v1::Hello hello = RawAgent::helloFor(agentId);
  hello.set_max_protocol_version(maxVersion);
  hello.set_compression(compression);
  return hello;
}

// The hello-ack `hello` gets; an empty one when the reply is anything else.
v1::HelloAck helloAckFor(RawAgent& agent, const v1::Hello& hello) {
  agent.hello(hello);
  auto reply = agent.receive();
  EXPECT_TRUE(reply && reply->has_hello_ack());
  return reply && reply->has_hello_ack() ? reply->hello_ack() : v1::HelloAck{};
}

// One node's containers at tick `tick` as a version 1 payload. Every figure moves each tick (some
// by amounts that are not whole millionths), container 1 restarts at tick 3 (its metadata
// changes), and at tick 4 container 0 goes and container 3 arrives.
std::string tickPayload(std::uint64_t tick) {
  v1::Envelope envelope;
  v1::SampleBatch& batch = *envelope.mutable_batch();
  batch.set_sequence(tick);
  batch.set_interval_seconds(1);
  batch.mutable_node()->set_cpu_capacity_cores(8);
  batch.mutable_node()->set_memory_usage_bytes((4ull << 30) + tick);
  for (int n = tick < 4 ? 0 : 1; n < (tick < 4 ? 3 : 4); ++n) {
    const std::string name = std::to_string(n);
    auto* c = batch.add_containers();
    c->set_id("container-" + name);
    c->set_cgroup("/kubepods.slice/pod-" + name + ".slice/cri-containerd-" + name + ".scope");
    c->set_runtime("containerd");
    auto* m = c->mutable_metadata();
    m->set_pod("web-" + name);
    m->set_pod_uid("uid-" + name);
    m->set_namespace_("shop");
    m->set_container("web");
    m->set_workload_kind("Deployment");
    m->set_workload("web");
    m->set_cpu_request_cores(0.25);
    m->set_memory_request_bytes(256 << 20);
    m->set_ready(true);
    m->set_pod_phase("Running");
    m->set_restart_count(n == 1 && tick >= 3 ? 1 : 0);
    if (tick > 1) c->set_cpu_cores(0.1 + 1.0 / static_cast<double>(3 + tick + n));
    c->set_cpu_usage_ns_total(tick * 1'000'000'000ull * (n + 1));
    c->set_memory_usage_bytes((100 + tick * n) << 20);
    c->set_memory_working_set_bytes((90 + tick) << 20);
    c->set_memory_limit_bytes(512 << 20);
    c->set_cpu_pressure_some_total_us(static_cast<double>(tick) * 1000.5);
  }
  return envelope.SerializeAsString();
}

// Everything the fold keeps of a container but where and when: equal strings, equal containers.
std::string describe(const ContainerInfo& c) {
  const ContainerMetrics& m = c.metrics;
  std::ostringstream out;
  out.precision(17);
  out << c.id << ' ' << c.cgroup << ' ' << c.runtime << ' ' << c.pod << ' ' << c.podUid << ' '
      << c.namespaceName << ' ' << c.container << ' ' << c.workloadKind << ' ' << c.workload << ' '
      << c.podPhase << ' ' << c.cpuRequestCores << ' ' << c.memoryRequestBytes.value_or(0) << ' '
      << c.ready.value_or(false) << ' ' << c.restartCount << " | " << m.cpuCores << ' '
      << m.cpuUsageNsTotal << ' ' << m.cpuPressureSomeTotalUs << ' ' << m.memoryUsageBytes << ' '
      << m.memoryWorkingSetBytes << ' ' << m.memoryLimitBytes.value_or(0);
  return out.str();
}

class IngestProtocolTest : public IngestServerTest {
 protected:
  // The containers of agent `agentId`'s node, described, in id order.
  std::vector<std::string> containersOf(const std::string& agentId) {
    std::vector<std::string> described;
    for (const auto& c : fleet_.containers({"", "node-" + agentId, "", ""}, clock_.wallNow())) {
      described.push_back(describe(c));
    }
    std::sort(described.begin(), described.end());
    return described;
  }
  const NodeInfo* nodeOf(const std::vector<NodeInfo>& nodes, const std::string& agentId) {
    for (const auto& node : nodes) {
      if (node.identity.node == "node-" + agentId) return &node;
    }
    return nullptr;
  }
  bool connected(const std::string& agentId) {
    const auto nodes = fleet_.nodes(clock_.wallNow());
    const NodeInfo* node = nodeOf(nodes, agentId);
    return node != nullptr && node->connected;
  }
  // A version 1 agent that sent ticks 1..`last`: what the version 2 agents must fold to.
  std::vector<std::string> referenceAfter(std::uint64_t last) {
    RawAgent reference(server_->port());
    EXPECT_EQ(helloAckFor(reference, RawAgent::helloFor("reference")).protocol_version(), 1u);
    for (std::uint64_t tick = 1; tick <= last; ++tick) reference.sendPayload(tickPayload(tick));
    EXPECT_TRUE(ackedUpTo(reference, last));
    return containersOf("reference");
  }
  double decodeErrors(const std::string& reason) { return metrics_.decodeErrors(reason).Value(); }
};

TEST_F(IngestProtocolTest, AnAgentThatOffersNothingGetsVersionOneAndFoldsAsBefore) {
  RawAgent agent(server_->port());
  const v1::HelloAck ack = helloAckFor(agent, RawAgent::helloFor("old"));
  EXPECT_EQ(ack.protocol_version(), 1u);
  EXPECT_EQ(ack.compression(), "");
  for (std::uint64_t tick = 1; tick <= 4; ++tick) agent.sendPayload(tickPayload(tick));
  ASSERT_TRUE(ackedUpTo(agent, 4));
  const auto containers = containersOf("old");
  ASSERT_EQ(containers.size(), 3u);
  EXPECT_EQ(containers.front().rfind("container-1 ", 0), 0u) << containers.front();
  EXPECT_EQ(nodeOf(fleet_.nodes(clock_.wallNow()), "old")->identity.protocolVersion, 1u);
  EXPECT_EQ(metrics_.agents(1).Value(), 1.0);
  EXPECT_EQ(metrics_.agents(2).Value(), 0.0);
}

TEST_F(IngestProtocolTest, CompactBatchesFoldToWhatTheSameVersionOneBatchesFold) {
  const auto expected = referenceAfter(5);
  ASSERT_EQ(expected.size(), 3u);
  const double version1Bytes = metrics_.bytesReceived(1).Value();
  EXPECT_GT(version1Bytes, 0.0);

  RawAgent agent(server_->port());
  const v1::HelloAck ack = helloAckFor(agent, helloOffering("compact", 2));
  EXPECT_EQ(ack.protocol_version(), 2u);
  EXPECT_EQ(ack.compression(), "") << "not asked for";
  CompactBatchEncoder encoder;
  for (std::uint64_t tick = 1; tick <= 5; ++tick) {
    auto compact = encoder.encode(tickPayload(tick));
    ASSERT_TRUE(compact.ok());
    agent.sendPayload(*compact);
  }
  ASSERT_TRUE(ackedUpTo(agent, 5));
  EXPECT_EQ(containersOf("compact"), expected);
  EXPECT_EQ(nodeOf(fleet_.nodes(clock_.wallNow()), "compact")->identity.protocolVersion, 2u);
  EXPECT_EQ(metrics_.agents(2).Value(), 1.0);
  EXPECT_EQ(metrics_.compactBatchFrames().Value(), 5.0);
  EXPECT_GT(metrics_.bytesReceived(2).Value(), 0.0) << "the compact agent's bytes, hello aside";
  EXPECT_GT(metrics_.bytesReceived(1).Value(), version1Bytes) << "its hello travels as version 1";
  EXPECT_GT(metrics_.decompressedBytes().Value(), 0.0) << "uncompressed payloads count as they are";
}

TEST_F(IngestProtocolTest, ZstdWrappedCompactBatchesFoldTheSame) {
  const auto expected = referenceAfter(5);
  RawAgent agent(server_->port());
  const v1::HelloAck ack = helloAckFor(agent, helloOffering("zipped", 2, "zstd"));
  EXPECT_EQ(ack.protocol_version(), 2u);
  EXPECT_EQ(ack.compression(), "zstd");
  CompactBatchEncoder encoder;
  ZstdCompressor compressor(3);
  std::size_t wrapped = 0;
  for (std::uint64_t tick = 1; tick <= 5; ++tick) {
    auto compact = encoder.encode(tickPayload(tick));
    ASSERT_TRUE(compact.ok());
    const std::string frame = compressor.wrap(*compact);
    if (frame != *compact) ++wrapped;
    agent.sendPayload(frame);
  }
  ASSERT_GT(wrapped, 0u) << "the first batch, all definitions, compresses";
  ASSERT_TRUE(ackedUpTo(agent, 5));
  EXPECT_EQ(containersOf("zipped"), expected);
  EXPECT_EQ(metrics_.zstdFrames().Value(), static_cast<double>(wrapped));
  EXPECT_GT(metrics_.decompressedBytes().Value(), metrics_.bytesReceived(2).Value())
      << "what the payloads are against what crossed the wire";
}

TEST_F(IngestProtocolTest, AnAggregatorHeldAtVersionOneAnswersOneToAnAgentOfferingTwo) {
  IngestOptions options = defaultOptions();
  options.maxProtocolVersion = 1;
  restart(options);
  RawAgent agent(server_->port());
  const v1::HelloAck ack = helloAckFor(agent, helloOffering("staged", 2, "zstd"));
  EXPECT_EQ(ack.protocol_version(), 1u);
  EXPECT_EQ(ack.compression(), "") << "compression is version 2's";
  agent.sendPayload(tickPayload(1));
  EXPECT_TRUE(ackedUpTo(agent, 1));
  EXPECT_EQ(containersOf("staged").size(), 3u);
}

TEST_F(IngestProtocolTest, ABatchOfTheOtherVersionIsRefusedAsAProtocolError) {
  CompactBatchEncoder encoder;
  const std::string compact = *encoder.encode(tickPayload(1));
  ZstdCompressor compressor(3);
  const std::string zipped = compressor.wrap(compact);
  ASSERT_NE(zipped, compact);
  struct Case {
    std::string agentId;
    v1::Hello hello;
    std::string payload;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"v1-on-v2", helloOffering("v1-on-v2", 2), tickPayload(1), "version 1 batch"},
      {"compact-on-v1", RawAgent::helloFor("compact-on-v1"), compact, "version 2 compact batch"},
      {"zstd-on-v1", RawAgent::helloFor("zstd-on-v1"), zipped, "zstd envelope"},
      {"zstd-unasked", helloOffering("zstd-unasked", 2), zipped, "accepted no compression"},
  };
  for (const auto& c : cases) {
    RawAgent agent(server_->port());
    helloAckFor(agent, c.hello);
    agent.sendPayload(c.payload);
    const auto refusal = refusalOf(agent);
    ASSERT_TRUE(refusal) << c.agentId;
    EXPECT_EQ(refusal->code(), v1::Error::CODE_PROTOCOL) << c.agentId;
    EXPECT_NE(refusal->message().find(c.says), std::string::npos)
        << c.agentId << ": " << refusal->message();
    EXPECT_TRUE(containersOf(c.agentId).empty()) << c.agentId;
  }
  EXPECT_TRUE(testing::waitFor(
      [&] { return metrics_.disconnects("invalid_batch").Value() == cases.size(); }));
  EXPECT_EQ(decodeErrors("invalid"), static_cast<double>(cases.size()));
}

TEST_F(IngestProtocolTest, ARowForAContainerNeverDefinedIsRefused) {
  RawAgent agent(server_->port());
  ASSERT_EQ(helloAckFor(agent, helloOffering("undefined", 2)).protocol_version(), 2u);
  v1::Envelope envelope;
  envelope.mutable_compact_batch()->set_sequence(1);
  envelope.mutable_compact_batch()->set_samples(std::string("\x05\x00", 2));  // index 5, no figure
  agent.send(envelope);
  const auto refusal = refusalOf(agent);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->code(), v1::Error::CODE_PROTOCOL);
  EXPECT_NE(refusal->message().find("not defined"), std::string::npos) << refusal->message();
  EXPECT_EQ(fleet_.lastAcceptedSequence("undefined"), 0u);
  EXPECT_EQ(decodeErrors("invalid"), 1.0);
}

TEST_F(IngestProtocolTest, AZstdFrameStatingMoreThanTheFrameLimitIsRefusedUndecompressed) {
  RawAgent agent(server_->port());
  ASSERT_EQ(helloAckFor(agent, helloOffering("bomb", 2, "zstd")).compression(), "zstd");
  ZstdCompressor compressor(3);
  const std::string bomb = compressor.wrap(std::string(defaultOptions().maxFrameBytes + 1, 'a'));
  ASSERT_LT(bomb.size(), 1024u) << "a small frame stating a large size";
  agent.sendPayload(bomb);
  const auto refusal = refusalOf(agent);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->code(), v1::Error::CODE_BAD_FRAME);
  EXPECT_NE(refusal->message().find("frame limit"), std::string::npos) << refusal->message();
  EXPECT_EQ(decodeErrors("decompress"), 1.0);
  EXPECT_EQ(metrics_.decompressedBytes().Value(), 0.0) << "nothing was decompressed";
  EXPECT_EQ(fleet_.lastAcceptedSequence("bomb"), 0u);
}

// A replay after a reconnect is numbered at or below what is stored, yet its batches define the
// containers the next new batch refers to: duplicates must move the table on too.
TEST_F(IngestProtocolTest, ReplayedDuplicatesDefineWhatTheNextNewBatchRefersTo) {
  const auto expected = referenceAfter(4);
  {
    RawAgent first(server_->port());
    ASSERT_EQ(helloAckFor(first, helloOffering("replayer", 2)).protocol_version(), 2u);
    CompactBatchEncoder encoder;
    for (std::uint64_t tick = 1; tick <= 3; ++tick)
      first.sendPayload(*encoder.encode(tickPayload(tick)));
    ASSERT_TRUE(ackedUpTo(first, 3));
    first.close();
  }
  ASSERT_TRUE(testing::waitFor([&] { return !connected("replayer"); }));

  RawAgent second(server_->port());
  const v1::HelloAck ack = helloAckFor(second, helloOffering("replayer", 2));
  ASSERT_EQ(ack.protocol_version(), 2u);
  EXPECT_EQ(ack.acked_sequence(), 3u);
  CompactBatchEncoder fresh;  // a new connection's table starts empty
  for (std::uint64_t tick = 2; tick <= 3; ++tick)
    second.sendPayload(*fresh.encode(tickPayload(tick)));
  const std::string fourth = *fresh.encode(tickPayload(4));
  BatchView view;
  ASSERT_TRUE(decodeBatchEnvelope(fourth, view).ok());
  ASSERT_EQ(view.definitionCount, 1u) << "only the container new at tick 4 is defined";
  second.sendPayload(fourth);
  ASSERT_TRUE(ackedUpTo(second, 4));
  EXPECT_EQ(metrics_.duplicateBatches().Value(), 2.0);
  EXPECT_EQ(containersOf("replayer"), expected);
}

}  // namespace
}  // namespace fleetscale::aggregator
