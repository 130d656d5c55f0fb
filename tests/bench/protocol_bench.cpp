// Cost of the wire path per batch: encoding a node's batch and decoding it on the aggregator; and
// the bytes per container-sample of protocol versions 1 and 2 (with and without zstd) on a
// realistic node (realistic_node.h), with the version 2 encoder's cost per container-sample.
#include <benchmark/benchmark.h>

#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/compact_batch.h"
#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/protocol.h"
#include "realistic_node.h"

namespace {

fleetscale::v1::Envelope makeBatch(int containers) {
  fleetscale::v1::Envelope envelope;
  auto* batch = envelope.mutable_batch();
  batch->set_sequence(42);
  batch->set_timestamp_unix_ms(1'700'000'000'000);
  for (int i = 0; i < containers; ++i) {
    auto* c = batch->add_containers();
    c->set_id(std::string(64, static_cast<char>('a' + i % 6)));
    c->set_cgroup(
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/"
        "cri-containerd-" +
        c->id() + ".scope");
    c->set_runtime("containerd");
    c->set_cpu_cores(0.25);
    c->set_memory_usage_bytes(123456789);
    c->set_memory_working_set_bytes(100000000);
    auto* m = c->mutable_metadata();
    m->set_pod("web-7d9f8-abcde");
    m->set_namespace_("shop");
    m->set_container("web");
    m->set_workload_kind("Deployment");
    m->set_workload("web");
    m->set_cpu_request_cores(0.5);
    m->set_ready(true);
  }
  return envelope;
}

void BM_EncodeBatch(benchmark::State& state) {
  const auto envelope = makeBatch(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(fleetscale::encodeEnvelopeFrame(envelope));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EncodeBatch)->Arg(100)->Arg(1000);

void BM_DecodeAndValidateBatch(benchmark::State& state) {
  const std::string frame =
      fleetscale::encodeEnvelopeFrame(makeBatch(static_cast<int>(state.range(0))));
  for (auto _ : state) {
    fleetscale::FrameDecoder decoder;
    decoder.feed(frame);
    auto payload = decoder.next();
    auto envelope = fleetscale::decodeEnvelope(**payload);
    benchmark::DoNotOptimize(fleetscale::validateBatch(envelope->batch()).ok());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame.size()));
}
BENCHMARK(BM_DecodeAndValidateBatch)->Arg(100)->Arg(1000);

// The frames one connection carries for `ticks` ticks of a realistic node, in the encoding
// range(2) picks: 0 version 1, 1 version 2, 2 version 2 + zstd level 1, 3 version 2 + zstd
// level 3. Timed: what the agent does per connection beyond version 1 (encode, compress).
// Counters: wire bytes (frames with their length prefix) per container-sample after the
// connection's first 10 ticks, and the first batch's bytes per container (the full state every
// new connection starts with).
void BM_WireBytes(benchmark::State& state) {
  const int containers = static_cast<int>(state.range(0));
  const int churnEvery = static_cast<int>(state.range(1));
  const int mode = static_cast<int>(state.range(2));
  const int ticks = containers >= 1000 ? 60 : 300;
  constexpr int kWarmupTicks = 10;
  fleetscale::bench::RealisticNode node(containers, churnEvery);
  std::vector<std::string> payloads;
  for (int t = 0; t < ticks; ++t) {
    fleetscale::v1::Envelope envelope;
    *envelope.mutable_batch() = node.tick();
    payloads.push_back(envelope.SerializeAsString());
  }
  double steadyBytes = 0, steadySamples = 0, firstBytes = 0;
  for (auto _ : state) {
    fleetscale::CompactBatchEncoder encoder;
    fleetscale::ZstdCompressor compressor(mode == 2 ? 1 : 3);
    steadyBytes = steadySamples = 0;
    for (int t = 0; t < ticks; ++t) {
      std::string wire = payloads[static_cast<std::size_t>(t)];
      if (mode >= 1) wire = *encoder.encode(wire);
      if (mode >= 2) wire = compressor.wrap(std::move(wire));
      const double bytes = static_cast<double>(wire.size() + fleetscale::kFrameHeaderBytes);
      if (t == 0) firstBytes = bytes;
      if (t >= kWarmupTicks) {
        steadyBytes += bytes;
        steadySamples += static_cast<double>(containers);
      }
      benchmark::DoNotOptimize(wire);
    }
  }
  state.counters["bytes_per_sample"] = steadyBytes / steadySamples;
  state.counters["first_batch_bytes_per_container"] = firstBytes / containers;
  state.SetItemsProcessed(state.iterations() * ticks * containers);
}
BENCHMARK(BM_WireBytes)
    ->ArgNames({"containers", "churn_every_s", "mode"})
    ->ArgsProduct({{10, 100, 1000}, {0, 2}, {0, 1, 2, 3}})
    ->Unit(benchmark::kMillisecond);

// The aggregator's decode of a version 2 connection's frames: lean decode + expand, per
// container-sample (compare BM_DecodeAndValidateBatch and aggregator_bench's BM_DecodeBatchView).
void BM_DecodeCompact(benchmark::State& state) {
  const int containers = static_cast<int>(state.range(0));
  fleetscale::bench::RealisticNode node(containers, 0);
  fleetscale::CompactBatchEncoder encoder;
  std::vector<std::string> frames;
  for (int t = 0; t < 60; ++t) {
    fleetscale::v1::Envelope envelope;
    *envelope.mutable_batch() = node.tick();
    frames.push_back(*encoder.encode(envelope.SerializeAsString()));
  }
  fleetscale::BatchView view;
  for (auto _ : state) {
    fleetscale::CompactBatchDecoder decoder;
    for (const auto& frame : frames) {
      (void)fleetscale::decodeBatchEnvelope(frame, view, fleetscale::StringChecks::kDeferred);
      benchmark::DoNotOptimize(decoder.expand(view).ok());
    }
  }
  state.SetItemsProcessed(state.iterations() * 60 * containers);
}
BENCHMARK(BM_DecodeCompact)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
