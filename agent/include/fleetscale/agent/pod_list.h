// The kubelet's GET /pods answer (a v1 PodList), reduced to what fleetscale labels samples with:
// pod identity, owning workload, per-container requests and limits, readiness and restarts.
// Pure functions over text; the parser is fuzzed (tests/fuzz/pod_list_fuzz.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fleetscale/agent/metadata_snapshot.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::agent {

// Indexes every container the PodList reports a containerID for (regular, init and sidecar
// containers), and lists the Pending pods none of whose containers has started. Fails only when the
// text is not a JSON PodList; unusable entries are skipped and counted in
// MetadataSnapshot::skippedEntries. Members fleetscale does not read (env, volumes, annotations,
// managedFields, ...) are dropped while parsing, so a large PodList costs little memory.
Result<MetadataSnapshot> parsePodList(std::string_view json);

struct Workload {
  std::string kind;  // "Deployment", "StatefulSet", "DaemonSet", "Job", ...; "" when unowned
  std::string name;
};

// The workload a pod belongs to, from its controller owner reference. A ReplicaSet whose name is
// "<deployment>-<pod-template-hash>" belongs to that Deployment; the hash appears in the name
// either as the label value (Kubernetes >= 1.11) or in the older encoding of the decimal label
// (rand.SafeEncodeString), as pods from before 1.11 still carry. Any other owner is the workload.
Workload resolveWorkload(std::string_view ownerKind, std::string_view ownerName,
                         std::string_view podTemplateHash);

// "containerd://<id>" -> {"containerd", "<id>"}; also "cri-o://" and "docker://". std::nullopt for
// an empty id (container not started) or one without a scheme.
struct RuntimeContainerId {
  std::string runtime;
  std::string id;
};
std::optional<RuntimeContainerId> parseContainerId(std::string_view kubeletContainerId);

// RFC 3339 timestamps as Kubernetes writes them ("2018-02-14T16:26:33Z", with optional fraction
// and numeric offset) to Unix milliseconds.
Result<std::int64_t> parseRfc3339Millis(std::string_view text);

}  // namespace fleetscale::agent
