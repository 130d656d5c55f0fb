#!/usr/bin/env bash
# `make demo`: a fleetscale-aggregator and a fleetscale-agent on this machine. The agent reads
# real cgroups: as root, the demo creates three container cgroups with CPU load that rises and
# falls; otherwise it writes a cgroup v2 tree in the kernel's formats and advances it. A live
# table from the aggregator's API refreshes for DEMO_SECONDS (default 30) or until Ctrl-C; then
# everything stops cleanly. DEMO_CGROUPS=tree forces the written tree even as root.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/dev/bin}
DURATION=${DEMO_SECONDS:-30}
state=$(mktemp -d /tmp/fleetscale-demo.XXXXXX)
pids=()
cgroup_dirs=()

cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ((i = ${#cgroup_dirs[@]} - 1; i >= 0; i--)); do rmdir "${cgroup_dirs[$i]}" 2>/dev/null || true; done
  rm -rf "$state"
}
trap cleanup EXIT
trap 'echo; echo "interrupted, stopping"; exit 0' INT TERM

for binary in fleetscale-aggregator fleetscale-agent fleetscalectl; do
  [[ -x $BIN/$binary ]] || { echo "demo: $BIN/$binary missing; run 'make build'" >&2; exit 1; }
done

random_id() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# --- demo containers ------------------------------------------------------------------------
agent_cgroup_args=()
names=(checkout search recommender)
quota_pattern=(10 30 60 90 60 30)   # % of a core, stepped every 5 s
declare -A quota_files=()

if [[ ${DEMO_CGROUPS:-auto} != tree && $(id -u) -eq 0 ]] &&
   [[ -w /sys/fs/cgroup/cgroup.subtree_control || -w /sys/fs/cgroup/memory ]]; then
  mode="real cgroups"
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
else
  mode="a cgroup v2 tree written by this script (run as root to use real cgroups)"
  tree=$state/cgroup
  mkdir -p "$tree"
  echo "cpuset cpu io memory pids" > "$tree/cgroup.controllers"
  scopes=()
  for i in "${!names[@]}"; do
    scopes[$i]="$tree/system.slice/docker-$(random_id).scope"
    mkdir -p "${scopes[$i]}"
    echo "$(( (i + 1) * 20 * 1048576 ))" > "${scopes[$i]}/memory.current"
    printf 'anon %d\ninactive_file %d\n' "$(( (i + 1) * 15 * 1048576 ))" 1048576 > "${scopes[$i]}/memory.stat"
    echo "max 100000" > "${scopes[$i]}/cpu.max"
    echo "max" > "${scopes[$i]}/memory.max"
  done
  # Advances each container's CPU counter by the pattern's share of the real elapsed time.
  advance_counters() {
    local -a usage=()
    local start last now i pct
    start=$(date +%s%N); last=$start
    while :; do
      now=$(date +%s%N)
      for i in "${!names[@]}"; do
        pct=${quota_pattern[$(( ((now - start) / 5000000000 + i * 2) % ${#quota_pattern[@]} ))]}
        usage[$i]=$(( ${usage[$i]:-0} + (now - last) / 1000 * pct / 100 ))
        printf 'usage_usec %d\nuser_usec %d\nsystem_usec %d\n' "${usage[$i]}" "$(( usage[$i] * 3 / 4 ))" \
          "$(( usage[$i] / 4 ))" > "${scopes[$i]}/cpu.stat.tmp"
        mv "${scopes[$i]}/cpu.stat.tmp" "${scopes[$i]}/cpu.stat"
      done
      last=$now
      sleep 0.25
    done
  }
  advance_counters &
  pids+=($!)
  agent_cgroup_args=(--cgroup-root "$tree" --mountinfo /dev/null)
fi

# Load that rises and falls: each container follows the pattern, shifted by its index.
[[ $mode == "real cgroups" ]] && (
  step=0
  while :; do
    for i in "${!names[@]}"; do set_quota "$i" "${quota_pattern[$(( (step + i * 2) % ${#quota_pattern[@]} ))]}"; done
    step=$((step + 1))
    sleep 5
  done
) &
pids+=($!)

# --- aggregator and agent ---------------------------------------------------------------------
"$BIN/fleetscale-aggregator" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --ready-file "$state/ready.json" --aggregator-id demo 2>"$state/aggregator.log" &
aggregator=$!
for _ in $(seq 100); do [[ -s $state/ready.json ]] && break; sleep 0.1; done
[[ -s $state/ready.json ]] || { cat "$state/aggregator.log"; echo "demo: aggregator did not start" >&2; exit 1; }
ingest_port=$(grep -o '"ingest_port":[0-9]*' "$state/ready.json" | cut -d: -f2)
http_port=$(grep -o '"http_port":[0-9]*' "$state/ready.json" | cut -d: -f2)
server=http://127.0.0.1:$http_port

"$BIN/fleetscale-agent" --aggregator "127.0.0.1:$ingest_port" --cluster demo-local --cloud onprem \
  --region lab --node "$(hostname)" --interval 1s --rediscover-interval 2s "${agent_cgroup_args[@]}" \
  2>"$state/agent.log" &
agent=$!
pids=("$agent" "$aggregator" "${pids[@]}")

# --- live table ---------------------------------------------------------------------------------
end=$((SECONDS + DURATION))
while ((SECONDS < end)); do
  kill -0 "$agent" 2>/dev/null || { cat "$state/agent.log"; echo "demo: agent exited" >&2; exit 1; }
  frame=$(
    echo "fleetscale demo — aggregator $server, containers from $mode"
    echo "refreshing every 2 s for $((end - SECONDS)) more seconds (Ctrl-C to stop)"
    echo
    "$BIN/fleetscalectl" --server "$server" nodes 2>&1
    echo
    "$BIN/fleetscalectl" --server "$server" containers 2>&1
  )
  [[ -t 1 ]] && printf '\033[H\033[2J'
  echo "$frame"
  echo
  sleep 2
done

echo "aggregator counters:"
"$BIN/fleetscalectl" --server "$server" -o json nodes >/dev/null
curl -s "$server/metrics" | grep -E '^fleetscale_(ingest_samples_total|ingest_batches_total|agents_connected)' || true
echo
echo "stopping agent and aggregator"
