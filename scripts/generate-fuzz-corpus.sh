#!/usr/bin/env bash
# Regenerates the seed corpus under tests/fuzz/corpus from the fixtures and a few hand-written
# protocol messages. The corpus is checked in; rerun this only when the fixtures or the protocol
# change. Needs protoc and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=tests/fuzz/corpus
fixtures=tests/fixtures
mkdir -p "$corpus"/{frame_decoder_fuzz,mountinfo_fuzz,cgroup_files_fuzz,sim_scenario_fuzz,pod_list_fuzz,engine_containers_fuzz,kube_values_fuzz}

# fleetscale-sim scenarios (sim_patch_fuzz's PATCH bodies are hand-written seeds, kept as they are).
cp tests/e2e/scenarios/*.yaml "$corpus/sim_scenario_fuzz/"

cp "$fixtures"/mountinfo/*.txt "$corpus/mountinfo_fuzz/"

# cgroup files: one selector byte (see cgroup_files_fuzz.cpp) + the file's bytes.
seed() {  # selector file name
  { printf "\\x$(printf %02x "$1")"; cat "$2"; } > "$corpus/cgroup_files_fuzz/$3"
}
n=0
while IFS= read -r -d '' file; do
  base=$(basename "$file"); n=$((n + 1))
  case "$base" in
    *.stat|memory.events) seed 2 "$file" "$n-$base" ;;
    cpu.max) seed 3 "$file" "$n-$base" ;;
    memory.max|memory.high|memory.swap.max) seed 4 "$file" "$n-$base" ;;
    *limit_in_bytes) seed 5 "$file" "$n-$base" ;;
    *.pressure) seed 6 "$file" "$n-$base" ;;
    cpu.cfs_quota_us) seed 1 "$file" "$n-$base" ;;
    *) seed 0 "$file" "$n-$base" ;;
  esac
done < <(find "$fixtures"/cgroup-v1 "$fixtures"/cgroup-v2 -type f -print0 | sort -z)
printf '\x07cpu  100 5 50 1000 20 1 2 3 7 0\ncpu0 50 2 25 500 10 0 1 1 0 0\nintr 1\n' > "$corpus/cgroup_files_fuzz/proc-stat"
printf '\x08MemTotal:       16384 kB\nMemAvailable:    8192 kB\n' > "$corpus/cgroup_files_fuzz/proc-meminfo"

# Kubelet and container-engine answers, and the single values inside them.
cp "$fixtures"/kubelet/pods_*.json "$corpus/pod_list_fuzz/"
printf '{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}' > "$corpus/pod_list_fuzz/empty"
printf '{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","code":401}' > "$corpus/pod_list_fuzz/status-401"
printf '%s' '[{"Id":"8dfafdbc3a40000000000000000000000000000000000000000000000000000a","Names":["/checkout"],"Image":"shop/checkout:1.4","Created":1714557600,"Labels":{"fleetscale.io/workload":"checkout"},"State":"running","Mounts":[]}]' > "$corpus/engine_containers_fuzz/one-container"
printf '[]' > "$corpus/engine_containers_fuzz/empty"
n=0
for value in 100m 1.5Gi 129e6 1E 5e-3 0.100 18446744073709551615 -1 1Ki \
    2018-02-14T16:26:33Z 2024-02-29T23:59:59.123456789-05:30 \
    containerd://69d7203a8f2d2d027ffa51d61002eac63357f22a17403363ef79e66d1c3146b2 cri-o://x; do
  n=$((n + 1)); printf '%s' "$value" > "$corpus/kube_values_fuzz/$n"
done

# Frames: a selector byte (chunk size) + length-prefixed Envelope messages.
encode() {  # text-format Envelope -> frame bytes on stdout
  protoc --encode=fleetscale.v1.Envelope -I shared/proto shared/proto/fleetscale/v1/fleetscale.proto |
    python3 -c 'import sys; b=sys.stdin.buffer.read(); sys.stdout.buffer.write(len(b).to_bytes(4,"big")+b)'
}
hello='hello { agent_id: "a1" node: "n1" cluster: "aws-us-east-1" cloud: "aws" auth_token: "t" protocol_version: 1 }'
batch='batch { sequence: 1 timestamp_unix_ms: 1700000000000 node { cpu_capacity_cores: 2 cpu_usage_cores: 0.5 memory_usage_bytes: 1000 } containers { id: "abc" cgroup: "/kubepods/abc" runtime: "containerd" cpu_cores: 0.25 memory_usage_bytes: 100 memory_working_set_bytes: 80 metadata { pod: "web-1" namespace: "shop" workload_kind: "Deployment" workload: "web" cpu_request_cores: 0.5 ready: true } } interval_seconds: 1 }'
{ printf '\x05'; echo "$hello" | encode; echo "$batch" | encode; } > "$corpus/frame_decoder_fuzz/hello-batch"
{ printf '\x01'; echo "$batch" | encode; } > "$corpus/frame_decoder_fuzz/batch-bytewise"
{ printf '\x40'; echo 'ack { sequence: 7 }' | encode; echo 'error { code: CODE_BAD_FRAME message: "x" }' | encode; } > "$corpus/frame_decoder_fuzz/ack-error"
full='batch { sequence: 9 timestamp_unix_ms: 1700000000000 interval_seconds: 0.5 node { cpu_capacity_cores: 8 memory_capacity_bytes: 17179869184 cpu_usage_cores: 2.5 memory_usage_bytes: 4294967296 cpu_allocatable_cores: 7.5 memory_allocatable_bytes: 16106127360 } containers { id: "4f1c2a7e9b3d5f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d0f1a3c5e7b9d2f4a" cgroup: "/kubepods.slice/x.scope" runtime: "containerd" cpu_cores: 0.25 cpu_user_cores: 0.2 cpu_system_cores: 0.05 cpu_usage_ns_total: 123456789 cpu_throttled_periods_per_second: 1 cpu_throttled_seconds_per_second: 0.01 cpu_limit_cores: 2 cpu_weight: 100 memory_usage_bytes: 300 memory_working_set_bytes: 200 memory_rss_bytes: 150 memory_limit_bytes: 1073741824 oom_kills_total: 1 cpu_pressure_some_total_us: 10 memory_pressure_full_total_us: 20 metadata { pod: "web-1" pod_uid: "u1" namespace: "shop" container: "web" workload_kind: "Deployment" workload: "web" cpu_request_cores: 0.5 memory_request_bytes: 268435456 cpu_limit_cores: 1 memory_limit_bytes: 536870912 ready: false restart_count: 3 start_time_unix_ms: 1 pod_phase: "Running" qos_class: "Burstable" image: "registry/web:1" pod_ready_time_unix_ms: 2 } } containers { id: "second" } }'
{ printf '\x03'; echo "$full" | encode; } > "$corpus/frame_decoder_fuzz/full-batch"
# Unframed: the fuzz target also hands the whole input (after the selector) to the batch decoder.
{ printf '\x20'; echo "$full" | protoc --encode=fleetscale.v1.Envelope -I shared/proto shared/proto/fleetscale/v1/fleetscale.proto; } > "$corpus/frame_decoder_fuzz/full-batch-unframed"
printf '\x10\x7f\xff\xff\xff' > "$corpus/frame_decoder_fuzz/oversized"
printf '\x08\x00\x00\x00\x04\xff\xff\xff\xff' > "$corpus/frame_decoder_fuzz/garbage"
# Issue 19's hostile inputs: a hello reusing a connected agent's id followed by a batch numbered
# 2^64-1, a hello_ack naming 2^64-1 in the agent's epoch, the duplicate-agent refusal.
victim='hello { agent_id: "aws-us-east-1/ip-10-10-1-10" node: "ip-10-10-1-10" cluster: "aws-us-east-1" auth_token: "secret" protocol_version: 1 sequence_epoch: 9223372036854775807 started_unix_ms: 1700000000000 queue_capacity: 3600 }'
{ printf '\x07'; echo "$victim" | encode; echo 'batch { sequence: 18446744073709551615 containers { id: "c" } }' | encode; } > "$corpus/frame_decoder_fuzz/hostile-hello-max-sequence"
{ printf '\x03'; echo 'hello_ack { aggregator_id: "aggregator-0" max_frame_bytes: 65536 acked_sequence: 18446744073709551615 sequence_epoch: 18446744073709551615 }' | encode; } > "$corpus/frame_decoder_fuzz/hello-ack-max-sequence-epoch"
{ printf '\x01'; echo 'error { code: CODE_DUPLICATE_AGENT message: "agent id aws-us-east-1/ip-10-10-1-10 is already connected from 10.0.0.1:4000" }' | encode; } > "$corpus/frame_decoder_fuzz/error-duplicate-agent"

# Issue 14: a terminating pod's container and a node's Pending pods without containers.
pending='batch { sequence: 3 timestamp_unix_ms: 1700000000000 containers { id: "c1" metadata { pod: "web-1" pod_uid: "u1" namespace: "shop" workload_kind: "Deployment" workload: "web" pod_phase: "Running" deletion_unix_ms: 1700000030000 } } pending_pods { pod: "web-2" pod_uid: "u2" namespace: "shop" workload_kind: "Deployment" workload: "web" pod_phase: "Pending" cpu_request_cores: 0.5 memory_request_bytes: 268435456 } pending_pods { pod_uid: "u3" } }'
{ printf '\x02'; echo "$pending" | encode; } > "$corpus/frame_decoder_fuzz/pending-and-terminating-pods"
# Agent sessions (ingest_sessions_fuzz.cpp has the script format): the hostile sequence, a node
# whose agent restarts under a new id each time, a new epoch of one id, an older process coming
# back after a newer one took its node and an id moving to another node.
mkdir -p "$corpus/ingest_sessions_fuzz"
python3 - "$corpus/ingest_sessions_fuzz" <<'PYTHON'
import struct, sys
d = sys.argv[1]
def hello(agent, node, epoch, start, capacity): return bytes([0, agent, node, epoch, start, capacity])
def batch(agent, seq, containers=2, wait=10):
    return bytes([1, agent]) + struct.pack('<Q', seq) + bytes([containers, wait])
def disconnect(agent): return bytes([2, agent])
read = bytes([3])
seeds = {
    'hostile-sequence': hello(0, 0, 1, 1, 1) + b''.join(batch(0, i) for i in range(1, 7)) +
        disconnect(0) + hello(0, 0, 1, 1, 0) + batch(0, 2**64 - 1) + batch(0, 6 + 100000) +
        disconnect(0) + hello(0, 0, 1, 1, 1) + batch(0, 7) + read,
    'flapping-node': b''.join(hello(k, 0, 0, 0, 0) + batch(k, 1) + read for k in range(4)),
    'new-epoch': hello(0, 1, 1, 1, 1) + batch(0, 1) + batch(0, 2) + hello(0, 1, 2, 2, 1) +
        batch(0, 1) + read,
    'older-process-and-move': hello(1, 2, 1, 3, 1) + batch(1, 1) + hello(0, 2, 1, 1, 1) +
        batch(0, 1) + read + hello(1, 0, 1, 3, 1) + batch(1, 2) + read,
}
for name, data in seeds.items():
    with open(d + '/' + name, 'wb') as out:
        out.write(data)
PYTHON
echo "corpus regenerated under $corpus"
