#!/usr/bin/env bash
# `make demo`: a simulated fleet of two clusters in two clouds on this machine, watched by the
# real fleetscale agents and aggregator. fleetscale-sim plays aws-us-east-1 (systemd cgroup
# driver, cgroup v2) and gcp-europe-west1 (cgroupfs driver, cgroup v1): a fake kube-apiserver
# per cluster, a fake kubelet and a cgroup tree per node, whose counters follow a load that
# rises and falls. One real fleetscale-agent per simulated node streams to one real
# fleetscale-aggregator. As root, this machine joins as a third cluster (demo-local) with three
# real container cgroups under CPU load (DEMO_LOCAL=0 leaves it out).
# A live table refreshes for DEMO_SECONDS (default 30) or until Ctrl-C; then the simulator
# prints its measurements and everything stops cleanly. DEMO_SCENARIO picks another scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/dev/bin}
DURATION=${DEMO_SECONDS:-30}
SCENARIO=${DEMO_SCENARIO:-tests/e2e/scenarios/two-clouds.yaml}
state=$(mktemp -d /tmp/fleetscale-demo.XXXXXX)
pids=()
cgroup_dirs=()
sim=""

cleanup() {
  trap - EXIT INT TERM
  # The simulator first: it stops its agents and aggregator and prints its measurements.
  if [[ -n $sim ]] && kill -0 "$sim" 2>/dev/null; then
    kill -TERM "$sim" 2>/dev/null || true
    wait "$sim" 2>/dev/null || true
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ((i = ${#cgroup_dirs[@]} - 1; i >= 0; i--)); do rmdir "${cgroup_dirs[$i]}" 2>/dev/null || true; done
  rm -rf "$state"
}
trap cleanup EXIT
trap 'echo; echo "interrupted, stopping"; exit 0' INT TERM

for binary in fleetscale-sim fleetscale-aggregator fleetscale-agent fleetscalectl; do
  [[ -x $BIN/$binary ]] || { echo "demo: $BIN/$binary missing; run 'make build'" >&2; exit 1; }
done

# --- the simulated fleet, with the aggregator and an agent per simulated node ------------------
# --duration 0: the simulator runs until this script stops it, after the last table.
"$BIN/fleetscale-sim" run "$SCENARIO" --duration 0 --state-dir "$state/sim" \
  --ready-file "$state/ready.json" --status-interval 0 --bin-dir "$BIN" >"$state/sim.out" 2>"$state/sim.log" &
sim=$!
for _ in $(seq 300); do [[ -s $state/ready.json ]] && break; kill -0 "$sim" 2>/dev/null || break; sleep 0.1; done
[[ -s $state/ready.json ]] || { cat "$state/sim.log"; echo "demo: fleetscale-sim did not start" >&2; exit 1; }
field() { grep -o "\"$1\": *\"[^\"]*\"" "$state/ready.json" | head -1 | sed 's/.*: *"\(.*\)"/\1/'; }
number() { grep -o "\"$1\": *[0-9]*" "$state/ready.json" | head -1 | grep -o '[0-9]*$'; }
control=$(field control_url)
server=$(field url)
ingest_port=$(number ingest_port)

# --- this machine as a third cluster: real cgroups, real CPU load (root only) ------------------
local_mode="not included (run as root to add this machine's real cgroups)"
if [[ ${DEMO_LOCAL:-1} != 0 && $(id -u) -eq 0 ]] &&
   [[ -w /sys/fs/cgroup/cgroup.subtree_control || -w /sys/fs/cgroup/memory ]]; then
  random_id() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
  names=(checkout search recommender)
  quota_pattern=(10 30 60 90 60 30)   # % of a core, stepped every 5 s
  declare -A quota_files=()
  if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    echo "+cpu +memory" > /sys/fs/cgroup/cgroup.subtree_control
    mkdir -p /sys/fs/cgroup/fleetscale-demo.slice
    cgroup_dirs+=(/sys/fs/cgroup/fleetscale-demo.slice)
    echo "+cpu +memory" > /sys/fs/cgroup/fleetscale-demo.slice/cgroup.subtree_control
    hierarchies=(/sys/fs/cgroup)
  else
    hierarchies=()
    for h in /sys/fs/cgroup/cpu,cpuacct /sys/fs/cgroup/cpu /sys/fs/cgroup/cpuacct /sys/fs/cgroup/memory; do
      [[ -d $h && ! -L $h ]] && hierarchies+=("$h")
    done
  fi
  for i in "${!names[@]}"; do
    scope="fleetscale-demo.slice/docker-$(random_id).scope"
    join=""
    for h in "${hierarchies[@]}"; do
      [[ -d $h/fleetscale-demo.slice ]] || { mkdir -p "$h/fleetscale-demo.slice"; cgroup_dirs+=("$h/fleetscale-demo.slice"); }
      mkdir -p "$h/$scope"
      cgroup_dirs+=("$h/$scope")
      join+="echo \$\$ > $h/$scope/cgroup.procs; "
      [[ -f $h/$scope/cpu.max ]] && quota_files[$i]="$h/$scope/cpu.max"
      [[ -f $h/$scope/cpu.cfs_quota_us ]] && quota_files[$i]="$h/$scope/cpu.cfs_quota_us"
    done
    megabytes=$(( (i + 1) * 20 ))
    # Joins its cgroups, holds some memory, then burns CPU up to the cgroup's quota.
    sh -c "$join x=\$(yes fleetscale | head -c ${megabytes}000000); while :; do :; done" &
    pids+=($!)
  done
  set_quota() {  # index percent
    local file=${quota_files[$1]:-}
    [[ -n $file ]] || return 0
    if [[ $file == *cpu.max ]]; then echo "$(($2 * 1000)) 100000" > "$file"; else echo "$(($2 * 1000))" > "$file"; fi
  }
  # Load that rises and falls: each container follows the pattern, shifted by its index.
  (
    step=0
    while :; do
      for i in "${!names[@]}"; do set_quota "$i" "${quota_pattern[$(( (step + i * 2) % ${#quota_pattern[@]} ))]}"; done
      step=$((step + 1))
      sleep 5
    done
  ) &
  pids+=($!)
  "$BIN/fleetscale-agent" --aggregator "127.0.0.1:$ingest_port" --token-file "$state/sim/aggregator.token" \
    --cluster demo-local --cloud onprem --region lab --node "$(hostname)" --interval 1s \
    --rediscover-interval 2s 2>"$state/local-agent.log" &
  pids+=($!)
  local_mode="demo-local: this machine, three real container cgroups under CPU load"
fi

# --- live table ---------------------------------------------------------------------------------
end=$((SECONDS + DURATION))
while ((SECONDS < end)) && kill -0 "$sim" 2>/dev/null; do
  frame=$(
    echo "fleetscale demo — a simulated fleet in two clouds, watched by the real agents and aggregator"
    echo "aws-us-east-1: systemd driver, cgroup v2; gcp-europe-west1: cgroupfs driver, cgroup v1; $local_mode"
    echo "aggregator $server; refreshing every 2 s for $((end - SECONDS)) more seconds (Ctrl-C to stop)"
    echo
    "$BIN/fleetscale-sim" status "$control" 2>&1
    echo
    echo "What the aggregator sees, node by node:"
    "$BIN/fleetscalectl" --server "$server" nodes 2>&1
  )
  [[ -t 1 ]] && printf '\033[H\033[2J'
  echo "$frame"
  echo
  sleep 2
done

echo "aggregator counters:"
curl -s "$server/metrics" | grep -E '^fleetscale_(ingest_samples_total|ingest_batches_total|agents_connected)' || true
echo
echo "stopping the simulated fleet"
kill -TERM "$sim" 2>/dev/null || true
wait "$sim" 2>/dev/null || true
sim=""
# The simulator's report: demand against ready capacity per workload, and what it cost.
sed -n '/^Scenario /,$p' "$state/sim.out"
