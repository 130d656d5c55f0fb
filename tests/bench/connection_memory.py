#!/usr/bin/env python3
"""What one agent connection costs the aggregator, in resident memory: before its Hello (a flood
of connections that never identify themselves) and after it (an idle, identified agent).

Starts fleetscale-aggregator, opens N connections, waits until the aggregator has accepted them
all (its /metrics), and reads its VmRSS from /proc before and after. Then says Hello on each and
measures again. Used to size --max-connections (docs/benchmarks.md).

    tests/bench/connection_memory.py build/release/bin/fleetscale-aggregator [N]
"""
import json
import os
import re
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request


def varint(n):
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out += bytes([low | 0x80])
        else:
            return out + bytes([low])


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def hello_frame(agent_id):
    hello = field(1, agent_id.encode()) + field(2, b"node-" + agent_id.encode())
    hello += varint(9 << 3) + varint(1)  # protocol_version 1
    envelope = field(1, hello)
    return struct.pack(">I", len(envelope)) + envelope


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


def metric(http_port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics") as answer:
        text = answer.read().decode()
    match = re.search("^" + re.escape(name) + r" (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def wait_for(condition, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def settled_rss(pid):
    # RSS after the allocator has had a moment: the highest of a few reads a tick apart.
    readings = []
    for _ in range(5):
        time.sleep(0.2)
        readings.append(rss_kib(pid))
    return max(readings)


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    state = tempfile.mkdtemp(prefix="fleetscale-connmem-")
    ready = os.path.join(state, "ready.json")
    aggregator = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
         "--http-anonymous-reads", "--state-dir",
         os.path.join(state, "db"), "--ready-file", ready, "--threads", "2",
         "--max-connections", str(count + 100), "--handshake-timeout", "1h",
         "--idle-timeout", "24h", "--log-level", "warn"],
        stderr=subprocess.DEVNULL)
    try:
        if not wait_for(lambda: os.path.exists(ready), 30):
            sys.exit("aggregator did not start")
        ports = json.load(open(ready))
        ingest, http = ports["ingest_port"], ports["http_port"]
        base = settled_rss(aggregator.pid)
        sockets = []
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", ingest))
            sockets.append(s)
        accepted = "fleetscale_ingest_connections_total"
        if not wait_for(lambda: metric(http, accepted) >= count):
            sys.exit("not every connection was accepted")
        unidentified = settled_rss(aggregator.pid)
        for i, s in enumerate(sockets):
            s.sendall(hello_frame(f"agent-{i}"))
        for s in sockets:
            s.settimeout(30)
            header = s.recv(4)
            if len(header) != 4:
                sys.exit("no hello-ack")
            (size,) = struct.unpack(">I", header)
            while size > 0:
                size -= len(s.recv(size))
        identified = settled_rss(aggregator.pid)
        per_unidentified = (unidentified - base) * 1024 / count
        per_identified = (identified - base) * 1024 / count
        print(json.dumps({
            "connections": count,
            "rss_base_kib": base,
            "rss_unidentified_kib": unidentified,
            "rss_identified_kib": identified,
            "bytes_per_unidentified_connection": round(per_unidentified),
            "bytes_per_identified_connection": round(per_identified),
        }, indent=2))
        for s in sockets:
            s.close()
    finally:
        aggregator.terminate()
        aggregator.wait(timeout=30)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
