"""Block sizes of the assignment search at equal steps (deterministic, load-independent).

Usage: python benchmarks/tables_blocks.py [--size 300] [--steps 35000] [--seeds 0,1]
    [--blocks "1;1,2;1,2,3"]

The instance of ``benchmarks/tables.py`` for ``--size`` people (3 rounds, no repeats, 3
countries per table), the greedy start, then
:func:`matcher.lab.planner_blocks.improve_blocks` (the search before its steps were
compiled, with blocks of several people per table) for
``--steps`` steps (no deadline, so the result depends only on the seed) with each set of
block sizes (``planner_blocks.BLOCKS``; one size drawn per step). 35,000 steps is about what the
10-second plan takes at 300 people on a lightly loaded 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import time

from machine import describe
from tables import TABLE_SIZE, instance

from matcher.lab import planner_blocks
from matcher.planner import MixTargets, Participant, PlanOptions, Problem, greedy_seating


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--steps", type=int, default=35_000)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--blocks", default="1;1,2;1,2,3")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    orgs, scores = instance(args.size, 0)
    options = PlanOptions(
        rounds=3, table_size=TABLE_SIZE.get(args.size, 8), mix=MixTargets(min_countries=3)
    )
    problem = Problem.build(
        [Participant(o) for o in orgs], options, organisations=orgs, scores=scores
    )
    start = greedy_seating(problem)
    seeds = [int(s) for s in args.seeds.split(",")]
    heat = planner_blocks.HEAT
    print(f"{args.size} people, {args.steps} steps, seeds {args.seeds}, heat {heat:g}")
    for choice in args.blocks.split(";"):
        planner_blocks.BLOCKS = tuple(int(m) for m in choice.split(","))
        values = []
        for seed in seeds:
            began = time.perf_counter()
            result = planner_blocks.improve_blocks(problem, start, steps=args.steps, seed=seed)
            values.append(result.value)
            print(
                f"  blocks {choice:>7}  seed {seed}  {result.value:9.2f}  "
                f"{time.perf_counter() - began:5.1f} s  load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        print(f"  blocks {choice:>7}  mean {sum(values) / len(values):9.2f}")


if __name__ == "__main__":
    main()
