#!/usr/bin/env python3
"""Runs week-long trace scenarios in virtual time under each right-sizing baseline.

    scripts/rightsizing-week.py [--sim build/release/bin/fleetscale-sim] [--out DIR] [--jobs N]
                                [--horizontal as-written|average-value] [--extra ARG ...]
                                [--baselines original,vpa,fleetscale] SCENARIO...

Baselines (docs/simulator.md, "Right-sizing in virtual time"): original (the scenario's
requests), vpa (VPA's defaults, applied by eviction), fleetscale (ours, in place). --extra
passes an argument on to every run (e.g. --extra=--oom-on-shared-memory: a replica whose share of
the memory passes its limit is killed, not capped).

--horizontal average-value runs each scenario with every CPU utilization target turned into the
same absolute per-replica target (an AverageValue of target% x the CPU request, what GKE advises
before a vertical autoscaler may move CPU requests: docs/rightsizing.md, "Horizontal and vertical
together"); the scaling is the same, and right-sizing may then control CPU as well as memory. The
rewritten scenario is written to DIR/<scenario>-average-value.yaml. Each run's "rightsizing" section (and the scaling figures, without time
series) goes to DIR/<scenario>-<baseline>.json; a table goes to DIR/table.md and stdout.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import tempfile

import yaml

BASELINES = ["original", "vpa", "fleetscale"]


def cores(quantity):
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def with_average_value_targets(scenario, out_dir):
    """Writes a copy of `scenario` whose CPU utilization targets are absolute (AverageValue)."""
    with open(scenario) as f:
        spec = yaml.safe_load(f)
    base = os.path.dirname(os.path.abspath(scenario))
    for workload in spec.get("workloads", []):
        for curve in (workload.get("load") or {}).values():
            if isinstance(curve, dict) and "file" in curve:
                trace = os.path.join(base, curve["file"])
                curve["file"] = os.path.relpath(trace, os.path.abspath(out_dir))
        autoscale = workload.get("autoscale") or {}
        if "cpu-utilization" not in autoscale:
            continue
        percent = autoscale.pop("cpu-utilization")
        request = cores(workload["resources"]["requests"]["cpu"])
        target = {"type": "AverageValue", "averageValue": f"{round(percent * request * 10)}m"}
        autoscale["metrics"] = ([{"type": "Resource", "resource": {"name": "cpu", "target": target}}]
                                + autoscale.get("metrics", []))
    name = os.path.splitext(os.path.basename(scenario))[0]
    path = os.path.join(out_dir, f"{name}-average-value.yaml")
    with open(path, "w") as f:
        f.write(f"# {scenario} with absolute CPU targets (scripts/rightsizing-week.py --horizontal "
                "average-value)\n")
        yaml.safe_dump(spec, f, sort_keys=False)
    return path


def run(sim, scenario, baseline, out_dir, extra):
    name = os.path.splitext(os.path.basename(scenario))[0]
    with tempfile.NamedTemporaryFile(suffix=".json") as report_file:
        command = [sim, "run", scenario, "--virtual-time", "--rightsizing-baseline", baseline,
                   "--report-series-interval", "1h"] + extra
        subprocess.run(command + ["--report-json", report_file.name], check=True,
                       stdout=subprocess.DEVNULL)
        report = json.load(open(report_file.name))
    summary = {
        "command": " ".join(command + ["--report-json", "FILE"]),
        "duration_seconds": report.get("duration_seconds"),
        "cost": report.get("cost"),
        "rightsizing": report["rightsizing"],
        "workloads": [{k: v for k, v in w.items() if k not in ("series", "load_changes")}
                      for w in report["workloads"]],
    }
    with open(os.path.join(out_dir, f"{name}-{baseline}.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return name, baseline, summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim", default="build/release/bin/fleetscale-sim")
    parser.add_argument("--out", default="rightsizing-week")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--extra", action="append", default=[])
    parser.add_argument("--horizontal", choices=["as-written", "average-value"],
                        default="as-written")
    parser.add_argument("--baselines", default=",".join(BASELINES),
                        help="comma-separated, of " + ", ".join(BASELINES))
    parser.add_argument("scenarios", nargs="+")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.horizontal == "average-value":
        args.scenarios = [with_average_value_targets(s, args.out) for s in args.scenarios]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run, args.sim, s, b, args.out, args.extra)
                   for s in args.scenarios for b in args.baselines.split(",")]
        results = [f.result() for f in futures]
    lines = ["| scenario | baseline | CPU slack | memory slack | OOM kills | repeated kills | "
             "restarts | resizes | evictions | looping at end | days | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, baseline, s in results:
        r = s["rightsizing"]
        lines.append(
            f"| {name} | {baseline} | {100 * r['cpu_slack_mean']:.1f}% | "
            f"{100 * r['memory_slack_mean']:.1f}% | {r['oom_kills']} | "
            f"{r.get('oom_kills_repeated', '-')} | {r['restarts']} | "
            f"{r['resizes']} | {r['evictions']} | {r['crash_looping_at_end']} | "
            f"{s['duration_seconds'] / 86400:.1f} | {s['cost']['wall_seconds']:.0f} |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
