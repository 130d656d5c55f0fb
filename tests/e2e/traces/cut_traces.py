#!/usr/bin/env python3
"""Cuts the shared real-world traces to the windows the week-long scenarios replay.

Reads ../shared/traces/<name>.csv (next to the repository; see its README.md for each trace's
source, meaning and licence), keeps `days` days from day `first`, shifts the times so the cut
starts at 0 s and writes tests/e2e/traces/<output>. The source's `# source:` line is copied first
(the attribution and licence travel with the data), then a `# cut:` line saying what was taken.
The values are not changed: the scenarios scale them into cores with their curves' `scale`.

Usage: python3 tests/e2e/traces/cut_traces.py [SHARED_TRACES_DIR]
"""
import os
import sys

# (source file, first day, days, output file, what the cut shows)
CUTS = [
    ("nasa_http_jul1995_1min.csv", 7, 9, "nasa-http-jul1995-9d-1min.csv",
     "1995-07-08 00:00 to 1995-07-17 00:00 EDT, Saturday to Sunday; the STS-70 launch on day 5"),
    ("wikipedia_en_jan2016_1h.csv", 3, 9, "wikipedia-en-jan2016-9d-1h.csv",
     "2016-01-04 00:00 to 2016-01-13 00:00 UTC, Monday to Tuesday"),
    ("azure_vm2019_total_cpu_5min.csv", 0, 9, "azure-vm2019-9d-5min.csv",
     "its low days are 1, 2 and 8"),
]


def cut(source_dir, target_dir, source, first, days, output, note):
    with open(os.path.join(source_dir, source)) as f:
        lines = f.read().splitlines()
    header = [line for line in lines if line.startswith("#")]
    start, end = first * 86400, (first + days) * 86400
    points = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        seconds, value = line.split(",")
        seconds = int(seconds)
        if start <= seconds < end:
            points.append((seconds - start, value))
    with open(os.path.join(target_dir, output), "w") as f:
        for line in header:
            f.write(line + "\n")
        f.write(f"# cut: days {first} to {first + days} of {source} ({note}), times shifted to "
                f"start at 0 s, values unchanged; made by tests/e2e/traces/cut_traces.py\n")
        for seconds, value in points:
            f.write(f"{seconds},{value}\n")
    print(f"{output}: {len(points)} points, {days} days")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "..", "..", "shared", "traces")
    source_dir = sys.argv[1] if len(sys.argv) > 1 else default
    for source, first, days, output, note in CUTS:
        cut(source_dir, here, source, first, days, output, note)


if __name__ == "__main__":
    main()
