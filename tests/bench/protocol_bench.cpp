// Cost of the wire path per batch: encoding a node's batch and decoding it on the aggregator.
#include <benchmark/benchmark.h>

#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/protocol.h"

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

}  // namespace

BENCHMARK_MAIN();
