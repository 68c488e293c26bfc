"""Seatings for large events: a greedy start, then a large-neighbourhood search by assignment.

Each step of :func:`improve` takes one round, removes a block of ``m`` movable people
(``m`` from :data:`BLOCKS`; by default one person) from every table, and puts the blocks
back, one per table, in the best way: with one block per table, a block's worth at a
table depends only on the people who stayed there, so the best reseating is a linear
assignment problem, solved exactly
(:func:`scipy.optimize.linear_sum_assignment`). Its cost of block ``a`` at table ``t`` is
the exact change of the objective: pair scores and existing-partner costs with the people
staying at ``t``, theme affinity, the table's mix shortfall with the block, repeats, and a
large penalty per hard rule broken (a pair that met in another round, one organisation,
must-not-meet) or reward per must-meet kept. Every step can keep the seating as it is, so
without noise the objective never falls. Early on, Gaussian noise is added to the costs
(its scale falls to zero over the first 90 % of the steps or of the time, whichever runs
out first), so the search leaves local optima; the best seating seen is returned.

Measured against CP-SAT sub-models over a few tables (:mod:`matcher.lab.planner_lns`,
``benchmarks/tables_lns.py``, figures in ``docs/planner.md``), this neighbourhood reaches
better plans at 60 and 300 people in the same time: CP-SAT solves even small quadratic
sub-problems slowly.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from threadpoolctl import threadpool_limits

from matcher.planner.evaluation import together

if TYPE_CHECKING:
    from matcher.planner.problem import Problem, Seating

__all__ = [
    "HARD",
    "SearchResult",
    "greedy_seating",
    "improve",
    "penalised",
    "random_seating",
    "steps_for",
]

logger = logging.getLogger(__name__)

HARD = 1e4
"""Cost of one broken hard rule in the search (far above any pair score in [0, 1])."""

HEAT = 3.0
"""Noise at the start of the search, in units of the 90th percentile of the pair scores."""

COOL_SHARE = 0.9

"""Share of the steps over which the noise falls to zero; the rest is pure descent."""

BLOCKS: tuple[int, ...] = (1,)
"""Block sizes moved in one step (one size drawn per step).

One person per table: at equal steps it reached better plans at 300 people than blocks of
1-3 (1,393.24 against 1,373.22 after 35,000 steps, mean of two seeds; 1-2: 1,388.72;
``benchmarks/tables_blocks.py``), and its steps are cheaper.
"""

COHERENT = 0.5
"""Share of the steps whose blocks are a random person and its best tablemates."""


@dataclass(frozen=True)
class SearchResult:
    """A seating from :func:`improve` and how the search went."""

    seating: Seating
    value: float
    steps: int
    seconds: float
    stopped_early: bool


def steps_for(problem: Problem) -> int:
    """A search length for runs without a deadline: 40 steps per person and round.

    At least 20,000; a step takes about 0.05 ms at 60 people, 0.3 ms at 300, 3 ms at 1,000.
    """
    return max(20_000, 40 * problem.size * problem.rounds)


def _scale(problem: Problem) -> float:
    upper = problem.scores[np.triu_indices(problem.size, 1)]
    p90 = float(np.quantile(upper, 0.9)) if len(upper) else 0.0
    return p90 if p90 > 0 else 1.0


def penalised(problem: Problem, seating: Seating) -> float:
    """The search's objective: the plan's score minus :data:`HARD` per broken rule unit."""
    ev = problem.evaluate(seating)
    count = np.triu(together(problem, seating), 1)
    units = float((count * np.triu(problem.conflicts(), 1)).sum())
    if problem.options.no_repeat:
        units += float(np.maximum(count - 1, 0).sum())
    units += sum(1 for a, b in problem.must_meet if count[a, b] == 0)
    moved = (problem.fixed >= 0) & (problem.fixed != seating)
    units += float(moved.sum())
    return ev.score - HARD * units


def _fill(problem: Problem, rng: random.Random, greedy: bool) -> Seating:
    """Seat fixed people, then everyone else, round by round (best table, or at random)."""
    n, tables = problem.size, problem.tables
    seating = np.full((problem.rounds, n), -1, np.int64)
    lo, spare = min(problem.sizes), sum(problem.sizes) - min(problem.sizes) * tables
    org_size = Counter(problem.org_code)
    strength = np.sort(problem.scores, axis=1)[:, ::-1][:, : max(problem.sizes)].sum(axis=1)
    conflict = problem.conflicts().astype(np.float64)
    value = problem.scores - problem.repeat_weight * problem.partner_mask()
    must = np.zeros((n, n))
    for a, b in problem.must_meet:
        must[a, b] = must[b, a] = 1.0
    met = np.zeros((n, n))
    big = 1e6
    for r in range(problem.rounds):
        size = [0] * tables
        onehot = np.zeros((n, tables))
        for k in np.flatnonzero(problem.fixed[r] >= 0):
            t = int(problem.fixed[r, k])
            seating[r, k], onehot[k, t] = t, 1.0
            size[t] += 1
        free = [i for i in range(n) if problem.fixed[r, i] < 0]
        order = sorted(free, key=lambda i: (-org_size[problem.org_code[i]], -strength[i], i))
        people = order if greedy else rng.sample(order, len(order))
        for i in people:
            full_big = sum(1 for s in size if s > lo)
            open_tables = [
                t for t in range(tables) if size[t] < lo or (size[t] == lo and full_big < spare)
            ]
            if not greedy:
                t = open_tables[int(rng.random() * len(open_tables))]
            else:
                gain = value[i] @ onehot + problem.theme_weight * problem.theme_affinity[i]
                gain -= big * (conflict[i] @ onehot)
                seen = (met[i] > 0).astype(np.float64)
                if problem.options.no_repeat:
                    gain -= big * (seen @ onehot)
                gain += big / 10 * ((must[i] * (1 - seen)) @ onehot)
                t = max(open_tables, key=lambda t: (gain[t], -t))
            seating[r, i], onehot[i, t] = t, 1.0
            size[t] += 1
        met += onehot @ onehot.T
    return seating


def greedy_seating(problem: Problem) -> Seating:
    """A greedy seating: round by round, each person to the table it adds most to.

    People of large organisations and with strong pairs go first; fixed people (hosts,
    locks) are seated first.
    """
    return _fill(problem, random.Random(0), greedy=True)


def random_seating(problem: Problem, seed: int = 0) -> Seating:
    """A random seating with balanced tables and fixed people in place (rules ignored)."""
    return _fill(problem, random.Random(seed), greedy=False)


class _Costs:
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


def _step_costs(
    problem: Problem,
    c: _Costs,
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


def _members(seat: npt.NDArray[np.int64], tables: int) -> npt.NDArray[np.int64]:
    """(tables, widest) people at each table of one round, padded with ``n``."""
    order = np.argsort(seat, kind="stable")
    counts = np.bincount(seat, minlength=tables)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    table = seat[order]
    out = np.full((tables, int(counts.max(initial=1))), len(seat), np.int64)
    out[table, np.arange(len(seat)) - first[table]] = order
    return out


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


def improve(
    problem: Problem,
    seating: Seating,
    *,
    steps: int | None = None,
    deadline: float | None = None,
    seed: int = 0,
    heat: float = HEAT,
) -> SearchResult:
    """The assignment search from ``seating`` (see the module's docstring).

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
        return _improve(problem, seating, steps=steps, deadline=deadline, seed=seed, heat=heat)


def _improve(
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
    costs = _Costs(problem)
    noise = heat * _scale(problem)
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
            members = _members(seat, problem.tables)
            blocks = _coherent(costs.value, members, movable[r], blocks, tabs)
        cost = _step_costs(problem, costs, seating, r, blocks, tabs)
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
        logger.warning("search: tracked value drifted by %.3g", exact - best_value)
    seconds = time.perf_counter() - started
    logger.debug("search: %d steps in %.2f s, value %.4f", step + 1, seconds, exact)
    return SearchResult(best, exact, step + 1, seconds, stopped)
