#!/usr/bin/env python3
"""Runs week-long trace scenarios in virtual time under each scaling mode and keeps the figures.

    scripts/week-comparison.py [--sim build/release/bin/fleetscale-sim] [--out DIR] SCENARIO...

Modes (docs/benchmarks.md, "Predictive scaling over a week"):
  hpa          --baseline hpa: Kubernetes' HPA with its defaults (15 s metrics, 15 s sync)
  reactive     the aggregator's pipeline, HPA rules on 1 s data, CPU usage (--demand usage)
  demand       as reactive, throttling-aware CPU demand
  predictive   as demand, plus predictive scaling on (--predictive on)
  predictive-1m  as predictive, with the downscale stabilization shortened to 1 minute once the
               forecast floors the decision (predictive.downscaleStabilization; off by default)

Each run's report without its time series and its list of scale actions goes to
DIR/<scenario>-<mode>.json (they make a week's report some 50 MB); a table of the figures is
printed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

MODES = {
    "hpa": ["--baseline", "hpa"],
    "reactive": ["--demand", "usage", "--predictive", "off"],
    "demand": ["--demand", "throttling-aware", "--predictive", "off"],
    "predictive": ["--demand", "throttling-aware", "--predictive", "on"],
    "predictive-1m": ["--demand", "throttling-aware", "--predictive", "on",
                      "--predictive-downscale-stabilization", "1m"],
}


def summarize(report):
    out = {k: v for k, v in report.items() if k not in ("workloads", "scale_actions")}
    out["scale_actions_total"] = len(report.get("scale_actions", []))
    out["workloads"] = []
    for w in report["workloads"]:
        kept = {k: v for k, v in w.items() if k not in ("series", "load_changes")}
        out["workloads"].append(kept)
    return out


def run(sim, scenario, mode, out_dir):
    name = os.path.splitext(os.path.basename(scenario))[0]
    command = [sim, "run", scenario, "--virtual-time"] + MODES[mode]
    with tempfile.NamedTemporaryFile(suffix=".json") as report_file:
        subprocess.run(command + ["--report-json", report_file.name], check=True,
                       stdout=subprocess.DEVNULL)
        report = json.load(open(report_file.name))
    summary = summarize(report)
    summary["command"] = " ".join(command + ["--report-json", "FILE"])
    with open(os.path.join(out_dir, f"{name}-{mode}.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim", default="build/release/bin/fleetscale-sim")
    parser.add_argument("--out", default="docs/results/week-comparison")
    parser.add_argument("--modes", default="hpa,reactive,demand,predictive",
                        help="comma-separated, of: " + ", ".join(MODES))
    parser.add_argument("scenarios", nargs="+")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    print("| scenario | mode | under-provisioned | shortfall core-s | slack | clairvoyant slack | "
          "same, keeping the scale-down window | scale actions | wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for scenario in args.scenarios:
        for mode in args.modes.split(","):
            s = run(args.sim, scenario, mode, args.out)
            ws = s["workloads"]
            seconds = s["duration_seconds"] * len(ws)
            under = sum(w["under_provisioned_seconds"] for w in ws) / seconds
            shortfall = sum(w["shortfall_core_seconds"] for w in ws)
            # Fleet slack: unused ready capacity over ready capacity, time-weighted, all workloads.
            slack = sum(w["slack_core_seconds"] for w in ws) / max(
                1e-9, sum(w["ready_capacity_mean_cores"] for w in ws) * s["duration_seconds"])
            # The least slack a scaler that keeps the replica bounds and covers demand at every
            # instant could have, without and with the scale-down window (measurements.h); the
            # same in every mode.
            def yardstick(key):
                figures = [w[key] for w in ws if w.get(key)]
                return sum(f["slack_core_seconds"] for f in figures) / max(
                    1e-9, sum(f["capacity_core_seconds"] for f in figures))
            clairvoyant = yardstick("clairvoyant")
            windowed = yardstick("clairvoyant_windowed")
            actions = sum(w["scale_actions"] for w in ws)
            print(f"| {os.path.basename(scenario)} | {mode} | {under:.1%} | {shortfall:.0f} | "
                  f"{slack:.1%} | {clairvoyant:.1%} | {windowed:.1%} | {actions} | "
                  f"{s['cost']['wall_seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
