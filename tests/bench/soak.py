#!/usr/bin/env python3
"""Soak benchmark (issue 19): the release aggregator under a churning fleet for a long run, killed
with SIGKILL and restarted on its state directory at a fixed period. Checks that every batch the
fleet produced was counted exactly once, and records whether the aggregator's RSS and CPU stay
flat after warm-up. Not part of CI: `SOAK=1 make bench` runs it (scripts/bench.sh).

    tests/bench/soak.py [--agents 1000] [--containers 20] [--duration 30m] [--kill-every 5m] ...

What it does:
  1. Starts build/release/bin/fleetscale-aggregator (fixed loopback ports, a token file, a fresh
     --state-dir) and fleetscale-loadgen: N agents at 1 s with agent churn (each lives an
     exponentially distributed lifetime, drains, leaves; a new agent id takes its place) and
     container churn (containers replaced by new ids, some of them one-off Jobs).
  2. Every --kill-every: SIGKILL to the aggregator, restarted at once with the same arguments and
     state directory; the agents reconnect and send again what was not acked.
  3. Every --sample-every: the aggregator's and the load generator's VmRSS (/proc/PID/status) and
     CPU (utime + stime, /proc/PID/stat), and a few /metrics values.
  4. At the end: SIGTERM to the load generator (it stops producing, waits until every batch is
     acked, and writes every agent id's produced and acked sequences), SIGTERM to the aggregator,
     then the store's agents table against the report. An agent id's sequences run 1..produced
     with no gap (the load generator numbers each batch last + 1 and never reuses an id), so
     exactly once means: last_sequence == batches_accepted == produced == acked, and
     samples_accepted == the samples it produced.

Prints a summary and writes JSON (--out, default build/release/bench-results/soak.json): the
machine, the command, the settings, per-window CPU and RSS, the restarts, the exactly-once result.
Exit status: 0 exactly once held; 1 it did not; 2 the harness failed (a process did not start).
--keep keeps the work directory (store, logs, report); --check-only DIR checks it again.
"""
import argparse
import collections
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class HarnessError(Exception):
    pass


def seconds(text):
    """'30m', '45s', '1h', '1500ms' or a plain number of seconds."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s|m|h)?\s*", str(text))
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}")
    value = float(match.group(1))
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))
    except (OSError, AttributeError):
        return None


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    except (OSError, IndexError, ValueError):
        return None


def scrape(http_port, timeout=5):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics",
                                    timeout=timeout) as answer:
            return answer.read().decode()
    except OSError:
        return None


def metric_sum(text, name):
    """The sum of every series of `name` (any labels), or None if there is none."""
    total, found = 0.0, False
    for match in re.finditer("^" + re.escape(name) + r"(?:\{[^}]*\})? (\S+)$", text, re.M):
        total += float(match.group(1))
        found = True
    return total if found else None


def metrics_summary(text):
    if text is None:
        return None
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    names = {
        "agents_connected": "fleetscale_agents_connected",
        "nodes": "fleetscale_cluster_nodes",
        "containers": "fleetscale_cluster_containers",
        "batches": "fleetscale_ingest_batches_total",
        "duplicate_batches": "fleetscale_ingest_duplicate_batches_total",
        "superseded_batches": "fleetscale_ingest_superseded_batches_total",
        "decode_errors": "fleetscale_ingest_decode_errors_total",
        "store_errors": "fleetscale_store_errors_total",
        "store_rows_dropped": "fleetscale_store_rows_dropped_total",
        "store_queue_rows": "fleetscale_store_queue_rows",
    }
    out = {key: metric_sum(text, name) for key, name in names.items()}
    out["series"] = len(series)
    out["node_series"] = sum(1 for line in series if line.startswith("fleetscale_node_"))
    out["workload_series"] = sum(1 for line in series if line.startswith("fleetscale_workload_"))
    out["bytes"] = len(text)
    return out


def store_mib(work):
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += os.path.getsize(os.path.join(work, "state", "aggregator.db" + suffix))
        except OSError:
            pass
    return round(total / 1048576, 1)


def machine():
    meminfo = open("/proc/meminfo").read()
    model = re.search(r"^model name\s*:\s*(.*)$", open("/proc/cpuinfo").read(), re.M)
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {
        "nproc": os.cpu_count(),
        "cpu": model.group(1) if model else "",
        "ram_gib": round(int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) / 1048576, 1),
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
        "commit": commit,
    }


class Aggregator:
    """The aggregator process, restartable on the same ports and state directory."""

    def __init__(self, binary, work, ingest_port, http_port, threads, extra):
        self.work = work
        self.ready = os.path.join(work, "ready.json")
        self.log_path = os.path.join(work, "aggregator.log")
        self.http_port = http_port
        self.args = [binary, "--listen", f"127.0.0.1:{ingest_port}", "--http-listen",
                     f"127.0.0.1:{http_port}", "--http-anonymous-reads",
                     "--state-dir", os.path.join(work, "state"),
                     "--token-file", os.path.join(work, "token"), "--ready-file", self.ready,
                     "--threads", str(threads)] + extra
        self.process = None
        self.incarnation = 0

    def start(self, timeout=60):
        if os.path.exists(self.ready):
            os.remove(self.ready)
        self.incarnation += 1
        log = open(self.log_path, "a")
        log.write(f"==== soak.py: start {self.incarnation} at {time.time():.3f}\n")
        log.flush()
        started = time.monotonic()
        self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise HarnessError(f"aggregator exited with {self.process.returncode} at start "
                                   f"(log: {self.log_path})")
            if os.path.exists(self.ready):
                try:
                    json.load(open(self.ready))
                    return time.monotonic() - started
                except ValueError:
                    pass
            time.sleep(0.02)
        raise HarnessError(f"aggregator not ready after {timeout} s (log: {self.log_path})")

    @property
    def pid(self):
        return self.process.pid

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout=60):
        """SIGTERM; returns (exit status, seconds taken), SIGKILL if it does not stop in time."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            status = "killed after SIGTERM timeout"
        return status, time.monotonic() - started


class Sampler:
    """Samples of one process kind. CPU is attributed per sample interval, per process id: a new
    process (after a restart) contributes all of its CPU since it started."""

    def __init__(self):
        self.samples = []
        self.last_cpu = {}

    def sample(self, t, pid, metrics=None):
        cpu = cpu_seconds(pid)
        rss = rss_kib(pid)
        if cpu is None or rss is None:
            return None
        delta = cpu - self.last_cpu.get(pid, 0.0)
        self.last_cpu[pid] = cpu
        entry = {"t": round(t, 2), "pid": pid, "rss_kib": rss, "cpu_s": round(cpu, 3),
                 "cpu_delta_s": round(delta, 3)}
        if metrics is not None:
            entry["metrics"] = metrics
        self.samples.append(entry)
        return entry


def windows(samples, window, duration):
    out = []
    count = max(1, math.ceil(duration / window - 1e-9))
    for i in range(count):
        start, end = i * window, min((i + 1) * window, duration)
        inside = [s for s in samples if start <= s["t"] < end or (i == count - 1 and s["t"] >= end)]
        if not inside:
            out.append({"window": i, "start_s": start, "end_s": end, "samples": 0})
            continue
        cpu = sum(s["cpu_delta_s"] for s in inside)
        rss = [s["rss_kib"] for s in inside]
        entry = {
            "window": i, "start_s": start, "end_s": end, "samples": len(inside),
            "cpu_percent": round(100 * cpu / (end - start), 1),
            "rss_end_mib": round(rss[-1] / 1024, 1),
            "rss_max_mib": round(max(rss) / 1024, 1),
            "rss_mean_mib": round(sum(rss) / len(rss) / 1024, 1),
        }
        last_metrics = next((s["metrics"] for s in reversed(inside) if s.get("metrics")), None)
        if last_metrics:
            entry["end_metrics"] = {k: last_metrics.get(k) for k in
                                    ("agents_connected", "nodes", "containers", "series",
                                     "workload_series", "node_series", "bytes")}
        store = [s["store_mib"] for s in inside if "store_mib" in s]
        if store:
            entry["store_end_mib"] = store[-1]
        out.append(entry)
    return out


def flatness(rows, warmup_windows):
    after = [w for w in rows[warmup_windows:] if w.get("samples")]
    if len(after) < 2:
        return {"windows": len(after), "note": "too few windows after warm-up to judge"}
    first, last = after[0], after[-1]
    cpu = [w["cpu_percent"] for w in after]
    rss = [w["rss_end_mib"] for w in after]
    return {
        "windows": len(after),
        "cpu_percent_min": min(cpu), "cpu_percent_max": max(cpu),
        "cpu_percent_mean": round(sum(cpu) / len(cpu), 1),
        "rss_end_mib_first": first["rss_end_mib"], "rss_end_mib_last": last["rss_end_mib"],
        "rss_end_mib_min": min(rss), "rss_end_mib_max": max(rss),
        "rss_growth_percent": round(100 * (last["rss_end_mib"] - first["rss_end_mib"])
                                    / first["rss_end_mib"], 1),
    }


def check_exactly_once(report, db_path):
    """Every agent id of the report against the store's agents table."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    rows = {row[0]: row[1:] for row in db.execute(
        "SELECT agent_id, last_sequence, batches_accepted, samples_accepted FROM agents")}
    db.close()
    mismatches = []
    totals = collections.Counter()
    seen = set()
    for agent in report["agents"]:
        seen.add(agent["id"])
        produced, acked = agent["produced"], agent["acked"]
        last, accepted, samples = rows.get(agent["id"], (0, 0, 0))
        totals["agents"] += 1
        totals["produced"] += produced
        totals["acked"] += acked
        totals["stored"] += accepted
        totals["samples_produced"] += agent["samples_produced"]
        totals["samples_stored"] += samples
        totals["retired"] += 1 if agent["retired"] else 0
        problems = []
        if acked != produced:
            problems.append(f"the load generator has {produced - acked} batches unacked")
        if acked > last:
            problems.append(f"acked {acked} but the store holds up to {last} (acked batches lost)")
        if last < produced:
            problems.append(f"{produced - last} produced batches after sequence {last} not stored")
        if last > produced:
            problems.append(f"the store's last sequence {last} is past the {produced} produced")
        if accepted < last:
            problems.append(f"{last - accepted} of sequences 1..{last} never accepted (lost)")
        if accepted > last:
            problems.append(f"{accepted - last} batches accepted twice (duplicated)")
        if samples != agent["samples_produced"]:
            problems.append(f"{samples} samples stored, {agent['samples_produced']} produced")
        if problems:
            mismatches.append({"agent_id": agent["id"], "produced": produced, "acked": acked,
                               "store_last_sequence": last, "store_batches_accepted": accepted,
                               "store_samples_accepted": samples,
                               "samples_produced": agent["samples_produced"],
                               "problems": problems})
            totals["lost"] += max(0, produced - accepted)
            totals["duplicated"] += max(0, accepted - min(last, produced))
    for agent_id, (last, accepted, samples) in rows.items():
        if agent_id not in seen:
            mismatches.append({"agent_id": agent_id, "store_last_sequence": last,
                               "store_batches_accepted": accepted,
                               "problems": ["in the store but no agent of the report"]})
            totals["duplicated"] += accepted
    return {
        "ok": not mismatches and totals["agents"] > 0 and totals["produced"] > 0,
        "agents_checked": totals["agents"],
        "agents_retired": totals["retired"],
        "store_rows": len(rows),
        "batches_produced": totals["produced"],
        "batches_acked": totals["acked"],
        "batches_stored": totals["stored"],
        "samples_produced": totals["samples_produced"],
        "samples_stored": totals["samples_stored"],
        "lost": totals["lost"],
        "duplicated": totals["duplicated"],
        "mismatch_count": len(mismatches),
        "mismatches": mismatches[:50],
    }


def log_summary(path, levels=("warning", "error", "critical")):
    """Counts of the aggregator log's lines per level, and its distinct warnings and errors (with
    numbers, addresses and ids blurred so that one kind of message counts once)."""
    counts = collections.Counter()
    kinds = collections.Counter()
    restored = []
    if not os.path.exists(path):
        return {}
    for line in open(path, errors="replace"):
        match = re.match(r"^\S+ (\w+)\s+\[([^\]]+)\] (.*)$", line.rstrip("\n"))
        if not match:
            continue
        level, component, message = match.groups()
        counts[level] += 1
        if "progress and" in message and "restored" in message:
            restored.append(message)
        if level in levels:
            blurred = re.sub(r"[0-9a-f]{16,}|\d+(\.\d+)?", "N", message)
            kinds[f"{level} [{component}] {blurred}"] += 1
    return {"lines_per_level": dict(counts),
            "warnings_and_errors": [{"count": n, "message": m} for m, n in kinds.most_common(20)],
            "restores": restored}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    bin_dir = os.path.join(ROOT, "build", "release", "bin")
    parser.add_argument("--aggregator", default=os.path.join(bin_dir, "fleetscale-aggregator"),
                        help="the aggregator binary")
    parser.add_argument("--loadgen", default=os.path.join(bin_dir, "fleetscale-loadgen"),
                        help="the load generator binary")
    parser.add_argument("--agents", type=int, default=1000, help="agents live at any time")
    parser.add_argument("--containers", type=int, default=20, help="per agent")
    parser.add_argument("--workloads", type=int, default=200, help="svc-N workloads")
    parser.add_argument("--interval", default="1s", help="agent tick")
    parser.add_argument("--duration", type=seconds, default="30m", help="the run (30m, 180s...)")
    parser.add_argument("--kill-every", type=seconds, default="5m",
                        help="SIGKILL and restart the aggregator this often (0: never)")
    parser.add_argument("--window", type=seconds, default=None,
                        help="figures per window of this length (default: --kill-every, or "
                             "--duration / 6 without kills)")
    parser.add_argument("--warmup-windows", type=int, default=1,
                        help="windows left out of the flatness figures")
    parser.add_argument("--sample-every", type=seconds, default="10s",
                        help="RSS, CPU and /metrics this often")
    parser.add_argument("--agent-lifetime", default="10m",
                        help="mean agent lifetime (exponential; 0s: no agent churn)")
    parser.add_argument("--container-churn", type=float, default=0.01,
                        help="share of an agent's containers replaced per tick")
    parser.add_argument("--job-share", type=float, default=0.2,
                        help="share of new containers that are one-off Jobs")
    parser.add_argument("--drain-timeout", default="60s",
                        help="longest wait for acks by a leaving agent and by all at the end")
    parser.add_argument("--loadgen-threads", type=int, default=1, help="its I/O threads")
    parser.add_argument("--aggregator-threads", type=int, default=2, help="its I/O threads")
    parser.add_argument("--forget-after", default="2m",
                        help="the aggregator's --forget-after ('' : its default, 10m)")
    parser.add_argument("--history-window", default="4m",
                        help="the aggregator's --history-window ('' : its default, 15m)")
    parser.add_argument("--log-level", default="info", help="the aggregator's")
    parser.add_argument("--aggregator-arg", action="append", default=[],
                        help="extra aggregator argument (repeat; e.g. --aggregator-arg=--tick=2s)")
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "release", "bench-results",
                                                      "soak.json"))
    parser.add_argument("--work-dir", help="state, logs and report here (default: a temporary "
                                           "directory, removed after a passing run)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--check-only", metavar="WORK_DIR",
                        help="only check exactly-once on a kept work directory's report and store")
    parser.add_argument("--fake-produced-offset", type=int, default=0,
                        help=argparse.SUPPRESS)  # self-test: the check must fail when set
    args = parser.parse_args()
    if args.check_only:
        report = json.load(open(os.path.join(args.check_only, "loadgen-report.json")))
        check = check_exactly_once(report, os.path.join(args.check_only, "state", "aggregator.db"))
        print(json.dumps({k: v for k, v in check.items() if k != "mismatches"}))
        for mismatch in check["mismatches"][:20]:
            print(f"  {mismatch['agent_id']}: {'; '.join(mismatch['problems'])}")
        return 0 if check["ok"] else 1
    window = args.window or (args.kill_every if args.kill_every > 0 else args.duration / 6)

    for binary in (args.aggregator, args.loadgen):
        if not os.access(binary, os.X_OK):
            sys.exit(f"soak: {binary} not found (build: cmake --preset release && cmake --build "
                     f"--preset release --target fleetscale-aggregator fleetscale-loadgen)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = args.work_dir or tempfile.mkdtemp(prefix="fleetscale-soak-")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "token"), "w") as token:
        token.write("soak-" + os.urandom(12).hex())
    os.chmod(os.path.join(work, "token"), 0o600)
    ingest_port, http_port = free_port(), free_port()
    # Retention shorter than the aggregator's defaults (forget silent nodes after 10m, hold 15m of
    # workload history) so that the fleet's state, departed nodes and one-off Jobs included,
    # reaches its steady size inside the first window instead of halfway through the run.
    retention = []
    if args.forget_after:
        retention += ["--forget-after", args.forget_after]
    if args.history_window:
        retention += ["--history-window", args.history_window]
    aggregator = Aggregator(args.aggregator, work, ingest_port, http_port,
                            args.aggregator_threads,
                            retention + ["--log-level", args.log_level] + args.aggregator_arg)
    report_path = os.path.join(work, "loadgen-report.json")
    loadgen_args = [args.loadgen, "--aggregator", f"127.0.0.1:{ingest_port}", "--token-file",
                    os.path.join(work, "token"), "--agents", str(args.agents), "--containers",
                    str(args.containers), "--workloads", str(args.workloads), "--interval",
                    args.interval, "--warmup", "0s",
                    # A backstop: the run ends with SIGTERM at --duration.
                    "--duration", f"{int(args.duration + 120)}s",
                    "--threads", str(args.loadgen_threads), "--agent-lifetime",
                    args.agent_lifetime, "--container-churn", str(args.container_churn),
                    "--job-share", str(args.job_share), "--drain-timeout", args.drain_timeout,
                    "--report-file", report_path]
    result = {
        "benchmark": "soak",
        "machine": machine(),
        "command": " ".join([sys.executable] + sys.argv),
        "settings": {
            "agents": args.agents, "containers_per_agent": args.containers,
            "workloads": args.workloads, "interval": args.interval,
            "agent_lifetime_mean": args.agent_lifetime,
            "container_churn_per_tick": args.container_churn, "job_share": args.job_share,
            "duration_s": args.duration, "kill_every_s": args.kill_every, "window_s": window,
            "warmup_windows": args.warmup_windows, "sample_every_s": args.sample_every,
            "aggregator_forget_after": args.forget_after or "default (10m)",
            "aggregator_history_window": args.history_window or "default (15m)",
            "aggregator_args": aggregator.args[1:], "loadgen_args": loadgen_args[1:],
        },
    }
    agg_samples, load_samples = Sampler(), Sampler()
    restarts = []
    loadgen = None
    status = 2
    try:
        startup = aggregator.start()
        print(f"soak: aggregator up in {startup:.2f} s; {args.agents} agents x {args.containers} "
              f"containers for {args.duration:.0f} s, "
              + (f"SIGKILL every {args.kill_every:.0f} s" if args.kill_every > 0 else "no kills")
              + f"; work dir {work}", flush=True)
        loadgen = subprocess.Popen(loadgen_args,
                                   stdout=open(os.path.join(work, "loadgen.out"), "w"),
                                   stderr=open(os.path.join(work, "loadgen.err"), "w"))
        t0 = time.monotonic()
        kills = []
        if args.kill_every > 0:
            k = args.kill_every
            while k < args.duration - 1:
                kills.append(k)
                k += args.kill_every
        next_sample = 0.0
        while True:
            now = time.monotonic() - t0
            if now >= args.duration:
                break
            if loadgen.poll() is not None:
                raise HarnessError(f"the load generator exited early ({loadgen.returncode}); "
                                   f"see {work}/loadgen.err")
            if kills and now >= kills[0]:
                kills.pop(0)
                # The incarnation's last figures, then SIGKILL, then at once a restart.
                before = agg_samples.sample(now, aggregator.pid, metrics_summary(scrape(http_port)))
                if before:
                    before["store_mib"] = store_mib(work)
                killed_at = time.monotonic()
                aggregator.kill()
                ready = aggregator.start()
                reconnect = None
                while time.monotonic() - killed_at < 120:
                    m = metrics_summary(scrape(http_port, timeout=2))
                    if m and (m["agents_connected"] or 0) >= 0.98 * args.agents:
                        reconnect = time.monotonic() - killed_at
                        break
                    time.sleep(0.25)
                restart = {"at_s": round(now, 1), "ready_after_s": round(ready, 2),
                           "agents_back_after_s": round(reconnect, 2) if reconnect else None,
                           "rss_mib_before_kill": round(before["rss_kib"] / 1024, 1)
                           if before else None}
                restarts.append(restart)
                print(f"soak: {now:7.1f} s  SIGKILL + restart: ready after {ready:.2f} s, "
                      f"98% of agents back after {restart['agents_back_after_s']} s", flush=True)
                continue
            if now >= next_sample:
                next_sample += args.sample_every
                m = metrics_summary(scrape(http_port))
                a = agg_samples.sample(now, aggregator.pid, m)
                if a:
                    a["store_mib"] = store_mib(work)
                lg = load_samples.sample(now, loadgen.pid)
                if a and lg:
                    print(f"soak: {now:7.1f} s  aggregator RSS {a['rss_kib'] / 1024:6.1f} MiB "
                          f"cpu {100 * a['cpu_delta_s'] / args.sample_every:5.1f}%  loadgen "
                          f"RSS {lg['rss_kib'] / 1024:6.1f} MiB cpu "
                          f"{100 * lg['cpu_delta_s'] / args.sample_every:5.1f}%  "
                          f"agents {m and m['agents_connected']} containers "
                          f"{m and m['containers']} series {m and m['series']} store "
                          f"{a['store_mib']} MiB", flush=True)
            time.sleep(min(0.2, max(0.0, min(next_sample, kills[0] if kills else 1e9,
                                             args.duration) - (time.monotonic() - t0))))
        end = time.monotonic() - t0
        last = agg_samples.sample(end, aggregator.pid, metrics_summary(scrape(http_port)))
        if last:
            last["store_mib"] = store_mib(work)
        load_samples.sample(end, loadgen.pid)
        # The end: the load generator drains and reports, then the aggregator stops gracefully.
        drain_started = time.monotonic()
        loadgen.send_signal(signal.SIGTERM)
        try:
            loadgen.wait(timeout=seconds(args.drain_timeout) + 60)
        except subprocess.TimeoutExpired:
            loadgen.kill()
            loadgen.wait()
            raise HarnessError("the load generator did not finish its drain")
        drain = time.monotonic() - drain_started
        final_metrics = metrics_summary(scrape(http_port))
        stop_status, stop_seconds = aggregator.stop()
        if not os.path.exists(report_path):
            raise HarnessError(f"no load generator report ({loadgen.returncode}); see "
                               f"{work}/loadgen.err")
        report = json.load(open(report_path))
        if args.fake_produced_offset:
            for agent in report["agents"][:3]:
                agent["produced"] += args.fake_produced_offset
        check = check_exactly_once(report, os.path.join(work, "state", "aggregator.db"))
        agg_windows = windows(agg_samples.samples, window, args.duration)
        load_windows = windows(load_samples.samples, window, args.duration)
        loadgen_totals = {k: v for k, v in report.items() if k != "agents"}
        result.update({
            "kills": len(restarts),
            "restarts": restarts,
            "aggregator_windows": agg_windows,
            "aggregator_after_warmup": flatness(agg_windows, args.warmup_windows),
            "loadgen_windows": load_windows,
            "loadgen_cpu_percent_mean": round(
                100 * sum(s["cpu_delta_s"] for s in load_samples.samples) / end, 1),
            "loadgen": loadgen_totals,
            "loadgen_exit": loadgen.returncode,
            "loadgen_drain_s": round(drain, 2),
            "aggregator_final_metrics": final_metrics,
            "aggregator_stop": {"status": stop_status, "seconds": round(stop_seconds, 2)},
            "aggregator_log": log_summary(aggregator.log_path),
            "loadgen_stderr_lines": sum(1 for _ in open(os.path.join(work, "loadgen.err"))),
            "exactly_once": check,
            "samples": {"aggregator": agg_samples.samples, "loadgen": load_samples.samples},
            "machine_loadavg_at_end": os.getloadavg(),
        })
        status = 0 if check["ok"] else 1
    except HarnessError as error:
        result["error"] = str(error)
        print(f"soak: harness failed: {error}", file=sys.stderr)
        status = 2
    finally:
        if loadgen is not None and loadgen.poll() is None:
            loadgen.kill()
            loadgen.wait()
        if aggregator.process is not None and aggregator.process.poll() is None:
            aggregator.process.kill()
            aggregator.process.wait()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as out:
        json.dump(result, out, indent=1)
    print_summary(result, args.out)
    if status == 0 and not args.keep and not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"soak: logs, store and report kept in {work}")
    return status


def print_summary(result, out):
    print("\n== soak summary")
    m = result["machine"]
    print(f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB, kernel {m['kernel']}, "
          f"commit {m['commit']}, load average at start {m['loadavg_at_start'][0]:.2f}")
    s = result["settings"]
    print(f"fleet: {s['agents']} agents x {s['containers_per_agent']} containers at "
          f"{s['interval']}, agent lifetime mean {s['agent_lifetime_mean']}, container churn "
          f"{s['container_churn_per_tick']}/tick ({s['job_share']} Jobs); "
          f"{s['duration_s']:.0f} s, kills: {result.get('kills', 0)}")
    if "error" in result:
        print(f"HARNESS ERROR: {result['error']}")
        return
    print(f"{'window':>6} {'from':>6} {'to':>6} {'agg CPU%':>9} {'agg RSS end':>12} "
          f"{'max':>8} {'loadgen CPU%':>13} {'nodes':>6} {'containers':>10} {'series':>7} "
          f"{'store MiB':>9}")
    for a, lg in zip(result["aggregator_windows"], result["loadgen_windows"]):
        if not a.get("samples"):
            continue
        em = a.get("end_metrics") or {}
        print(f"{a['window']:>6} {a['start_s']:>6.0f} {a['end_s']:>6.0f} {a['cpu_percent']:>9.1f} "
              f"{a['rss_end_mib']:>8.1f} MiB {a['rss_max_mib']:>8.1f} "
              f"{lg.get('cpu_percent', 0):>13.1f} {em.get('nodes') or 0:>6.0f} "
              f"{em.get('containers') or 0:>10.0f} {em.get('series') or 0:>7} "
              f"{a.get('store_end_mib', 0):>9}")
    print(f"after warm-up: {json.dumps(result['aggregator_after_warmup'])}")
    for r in result["restarts"]:
        print(f"restart at {r['at_s']:.0f} s: ready after {r['ready_after_s']} s, 98% of agents "
              f"back after {r['agents_back_after_s']} s")
    lg = result["loadgen"]
    print(f"loadgen: {lg['agents_started']} agent ids ({lg['agents_retired']} left during the "
          f"run), {lg['containers_replaced']} containers replaced ({lg['job_containers_started']}"
          f" Jobs), {lg['connects']} connects, drain {lg['drain_seconds']:.2f} s "
          f"({lg['drained_batches']} batches), ack regressions {lg['ack_regressions']}, "
          f"{lg['batches_resent']} batches sent again after a kill, "
          f"{lg['batches_acked_by_hello']} acked only by the hello-ack; "
          f"mean CPU {result['loadgen_cpu_percent_mean']}% of a core")
    log = result["aggregator_log"]
    print(f"aggregator log: {log.get('lines_per_level')}; stopped with "
          f"{result['aggregator_stop']}")
    for entry in log.get("warnings_and_errors", [])[:8]:
        print(f"  {entry['count']:>6} x {entry['message'][:150]}")
    c = result["exactly_once"]
    verdict = "PASS" if c["ok"] else "FAIL"
    print(f"exactly once: {verdict}: {c['agents_checked']} agent ids checked ({c['store_rows']} "
          f"store rows), {c['batches_produced']} batches produced, {c['batches_acked']} acked, "
          f"{c['batches_stored']} stored; lost {c['lost']}, duplicated {c['duplicated']}, "
          f"mismatches {c['mismatch_count']}")
    for mismatch in c["mismatches"][:10]:
        print(f"  {mismatch['agent_id']}: {'; '.join(mismatch['problems'])}")
    print(f"result: {out}")


if __name__ == "__main__":
    sys.exit(main())
