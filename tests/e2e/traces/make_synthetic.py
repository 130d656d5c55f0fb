#!/usr/bin/env python3
"""Writes a synthetic load trace: weekly shape, noise and flash crowds, from a seed.

One value a minute (requests per second, in arbitrary units: the scenarios scale it into cores)
for `days` days starting on a Monday at 00:00:
  * daily shape: trough at 04:00, a morning peak at 11:00 and an evening peak at 20:00; weekends
    (days 5 and 6 of each week) at 60% of a weekday's level, their morning peak two hours later;
  * noise: a slow multiplicative random walk (AR(1) on the logarithm, about 6% standard
    deviation, half-life about 20 minutes) times fast per-minute noise (3%);
  * flash crowds: on average one a day at a random minute, rising to 2.5-5x the load in 1-4
    minutes, holding 5-20 minutes, then decaying exponentially (10-30 minute time constant).
The same seed always gives the same file (Python's random.Random is a Mersenne Twister whose
sequence is stable across versions). The header records the command that made the file.

Usage: python3 tests/e2e/traces/make_synthetic.py [--seed N] [--days N] [--out FILE]
"""
import argparse
import math
import os
import random

PEAK = 1000.0  # a weekday evening's level, before noise and crowds


def daily_shape(minute_of_day, weekend):
    hour = minute_of_day / 60.0
    morning = 13.0 if weekend else 11.0

    def bump(center, width, height):
        distance = min(abs(hour - center), 24 - abs(hour - center))
        return height * math.exp(-0.5 * (distance / width) ** 2)

    level = 0.22 + bump(morning, 2.5, 0.65) + bump(20.0, 2.2, 0.78) + bump(15.5, 3.0, 0.35)
    return level * (0.6 if weekend else 1.0)


def crowds(rng, days):
    out = []
    minute = 0
    while True:
        minute += int(rng.expovariate(1.0 / 1440.0))  # about one a day
        if minute >= days * 1440:
            return out
        out.append({
            "start": minute,
            "rise": rng.randint(1, 4),
            "hold": rng.randint(5, 20),
            "decay": rng.uniform(10, 30),
            "factor": rng.uniform(2.5, 5.0),
        })


def crowd_factor(minute, crowd):
    since = minute - crowd["start"]
    if since < 0:
        return 1.0
    extra = crowd["factor"] - 1.0
    if since < crowd["rise"]:
        return 1.0 + extra * (since + 1) / crowd["rise"]
    since -= crowd["rise"]
    if since < crowd["hold"]:
        return crowd["factor"]
    since -= crowd["hold"]
    return 1.0 + extra * math.exp(-since / crowd["decay"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=9)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    out = args.out or os.path.join(here, f"synthetic-week-seed{args.seed}-1min.csv")
    rng = random.Random(args.seed)
    bursts = crowds(rng, args.days)
    walk = 0.0
    # AR(1) on the log: walk' = a * walk + e, a = 2^(-1/20) (20 minute half-life), stationary
    # standard deviation 0.06.
    a = 2 ** (-1.0 / 20)
    step = 0.06 * math.sqrt(1 - a * a)
    with open(out, "w") as f:
        f.write(f"# synthetic: tests/e2e/traces/make_synthetic.py --seed {args.seed} --days "
                f"{args.days}; requests per second (arbitrary units) a minute from a Monday "
                f"00:00: weekly shape, noise, {len(bursts)} flash crowds at minutes "
                f"{', '.join(str(b['start']) for b in bursts)}; generated, no licence needed\n")
        for minute in range(args.days * 1440):
            day = minute // 1440
            weekend = day % 7 >= 5
            walk = a * walk + rng.gauss(0, step)
            fast = math.exp(rng.gauss(0, 0.03))
            value = PEAK * daily_shape(minute % 1440, weekend) * math.exp(walk) * fast
            for burst in bursts:
                value *= crowd_factor(minute, burst)
            f.write(f"{minute * 60},{value:.1f}\n")
    print(f"{out}: {args.days * 1440} points, {len(bursts)} flash crowds")


if __name__ == "__main__":
    main()
