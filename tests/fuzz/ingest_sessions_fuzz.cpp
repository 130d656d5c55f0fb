// Agents coming and going as a hostile or broken peer could make them: hellos with any of four
// agent ids for any of three nodes, sequence epochs and start times, batches with any 64-bit
// sequence, disconnects, read in between. Whatever the order, the fleet state keeps one row per
// node, counts each pod once, and never accepts a sequence no agent can have produced (issue 19:
// one batch numbered 2^64-1 used to disable an agent for good).
//
// The input is a script, one operation per step (the first byte picks it):
//   0 hello       agent, node, epoch, start, queue capacity (a byte each)
//   1 batch       agent, 8 bytes of sequence (little endian), containers, milliseconds to wait
//   2 disconnect  agent
//   3 read        nodes() and snapshot(), checked
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "fleetscale/aggregator/state/fleet_state.h"
#include "fleetscale/shared/batch_view.h"
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FleetState fleet;
  Script script(data, size);
  std::map<int, FleetState::Session> sessions;  // by agent
  std::map<int, int> nodeOf;                    // agent -> the node its last hello named
  WallTime now{std::chrono::seconds(1'700'000'000)};
  BatchView view;
  for (int steps = 0; !script.done() && steps < 512; ++steps) {
    switch (script.byte() % 4) {
      case 0: {
        const int agent = script.byte() % kAgents;
        const int node = script.byte() % kNodes;
        AgentIdentity identity{
            "a" + std::to_string(agent), "n" + std::to_string(node), "c1", "", "", "", ""};
        identity.sequenceEpoch = script.byte() % 3;
        identity.startedUnixMs = script.byte() % 4;
        identity.queueCapacity = (script.byte() % 5) * 10;
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
        const std::string payload = batchPayload(sequence, nodeOf[agent], containers);
        if (!decodeBatchEnvelope(payload, view).ok()) break;
        const std::uint64_t before = fleet.lastAcceptedSequence(session->second.agentId);
        const FoldResult result = fleet.applyBatch(session->second, view, now);
        if (result.outcome == BatchOutcome::kAccepted ||
            result.outcome == BatchOutcome::kSuperseded) {
          check(result.progress.lastSequence == sequence);
          check(sequence <= kMaxSequence);
        } else {
          check(fleet.lastAcceptedSequence(session->second.agentId) == before);
        }
        break;
      }
      case 2: {
        const auto session = sessions.find(script.byte() % kAgents);
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
          for (const auto& pod : workload.pods) check(pods.insert(pod.pod).second);  // once each
          check(workload.total.replicasSeen + workload.total.replicasStale <=
                kNodes * kPodsPerNode);
        }
        break;
      }
    }
  }
  return 0;
}
