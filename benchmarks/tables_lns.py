"""CP-SAT large-neighbourhood steps against the assignment search, in the same time.

Usage: python benchmarks/tables_lns.py [--sizes 60,300] [--seconds 10] [--tables 3]
    [--step-limit 0.5] [--share 0.3] [--seed 0]

The instances of ``benchmarks/tables.py`` (3 rounds, no repeats, 3 countries per table).
Engines, each for ``--seconds`` from the greedy seating:

- ``search``: the assignment search alone (what ``solve`` runs);
- ``lns``: CP-SAT steps alone (``matcher/lab/planner_lns.py``: ``--tables`` tables of one
  round re-solved per step, at most ``--step-limit`` s each);
- ``search+lns``: the search for ``1 - share`` of the time, then CP-SAT steps on its plan
  (the steps polish a converged plan);
- ``search (time of search+lns)``: the search alone for ``1 - share`` of the time, to
  show what the CP-SAT steps added.

Prints the search objective (the plan's score; no rule is broken) and the CP-SAT steps
taken and kept.
"""

from __future__ import annotations

import argparse
import os
import time

from machine import describe
from tables import TABLE_SIZE, instance

from matcher.lab.planner_lns import cpsat_lns
from matcher.planner import MixTargets, Participant, PlanOptions, Problem, greedy_seating
from matcher.planner.search import improve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="60,300")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tables", type=int, default=3)
    parser.add_argument("--step-limit", type=float, default=0.5)
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    print(
        f"{args.seconds:g} s per engine; CP-SAT steps: {args.tables} tables of one round, "
        f"at most {args.step_limit:g} s each, 2 workers; search+lns: CP-SAT for the last "
        f"{args.share:.0%}"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        orgs, scores = instance(n, args.seed)
        options = PlanOptions(
            rounds=3, table_size=TABLE_SIZE.get(n, 8), mix=MixTargets(min_countries=3)
        )
        problem = Problem.build(
            [Participant(o) for o in orgs], options, organisations=orgs, scores=scores
        )
        start = greedy_seating(problem)
        print(f"{n} people, {problem.tables} tables, load average {os.getloadavg()[0]:.1f}")
        now = time.perf_counter()
        alone = improve(problem, start, steps=10**9, deadline=now + args.seconds, seed=args.seed)
        print(f"  search               {alone.value:9.2f}  steps {alone.steps}")
        now = time.perf_counter()
        lns = cpsat_lns(
            problem,
            start,
            deadline=now + args.seconds,
            tables=args.tables,
            step_limit=args.step_limit,
            seed=args.seed,
        )
        print(f"  lns {lns.value:26.2f}  CP-SAT steps {lns.steps}, kept {lns.improved}")
        now = time.perf_counter()
        first = now + args.seconds * (1 - args.share)
        part = improve(problem, start, steps=10**9, deadline=first, seed=args.seed)
        print(f"  search ({1 - args.share:.0%} time)    {part.value:9.2f}  steps {part.steps}")
        mixed = cpsat_lns(
            problem,
            part.seating,
            deadline=now + args.seconds,
            tables=args.tables,
            step_limit=args.step_limit,
            seed=args.seed,
        )
        print(
            f"  search+lns           {mixed.value:9.2f}  CP-SAT steps {mixed.steps}, "
            f"kept {mixed.improved}; load average {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
