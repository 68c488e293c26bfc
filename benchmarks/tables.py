"""Table planner: time, the plan beside a 30x longer run and the bound, random and greedy.

Usage: python benchmarks/tables.py [--sizes 24,60,150,300,1000] [--factor 30] [--seed 0]

Pair scores are synthetic (the same generator as the v1 benchmark, so the instances are
the same): each organisation gets a profile vector drawn around one of 14 ecosystem
centres (30 % of them around a second centre too), and a pair's score is a logistic
function of the cosine, shaped like the ranker's reciprocal scores (most pairs near
0.05, pairs in one ecosystem 0.3-0.9). Countries and kinds are random. Tables: 4 people
for 24 participants, 6 for 60, 8 for 150, 10 for 300 and 1,000; 3 rounds, no repeats, a
target of 3 countries per table.

The search's compiled steps (numba) are loaded once before the first timed plan, as in a
running service (a cold process pays numba's import and, without its disk cache, the
compilation once). The plan runs with the default time limit (10 s up to 300
people, 60 s at 1,000); the reference with ``--factor`` times the time limit (the search
runs until its deadline).
CP-SAT runs with 2 workers (``PlanOptions.workers``) and only where the whole model fits (24 people
here); elsewhere the bound is the b-matching bound (``matcher/planner/bounds.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np
from machine import describe

from matcher.domain.schema import Organisation
from matcher.domain.vocab import OrganisationKind
from matcher.planner import (
    MixTargets,
    PairScores,
    Participant,
    PlanOptions,
    Problem,
    greedy_seating,
    random_seating,
    solve,
)
from matcher.planner.search import improve

TABLE_SIZE = {24: 4, 60: 6, 150: 8, 300: 10, 1000: 10}
COUNTRIES = ["DE", "FR", "IT", "ES", "PL", "NL", "PT", "FI", "AT", "BE", "SE", "CZ"]
V1 = {60: (93.49, 97.58, 126.72), 150: (437.23, 447.94, 728.48), 300: (1257.81, 1328.82, 2443.77)}
"""v1 (annealing) on the same instances: plan, its 30x run, its bound (results 2026-11-25)."""


def instance(n: int, seed: int) -> tuple[dict[str, Organisation], PairScores]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(14, 32))
    topic = rng.integers(0, 14, n)
    second = np.where(rng.random(n) < 0.3, rng.integers(0, 14, n), topic)
    vectors = centres[topic] + 0.5 * centres[second] + 0.9 * rng.normal(size=(n, 32))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = vectors @ vectors.T
    scores = 1 / (1 + np.exp(-7 * (cosine - 0.55)))
    kinds = list(OrganisationKind)
    orgs = {
        f"O{i}": Organisation(
            id=f"O{i}",
            name=f"Organisation {i}",
            kind=kinds[int(rng.integers(0, len(kinds)))],
            country=COUNTRIES[int(rng.integers(0, len(COUNTRIES)))],
        )
        for i in range(n)
    }
    return orgs, PairScores(list(orgs), scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="24,60,150,300,1000")
    parser.add_argument("--factor", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    print(f"scores: synthetic clustered profiles (see the script's docstring); 3 rounds; "
          f"reference = {args.factor:g}x the time")  # fmt: skip
    header = (
        f"{'people':>6} {'tables':>9} {'time s':>7} {'plan':>9} {'ref':>9} {'ref s':>6} "
        f"{'bound':>9} {'source':>10} {'plan/ref':>8} {'gap':>6} {'random':>8} {'greedy':>8}"
    )
    print(header)
    warm_orgs, warm_scores = instance(24, args.seed)  # load the compiled steps: not timed
    warm = Problem.build(
        [Participant(o) for o in warm_orgs],
        PlanOptions(rounds=2, table_size=4),
        organisations=warm_orgs,
        scores=warm_scores,
    )
    improve(warm, greedy_seating(warm), steps=10)
    for n in (int(s) for s in args.sizes.split(",")):
        orgs, scores = instance(n, args.seed)
        options = PlanOptions(
            rounds=3,
            table_size=TABLE_SIZE.get(n, 8),
            seed=args.seed,
            mix=MixTargets(min_countries=3),
        )
        problem = Problem.build(
            [Participant(o) for o in orgs], options, organisations=orgs, scores=scores
        )
        load = os.getloadavg()[0]
        started = time.perf_counter()
        plan = solve(problem)
        seconds = time.perf_counter() - started
        limit = options.seconds(n)
        longer = dataclasses.replace(options, time_limit=limit * args.factor)
        started = time.perf_counter()
        reference = solve(problem, longer)
        ref_seconds = time.perf_counter() - started
        randomly = [problem.evaluate(random_seating(problem, s)) for s in range(10)]
        random_score = float(np.mean([e.score for e in randomly]))
        greedy = problem.evaluate(greedy_seating(problem))
        stats = plan.stats
        assert stats is not None and stats.bound is not None
        bound = min(
            stats.bound,
            reference.stats.bound if reference.stats and reference.stats.bound else stats.bound,
        )
        layout = f"{problem.tables}×{min(problem.sizes)}-{max(problem.sizes)}"
        print(
            f"{n:>6} {layout:>9} {seconds:>7.2f} {plan.score:>9.2f} {reference.score:>9.2f} "
            f"{ref_seconds:>6.0f} {bound:>9.2f} {stats.bound_source:>10} "
            f"{plan.score / reference.score:>8.3f} {(bound - plan.score) / bound:>6.1%} "
            f"{random_score:>8.2f} {greedy.score:>8.2f}"
        )
        print(
            f"       limit {limit:g} s, engines {'+'.join(stats.engines)}, status {stats.status}, "
            f"steps {stats.steps}; broken rules: plan {len(plan.evaluation.broken)}, reference "
            f"{len(reference.evaluation.broken)}, greedy {len(greedy.broken)}, random "
            f"{np.mean([len(e.broken) for e in randomly]):.0f}; load average at start {load:.1f}"
        )
        if n in V1:
            old, old_ref, old_bound = V1[n]
            print(
                f"       v1 (annealing, 2026-11-25): plan {old:.2f} ({plan.score / old - 1:+.1%} "
                f"now), its 30x run {old_ref:.2f}, its bound {old_bound:.2f}"
            )


if __name__ == "__main__":
    main()
