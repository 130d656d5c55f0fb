// fleetscale-loadgen: plays many agents against an aggregator over real sockets with the real
// protocol (hello, token, sequence numbers, acks, replay after reconnect). Batches are built
// once per agent with protobuf and stamped with a fresh sequence and timestamp per tick, so the
// generator spends its CPU on sockets, not on encoding.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "fleetscale/shared/net_address.h"
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
  std::string toJson() const;
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

// The frame prefix (length, envelope header, sequence, timestamp, interval, node) that, followed
// by `tmpl.containers`, is a valid frame holding Envelope{batch}.
std::string framePrefix(const BatchTemplate& tmpl, std::uint64_t sequence,
                        std::int64_t timestampUnixMs, double intervalSeconds);

// Runs the load for options.duration (plus warmup) and reports.
LoadgenReport runLoad(const LoadgenOptions& options);

int loadgenMain(int argc, char** argv);

}  // namespace fleetscale::loadgen
