#!/usr/bin/env bash
# Regenerates the seed corpus under tests/fuzz/corpus from the fixtures and a few hand-written
# protocol messages. The corpus is checked in; rerun this only when the fixtures or the protocol
# change. Needs protoc and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=tests/fuzz/corpus
fixtures=tests/fixtures
mkdir -p "$corpus"/{frame_decoder_fuzz,mountinfo_fuzz,cgroup_files_fuzz,pod_list_fuzz,engine_containers_fuzz,kube_values_fuzz}

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
printf '\x10\x7f\xff\xff\xff' > "$corpus/frame_decoder_fuzz/oversized"
printf '\x08\x00\x00\x00\x04\xff\xff\xff\xff' > "$corpus/frame_decoder_fuzz/garbage"
echo "corpus regenerated under $corpus"
