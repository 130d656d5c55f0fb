// Builds sample batches with protobuf (the real encoder) and decodes them with the aggregator's
// lean decoder, the way the ingest path sees them.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "fleetscale/shared/batch_view.h"
#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale::aggregator::testing {

struct ContainerSpec {
  std::string id = "";
  std::string pod = "";
  std::string workload = "web";
  std::string namespaceName = "shop";
  double cpu = 0.5;
  double request = 1.0;
  bool ready = true;
  std::string container = "";  // the spec container's name; "" = not named by the metadata
  bool podLevelOnly = false;   // a sandbox: the pod's labels, no request, no readiness
};

inline v1::ContainerSample containerSample(const ContainerSpec& spec) {
  v1::ContainerSample c;
  c.set_id(spec.id);
  c.set_runtime("containerd");
  c.set_cpu_cores(spec.cpu);
  c.set_memory_working_set_bytes(100 << 20);
  auto* m = c.mutable_metadata();
  m->set_pod(spec.pod.empty() ? spec.id + "-pod" : spec.pod);
  m->set_pod_uid("uid-" + (spec.pod.empty() ? spec.id : spec.pod));
  m->set_namespace_(spec.namespaceName);
  m->set_workload_kind("Deployment");
  m->set_workload(spec.workload);
  if (!spec.container.empty()) m->set_container(spec.container);
  if (spec.podLevelOnly) return c;
  m->set_cpu_request_cores(spec.request);
  m->set_memory_request_bytes(200 << 20);
  m->set_ready(spec.ready);
  return c;
}

// Owns the encoded payload the view points into.
struct DecodedBatch {
  std::string payload;
  BatchView view;
};

inline void decodeInto(const v1::SampleBatch& batch, DecodedBatch& out) {
  v1::Envelope envelope;
  *envelope.mutable_batch() = batch;
  out.payload = envelope.SerializeAsString();
  const auto result = decodeBatchEnvelope(out.payload, out.view);
  ASSERT_TRUE(result.ok()) << result.error;
}

inline v1::SampleBatch makeBatch(std::uint64_t sequence, const std::vector<ContainerSpec>& specs,
                                 double interval = 1.0) {
  v1::SampleBatch batch;
  batch.set_sequence(sequence);
  batch.set_interval_seconds(interval);
  batch.mutable_node()->set_cpu_capacity_cores(4);
  batch.mutable_node()->set_cpu_usage_cores(1);
  for (const auto& spec : specs) *batch.add_containers() = containerSample(spec);
  return batch;
}

}  // namespace fleetscale::aggregator::testing
