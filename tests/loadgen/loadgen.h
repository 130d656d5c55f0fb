// fleetscale-loadgen: plays many agents against an aggregator over real sockets with the real
// protocol (hello, token, sequence numbers, acks, replay after reconnect). Batches are built
// once per agent with protobuf and stamped with a fresh sequence and timestamp per tick, so the
// generator spends its CPU on sockets, not on encoding.
//
// Churn (off by default): agents that leave after a random lifetime (they stop producing, wait
// until everything they sent is acked, disconnect for good, and a new agent id takes their
// place), and containers replaced by new ones every tick (new ids and pod uids; some of them
// one-off Jobs). Only the replaced containers are encoded again. With a report file the
// generator drains at the end (stops producing, waits until every batch is acked) and writes
// what each agent id produced and had acked, for an exactly-once check against the store.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/shared/compact_batch.h"
#include "fleetscale/shared/net_address.h"
#include "fleetscale/shared/result.h"
#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale::loadgen {

struct LoadgenOptions {
  HostPort aggregator;
  int agents = 100;
  int containers = 100;  // per agent
  int clusters = 2;
  int workloads = 50;  // containers are spread over this many workloads
  int namespaces = 5;
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds duration{10'000};
  std::chrono::milliseconds warmup{2'000};  // excluded from the figures
  // 0: one batch per agent per interval. N > 0: as fast as acks allow, N batches in flight per
  // agent (finds the aggregator's maximum).
  int window = 0;
  std::string token;
  std::string agentPrefix = "loadgen";
  unsigned threads = 1;
  // Churn. 0: every agent lives the whole run. > 0: the mean of an agent's exponentially
  // distributed lifetime; then it leaves (drained, see drainTimeout) and a new agent id takes its
  // place, so about `agents` stay live.
  std::chrono::milliseconds agentLifetime{0};
  // Share of an agent's containers replaced by new ones per tick (0: none), and the share of the
  // new ones that are one-off Jobs ("job-<n>", each its own workload) rather than svc-<n> pods.
  double containerChurn = 0;
  double jobShare = 0.2;
  // The longest a leaving agent, and the whole generator at the end, waits for acks. 0 at the end:
  // stop at once without draining (the default without a report file).
  std::chrono::milliseconds drainTimeout{0};
  // Set (by a signal handler, say) to end the measured window early; the generator then drains
  // and stops as at the end of `duration`.
  const std::atomic<bool>* stopRequested = nullptr;
  // 1: version 1 batches, the hello exactly as before version 2. 2: offer version 2 and, when the
  // aggregator answers 2, send compact batches (each connection with its own table).
  std::uint32_t protocol = 1;
  // With protocol 2: offer zstd, and compress frames when the aggregator accepts it.
  bool compress = true;
};

// What one agent id did over its life, for the exactly-once check.
struct AgentOutcome {
  std::string agentId;
  std::uint64_t produced = 0;         // last sequence produced (sequences run 1..produced)
  std::uint64_t acked = 0;            // highest sequence the aggregator acked
  std::uint64_t samplesProduced = 0;  // container-samples in batches 1..produced
  std::uint64_t connects = 0;         // hello-acks received
  std::uint64_t ackRegressions = 0;   // hello-acks below an ack received before (a lost commit)
  bool retired = false;               // left during the run (agent churn)
  bool drained = false;               // nothing unacked when it left or the run ended
};

struct LoadgenReport {
  std::uint64_t batchesSent = 0;
  std::uint64_t batchesAcked = 0;  // in the measured window
  std::uint64_t samplesAcked = 0;  // in the measured window
  double measuredSeconds = 0;
  double samplesPerSecond = 0;
  double ackLatencyP50Ms = 0;
  double ackLatencyP99Ms = 0;
  double ackLatencyMaxMs = 0;
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t highestAcked = 0;  // over all agents, for replay checks
  std::uint64_t unacked = 0;       // batches still waiting at the end
  // Churn and the final drain.
  std::uint64_t agentsStarted = 0;
  std::uint64_t agentsRetired = 0;
  std::uint64_t containersReplaced = 0;
  std::uint64_t jobContainersStarted = 0;
  std::uint64_t templateRebuilds = 0;
  double drainSeconds = 0;
  std::int64_t drainedBatches = 0;  // unacked when the drain began
  std::uint64_t undrainedAgents = 0;
  std::uint64_t ackRegressions = 0;
  std::uint64_t batchesResent = 0;        // written again after a reconnect (not yet acked)
  std::uint64_t batchesAckedByHello = 0;  // unacked, then reported stored by a hello-ack
  std::uint64_t compactConnects = 0;      // hello-acks that made the connection version 2
  std::uint64_t bytesSent = 0;            // batch frames written, as on the wire
  std::vector<AgentOutcome> outcomes;     // every agent id, live or retired
  std::string toJson() const;
  // toJson's totals plus one entry per agent id: {"id", "produced", "acked", ...}.
  std::string toDetailedJson() const;
};

// The three parts of a batch frame that the generator stamps per tick. Exposed for tests.
struct BatchTemplate {
  std::string node;        // serialized NodeTotals field (tag + length + bytes)
  std::string containers;  // serialized repeated ContainerSample fields
  std::size_t containerCount = 0;
};

// Builds agent `agent`'s template: `containers` samples with realistic ids, cgroups and
// metadata, spread over workloads and namespaces; `variant` varies the figures.
BatchTemplate makeTemplate(const LoadgenOptions& options, int agent, int variant);

// One simulated container: its ids, cgroup and figures follow from `seed`.
struct ContainerSpec {
  std::uint64_t seed = 0;
  std::int64_t job =
      -1;  // >= 0: a pod of the one-off Job "job-<job>"; else of svc-<seed % workloads>
};

// Agent `agent`'s containers at its start (what makeTemplate encodes).
std::vector<ContainerSpec> initialContainers(const LoadgenOptions& options, int agent);

// One serialized repeated ContainerSample field (Batch field 4) for `spec`.
std::string encodeContainer(const LoadgenOptions& options, const ContainerSpec& spec, int variant);

// Where new containers get their seeds and Job numbers: unique over the whole generator.
struct ChurnIds {
  std::atomic<std::uint64_t> nextSeed{1ull << 50};  // above every agent's initial seeds
  std::atomic<std::int64_t> nextJob{0};
};

// An agent's containers and its two batch templates, kept in step as containers are replaced.
// A template is immutable once built: a replacement builds new ones, so batches already stamped
// (and waiting for an ack, or to be sent again) keep the bytes they were stamped with.
class AgentContainers {
 public:
  // `options` must outlive this.
  AgentContainers(const LoadgenOptions& options, int agent);

  const std::shared_ptr<const BatchTemplate>& templateFor(int variant) const {
    return templates_[variant];
  }
  const std::vector<ContainerSpec>& containers() const { return specs_; }

  // Replaces `count` containers picked at random (a container may be picked twice) by new ones,
  // a `options.jobShare` of them one-off Jobs, and rebuilds the templates. Returns how many of
  // the new containers are Jobs.
  std::size_t replace(std::size_t count, std::mt19937& random, ChurnIds& ids);

 private:
  void rebuild(int variant);

  const LoadgenOptions& options_;
  std::vector<ContainerSpec> specs_;
  std::array<std::vector<std::string>, 2> encoded_;  // per variant, per container
  std::array<std::shared_ptr<const BatchTemplate>, 2> templates_;
};

// The frame prefix (length, envelope header, sequence, timestamp, interval, node) that, followed
// by `tmpl.containers`, is a valid frame holding Envelope{batch}.
std::string framePrefix(const BatchTemplate& tmpl, std::uint64_t sequence,
                        std::int64_t timestampUnixMs, double intervalSeconds);

// The protocol offer in a simulated agent's hello (nothing with protocol 1: the hello of an
// agent that predates version 2).
void offerProtocol(const LoadgenOptions& options, v1::Hello& hello);

// A version 2 connection's encoding: its own container table (so a new connection's first batch
// defines every container) and, when the aggregator accepted it, zstd. Encodes each batch once,
// as it is written.
class CompactConnection {
 public:
  explicit CompactConnection(bool compress);

  // Appends the frame that carries the version 1 batch frame `prefix` + `containers` (as
  // framePrefix stamps it) on this connection. Fails only on bytes that are not a batch.
  Status append(std::string& out, std::string_view prefix, std::string_view containers);

 private:
  CompactBatchEncoder encoder_;
  std::unique_ptr<ZstdCompressor> compressor_;
  std::string payload_;  // scratch: the version 1 payload
};

// What the connection that got `ack` sends: a CompactConnection when `options` offered version 2
// and the aggregator answered 2, else nothing (version 1 frames as stamped).
std::unique_ptr<CompactConnection> negotiateConnection(const LoadgenOptions& options,
                                                       const v1::HelloAck& ack);

// Runs the load for options.duration (plus warmup) and reports.
LoadgenReport runLoad(const LoadgenOptions& options);

int loadgenMain(int argc, char** argv);

}  // namespace fleetscale::loadgen
