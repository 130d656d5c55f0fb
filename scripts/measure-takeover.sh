#!/bin/bash
# scripts/measure-takeover.sh: two aggregators electing a leader on a real 1-member etcd with the
# default timings; SIGKILLs the leader three times and prints how long until the standby leads.
# Needs etcd (Debian etcd-server), curl, bc, python3; BIN=build/dev/bin by default.
set -u
B=${BIN:-build/dev/bin}
D=$(mktemp -d)
etcd --name m --data-dir $D/etcd --listen-client-urls http://127.0.0.1:24790 --advertise-client-urls http://127.0.0.1:24790 --listen-peer-urls http://127.0.0.1:24800 --initial-advertise-peer-urls http://127.0.0.1:24800 --initial-cluster m=http://127.0.0.1:24800 --logger zap --log-level error >/dev/null 2>&1 &
ETCD=$!
sleep 2
for i in 0 1; do
  $B/fleetscale-aggregator --listen 127.0.0.1:0 --http-listen 127.0.0.1:$((24810+i)) --state-dir $D/s$i --aggregator-id agg-$i --leader-election etcd --etcd-endpoints http://127.0.0.1:24790 --threads 1 --log-level warn > $D/a$i.log 2>&1 &
  eval P$i=$!
done
sleep 3
role() { curl -s http://127.0.0.1:$((24810+$1))/readyz | python3 -c 'import sys,json;print(json.load(sys.stdin)["role"])' 2>/dev/null; }
for run in 1 2 3; do
  if [ "$(role 0)" = leader ]; then L=0; S=1; else L=1; S=0; fi
  LP=$(eval echo \$P$L)
  t0=$(date +%s.%N); kill -9 $LP
  while [ "$(role $S)" != leader ]; do sleep 0.05; done
  t1=$(date +%s.%N)
  echo "run $run: leader agg-$L killed, agg-$S leads after $(echo "$t1 - $t0" | bc) s"
  $B/fleetscale-aggregator --listen 127.0.0.1:0 --http-listen 127.0.0.1:$((24810+L)) --state-dir $D/s$L --aggregator-id agg-$L --leader-election etcd --etcd-endpoints http://127.0.0.1:24790 --threads 1 --log-level warn > $D/a$L.log 2>&1 &
  eval P$L=$!
  sleep 4
done
kill $P0 $P1 $ETCD; wait; rm -rf $D
