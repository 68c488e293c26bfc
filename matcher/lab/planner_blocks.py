"""The assignment search with blocks of several people per table (the search before 2026-12-04).

Each step takes one round, removes a block of ``m`` movable people (``m`` from
:data:`BLOCKS`) from every table and puts the blocks back, one per table, by a linear
assignment over costs recomputed from the whole seating (:func:`step_costs`). The
product's search (:mod:`matcher.planner.search`) moves one person per table and keeps
the per-table sums between steps instead, which makes its steps several times cheaper;
it was measured better at equal steps with one person than with blocks of 1-3
(``benchmarks/tables_blocks.py``). This module stays in the lab as that benchmark's
engine and as the reference the fast step costs are tested against.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from threadpoolctl import threadpool_limits

from matcher.planner.search import (
    HARD,
    SearchResult,
    noise_scale,
    penalised,
    steps_for,
    table_members,
)

if TYPE_CHECKING:
    from matcher.planner.problem import Problem, Seating

__all__ = ["BLOCKS", "COHERENT", "COOL_SHARE", "HEAT", "improve_blocks", "step_costs"]

HEAT = 3.0
"""Starting noise (units of the pairs' 90th percentile): the product's until 2026-12-05."""

COOL_SHARE = 0.9
"""Share of the steps over which the noise falls to zero (as HEAT, the old value)."""

BLOCKS: tuple[int, ...] = (1,)
"""Block sizes moved in one step (one size drawn per step)."""

COHERENT = 0.5
"""Share of the steps whose blocks are a random person and its best tablemates."""


class Costs:
    """What the assignment costs need and does not change during the search."""

    def __init__(self, problem: Problem) -> None:
        n = problem.size
        self.value = problem.scores - problem.repeat_weight * problem.partner_mask()
        self.conflict = problem.conflicts()
        self.must = np.zeros((n, n), np.bool_)
        for a, b in problem.must_meet:
            self.must[a, b] = self.must[b, a] = True
        codes = np.array(problem.country_code)
        width = int(codes.max(initial=-1)) + 2  # the last column: no country
        self.country = np.eye(width)[np.where(codes >= 0, codes, width - 1)][:, : width - 1]
        self.research = np.array(problem.research, np.float64)
        self.industry = np.array(problem.industry, np.float64)
        self.affinity = problem.theme_affinity * problem.theme_weight
        mix = problem.options.mix
        self.min_countries = mix.min_countries
        self.both = mix.research_and_industry
        self.mix_weight = problem.mix_weight
        self.no_repeat = problem.options.no_repeat
        self.repeat_weight = problem.repeat_weight
        self.penalty = HARD if self.no_repeat else problem.repeat_weight
        """What a pair that met in another round loses: a broken rule, or a repeat."""
        self.base = self.value - HARD * self.conflict  # the static part of a pair's worth
        self.musts = bool(problem.must_meet)
        self.themed = bool(self.affinity.any())


def step_costs(
    problem: Problem,
    c: Costs,
    seating: Seating,
    r: int,
    blocks: npt.NDArray[np.int64],
    tabs: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """(blocks, tables) costs: minus the objective's change of block ``a`` at table ``t``."""
    n = problem.size
    seat = seating[r]
    moving = blocks.ravel()
    every = len(tabs) == problem.tables  # most steps: then no column is picked out
    keep = np.ones(n, np.bool_)
    keep[moving] = False
    kept = np.flatnonzero(keep)
    onehot = np.zeros((n, problem.tables))
    onehot[kept, seat[kept]] = 1.0
    others = [s[moving][:, None] == s[None, :] for i, s in enumerate(seating) if i != r]
    met = others[0] if others else np.zeros((len(moving), n), np.bool_)
    for more in others[1:]:
        met |= more
    gain = c.base[moving]
    np.subtract(gain, c.penalty, out=gain, where=met)
    if c.musts:
        np.add(gain, HARD, out=gain, where=c.must[moving] & ~met)
    members = onehot if every else onehot[:, tabs]
    per_person = gain @ members
    if c.themed:
        per_person += c.affinity[moving] if every else c.affinity[moving][:, tabs]
    k, m = blocks.shape
    cost: npt.NDArray[np.float64] = -per_person.reshape(k, m, len(tabs)).sum(axis=1)
    if c.min_countries or c.both:
        short = np.zeros((k, len(tabs)))
        if c.min_countries:
            present = (c.country.T @ members) > 0  # (countries, tabs)
            brings = c.country[blocks].max(axis=1) > 0  # (blocks, countries)
            distinct = present.sum(axis=0)[None, :] + brings.astype(np.float64) @ ~present
            short += np.maximum(c.min_countries - distinct, 0)
        if c.both:
            for kind in (c.research, c.industry):
                there = (kind @ members) > 0
                has = kind[blocks].max(axis=1) > 0
                short += ~(there[None, :] | has[:, None])
        cost += c.mix_weight * short
    return cost


def _coherent(
    value: npt.NDArray[np.float64],
    members: npt.NDArray[np.int64],
    movable: npt.NDArray[np.bool_],
    blocks: npt.NDArray[np.int64],
    tabs: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Blocks of each first member and its best movable tablemates (greedy by sum)."""
    k, m = blocks.shape
    out = blocks.copy()
    n = len(movable)
    cand = members[tabs]  # (k, width): everyone at the block's table, padded with n
    safe = np.minimum(cand, n - 1)
    ok = (cand < n) & movable[safe] & (cand != blocks[:, :1])
    rows = np.arange(k)
    pull = value[blocks[:, 0][:, None], safe]
    for col in range(1, m):
        pick = np.argmax(np.where(ok, pull, -np.inf), axis=1)
        out[:, col] = cand[rows, pick]
        ok[rows, pick] = False
        pull = pull + value[out[:, col][:, None], safe]
    return out


def improve_blocks(
    problem: Problem,
    seating: Seating,
    *,
    steps: int | None = None,
    deadline: float | None = None,
    seed: int = 0,
    heat: float = HEAT,
) -> SearchResult:
    """The block search from ``seating`` (see the module's docstring).

    Args:
        problem: the problem.
        seating: the start; fixed seats must already be in place.
        steps: how many steps (default :func:`steps_for`).
        deadline: a :func:`time.perf_counter` time to stop at, whatever is left.
        seed: the noise's and the blocks' seed; without a deadline cut the search is
            deterministic for a seed.
        heat: the starting noise, in units of the 90th percentile of the pair scores.
    """
    with threadpool_limits(limits=1):  # small products: BLAS threads only contend
        return _improve_blocks(
            problem, seating, steps=steps, deadline=deadline, seed=seed, heat=heat
        )


def _improve_blocks(
    problem: Problem,
    seating: Seating,
    *,
    steps: int | None,
    deadline: float | None,
    seed: int,
    heat: float,
) -> SearchResult:
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    seating = np.array(seating, np.int64, copy=True)
    total = steps if steps is not None else steps_for(problem)
    costs = Costs(problem)
    noise = heat * noise_scale(problem)
    movable = problem.fixed < 0
    value = penalised(problem, seating)
    best, best_value = seating.copy(), value
    sizes = [m for m in BLOCKS if m <= min(problem.sizes)] or [1]
    stopped = False
    step = 0
    for step in range(total):
        if deadline is not None and step % 16 == 0 and time.perf_counter() > deadline:
            stopped = True
            break
        r = int(rng.integers(problem.rounds))
        m = int(sizes[int(rng.integers(len(sizes)))])
        seat = seating[r]
        free = np.flatnonzero(movable[r])
        order = free[np.lexsort((rng.random(len(free)), seat[free]))]
        counts = np.bincount(seat[free], minlength=problem.tables)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        tabs = np.flatnonzero(counts >= m)
        if len(tabs) < 2:
            continue
        blocks = order[first[tabs][:, None] + np.arange(m)[None, :]]
        if m > 1 and rng.random() < COHERENT:
            members = table_members(seat, problem.tables)
            blocks = _coherent(costs.value, members, movable[r], blocks, tabs)
        cost = step_costs(problem, costs, seating, r, blocks, tabs)
        frac = step / max(total, 1)
        if deadline is not None:
            frac = max(frac, (time.perf_counter() - started) / max(deadline - started, 1e-9))
        noisy = cost
        if noise > 0 and frac < COOL_SHARE:
            level = noise * (1 - frac / COOL_SHARE)
            noisy = cost + level * rng.standard_normal(cost.shape)
        rows, cols = linear_sum_assignment(noisy)
        change = float(np.trace(cost) - cost[rows, cols].sum())
        if cols.tolist() == rows.tolist():
            continue
        seat[blocks[rows]] = tabs[cols][:, None]
        value += change
        if value > best_value + 1e-9:
            best, best_value = seating.copy(), value
    exact = penalised(problem, best)
    if abs(exact - best_value) > 1e-6 * max(1.0, abs(exact)):
        raise AssertionError(f"block search: tracked value drifted by {exact - best_value:.3g}")
    seconds = time.perf_counter() - started
    return SearchResult(best, exact, step + 1, seconds, stopped)
