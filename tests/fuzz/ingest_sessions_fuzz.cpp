// Agents coming and going as a hostile or broken peer could make them: hellos with any of four
// agent ids for any of three nodes, sequence epochs and start times, batches with any 64-bit
// sequence, disconnects, read in between. Whatever the order, the fleet state keeps one row per
// node, counts each pod once, and never accepts a sequence no agent can have produced (issue 19:
// one batch numbered 2^64-1 used to disable an agent for good).
//
// Connections may negotiate protocol version 2 (issue 17): their batches then cross as compact
// batches from an agent-side encoder, zstd-wrapped when negotiated, and reach the fold through
// the aggregator's BatchStream as the ingest server's do. Unharmed, every one expands to the
// containers of the version 1 batch it was made from; a damaged one closes its connection.
//
// The input is a script, one operation per step (the first byte picks it: its low two bits the
// operation, its high bits the version 2 variants, so older scripts mean what they meant):
//   0 hello       agent, node, epoch, start, queue capacity (a byte each); with bit 0x80 one more
//                 byte: the hello's max_protocol_version (its low two bits), bit 0x04 asks for
//                 zstd, bit 0x08 holds the aggregator at version 1
//   1 batch       agent, 8 bytes of sequence (little endian), containers, milliseconds to wait;
//                 with bit 0x40 two more bytes: the frame's byte at (first % size) is XORed with
//                 the second (a damaged frame)
//   2 disconnect  agent
//   3 read        nodes() and snapshot(), checked
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "fleetscale/aggregator/ingest/batch_stream.h"
#include "fleetscale/aggregator/state/fleet_state.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/compact_batch.h"
#include "fleetscale/v1/fleetscale.pb.h"

namespace {

using namespace fleetscale;
using namespace fleetscale::aggregator;

constexpr int kAgents = 4;
constexpr int kNodes = 3;
constexpr int kPodsPerNode = 2;

void check(bool condition) {
  if (!condition) std::abort();
}

class Script {
 public:
  Script(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::uint64_t word() {
    std::uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value |= static_cast<std::uint64_t>(byte()) << (8 * i);
    return value;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

// A batch of `containers` containers of node `node`: pods p<node>-0 and p<node>-1.
std::string batchPayload(std::uint64_t sequence, int node, int containers) {
  v1::Envelope envelope;
  v1::SampleBatch& batch = *envelope.mutable_batch();
  batch.set_sequence(sequence);
  batch.set_interval_seconds(1);
  batch.mutable_node()->set_cpu_capacity_cores(4);
  for (int i = 0; i < containers; ++i) {
    auto* sample = batch.add_containers();
    const std::string pod = "p" + std::to_string(node) + "-" + std::to_string(i % kPodsPerNode);
    sample->set_id("c" + std::to_string(node) + "-" + std::to_string(i));
    sample->set_cpu_cores(0.1);
    auto* meta = sample->mutable_metadata();
    meta->set_pod(pod);
    meta->set_pod_uid("uid-" + pod);
    meta->set_namespace_("shop");
    meta->set_workload_kind("Deployment");
    meta->set_workload("web");
    meta->set_cpu_request_cores(0.5);
    meta->set_ready(true);
  }
  return envelope.SerializeAsString();
}

constexpr std::size_t kMaxFrameBytes = 64 * 1024;

// Both ends of one connection: what the hello negotiated, the agent's encoder and compressor,
// the aggregator's decoding state.
struct Connection {
  Connection(const v1::Hello& hello, std::uint32_t aggregatorMax)
      : stream(negotiateWireProtocol(hello, aggregatorMax), kMaxFrameBytes) {
    const WireProtocol& protocol = stream.protocol();
    const bool bothOffer = hello.max_protocol_version() >= 2 && aggregatorMax >= 2;
    check(protocol.version == (bothOffer ? 2u : 1u));
    check(!protocol.zstd || (protocol.version == 2 && hello.compression() == kZstdCompression));
    if (protocol.version == 2) encoder = std::make_unique<CompactBatchEncoder>();
    if (protocol.zstd) compressor = std::make_unique<ZstdCompressor>(1);
  }
  // The frame the agent sends for a version 1 payload; empty when the encoder refuses it.
  std::string frameFor(const std::string& v1Payload) {
    if (!encoder) return v1Payload;
    auto compact = encoder->encode(v1Payload);
    if (!compact) return {};
    return compressor ? compressor->wrap(std::move(*compact)) : std::move(*compact);
  }

  BatchStream stream;
  // A damaged frame got through (a figure or a string changed, still well-formed): the two
  // tables may differ from then on, as a hostile agent's would.
  bool damaged = false;
  std::unique_ptr<CompactBatchEncoder> encoder;
  std::unique_ptr<ZstdCompressor> compressor;
};

// The aggregator's side of one frame: unwrap, decode, admit. False: the connection closes.
bool receive(Connection& connection, const std::string& frame, BatchView& view) {
  auto payload = connection.stream.unwrap(frame);
  if (!payload) return false;
  if (!decodeBatchEnvelope(*payload, view, StringChecks::kDeferred).ok()) return false;
  return connection.stream.admit(view).ok();
}

// An unharmed compact batch expands to the containers of the version 1 batch it came from.
void checkSameContainers(const std::string& v1Payload, const BatchView& expanded) {
  BatchView original;
  if (!decodeBatchEnvelope(v1Payload, original, StringChecks::kDeferred).ok()) return;
  check(original.sequence == expanded.sequence);
  check(original.containerCount == expanded.containerCount);
  for (std::size_t i = 0; i < original.containerCount; ++i) {
    const ContainerSampleView& a = original.containers[i];
    const ContainerSampleView& b = expanded.containers[i];
    check(a.id == b.id && a.metadataBytes == b.metadataBytes);
    check(std::memcmp(&a.metrics.cpuCores, &b.metrics.cpuCores, sizeof(double)) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FleetState fleet;
  Script script(data, size);
  std::map<int, FleetState::Session> sessions;             // by agent
  std::map<int, int> nodeOf;                               // agent -> the node its last hello named
  std::map<int, std::unique_ptr<Connection>> connections;  // by agent, until a frame is refused
  // A damaged frame was folded: its metadata may name a pod with another uid, so a pod name
  // may then rightly appear twice.
  bool tainted = false;
  WallTime now{std::chrono::seconds(1'700'000'000)};
  BatchView view;
  for (int steps = 0; !script.done() && steps < 512; ++steps) {
    const std::uint8_t op = script.byte();
    switch (op % 4) {
      case 0: {
        const int agent = script.byte() % kAgents;
        const int node = script.byte() % kNodes;
        AgentIdentity identity{
            "a" + std::to_string(agent), "n" + std::to_string(node), "c1", "", "", "", ""};
        identity.sequenceEpoch = script.byte() % 3;
        identity.startedUnixMs = script.byte() % 4;
        identity.queueCapacity = (script.byte() % 5) * 10;
        v1::Hello hello;
        std::uint32_t aggregatorMax = kMaxSupportedProtocolVersion;
        if (op & 0x80) {
          const std::uint8_t offer = script.byte();
          hello.set_max_protocol_version(offer & 0x03);
          if (offer & 0x04) hello.set_compression(std::string(kZstdCompression));
          if (offer & 0x08) aggregatorMax = 1;
        }
        connections[agent] = std::make_unique<Connection>(hello, aggregatorMax);
        identity.protocolVersion = connections[agent]->stream.protocol().version;
        sessions[agent] = fleet.agentConnected(identity);
        nodeOf[agent] = node;
        check(sessions[agent].lastSequence <= kMaxSequence);
        break;
      }
      case 1: {
        const int agent = script.byte() % kAgents;
        const std::uint64_t sequence = script.word();
        const int containers = script.byte() % (kPodsPerNode + 2);
        now += std::chrono::milliseconds(script.byte());
        const auto session = sessions.find(agent);
        if (session == sessions.end()) break;
        std::uint8_t damageAt = 0, damage = 0;
        if (op & 0x40) {
          damageAt = script.byte();
          damage = script.byte();
        }
        const std::string payload = batchPayload(sequence, nodeOf[agent], containers);
        // The frame the view points into (a version 1 frame's strings, a version 2 frame's
        // node, pending pods and pod series): alive until the batch is folded, as the ingest
        // server keeps a frame until it is handled.
        std::string frame;
        // A session whose connection a bad frame closed still gets batches, as before version 2
        // (frames in flight on a connection being torn down): version 1 ones.
        const auto connection = connections.find(agent);
        if (connection == connections.end() ||
            (connection->second->stream.protocol().version == 1 && damage == 0)) {
          if (!decodeBatchEnvelope(payload, view).ok()) break;
        } else {
          frame = connection->second->frameFor(payload);
          if (frame.empty()) break;
          frame[damageAt % frame.size()] =
              static_cast<char>(frame[damageAt % frame.size()] ^ static_cast<char>(damage));
          if (!receive(*connection->second, frame, view)) {
            // An unharmed frame from the connection's own encoder, on a connection no damaged
            // frame got through, is never refused.
            check(damage != 0 || connection->second->damaged ||
                  !decodeBatchEnvelope(payload, view).ok());
            connections.erase(connection);
            fleet.agentDisconnected(session->second);
            break;
          }
          connection->second->damaged |= damage != 0;
          tainted |= damage != 0;
          if (!connection->second->damaged) checkSameContainers(payload, view);
        }
        const std::uint64_t before = fleet.lastAcceptedSequence(session->second.agentId);
        const FoldResult result = fleet.applyBatch(session->second, view, now);
        if (result.outcome == BatchOutcome::kAccepted ||
            result.outcome == BatchOutcome::kSuperseded) {
          // The batch's own sequence: a damaged frame may carry another than the script's.
          check(result.progress.lastSequence == view.sequence);
          check(view.sequence <= kMaxSequence);
        } else {
          check(fleet.lastAcceptedSequence(session->second.agentId) == before);
        }
        break;
      }
      case 2: {
        const int agent = script.byte() % kAgents;
        const auto session = sessions.find(agent);
        if (session != sessions.end()) fleet.agentDisconnected(session->second);
        break;
      }
      default: {
        const auto nodes = fleet.nodes(now);
        check(nodes.size() <= static_cast<std::size_t>(kNodes));
        std::set<std::string> names;
        for (const auto& node : nodes) names.insert(node.identity.node);
        check(names.size() == nodes.size());  // one row per node
        const FleetSnapshot snapshot = fleet.snapshot(now);
        for (const auto& workload : snapshot.workloads) {
          std::set<std::string> pods;
          for (const auto& pod : workload.pods) {
            check(pods.insert(pod.pod).second || tainted);  // once each
          }
          check(workload.total.replicasSeen + workload.total.replicasStale <=
                    kNodes * kPodsPerNode ||
                tainted);
        }
        break;
      }
    }
  }
  return 0;
}
