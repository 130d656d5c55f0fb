#include "loadgen.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/protocol.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::loadgen {
namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

void appendVarint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void appendLengthDelimited(std::string& out, std::uint32_t field, std::string_view bytes) {
  appendVarint(out, (field << 3) | 2);
  appendVarint(out, bytes.size());
  out.append(bytes);
}

std::string hexId(std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string out;
  char part[17];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(part, sizeof(part), "%016llx", static_cast<unsigned long long>(random()));
    out += part;
  }
  return out;
}

std::string clusterName(const LoadgenOptions& o, int agent) {
  return "cluster-" + std::to_string(agent % std::max(1, o.clusters));
}

std::string agentId(const LoadgenOptions& o, int agent) {
  return o.agentPrefix + "-" + std::to_string(agent);
}

}  // namespace

namespace {

std::string nodeTotals(int variant) {
  v1::NodeTotals node;
  node.set_cpu_capacity_cores(16);
  node.set_cpu_allocatable_cores(15.5);
  node.set_cpu_usage_cores(4.0 + variant * 0.5);
  node.set_memory_capacity_bytes(64ull << 30);
  node.set_memory_allocatable_bytes(62ull << 30);
  node.set_memory_usage_bytes((20ull + variant) << 30);
  std::string out;
  appendLengthDelimited(out, 3, node.SerializeAsString());
  return out;
}

}  // namespace

std::vector<ContainerSpec> initialContainers(const LoadgenOptions& o, int agent) {
  std::vector<ContainerSpec> out;
  out.reserve(static_cast<std::size_t>(std::max(0, o.containers)));
  for (int c = 0; c < o.containers; ++c) {
    out.push_back(ContainerSpec{static_cast<std::uint64_t>(agent) * 1'000'003u + c, -1});
  }
  return out;
}

std::string encodeContainer(const LoadgenOptions& o, const ContainerSpec& spec, int variant) {
  const std::uint64_t global = spec.seed;
  const bool job = spec.job >= 0;
  const int workload =
      job ? static_cast<int>(spec.job % std::max(1, o.workloads))
          : static_cast<int>(global % static_cast<std::uint64_t>(std::max(1, o.workloads)));
  const std::string id = hexId(global);
  const std::string podUid = id.substr(0, 8) + "-" + id.substr(8, 4) + "-" + id.substr(12, 4) +
                             "-" + id.substr(16, 4) + "-" + id.substr(20, 12);
  v1::ContainerSample sample;
  sample.set_id(id);
  std::string uidUnderscores = podUid;
  std::replace(uidUnderscores.begin(), uidUnderscores.end(), '-', '_');
  sample.set_cgroup("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                    uidUnderscores + ".slice/cri-containerd-" + id + ".scope");
  sample.set_runtime("containerd");
  const double cpu = 0.05 + static_cast<double>((global + variant) % 20) * 0.01;
  // Whole millionths, as the agent's rates are.
  const auto millionths = [](double value) { return std::round(value * 1e6) / 1e6; };
  sample.set_cpu_cores(millionths(cpu));
  sample.set_cpu_user_cores(millionths(cpu * 0.8));
  sample.set_cpu_system_cores(millionths(cpu * 0.2));
  sample.set_cpu_usage_ns_total(1'000'000'000ull * (global % 1000) + variant);
  sample.set_cpu_weight(100);
  sample.set_memory_usage_bytes((120ull + global % 64) << 20);
  sample.set_memory_working_set_bytes((100ull + global % 64 + variant) << 20);
  sample.set_memory_rss_bytes((80ull + global % 64) << 20);
  sample.set_memory_limit_bytes(512ull << 20);
  auto* m = sample.mutable_metadata();
  if (job) {
    // A Job's pod: <job>-<5 characters>; the Job is its own one-off workload.
    const std::string jobName = "job-" + std::to_string(spec.job);
    m->set_pod(jobName + "-" + id.substr(0, 5));
    m->set_workload_kind("Job");
    m->set_workload(jobName);
    m->set_image("registry.example.com/team/batch:1.0." + std::to_string(workload % 7));
  } else {
    const std::string workloadName = "svc-" + std::to_string(workload);
    m->set_pod(workloadName + "-" + id.substr(0, 10) + "-" + id.substr(10, 5));
    m->set_workload_kind("Deployment");
    m->set_workload(workloadName);
    m->set_image("registry.example.com/team/" + workloadName + ":1.0." +
                 std::to_string(workload % 7));
  }
  m->set_pod_uid(podUid);
  m->set_namespace_("team-" + std::to_string(workload % std::max(1, o.namespaces)));
  m->set_container("app");
  m->set_cpu_request_cores(0.25);
  m->set_memory_request_bytes(256ull << 20);
  m->set_cpu_limit_cores(1);
  m->set_memory_limit_bytes(512ull << 20);
  m->set_ready(true);
  m->set_start_time_unix_ms(1'700'000'000'000);
  m->set_pod_phase("Running");
  m->set_qos_class("Burstable");
  std::string out;
  appendLengthDelimited(out, 4, sample.SerializeAsString());
  return out;
}

BatchTemplate makeTemplate(const LoadgenOptions& o, int agent, int variant) {
  BatchTemplate out;
  out.node = nodeTotals(variant);
  for (const auto& spec : initialContainers(o, agent)) {
    out.containers += encodeContainer(o, spec, variant);
    ++out.containerCount;
  }
  return out;
}

AgentContainers::AgentContainers(const LoadgenOptions& options, int agent)
    : options_(options), specs_(initialContainers(options, agent)) {
  for (int variant = 0; variant < 2; ++variant) {
    encoded_[variant].reserve(specs_.size());
    for (const auto& spec : specs_) {
      encoded_[variant].push_back(encodeContainer(options_, spec, variant));
    }
    rebuild(variant);
  }
}

std::size_t AgentContainers::replace(std::size_t count, std::mt19937& random, ChurnIds& ids) {
  if (specs_.empty() || count == 0) return 0;
  std::uniform_int_distribution<std::size_t> pick(0, specs_.size() - 1);
  std::bernoulli_distribution isJob(std::clamp(options_.jobShare, 0.0, 1.0));
  std::size_t jobs = 0;
  for (std::size_t n = 0; n < count; ++n) {
    const std::size_t at = pick(random);
    ContainerSpec spec{ids.nextSeed.fetch_add(1), -1};
    if (isJob(random)) {
      spec.job = ids.nextJob.fetch_add(1);
      ++jobs;
    }
    specs_[at] = spec;
    for (int variant = 0; variant < 2; ++variant) {
      encoded_[variant][at] = encodeContainer(options_, spec, variant);
    }
  }
  for (int variant = 0; variant < 2; ++variant) rebuild(variant);
  return jobs;
}

void AgentContainers::rebuild(int variant) {
  auto tmpl = std::make_shared<BatchTemplate>();
  tmpl->node = nodeTotals(variant);
  std::size_t bytes = 0;
  for (const auto& piece : encoded_[variant]) bytes += piece.size();
  tmpl->containers.reserve(bytes);
  for (const auto& piece : encoded_[variant]) tmpl->containers += piece;
  tmpl->containerCount = encoded_[variant].size();
  templates_[variant] = std::move(tmpl);
}

std::string framePrefix(const BatchTemplate& tmpl, std::uint64_t sequence,
                        std::int64_t timestampUnixMs, double intervalSeconds) {
  std::string header;
  appendVarint(header, (1 << 3) | 0);  // sequence
  appendVarint(header, sequence);
  appendVarint(header, (2 << 3) | 0);  // timestamp_unix_ms
  appendVarint(header, static_cast<std::uint64_t>(timestampUnixMs));
  appendVarint(header, (5 << 3) | 1);  // interval_seconds (fixed64)
  std::uint64_t bits = 0;
  std::memcpy(&bits, &intervalSeconds, sizeof(bits));
  for (int i = 0; i < 8; ++i) header.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  header += tmpl.node;
  const std::size_t batchLength = header.size() + tmpl.containers.size();
  std::string envelopeHeader;
  appendVarint(envelopeHeader, (3 << 3) | 2);  // Envelope.batch
  appendVarint(envelopeHeader, batchLength);
  const std::size_t payload = envelopeHeader.size() + batchLength;
  std::string out;
  out.reserve(kFrameHeaderBytes + envelopeHeader.size() + header.size());
  const auto size = static_cast<std::uint32_t>(payload);
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((size >> shift) & 0xff));
  out += envelopeHeader;
  out += header;
  return out;
}

void offerProtocol(const LoadgenOptions& options, v1::Hello& hello) {
  hello.set_protocol_version(kProtocolVersion);
  if (options.protocol < kCompactProtocolVersion) return;
  hello.set_max_protocol_version(kCompactProtocolVersion);
  if (options.compress) hello.set_compression(std::string(kZstdCompression));
}

CompactConnection::CompactConnection(bool compress)
    : compressor_(compress ? std::make_unique<ZstdCompressor>(kZstdCompressionLevel) : nullptr) {}

Status CompactConnection::append(std::string& out, std::string_view prefix,
                                 std::string_view containers) {
  payload_.assign(prefix.substr(kFrameHeaderBytes));
  payload_.append(containers);
  auto compact = encoder_.encode(payload_);
  if (!compact) return Error{compact.error().message};
  if (compressor_) {
    appendFrame(out, compressor_->wrap(std::move(*compact)));
  } else {
    appendFrame(out, *compact);
  }
  return {};
}

std::unique_ptr<CompactConnection> negotiateConnection(const LoadgenOptions& options,
                                                       const v1::HelloAck& ack) {
  if (options.protocol < kCompactProtocolVersion ||
      ack.protocol_version() != kCompactProtocolVersion) {
    return nullptr;
  }
  return std::make_unique<CompactConnection>(options.compress &&
                                             ack.compression() == kZstdCompression);
}

namespace {

class SimAgent;

struct Shared {
  LoadgenOptions options;
  asio::io_context io;
  std::atomic<bool> measuring{false};
  std::atomic<bool> draining{false};  // nothing new is produced; leaving agents are not replaced
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> sent{0}, acked{0}, samples{0}, connects{0}, disconnects{0};
  std::atomic<std::int64_t> pending{0};  // produced and not yet acked, over the live agents
  std::atomic<std::uint64_t> containersReplaced{0}, jobContainers{0}, templateRebuilds{0};
  // Batches written again after a reconnect, and batches a hello-ack said were stored although
  // their ack never arrived (what the aggregator would otherwise count twice).
  std::atomic<std::uint64_t> resent{0}, ackedByHello{0};
  std::atomic<std::uint64_t> compactConnects{0}, bytesSent{0};
  ChurnIds ids;
  std::mutex latencyMutex;
  std::vector<float> latenciesMs;
  // The live agent of each slot, and what the agents that left did.
  std::mutex agentsMutex;
  std::vector<std::shared_ptr<SimAgent>> live;
  std::vector<AgentOutcome> retired;
  int nextIndex = 0;
};

// Records what a leaving agent did and, unless the run is ending, starts a new agent id in its
// slot. Called on the leaving agent's strand.
void replaceAgent(Shared& shared, int slot, AgentOutcome outcome);

class SimAgent : public std::enable_shared_from_this<SimAgent> {
 public:
  SimAgent(Shared& shared, int index, int slot)
      : shared_(shared),
        index_(index),
        slot_(slot),
        agentId_(agentId(shared.options, index)),
        strand_(asio::make_strand(shared.io)),
        socket_(strand_),
        timer_(strand_),
        lifeTimer_(strand_),
        decoder_(kDefaultMaxFrameBytes),
        containers_(shared.options, index) {}

  void start(std::chrono::milliseconds delay) {
    asio::post(strand_, [self = shared_from_this(), delay] {
      if (self->stopped_) return;
      self->timer_.expires_after(delay);
      self->timer_.async_wait([self](const boost::system::error_code& ec) {
        if (ec || self->stopped_) return;
        self->connect();
        if (self->shared_.options.window == 0) self->scheduleTick();
      });
      const auto meanLifetime = self->shared_.options.agentLifetime;
      if (meanLifetime.count() > 0) {
        std::exponential_distribution<double> lifetime(1.0);
        const auto life = std::chrono::milliseconds(static_cast<std::int64_t>(
            lifetime(self->random_) * static_cast<double>(meanLifetime.count())));
        self->lifeTimer_.expires_after(delay + life);
        self->lifeTimer_.async_wait([self](const boost::system::error_code& ec) {
          if (!ec) self->retire();
        });
      }
    });
  }

  void stop() {
    asio::post(strand_, [self = shared_from_this()] {
      self->stopped_ = true;
      self->timer_.cancel();
      self->lifeTimer_.cancel();
      if (self->tickTimer_) self->tickTimer_->cancel();
      boost::system::error_code ignored;
      self->socket_.close(ignored);
    });
  }

  std::uint64_t acked() const { return ackedSequence_; }
  std::size_t unacked() const { return pending_.size(); }

  AgentOutcome outcome() const {
    AgentOutcome out;
    out.agentId = agentId_;
    out.produced = lastSequence_;
    out.acked = ackedSequence_;
    out.samplesProduced = samplesProduced_;
    out.connects = connects_;
    out.ackRegressions = ackRegressions_;
    out.drained = pending_.empty();
    return out;
  }

 private:
  struct Pending {
    std::uint64_t sequence;
    Clock::time_point createdAt;
    std::string prefix;
    // The containers the batch was stamped with: a container replaced since does not change it.
    std::shared_ptr<const BatchTemplate> tmpl;
  };

  void connect() {
    if (stopped_) return;
    const auto address = asio::ip::make_address(shared_.options.aggregator.host);
    socket_.async_connect(tcp::endpoint(address, shared_.options.aggregator.port),
                          [self = shared_from_this()](const boost::system::error_code& ec) {
                            if (self->stopped_) return;
                            if (ec) {
                              self->reconnectLater();
                              return;
                            }
                            self->onConnected();
                          });
  }

  void onConnected() {
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    v1::Envelope hello;
    auto* h = hello.mutable_hello();
    h->set_agent_id(agentId_);
    h->set_node("node-" + std::to_string(index_));
    h->set_cluster(clusterName(shared_.options, index_));
    h->set_cloud("sim");
    h->set_agent_version("loadgen");
    h->set_auth_token(shared_.options.token);
    offerProtocol(shared_.options, *h);
    helloFrame_ = encodeEnvelopeFrame(hello);
    writing_ = true;
    asio::async_write(
        socket_, asio::buffer(helloFrame_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          self->writing_ = false;
          if (ec) {
            self->fail();
            return;
          }
          // The hello-ack may have been read before this write completed: its pump found the
          // socket busy, and with no tick coming (draining) nothing else would write.
          self->pump();
        });
    read();
  }

  void read() {
    socket_.async_read_some(
        asio::buffer(readBuffer_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t bytes) {
          if (self->stopped_) return;
          if (ec) {
            self->fail();
            return;
          }
          self->decoder_.feed(std::string_view(self->readBuffer_.data(), bytes));
          while (true) {
            auto frame = self->decoder_.next();
            if (!frame) {
              self->fail();
              return;
            }
            if (!frame->has_value()) break;
            auto envelope = decodeEnvelope(**frame);
            if (!envelope) {
              self->fail();
              return;
            }
            self->handle(*envelope);
            if (self->stopped_) return;
            if (!self->connected_ && !self->awaitingHelloAck()) return;
          }
          self->read();
        });
  }

  bool awaitingHelloAck() const { return socket_.is_open(); }

  void handle(const v1::Envelope& envelope) {
    if (envelope.has_hello_ack()) {
      const std::uint64_t resumesAfter = envelope.hello_ack().acked_sequence();
      if (resumesAfter < ackedSequence_) {
        // The aggregator acked more than it now holds: an acked batch was lost.
        ++ackRegressions_;
        std::cerr << "loadgen: agent " << agentId_ << ": hello-ack resumes after " << resumesAfter
                  << " but " << ackedSequence_ << " was acked before\n";
      }
      connected_ = true;
      ++connects_;
      ++shared_.connects;
      compact_ = negotiateConnection(shared_.options, envelope.hello_ack());
      if (compact_) ++shared_.compactConnects;
      for (const auto& p : pending_) {
        if (p.sequence > resumesAfter) break;
        ++shared_.ackedByHello;
      }
      released(resumesAfter, false);
      writtenUpTo_ = resumesAfter;
      pump();
    } else if (envelope.has_ack()) {
      released(envelope.ack().sequence(), true);
      pump();
    } else if (envelope.has_error()) {
      if (!shared_.stopping) {
        std::cerr << "loadgen: agent " << agentId_ << ": " << envelope.error().message() << "\n";
      }
      fail();
    }
  }

  // The aggregator holds everything up to `sequence`: forget it (latency counted when asked).
  void released(std::uint64_t sequence, bool countLatency) {
    ackedSequence_ = std::max(ackedSequence_, sequence);
    const auto now = Clock::now();
    std::vector<float> latencies;
    while (!pending_.empty() && pending_.front().sequence <= ackedSequence_ &&
           pending_.front().sequence <= writtenUpTo_) {
      if (countLatency && shared_.measuring) {
        ++shared_.acked;
        shared_.samples += pending_.front().tmpl->containerCount;
        latencies.push_back(
            std::chrono::duration<float, std::milli>(now - pending_.front().createdAt).count());
      }
      pending_.pop_front();
      --shared_.pending;
    }
    if (!latencies.empty()) {
      std::lock_guard lock(shared_.latencyMutex);
      shared_.latenciesMs.insert(shared_.latenciesMs.end(), latencies.begin(), latencies.end());
    }
    if (retiring_ && pending_.empty()) finish();
  }

  // Replaces a share of the containers (Binomial(containers, churn) of them) before a batch.
  void churnContainers() {
    const double churn = std::min(1.0, shared_.options.containerChurn);
    const auto count = static_cast<int>(containers_.containers().size());
    if (churn <= 0 || count == 0) return;
    std::binomial_distribution<int> replaced(count, churn);
    const int n = replaced(random_);
    if (n == 0) return;
    const std::size_t jobs = containers_.replace(static_cast<std::size_t>(n), random_, shared_.ids);
    shared_.containersReplaced += static_cast<std::uint64_t>(n);
    shared_.jobContainers += jobs;
    ++shared_.templateRebuilds;
  }

  void addBatch() {
    churnContainers();
    const std::uint64_t sequence = ++lastSequence_;
    const int variant = static_cast<int>(sequence % 2);
    const auto wall = std::chrono::system_clock::now();
    const std::int64_t millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
    const auto& tmpl = containers_.templateFor(variant);
    pending_.push_back(
        Pending{sequence, Clock::now(),
                framePrefix(*tmpl, sequence, millis,
                            std::chrono::duration<double>(shared_.options.interval).count()),
                tmpl});
    samplesProduced_ += tmpl->containerCount;
    ++shared_.sent;
    ++shared_.pending;
  }

  bool producing() const {
    return !stopped_ && !retiring_ && !shared_.draining && !shared_.stopping;
  }

  // Writes every pending batch not yet written (and, with a window, tops the window up).
  void pump() {
    if (!connected_ || writing_ || stopped_) return;
    if (shared_.options.window > 0 && producing()) {
      while (pending_.size() < static_cast<std::size_t>(shared_.options.window)) addBatch();
    }
    buffers_.clear();
    compactFrames_.clear();
    std::uint64_t last = writtenUpTo_;
    std::size_t batches = 0;
    for (const auto& p : pending_) {
      if (p.sequence <= writtenUpTo_) continue;
      if (!addToWrite(p)) return;
      last = p.sequence;
      if (++batches >= kBatchesPerWrite) break;
    }
    if (batches == 0) return;
    if (compact_) buffers_.push_back(asio::buffer(compactFrames_));
    writing_ = true;
    asio::async_write(
        socket_, buffers_,
        [self = shared_from_this(), last](const boost::system::error_code& ec, std::size_t bytes) {
          self->writing_ = false;
          if (self->stopped_) return;
          if (ec) {
            self->fail();
            return;
          }
          self->shared_.bytesSent += bytes;
          self->writtenUpTo_ = std::max(self->writtenUpTo_, last);
          self->released(self->ackedSequence_, true);
          self->pump();
        });
  }

  // Adds one pending batch to the write being gathered: version 1 as stamped (no copy), version 2
  // encoded against this connection's table. False when it cannot be encoded (the connection then
  // fails: a batch skipped would leave the aggregator's table behind the encoder's).
  bool addToWrite(const Pending& p) {
    if (!compact_) {
      buffers_.push_back(asio::buffer(p.prefix));
      buffers_.push_back(asio::buffer(p.tmpl->containers));
      return true;
    }
    if (Status status = compact_->append(compactFrames_, p.prefix, p.tmpl->containers); !status) {
      std::cerr << "loadgen: agent " << agentId_ << ": cannot encode batch " << p.sequence << ": "
                << status.message() << "\n";
      fail();
      return false;
    }
    return true;
  }

  void scheduleTick() {
    if (stopped_) return;
    if (!tickTimer_) {
      tickTimer_ = std::make_unique<asio::steady_timer>(strand_);
      // Spread the agents' ticks over the interval, as a real fleet's are.
      nextTick_ =
          Clock::now() + shared_.options.interval * slot_ / std::max(1, shared_.options.agents);
    }
    tickTimer_->expires_at(nextTick_);
    tickTimer_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || !self->producing()) return;
      self->addBatch();
      self->pump();
      self->nextTick_ += self->shared_.options.interval;
      self->scheduleTick();
    });
  }

  // The agent's lifetime is over: no more batches; it leaves once everything it sent is acked
  // (or the drain timeout passes).
  void retire() {
    if (stopped_ || retiring_) return;
    retiring_ = true;
    if (tickTimer_) tickTimer_->cancel();
    if (pending_.empty() || shared_.options.drainTimeout.count() <= 0) {
      finish();
      return;
    }
    lifeTimer_.expires_after(shared_.options.drainTimeout);
    lifeTimer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->finish();
    });
  }

  // Leaves for good: disconnects and hands the slot to a new agent id.
  void finish() {
    if (stopped_) return;
    AgentOutcome done = outcome();
    done.retired = true;
    stopped_ = true;
    timer_.cancel();
    lifeTimer_.cancel();
    if (tickTimer_) tickTimer_->cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    shared_.pending -= static_cast<std::int64_t>(pending_.size());
    pending_.clear();
    replaceAgent(shared_, slot_, std::move(done));
  }

  void fail() {
    if (stopped_) return;
    if (connected_) ++shared_.disconnects;
    connected_ = false;
    writing_ = false;
    compact_.reset();  // the next connection's table starts empty
    boost::system::error_code ignored;
    socket_.close(ignored);
    decoder_ = FrameDecoder(kDefaultMaxFrameBytes);
    for (const auto& p : pending_) {
      if (p.sequence > writtenUpTo_) break;
      if (p.sequence > ackedSequence_) ++shared_.resent;
    }
    writtenUpTo_ = ackedSequence_;  // unacked batches are written again after reconnecting
    reconnectLater();
  }

  void reconnectLater() {
    if (stopped_ || shared_.stopping) return;
    std::uniform_int_distribution<int> jitter(100, 500);
    timer_.expires_after(std::chrono::milliseconds(jitter(random_)));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->connect();
    });
  }

  // As many as the 64 buffers (prefix and containers) a version 1 write held before version 2.
  static constexpr std::size_t kBatchesPerWrite = 32;

  Shared& shared_;
  int index_;
  int slot_;
  std::string agentId_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  asio::steady_timer lifeTimer_;  // the lifetime, then the drain deadline of a leaving agent
  std::unique_ptr<asio::steady_timer> tickTimer_;
  Clock::time_point nextTick_;
  FrameDecoder decoder_;
  std::array<char, 16 * 1024> readBuffer_{};
  AgentContainers containers_;
  std::deque<Pending> pending_;
  std::vector<asio::const_buffer> buffers_;
  // Version 2 connections: the encoder, and the frames of the write in progress.
  std::unique_ptr<CompactConnection> compact_;
  std::string compactFrames_;
  std::string helloFrame_;
  std::uint64_t lastSequence_ = 0;
  std::uint64_t ackedSequence_ = 0;
  std::uint64_t writtenUpTo_ = 0;
  std::uint64_t samplesProduced_ = 0;
  std::uint64_t connects_ = 0;
  std::uint64_t ackRegressions_ = 0;
  bool connected_ = false;
  bool writing_ = false;
  bool stopped_ = false;
  bool retiring_ = false;
  std::mt19937 random_{std::random_device{}()};
};

void replaceAgent(Shared& shared, int slot, AgentOutcome outcome) {
  std::lock_guard lock(shared.agentsMutex);
  shared.retired.push_back(std::move(outcome));
  if (shared.draining || shared.stopping) return;
  auto agent = std::make_shared<SimAgent>(shared, shared.nextIndex++, slot);
  // A new node joins within about one interval of the old one leaving.
  static thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> delay(
      0, std::max<std::int64_t>(0, shared.options.interval.count() - 1));
  agent->start(std::chrono::milliseconds(delay(random)));
  shared.live[static_cast<std::size_t>(slot)] = std::move(agent);
}

double percentile(std::vector<float>& values, double p) {
  if (values.empty()) return 0;
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index),
                   values.end());
  return values[index];
}

// Sleeps for `duration`, or until options.stopRequested is set.
void sleepUnlessStopped(const LoadgenOptions& options, std::chrono::milliseconds duration) {
  const auto until = Clock::now() + duration;
  while (Clock::now() < until) {
    if (options.stopRequested != nullptr && options.stopRequested->load()) return;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(50)));
  }
}

}  // namespace

std::string LoadgenReport::toJson() const {
  return nlohmann::json{{"batches_sent", batchesSent},
                        {"batches_acked", batchesAcked},
                        {"samples_acked", samplesAcked},
                        {"measured_seconds", measuredSeconds},
                        {"samples_per_second", samplesPerSecond},
                        {"ack_latency_p50_ms", ackLatencyP50Ms},
                        {"ack_latency_p99_ms", ackLatencyP99Ms},
                        {"ack_latency_max_ms", ackLatencyMaxMs},
                        {"connects", connects},
                        {"disconnects", disconnects},
                        {"highest_acked", highestAcked},
                        {"unacked", unacked},
                        {"agents_started", agentsStarted},
                        {"agents_retired", agentsRetired},
                        {"containers_replaced", containersReplaced},
                        {"job_containers_started", jobContainersStarted},
                        {"template_rebuilds", templateRebuilds},
                        {"drain_seconds", drainSeconds},
                        {"drained_batches", drainedBatches},
                        {"undrained_agents", undrainedAgents},
                        {"ack_regressions", ackRegressions},
                        {"batches_resent", batchesResent},
                        {"batches_acked_by_hello", batchesAckedByHello},
                        {"compact_connects", compactConnects},
                        {"bytes_sent", bytesSent}}
      .dump();
}

std::string LoadgenReport::toDetailedJson() const {
  auto out = nlohmann::json::parse(toJson());
  auto agents = nlohmann::json::array();
  for (const auto& o : outcomes) {
    agents.push_back({{"id", o.agentId},
                      {"produced", o.produced},
                      {"acked", o.acked},
                      {"samples_produced", o.samplesProduced},
                      {"connects", o.connects},
                      {"ack_regressions", o.ackRegressions},
                      {"retired", o.retired},
                      {"drained", o.drained}});
  }
  out["agents"] = std::move(agents);
  return out.dump();
}

LoadgenReport runLoad(const LoadgenOptions& options) {
  Shared shared;
  shared.options = options;
  {
    std::lock_guard lock(shared.agentsMutex);
    shared.nextIndex = options.agents;
    for (int i = 0; i < options.agents; ++i) {
      shared.live.push_back(std::make_shared<SimAgent>(shared, i, i));
      // Connect in a ramp (about 2000 per second), not a storm.
      shared.live.back()->start(std::chrono::milliseconds(i / 2));
    }
  }
  auto guard = asio::make_work_guard(shared.io);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < std::max(1u, options.threads); ++t) {
    threads.emplace_back([&shared] { shared.io.run(); });
  }
  sleepUnlessStopped(options, options.warmup);  // the run's schedule, not a synchronisation
  shared.acked = 0;
  shared.samples = 0;
  {
    std::lock_guard lock(shared.latencyMutex);
    shared.latenciesMs.clear();
  }
  shared.measuring = true;
  const auto started = Clock::now();
  sleepUnlessStopped(options, options.duration);
  shared.measuring = false;
  const double measured = std::chrono::duration<double>(Clock::now() - started).count();
  LoadgenReport report;
  report.batchesAcked = shared.acked;
  report.samplesAcked = shared.samples;
  // Drain: nothing new, and every batch produced acked (or the timeout), before stopping.
  const auto drainStarted = Clock::now();
  report.drainedBatches = shared.pending;
  if (options.drainTimeout.count() > 0) {
    shared.draining = true;
    while (shared.pending > 0 && Clock::now() - drainStarted < options.drainTimeout) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  report.drainSeconds = std::chrono::duration<double>(Clock::now() - drainStarted).count();
  shared.stopping = true;
  {
    std::lock_guard lock(shared.agentsMutex);
    for (auto& agent : shared.live) agent->stop();
  }
  guard.reset();
  for (auto& thread : threads) thread.join();
  report.batchesSent = shared.sent;
  report.measuredSeconds = measured;
  report.samplesPerSecond = static_cast<double>(report.samplesAcked) / measured;
  report.connects = shared.connects;
  report.disconnects = shared.disconnects;
  report.containersReplaced = shared.containersReplaced;
  report.jobContainersStarted = shared.jobContainers;
  report.templateRebuilds = shared.templateRebuilds;
  report.batchesResent = shared.resent;
  report.batchesAckedByHello = shared.ackedByHello;
  report.compactConnects = shared.compactConnects;
  report.bytesSent = shared.bytesSent;
  report.agentsStarted = static_cast<std::uint64_t>(shared.nextIndex);
  report.agentsRetired = shared.retired.size();
  report.outcomes = std::move(shared.retired);
  for (const auto& agent : shared.live) {
    report.unacked += agent->unacked();
    report.outcomes.push_back(agent->outcome());
  }
  for (const auto& o : report.outcomes) {
    report.highestAcked = std::max(report.highestAcked, o.acked);
    report.ackRegressions += o.ackRegressions;
    if (!o.drained) ++report.undrainedAgents;
  }
  auto& latencies = shared.latenciesMs;
  report.ackLatencyP50Ms = percentile(latencies, 0.50);
  report.ackLatencyP99Ms = percentile(latencies, 0.99);
  report.ackLatencyMaxMs =
      latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end());
  return report;
}

namespace {

std::atomic<bool> stopSignalled{false};

void onStopSignal(int /*signal*/) { stopSignalled = true; }

}  // namespace

int loadgenMain(int argc, char** argv) {
  CLI::App app{"fleetscale-loadgen: plays many agents against an aggregator", "fleetscale-loadgen"};
  LoadgenOptions options;
  std::string aggregator = "127.0.0.1:7070", interval = "1s", duration = "10s", warmup = "2s",
              agentLifetime = "0s", drainTimeout, tokenFile, reportFile;
  app.add_option("--aggregator", aggregator, "aggregator stream address HOST:PORT (IP address)")
      ->capture_default_str();
  app.add_option("--agents", options.agents, "agents to play")->capture_default_str();
  app.add_option("--containers", options.containers, "containers per agent")->capture_default_str();
  app.add_option("--clusters", options.clusters, "clusters the agents are spread over")
      ->capture_default_str();
  app.add_option("--workloads", options.workloads, "workloads the containers belong to")
      ->capture_default_str();
  app.add_option("--interval", interval, "tick per agent")->capture_default_str();
  app.add_option("--duration", duration, "measured time")->capture_default_str();
  app.add_option("--warmup", warmup, "time before measuring (connects, first batches)")
      ->capture_default_str();
  app.add_option("--window", options.window,
                 "0: one batch per tick; N: as fast as acks allow, N batches in flight per agent")
      ->capture_default_str();
  app.add_option("--token-file", tokenFile, "file with the agents' token");
  app.add_option("--agent-prefix", options.agentPrefix, "agent ids are <prefix>-<n>")
      ->capture_default_str();
  app.add_option("--threads", options.threads, "I/O threads")->capture_default_str();
  app.add_option("--agent-lifetime", agentLifetime,
                 "mean lifetime of an agent (exponential; 0: the whole run); then it drains, "
                 "leaves, and a new agent id takes its place")
      ->capture_default_str();
  app.add_option("--container-churn", options.containerChurn,
                 "share of an agent's containers replaced by new ones per batch")
      ->capture_default_str();
  app.add_option("--job-share", options.jobShare,
                 "share of the new containers that are one-off Jobs (job-<n>), not svc-<n> pods")
      ->capture_default_str();
  app.add_option("--drain-timeout", drainTimeout,
                 "longest wait for acks by a leaving agent and, at the end, by all of them "
                 "(default: 60s with --report-file or --agent-lifetime, else 0s: no drain)");
  app.add_option("--report-file", reportFile,
                 "at the end, write the totals and every agent id's produced and acked sequences "
                 "here (JSON)");
  app.add_option("--protocol", options.protocol,
                 "1: version 1 batches; 2: offer version 2 and send compact batches when the "
                 "aggregator answers 2")
      ->check(CLI::Range(1, 2))
      ->capture_default_str();
  std::string compression = "zstd";
  app.add_option("--compression", compression,
                 "with --protocol 2: zstd (offered, used when accepted) or none")
      ->check(CLI::IsMember({"zstd", "none"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto address = parseHostPort(aggregator);
  auto intervalValue = parseDuration(interval);
  auto durationValue = parseDuration(duration);
  auto warmupValue = parseDuration(warmup);
  auto lifetimeValue = parseDuration(agentLifetime);
  if (drainTimeout.empty()) {
    const bool churn = lifetimeValue && lifetimeValue->count() > 0;
    drainTimeout = !reportFile.empty() || churn ? "60s" : "0s";
  }
  auto drainValue = parseDuration(drainTimeout);
  auto token = readSecretFile(tokenFile);
  if (!address || !intervalValue || !durationValue || !warmupValue || !lifetimeValue ||
      !drainValue || !token) {
    std::cerr << "fleetscale-loadgen: bad --aggregator, duration or --token-file\n";
    return 2;
  }
  if (options.containerChurn < 0 || options.containerChurn > 1 || options.jobShare < 0 ||
      options.jobShare > 1) {
    std::cerr << "fleetscale-loadgen: --container-churn and --job-share are shares in [0, 1]\n";
    return 2;
  }
  options.compress = compression == kZstdCompression;
  options.aggregator = *address;
  options.interval = std::chrono::duration_cast<std::chrono::milliseconds>(*intervalValue);
  options.duration = std::chrono::duration_cast<std::chrono::milliseconds>(*durationValue);
  options.warmup = std::chrono::duration_cast<std::chrono::milliseconds>(*warmupValue);
  options.agentLifetime = std::chrono::duration_cast<std::chrono::milliseconds>(*lifetimeValue);
  options.drainTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(*drainValue);
  options.token = *token;
  // SIGINT or SIGTERM ends the measured window early: drain, report, exit.
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
  options.stopRequested = &stopSignalled;
  const auto report = runLoad(options);
  std::cout << report.toJson() << std::endl;
  if (!reportFile.empty()) {
    std::ofstream out(reportFile + ".tmp", std::ios::trunc);
    out << report.toDetailedJson() << "\n";
    out.close();
    if (!out || std::rename((reportFile + ".tmp").c_str(), reportFile.c_str()) != 0) {
      std::cerr << "fleetscale-loadgen: cannot write " << reportFile << "\n";
      return 1;
    }
  }
  return report.batchesAcked > 0 ? 0 : 1;
}

}  // namespace fleetscale::loadgen
