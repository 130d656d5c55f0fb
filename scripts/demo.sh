#!/usr/bin/env bash
# `make demo`: the whole fleetscale story in about two minutes, on this machine. fleetscale-sim
# plays two clusters in two clouds (aws-us-east-1: systemd driver, cgroup v2; gcp-europe-west1:
# cgroupfs driver, cgroup v1): a fake kube-apiserver per cluster, a fake kubelet and a cgroup
# tree per node. One real fleetscale-agent per simulated node streams to one real
# fleetscale-aggregator, which scales the workloads through the clusters' APIs with the policy
# the simulator writes (tests/e2e/scenarios/fleet-story.yaml):
#   0-20 s   load rises and the fleet scales out;
#   35 s     aws-us-east-1 goes dark: after the aggregator's failed-after threshold (10 s) its
#            share moves to gcp-europe-west1;
#   65 s     aws returns: capacity fails back to the configured 1:1 placement, new replicas
#            ready in aws before gcp shrinks;
#   90 s     this script drains aws (POST /api/v1/clusters/aws-us-east-1/drain, admin token):
#            everything migrates to gcp, ready capacity never below the need.
# A live table refreshes every 2 s; at the end the simulator's measurements (reaction, failover,
# failback, under-provisioning, slack) and the drain's duration are printed, and everything stops
# cleanly. As root, this machine also joins as an observed third cluster (demo-local) with three
# real container cgroups under CPU load (DEMO_LOCAL=0 leaves it out).
# DEMO_SECONDS (default 115), DEMO_DRAIN_AT (default 90) and DEMO_SCENARIO change the run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/dev/bin}
DURATION=${DEMO_SECONDS:-115}
DRAIN_AT=${DEMO_DRAIN_AT:-90}
DRAIN_CLUSTER=aws-us-east-1
SCENARIO=${DEMO_SCENARIO:-tests/e2e/scenarios/fleet-story.yaml}
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

# --- what the aggregator decided, from its /api/v1/status -------------------------------------
admin_token=$(cat "$state/sim/aggregator/admin.token")
# Placement entries per workload are {"current":N,"desired":N,"ready":N} keyed by cluster.
placements() { curl -s --max-time 2 "$server/api/v1/status" | grep -o "\"$1\":{[^}]*}" || true; }
# True once the drained cluster holds nothing and every other cluster's replicas are ready.
drain_done() {
  local drained others entry
  drained=$(placements "$DRAIN_CLUSTER")
  [[ -n $drained ]] || return 1
  grep -qv '"current":0,"desired":0,"ready":0' <<<"$drained" && return 1
  others=$(curl -s --max-time 2 "$server/api/v1/status" | grep -o '"[a-z0-9-]*":{"current":[0-9]*,"desired":[0-9]*,"ready":[0-9]*}' | grep -v "\"$DRAIN_CLUSTER\"")
  while read -r entry; do
    [[ $(sed 's/.*"current":\([0-9]*\).*/\1/' <<<"$entry") == $(sed 's/.*"ready":\([0-9]*\).*/\1/' <<<"$entry") ]] || return 1
  done <<<"$others"
}
phase() {
  local t=$1
  if ((t < 35)); then echo "load rises: the aggregator scales the fleet out (HPA rules on 1 s data)"
  elif ((t < 65)); then echo "aws-us-east-1 is dark: once it has failed (10 s), its share moves to gcp-europe-west1"
  elif ((t < DRAIN_AT)); then echo "aws-us-east-1 is back: capacity fails back once it is healthy, make before break"
  else echo "operator drains aws-us-east-1: everything migrates to gcp-europe-west1, never below the need"
  fi
}

# --- live table ---------------------------------------------------------------------------------
started=$SECONDS
end=$((started + DURATION))
drain_requested="" drain_finished=""
while ((SECONDS < end)) && kill -0 "$sim" 2>/dev/null; do
  t=$((SECONDS - started))
  if ((t >= DRAIN_AT)) && [[ -z $drain_requested ]]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $admin_token" \
      "$server/api/v1/clusters/$DRAIN_CLUSTER/drain")
    drain_requested=$t
    echo "POST $server/api/v1/clusters/$DRAIN_CLUSTER/drain -> HTTP $code" >>"$state/actions.log"
  fi
  if [[ -n $drain_requested && -z $drain_finished ]] && drain_done; then drain_finished=$t; fi
  frame=$(
    echo "fleetscale demo — two clouds, the real agents and aggregator; t=${t}s of ${DURATION}s (Ctrl-C to stop)"
    echo "now: $(phase "$t")"
    echo "aws-us-east-1: systemd driver, cgroup v2; gcp-europe-west1: cgroupfs driver, cgroup v1; $local_mode"
    [[ -s $state/actions.log ]] && cat "$state/actions.log"
    echo
    "$BIN/fleetscale-sim" status "$control" 2>&1
  )
  [[ -t 1 ]] && printf '\033[H\033[2J'
  echo "$frame"
  echo
  sleep 2
done

echo "aggregator counters:"
curl -s "$server/metrics" | grep -E '^fleetscale_(scale_actions_total|cluster_health_transitions_total|scaling_decisions_total)' || true
echo
echo "stopping the simulated fleet"
kill -TERM "$sim" 2>/dev/null || true
wait "$sim" 2>/dev/null || true
sim=""
# The simulator's report: demand against ready capacity, reaction to each load change, failover
# (SURVIVOR REQUEST: kill -> first scale request at gcp; FAILOVER: -> ready capacity restored)
# and failback (revival -> aws's replicas ready again), and what it cost.
sed -n '/^Scenario /,$p' "$state/sim.out"
echo
if [[ -n $drain_finished ]]; then
  echo "Drain of $DRAIN_CLUSTER: requested at t=${drain_requested}s, everything ready elsewhere after $((drain_finished - drain_requested)) s (to within the 2 s refresh)"
elif [[ -n $drain_requested ]]; then
  echo "Drain of $DRAIN_CLUSTER: requested at t=${drain_requested}s, not finished when the demo ended"
fi
