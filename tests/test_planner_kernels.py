"""The search's compiled step (matcher/planner/kernels.py) against the NumPy formulation.

:func:`matcher.lab.planner_blocks.step_costs` recomputes a step's costs from the whole
seating; the product's search keeps sums between steps and updates them after each move.
On problems with every kind of term (themes, hosts, must-meet and must-not-meet pairs,
several people of one organisation, existing partners, both mix targets, uneven tables,
repeats allowed or not), after many noisy moves, both give the same costs, and the value
the search tracks equals the objective computed from scratch.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from matcher.domain.schema import Organisation
from matcher.domain.vocab import OrganisationKind
from matcher.lab.planner_blocks import Costs, step_costs
from matcher.planner import MixTargets, PairScores, Participant, PlanOptions, Problem, kernels
from matcher.planner.search import _Seats, improve, penalised, random_seating

KINDS = list(OrganisationKind)
COUNTRIES = ["DE", "FR", "IT", "ES", "PL", None]


def rich_problem(n: int, seed: int, no_repeat: bool, rounds: int = 3) -> Problem:
    """A problem with every term of the objective, on random scores."""
    rng = random.Random(seed)
    orgs = {
        f"O{i}": Organisation(
            id=f"O{i}",
            name=f"Organisation {i}",
            kind=KINDS[rng.randrange(len(KINDS))],
            country=rng.choice(COUNTRIES),
            keywords=[rng.choice(["textiles", "batteries", "food", "space"])],
        )
        for i in range(n)
    }
    ids = list(orgs)
    people = [Participant(ids[i]) for i in range(n)]
    people.append(Participant(ids[0], person="second"))  # two people of one organisation
    people[1] = Participant(ids[1], host_table=1)
    people[2] = Participant(ids[2], must_meet=(ids[3],), must_not_meet=(ids[4],))
    people[5] = Participant(ids[5], must_meet=(ids[6],))
    matrix = np.random.default_rng(seed).random((n, n))
    options = PlanOptions(
        rounds=rounds,
        table_size=5,
        themes={1: "textiles", 2: "space batteries"},
        mix=MixTargets(min_countries=3, research_and_industry=True),
        no_repeat=no_repeat,
        seed=seed,
    )
    partners = [(ids[7], ids[8]), (ids[9], ids[10])]
    return Problem.build(
        people,
        options,
        organisations=orgs,
        scores=PairScores(ids, (matrix + matrix.T) / 2),
        partners=partners,
    )


@pytest.mark.parametrize("no_repeat", [True, False])
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.sampled_from([16, 17, 21, 22, 27, 31]))
def test_the_kept_sums_give_the_recomputed_costs_after_many_moves(
    no_repeat: bool, seed: int, n: int
) -> None:
    problem = rich_problem(n, seed, no_repeat)
    assert problem.must_meet and problem.must_not_meet and problem.hosts and problem.partners
    assert problem.theme_affinity.any() and len(set(problem.sizes)) == 2  # uneven tables
    seats = _Seats(problem, random_seating(problem, seed))
    reference = Costs(problem)
    rng = np.random.default_rng(seed)
    value = penalised(problem, seats.seating)
    for _ in range(60):
        r = int(rng.integers(problem.rounds))
        k = len(seats.tabs[r])
        tabs, pick, cost = seats.costs(r, rng.random(k))
        blocks = seats.members[r][tabs, pick][:, None]
        assert not np.isin(blocks, np.flatnonzero(problem.fixed[r] >= 0)).any()  # hosts stay
        expected = step_costs(problem, reference, seats.seating, r, blocks, tabs)
        np.testing.assert_allclose(cost, expected, rtol=0, atol=1e-6)
        _, cols = linear_sum_assignment(cost + 2.0 * rng.standard_normal(cost.shape))
        value += float(np.trace(cost) - cost[np.arange(k), cols].sum())
        seats.move(r, tabs, pick, cols)
        assert value == pytest.approx(penalised(problem, seats.seating), abs=1e-6)
    sizes = [np.bincount(row, minlength=problem.tables).tolist() for row in seats.seating]
    assert all(sorted(s) == sorted(problem.sizes) for s in sizes)  # tables keep their sizes


def test_the_search_never_ends_below_its_start_and_keeps_the_hosts() -> None:
    problem = rich_problem(30, 3, no_repeat=True)
    start = random_seating(problem, 1)
    result = improve(problem, start, steps=3_000, seed=2)
    assert result.value == pytest.approx(penalised(problem, result.seating))
    assert result.value > penalised(problem, start)
    assert problem.evaluate(result.seating).broken == []
    fixed = problem.fixed >= 0
    assert np.array_equal(result.seating[fixed], problem.fixed[fixed])


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 24),
    seed=st.integers(0, 2**32 - 1),
    ties=st.booleans(),
)
def test_the_compiled_assignment_is_optimal_like_scipys(n: int, seed: int, ties: bool) -> None:
    cost = np.random.default_rng(seed).normal(size=(n, n))
    if ties:  # few distinct values: many optimal assignments
        cost = np.round(cost)
    cols = np.empty(n, np.int64)
    kernels.assign(cost, cols, np.empty((3, n)), np.empty((5, n), np.int64))
    assert sorted(cols.tolist()) == list(range(n))  # a permutation
    _, best = linear_sum_assignment(cost)
    rows = np.arange(n)
    assert cost[rows, cols].sum() == pytest.approx(cost[rows, best].sum(), abs=1e-9)


def test_the_compiled_search_is_deterministic_per_seed() -> None:
    problem = rich_problem(27, 5, no_repeat=True)
    start = random_seating(problem, 3)
    once = improve(problem, start, steps=2_000, seed=4)
    again = improve(problem, start, steps=2_000, seed=4)
    other = improve(problem, start, steps=2_000, seed=5)
    assert np.array_equal(once.seating, again.seating) and once.value == again.value
    assert not np.array_equal(once.seating, other.seating)  # the seed is used
    assert once.steps == 2_000 and not once.stopped_early
    assert once.value == pytest.approx(penalised(problem, once.seating))


def test_the_first_rounds_noise_is_scaled_by_first_when_there_are_several() -> None:
    problem = rich_problem(27, 6, no_repeat=True, rounds=1)  # one round: full noise
    start = random_seating(problem, 1)
    cold = improve(problem, start, steps=2_000, seed=2, heat=0.0)
    kept = improve(problem, start, steps=2_000, seed=2, heat=5.0, first=0.0)
    noisy = improve(problem, start, steps=2_000, seed=2, heat=5.0, first=1.0)
    assert np.array_equal(kept.seating, noisy.seating) and kept.value == noisy.value
    assert not np.array_equal(noisy.seating, cold.seating)
    problem = rich_problem(27, 6, no_repeat=True, rounds=3)
    start = random_seating(problem, 1)
    settled = improve(problem, start, steps=2_000, seed=2, heat=5.0, first=0.0)
    noisy = improve(problem, start, steps=2_000, seed=2, heat=5.0, first=1.0)
    assert not np.array_equal(settled.seating, noisy.seating)
