"""The assignment search's settings side by side: the same instances, seeds and time.

Usage: python benchmarks/tables_search.py [--sizes 60,300] [--seeds 3] [--seconds 9.3]

Runs :func:`matcher.planner.search.improve` from the greedy seating on
``benchmarks/tables.py``'s synthetic instances (3 rounds, no repeats, at least 3
countries per table), with a deadline and no steps limit, for each setting and seed, one
after another (nothing else runs beside it). Settings:

- ``before``: the settings before this comparison (starting noise 3, cooling over 90 %
  of the time, every round the same noise);
- ``first round``: ``before`` with the first round's noise at 0.3 of the others';
- ``heat+cool``: starting noise 4, cooling over 95 %, every round the same noise;
- ``default``: the product's defaults (``HEAT``, ``COOL_SHARE``, ``FIRST_ROUND``).

(The first results file, ``tables-search-2026-12-05.txt``, also has ``default x2``: two
runs side by side, one thread each, the better kept. It was level with one run and left
the product, and this script with it, at the next commit.)

It prints each seed's objective, their mean and lowest, median steps and how each round's
pair scores split (in the first seed's plan).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
from machine import describe
from tables import TABLE_SIZE, instance

from matcher.planner import MixTargets, Participant, PlanOptions, Problem
from matcher.planner.search import COOL_SHARE, FIRST_ROUND, HEAT, greedy_seating, improve

SETTINGS: dict[str, dict[str, Any]] = {
    "before": {"heat": 3.0, "cool": 0.9, "first": 1.0},
    "first round": {"heat": 3.0, "cool": 0.9, "first": FIRST_ROUND},
    "heat+cool": {"heat": HEAT, "cool": COOL_SHARE, "first": 1.0},
    "default": {"heat": HEAT, "cool": COOL_SHARE, "first": FIRST_ROUND},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="60,300")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=9.3)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    args = parser.parse_args()
    print(f"machine: {describe()}")
    print(
        f"{args.seconds:g} s per run, seeds 0-{args.seeds - 1}, from the greedy seating; "
        f"defaults: heat {HEAT:g}, cool {COOL_SHARE:g}, first round {FIRST_ROUND:g}"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        orgs, scores = instance(n, 0)
        options = PlanOptions(
            rounds=3, table_size=TABLE_SIZE.get(n, 8), mix=MixTargets(min_countries=3)
        )
        problem = Problem.build(
            [Participant(o) for o in orgs], options, organisations=orgs, scores=scores
        )
        start = greedy_seating(problem)
        improve(problem, start, steps=100)  # load the compiled steps: not timed
        print(f"{n} people, {problem.tables} tables, load average {os.getloadavg()[0]:.1f}")
        for name in args.settings.split(","):
            values, steps, split = [], [], ""
            for seed in range(args.seeds):
                deadline = time.perf_counter() + args.seconds
                found = improve(
                    problem, start, steps=10**9, deadline=deadline, seed=seed, **SETTINGS[name]
                )
                values.append(found.value)
                steps.append(found.steps)
                if seed == 0:
                    same = [row[:, None] == row[None, :] for row in found.seating]
                    split = "/".join(f"{(problem.scores * s).sum() / 2:.0f}" for s in same)
            shown = " ".join(f"{v:9.2f}" for v in values)
            print(
                f"  {name:<11} {shown}  mean {np.mean(values):9.2f}  lowest {min(values):9.2f}"
                f"  steps {np.median(steps):>10,.0f}  rounds (seed 0) {split}"
            )


if __name__ == "__main__":
    main()
