"""Table planner: time to plan and objective against random, greedy and a 30× longer run.

Usage: python benchmarks/tables.py [--sizes 60,150,300] [--seed 0]

Pair scores are synthetic, not the demo's: each organisation gets a profile vector drawn
around one of 14 ecosystem centres (30 % of them around a second centre too), and a pair's
score is a logistic function of the cosine, shaped like the ranker's reciprocal scores
(most pairs near 0.05, pairs in one ecosystem 0.3–0.9). Countries and kinds are drawn at
random. Tables: 6 people for 60 participants, 8 for 150, 10 for 300; 3 rounds; a target of
3 countries per table.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
from machine import describe

from matcher.domain.schema import Organisation
from matcher.domain.vocab import OrganisationKind
from matcher.planner.tables import (
    MixTargets,
    PairScores,
    Participant,
    PlanOptions,
    Problem,
    greedy_seating,
    random_seating,
    solve,
    upper_bound,
)

TABLE_SIZE = {60: 6, 150: 8, 300: 10}
COUNTRIES = ["DE", "FR", "IT", "ES", "PL", "NL", "PT", "FI", "AT", "BE", "SE", "CZ"]


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
    parser.add_argument("--sizes", default="60,150,300")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    print("scores: synthetic clustered profiles (see the script's docstring); 3 rounds")
    header = (
        f"{'people':>6} {'tables':>9} {'time s':>7} {'plan':>9} {'random':>9} {'greedy':>9} "
        f"{'30x run':>9} {'30x s':>6} {'bound':>9} {'plan/30x':>8} {'plan/bound':>10}"
    )
    print(header)
    for n in (int(s) for s in args.sizes.split(",")):
        size = TABLE_SIZE.get(n, 8)
        orgs, scores = instance(n, args.seed)
        options = PlanOptions(
            rounds=3, table_size=size, seed=args.seed, mix=MixTargets(min_countries=3)
        )
        problem = Problem.build(
            [Participant(o) for o in orgs], options, organisations=orgs, scores=scores
        )
        started = time.perf_counter()
        plan = solve(problem)
        seconds = time.perf_counter() - started
        randomly = [problem.evaluate(random_seating(problem, s)) for s in range(10)]
        random_score = float(np.mean([e.score for e in randomly]))
        random_broken = float(np.mean([len(e.broken) for e in randomly]))
        greedy = problem.evaluate(greedy_seating(problem))
        long_options = dataclasses.replace(options, effort=30.0, time_limit=3600.0)
        started = time.perf_counter()
        reference = solve(problem, long_options)
        long_seconds = time.perf_counter() - started
        bound = upper_bound(problem)
        layout = f"{problem.tables}×{min(problem.sizes)}-{max(problem.sizes)}"
        print(
            f"{n:>6} {layout:>9} {seconds:>7.2f} {plan.score:>9.2f} {random_score:>9.2f} "
            f"{greedy.score:>9.2f} {reference.score:>9.2f} {long_seconds:>6.0f} {bound:>9.2f} "
            f"{plan.score / reference.score:>8.3f} {plan.score / bound:>10.3f}"
        )
        print(
            f"       random seatings break {random_broken:.0f} hard rules on average, the "
            f"greedy one {len(greedy.broken)}; plan and 30x run break none; "
            f"plan stopped early: {plan.stats.stopped_early if plan.stats else '?'}"
        )
    print("exact search: only up to 12 people (tests/test_tables.py compares it there)")


if __name__ == "__main__":
    main()
