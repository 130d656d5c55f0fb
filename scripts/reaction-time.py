#!/usr/bin/env python3
"""Pools the first-request delays of every load rise of every workload in fleetscale-sim reports.

The simulator's report gives each workload's median and 90th percentile; issue 14's bar is on the
fleet: the first scale request at most 1 s after a load step at the median and 2 s at the 99th
percentile. Nearest-rank percentiles, as the simulator computes them.

    scripts/reaction-time.py REPORT.json [REPORT.json ...] [--out SUMMARY.json]
"""
import argparse
import json
import math
import sys


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(path):
    with open(path) as f:
        report = json.load(f)
    delays, rises = [], 0
    for workload in report["workloads"]:
        for change in workload.get("load_changes", []):
            if change["direction"] != "up":
                continue
            rises += 1
            if change["first_request_seconds"] is not None:
                delays.append(change["first_request_seconds"])
    delays.sort()
    return {
        "report": path,
        "command": report.get("command"),
        "rises": rises,
        "answered": len(delays),
        "first_request_median_seconds": percentile(delays, 0.5),
        "first_request_p90_seconds": percentile(delays, 0.9),
        "first_request_p99_seconds": percentile(delays, 0.99),
        "first_request_max_seconds": delays[-1] if delays else None,
        "first_request_seconds": delays,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+")
    parser.add_argument("--out", help="write the summaries here as JSON")
    args = parser.parse_args()
    summaries = [summarize(path) for path in args.reports]

    def fmt(value):
        return "-" if value is None else f"{value:.2f} s"

    for s in summaries:
        print(f"{s['report']}: {s['rises']} rises, {s['answered']} answered; first request "
              f"median {fmt(s['first_request_median_seconds'])}, "
              f"p90 {fmt(s['first_request_p90_seconds'])}, "
              f"p99 {fmt(s['first_request_p99_seconds'])}, "
              f"max {fmt(s['first_request_max_seconds'])}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summaries, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
