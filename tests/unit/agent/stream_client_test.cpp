#include "fleetscale/agent/stream_client.h"

#include <gtest/gtest.h>

#include <bit>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "fleetscale/agent/batch_fan_out.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/compact_batch.h"
#include "fleetscale/shared/protocol.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::agent {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using std::chrono::milliseconds;

// One frame payload an aggregator received after the hello, and the connection it came on
// (numbered from 0 in the order they were accepted).
struct ReceivedFrame {
  std::size_t connection = 0;
  std::string payload;
};

// An aggregator that answers every hello with `answer`, acknowledges every batch it can read a
// sequence from (whatever its version), and records what it received. Runs on its own thread.
class FakeAggregator {
 public:
  explicit FakeAggregator(v1::HelloAck answer)
      : answer_(std::move(answer)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeAggregator() {
    io_.stop();
    thread_.join();
  }
  FakeAggregator(const FakeAggregator&) = delete;
  FakeAggregator& operator=(const FakeAggregator&) = delete;

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  std::vector<ReceivedFrame> frames() const {
    std::lock_guard lock(mutex_);
    return frames_;
  }
  std::vector<v1::Hello> hellos() const {
    std::lock_guard lock(mutex_);
    return hellos_;
  }
  // Closes every open connection, as an aggregator that restarts does.
  void dropConnections() {
    asio::post(io_, [this] {
      for (const auto& weak : peers_) {
        if (auto peer = weak.lock()) {
          boost::system::error_code ignored;
          peer->socket.shutdown(tcp::socket::shutdown_both, ignored);
          peer->socket.close(ignored);
        }
      }
    });
  }

 private:
  struct Peer {
    explicit Peer(tcp::socket s, std::size_t n) : socket(std::move(s)), index(n) {}
    tcp::socket socket;
    std::size_t index;
    FrameDecoder decoder;
    std::array<char, 16 * 1024> buffer{};
    bool greeted = false;
    ZstdDecompressor decompressor;
  };

  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      auto peer = std::make_shared<Peer>(std::move(socket), peers_.size());
      peers_.push_back(peer);
      read(peer);
      accept();
    });
  }

  void read(const std::shared_ptr<Peer>& peer) {
    peer->socket.async_read_some(asio::buffer(peer->buffer),
                                 [this, peer](const boost::system::error_code& ec, std::size_t n) {
                                   if (ec) return;
                                   peer->decoder.feed(std::string_view(peer->buffer.data(), n));
                                   while (true) {
                                     auto frame = peer->decoder.next();
                                     if (!frame || !frame->has_value()) break;
                                     handle(*peer, **frame);
                                   }
                                   read(peer);
                                 });
  }

  void handle(Peer& peer, const std::string& payload) {
    if (!peer.greeted) {
      peer.greeted = true;
      auto hello = decodeEnvelope(payload);
      if (hello.ok()) {
        std::lock_guard lock(mutex_);
        hellos_.push_back(hello->hello());
      }
      v1::Envelope ack;
      *ack.mutable_hello_ack() = answer_;
      send(peer, ack);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      frames_.push_back(ReceivedFrame{peer.index, payload});
    }
    auto inner = peer.decompressor.unwrap(payload, kDefaultMaxFrameBytes);
    if (!inner) return;
    BatchView view;
    if (!decodeBatchEnvelope(*inner, view, StringChecks::kDeferred).ok()) return;
    v1::Envelope ack;
    ack.mutable_ack()->set_sequence(view.sequence);
    send(peer, ack);
  }

  // Tiny frames to a client that reads all the time: a blocking write is simplest.
  static void send(Peer& peer, const v1::Envelope& envelope) {
    boost::system::error_code ignored;
    asio::write(peer.socket, asio::buffer(encodeEnvelopeFrame(envelope)), ignored);
  }

  v1::HelloAck answer_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<std::weak_ptr<Peer>> peers_;  // the fake's thread only
  mutable std::mutex mutex_;
  std::vector<ReceivedFrame> frames_;
  std::vector<v1::Hello> hellos_;
  std::thread thread_;
};

v1::HelloAck answerOfVersion1() {
  // What an aggregator that predates version 2 answers: none of the new fields.
  v1::HelloAck ack;
  ack.set_aggregator_id("old");
  ack.set_protocol_version(kProtocolVersion);
  return ack;
}

v1::HelloAck answerOfVersion2(std::string compression) {
  v1::HelloAck ack;
  ack.set_aggregator_id("new");
  ack.set_protocol_version(kCompactProtocolVersion);
  ack.set_compression(std::move(compression));
  return ack;
}

// A tick's batch: `containers` containers with metadata; every figure moves a little per tick,
// as a sampler's do.
v1::SampleBatch tickBatch(int tick, int containers) {
  v1::SampleBatch batch;
  batch.set_timestamp_unix_ms(1'800'000'000'000 + tick * 1000LL);
  batch.set_interval_seconds(1);
  batch.mutable_node()->set_cpu_capacity_cores(8);
  for (int n = 0; n < containers; ++n) {
    auto* c = batch.add_containers();
    c->set_id("container-" + std::to_string(n));
    c->set_cgroup("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                  std::to_string(n) + ".slice/cri-containerd-" + std::to_string(n) + ".scope");
    c->set_runtime("containerd");
    c->set_cpu_cores(0.25 + 0.001 * ((tick * 7 + n) % 11));
    c->set_cpu_usage_ns_total(1'000'000'000ULL * static_cast<std::uint64_t>(tick) + n);
    c->set_memory_usage_bytes((100ULL << 20) +
                              4096ULL * static_cast<std::uint64_t>((tick + n) % 5));
    auto* m = c->mutable_metadata();
    m->set_pod("web-" + std::to_string(n));
    m->set_pod_uid("uid-" + std::to_string(n));
    m->set_namespace_("shop");
    m->set_workload_kind("Deployment");
    m->set_workload("web");
    m->set_cpu_request_cores(0.5);
  }
  return batch;
}

std::string v1Payload(const v1::SampleBatch& batch) {
  v1::Envelope envelope;
  *envelope.mutable_batch() = batch;
  return envelope.SerializeAsString();
}

v1::Envelope::BodyCase kindOf(const std::string& payload) {
  auto envelope = decodeEnvelope(payload);
  return envelope.ok() ? envelope->body_case() : v1::Envelope::BODY_NOT_SET;
}

void expectSameSample(const ContainerSampleView& expected, const ContainerSampleView& actual) {
  EXPECT_EQ(expected.id, actual.id);
  EXPECT_EQ(expected.cgroup, actual.cgroup);
  EXPECT_EQ(expected.runtime, actual.runtime);
  EXPECT_EQ(expected.metadataBytes, actual.metadataBytes) << expected.id;
  const auto bits = [](double value) { return std::bit_cast<std::uint64_t>(value); };
  EXPECT_EQ(bits(expected.metrics.cpuCores), bits(actual.metrics.cpuCores)) << expected.id;
  EXPECT_EQ(expected.metrics.cpuUsageNsTotal, actual.metrics.cpuUsageNsTotal) << expected.id;
  EXPECT_EQ(expected.metrics.memoryUsageBytes, actual.metrics.memoryUsageBytes) << expected.id;
}

// Expands one connection's version 2 frames, in order, with a decoder of its own, and checks
// each against the version 1 batch the agent queued under its sequence.
class ConnectionReader {
 public:
  explicit ConnectionReader(std::map<std::uint64_t, v1::SampleBatch> sent)
      : sent_(std::move(sent)) {}

  void expectExpandsToTheV1Batch(const std::string& payload) {
    auto inner = decompressor_.unwrap(payload, kDefaultMaxFrameBytes);
    ASSERT_TRUE(inner.ok()) << inner.error().message;
    const std::string compact(*inner);
    BatchView actual;
    auto decoded = decodeBatchEnvelope(compact, actual, StringChecks::kDeferred);
    ASSERT_TRUE(decoded.ok()) << decoded.error;
    ASSERT_TRUE(actual.compact);
    auto expanded = decoder_.expand(actual);
    ASSERT_TRUE(expanded.ok()) << "a fresh table cannot expand it: " << expanded.error;
    ASSERT_EQ(sent_.count(actual.sequence), 1u) << actual.sequence;
    const std::string original = v1Payload(sent_.at(actual.sequence));
    BatchView expected;
    ASSERT_TRUE(decodeBatchEnvelope(original, expected, StringChecks::kDeferred).ok());
    EXPECT_EQ(expected.timestampUnixMs, actual.timestampUnixMs);
    ASSERT_EQ(expected.containerCount, actual.containerCount);
    for (std::size_t i = 0; i < expected.containerCount; ++i) {
      expectSameSample(expected.containers[i], actual.containers[i]);
    }
    ++expanded_;
  }
  int expanded() const { return expanded_; }

 private:
  std::map<std::uint64_t, v1::SampleBatch> sent_;
  ZstdDecompressor decompressor_;
  CompactBatchDecoder decoder_;
  int expanded_ = 0;
};

class StreamClientProtocolTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (client_) asio::post(io_, [this] { client_->stop(); });
    guard_.reset();
    if (thread_.joinable()) thread_.join();
  }

  void start(const FakeAggregator& aggregator, StreamClientOptions options = {}) {
    options.aggregator = HostPort{"127.0.0.1", aggregator.port()};
    options.hello.set_agent_id("agent-under-test");
    options.hello.set_node("n1");
    options.backoffMin = milliseconds(10);
    options.backoffMax = milliseconds(50);
    client_ = std::make_unique<StreamClient>(io_, options, queue_);
    thread_ = std::thread([this] { io_.run(); });
    asio::post(io_, [this] { client_->start(); });
  }

  // Queues ticks [first, first + count) on the agent's thread, as its sampling loop does.
  void queueTicks(int first, int count, int containers) {
    asio::post(io_, [this, first, count, containers] {
      for (int tick = first; tick < first + count; ++tick) {
        v1::SampleBatch batch = tickBatch(tick, containers);
        const std::uint64_t sequence = queue_.append(batch);
        std::lock_guard lock(mutex_);
        sent_[sequence] = batch;
      }
      client_->batchAvailable();
    });
  }

  bool ackedUpTo(std::uint64_t sequence) const {
    return client_->counters().ackedSequence.load() >= sequence;
  }

  std::map<std::uint64_t, v1::SampleBatch> sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  MemoryBatchQueue queue_{100};
  std::unique_ptr<StreamClient> client_;
  std::thread thread_;
  std::mutex mutex_;
  std::map<std::uint64_t, v1::SampleBatch> sent_;  // what the agent queued, by sequence
};

TEST_F(StreamClientProtocolTest, AnAggregatorPredatingVersion2GetsVersion1BatchFrames) {
  FakeAggregator aggregator(answerOfVersion1());
  start(aggregator);
  queueTicks(1, 3, 5);
  ASSERT_TRUE(testing::waitFor([&] { return ackedUpTo(3); }));

  const auto hellos = aggregator.hellos();
  ASSERT_EQ(hellos.size(), 1u);
  EXPECT_EQ(hellos[0].protocol_version(), 1u) << "what an old aggregator accepts";
  EXPECT_EQ(hellos[0].max_protocol_version(), 2u) << "offered, and ignored";
  const auto frames = aggregator.frames();
  ASSERT_EQ(frames.size(), 3u);
  const auto queued = sent();
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].payload, v1Payload(queued.at(i + 1))) << "the queued frame, unchanged";
  }
  EXPECT_EQ(client_->counters().protocolVersion.load(), 1u);
}

TEST_F(StreamClientProtocolTest, Version2SendsCompactBatchesThatExpandToTheVersion1Batches) {
  FakeAggregator aggregator(answerOfVersion2(""));
  StreamClientOptions options;
  options.compression = StreamCompression::kNone;
  start(aggregator, options);
  queueTicks(1, 4, 20);
  ASSERT_TRUE(testing::waitFor([&] { return ackedUpTo(4); }));

  const auto hellos = aggregator.hellos();
  ASSERT_EQ(hellos.size(), 1u);
  EXPECT_EQ(hellos[0].protocol_version(), 1u);
  EXPECT_EQ(hellos[0].max_protocol_version(), 2u);
  EXPECT_EQ(hellos[0].compression(), "") << "--stream-compression none";
  const auto queued = sent();
  ConnectionReader reader(queued);
  std::size_t compactBytes = 0;
  std::size_t v1Bytes = 0;
  for (const auto& frame : aggregator.frames()) {
    ASSERT_EQ(kindOf(frame.payload), v1::Envelope::kCompactBatch);
    reader.expectExpandsToTheV1Batch(frame.payload);
    compactBytes += frame.payload.size();
  }
  for (const auto& [sequence, batch] : queued) v1Bytes += v1Payload(batch).size();
  EXPECT_EQ(reader.expanded(), 4);
  EXPECT_LT(compactBytes, v1Bytes) << "identity and metadata sent once, not every tick";
  EXPECT_EQ(client_->counters().protocolVersion.load(), 2u);
  const std::size_t wireBytes = compactBytes + 4 * kFrameHeaderBytes;
  EXPECT_TRUE(testing::waitFor([&] { return client_->counters().bytesSent.load() == wireBytes; }))
      << "bytes sent counts the compact frames written, " << client_->counters().bytesSent.load()
      << " != " << wireBytes;
}

TEST_F(StreamClientProtocolTest, WithZstdAckedLargeBatchesTravelCompressed) {
  FakeAggregator aggregator(answerOfVersion2(std::string(kZstdCompression)));
  StreamClientOptions options;
  options.compression = StreamCompression::kZstd;  // --stream-compression zstd
  start(aggregator, options);
  queueTicks(1, 2, 200);
  ASSERT_TRUE(testing::waitFor([&] { return ackedUpTo(2); }));

  ASSERT_EQ(aggregator.hellos().at(0).compression(), "zstd");
  const auto frames = aggregator.frames();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(kindOf(frames[0].payload), v1::Envelope::kZstdEnvelope)
      << "the first batch defines 200 containers: it compresses";
  ConnectionReader reader(sent());
  for (const auto& frame : frames) reader.expectExpandsToTheV1Batch(frame.payload);
  EXPECT_EQ(reader.expanded(), 2);
}

TEST_F(StreamClientProtocolTest, WithCompressionNoneNeverSendsZstdEvenIfTheAggregatorSaysZstd) {
  FakeAggregator aggregator(answerOfVersion2(std::string(kZstdCompression)));
  StreamClientOptions options;
  options.compression = StreamCompression::kNone;
  start(aggregator, options);
  queueTicks(1, 2, 200);
  ASSERT_TRUE(testing::waitFor([&] { return ackedUpTo(2); }));

  for (const auto& frame : aggregator.frames()) {
    EXPECT_EQ(kindOf(frame.payload), v1::Envelope::kCompactBatch);
  }
}

TEST_F(StreamClientProtocolTest, AfterAReconnectTheFirstBatchDefinesEveryContainerAgain) {
  FakeAggregator aggregator(answerOfVersion2(""));
  start(aggregator);
  queueTicks(1, 2, 10);
  ASSERT_TRUE(testing::waitFor([&] { return ackedUpTo(2); }));
  aggregator.dropConnections();
  ASSERT_TRUE(testing::waitFor([&] { return aggregator.hellos().size() == 2; }));
  queueTicks(3, 2, 10);
  ASSERT_TRUE(testing::waitFor([&] { return ackedUpTo(4); }));

  const auto queued = sent();
  ConnectionReader first(queued);
  ConnectionReader second(queued);  // a fresh table, as the restarted aggregator's
  for (const auto& frame : aggregator.frames()) {
    ASSERT_EQ(kindOf(frame.payload), v1::Envelope::kCompactBatch);
    (frame.connection == 0 ? first : second).expectExpandsToTheV1Batch(frame.payload);
  }
  EXPECT_EQ(first.expanded(), 2);
  EXPECT_EQ(second.expanded(), 2) << "the new connection's batches, from an empty table";
}

TEST_F(StreamClientProtocolTest, MaxProtocolVersion1DoesNotOfferVersion2) {
  FakeAggregator aggregator(answerOfVersion2(std::string(kZstdCompression)));
  StreamClientOptions options;
  options.maxProtocolVersion = 1;
  start(aggregator, options);
  queueTicks(1, 1, 3);
  ASSERT_TRUE(testing::waitFor([&] { return ackedUpTo(1); }));

  const auto hellos = aggregator.hellos();
  ASSERT_EQ(hellos.size(), 1u);
  EXPECT_LT(hellos[0].max_protocol_version(), 2u);
  EXPECT_EQ(hellos[0].compression(), "");
  const auto frames = aggregator.frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(kindOf(frames[0].payload), v1::Envelope::kBatch)
      << "an aggregator answering 2 unasked does not make the agent speak it";
  EXPECT_EQ(client_->counters().protocolVersion.load(), 1u);
}

// With active and standby aggregators (one client each on one queue), each connection has its own
// table: a standby that speaks version 2 gets every definition in its first batch, whatever the
// other one speaks, and one that predates version 2 gets the same batches as version 1 frames.
TEST(StreamClientStandbyTest, EachAggregatorGetsItsOwnVersionAndTable) {
  FakeAggregator old(answerOfVersion1());
  FakeAggregator standby(answerOfVersion2(std::string(kZstdCompression)));
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  MemoryBatchQueue queue(100);
  BatchFanOut fanOut(queue, 2);
  std::vector<std::unique_ptr<StreamClient>> clients;
  for (const FakeAggregator* aggregator : {&old, &standby}) {
    StreamClientOptions options;
    options.aggregator = HostPort{"127.0.0.1", aggregator->port()};
    options.hello.set_agent_id("agent-with-standby");
    options.hello.set_node("n1");
    clients.push_back(std::make_unique<StreamClient>(io, options, fanOut.cursor(clients.size())));
  }
  std::map<std::uint64_t, v1::SampleBatch> sent;  // written on the I/O thread, read after join
  std::thread thread([&] { io.run(); });
  asio::post(io, [&] {
    for (auto& client : clients) client->start();
    for (int tick = 1; tick <= 3; ++tick) {
      v1::SampleBatch batch = tickBatch(tick, 100);
      sent[queue.append(batch)] = batch;
    }
    for (auto& client : clients) client->batchAvailable();
  });
  const bool delivered = testing::waitFor([&] {
    return clients[0]->counters().ackedSequence.load() == 3 &&
           clients[1]->counters().ackedSequence.load() == 3;
  });
  asio::post(io, [&] {
    for (auto& client : clients) client->stop();
  });
  guard.reset();
  thread.join();
  ASSERT_TRUE(delivered);

  const auto oldFrames = old.frames();
  ASSERT_EQ(oldFrames.size(), 3u);
  for (const auto& frame : oldFrames) EXPECT_EQ(kindOf(frame.payload), v1::Envelope::kBatch);
  ConnectionReader reader(sent);
  for (const auto& frame : standby.frames()) reader.expectExpandsToTheV1Batch(frame.payload);
  EXPECT_EQ(reader.expanded(), 3);
}

}  // namespace
}  // namespace fleetscale::agent
