"""The CP-SAT neighbourhood steps (``matcher/lab/planner_lns.py``): exact on what they free."""

from __future__ import annotations

import time

import pytest
from test_tables import problem_of, random_scores

from matcher.lab.planner_lns import cpsat_lns
from matcher.planner import MixTargets, PlanOptions, greedy_seating, solve
from matcher.planner.search import improve, penalised


@pytest.mark.parametrize("seed", [1, 2])
def test_freeing_every_table_of_one_round_finds_the_optimum(seed: int) -> None:
    options = PlanOptions(
        rounds=1, tables=3, seed=seed, time_limit=30, mix=MixTargets(min_countries=3)
    )
    problem = problem_of(random_scores(12, seed), options)
    optimal = solve(problem)
    assert optimal.stats is not None and optimal.stats.status == "optimal"
    found = cpsat_lns(
        problem,
        greedy_seating(problem),
        deadline=time.perf_counter() + 5,
        tables=3,
        step_limit=5,
    )
    assert found.value == pytest.approx(optimal.score, abs=1e-6)


def test_steps_keep_the_rules_and_never_lose() -> None:
    options = PlanOptions(rounds=3, table_size=5, seed=0, mix=MixTargets(min_countries=3))
    problem = problem_of(random_scores(30, 4), options)
    start = improve(problem, greedy_seating(problem), steps=300, seed=0)
    assert problem.evaluate(start.seating).broken == []
    found = cpsat_lns(
        problem, start.seating, deadline=time.perf_counter() + 3, tables=3, step_limit=0.3
    )
    assert found.steps > 0
    assert found.value >= start.value - 1e-9
    assert found.value == pytest.approx(penalised(problem, found.seating))
    assert problem.evaluate(found.seating).broken == []
