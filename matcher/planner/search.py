"""Seatings for large events: a greedy start, then a large-neighbourhood search by assignment.

Each step of :func:`improve` takes one round, removes one movable person from every table
and puts them back, one per table, in the best way: with one person per table, a
person's worth at a table depends only on the people who stayed there, so the best
reseating is a linear assignment problem, solved exactly (the shortest augmenting path
method, as SciPy's ``linear_sum_assignment``). Its cost of person ``a`` at table ``t`` is
the exact change of the objective: pair scores and existing-partner costs with the people
staying at ``t``, theme affinity, the table's mix shortfall with ``a``, repeats, and a
large penalty per hard rule broken (a pair that met in another round, one organisation,
must-not-meet) or reward per must-meet kept. Every step can keep the seating as it is, so
without noise the objective never falls. Early on, Gaussian noise is added to the costs
(its scale falls to zero over the first 95 % of the steps or of the time, whichever runs
out first), so the search leaves local optima; the best seating seen is returned.

The first round gets less noise than the others (:data:`FIRST_ROUND`). Without repeats, the
strongest groups can sit together in one round only; with equal noise every round
competes for them and the search often settles with value spread over all rounds, a
worse optimum. A cooler first round settles first and the others arrange around it
(``benchmarks/tables_search.py``: the same seeds and time with and without it).

Steps run compiled (:mod:`matcher.planner.kernels`, numba) in chunks of a few
milliseconds; between chunks the noise is set and the deadline checked. The costs come
from counts kept between steps (:class:`_Seats`: the people at each table, how often each
pair has met, the tables' country and kind counts), so a step reads and updates
O(tables² × table size) numbers instead of recomputing from the whole seating. Two
independent runs side by side (one thread each, the compiled steps release the GIL), the
better kept, measured level with one run in the same time (within 0.3 % at 60, 300 and
1,000 people, lower at two of them; ``benchmarks/results/tables-search-2026-12-05.txt``),
so there is one run. Blocks of several people per table were measured worse at equal steps
(:mod:`matcher.lab.planner_blocks`, ``benchmarks/tables_blocks.py``).

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
from threadpoolctl import threadpool_limits

from matcher.planner.evaluation import together

if TYPE_CHECKING:
    from matcher.planner.problem import Problem, Seating

__all__ = [
    "HARD",
    "SearchResult",
    "chunk_for",
    "greedy_seating",
    "improve",
    "noise_scale",
    "penalised",
    "random_seating",
    "steps_for",
    "table_members",
]

logger = logging.getLogger(__name__)

HARD = 1e4
"""Cost of one broken hard rule in the search (far above any pair score in [0, 1])."""

HEAT = 4.0
"""Noise at the start of the search, in units of the 90th percentile of the pair scores."""

COOL_SHARE = 0.95
"""Share of the steps over which the noise falls to zero; the rest is pure descent."""

FIRST_ROUND = 0.3
"""The first round's noise, as a share of the others' (it settles first; see the module)."""


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

    At least 20,000; a step takes about 0.005 ms at 60 people, 0.04 ms at 300 and 0.35 ms
    at 1,000 (``benchmarks/results/tables-2026-12-05.txt`` and ``tables-search-2026-12-05.txt``:
    steps per plan).
    """
    return max(20_000, 40 * problem.size * problem.rounds)


def noise_scale(problem: Problem) -> float:
    """The noise's unit: the 90th percentile of the pair scores (1 if that is 0)."""
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


class _Seats:
    """The seating as the search keeps it between steps.

    Per round (stacked on a first axis): the people at each table (``members``, padded
    with ``n``; a table's size never changes, the person who arrives takes the slot of the
    one who leaves), the movable slots, and the country and kind counts per table; over
    all rounds: how often each pair sits together (``count``). A step reads these in
    O(tables² × table size) and a move updates them in O(moved × table size)
    (:mod:`matcher.planner.kernels`).
    """

    def __init__(self, problem: Problem, seating: Seating) -> None:
        from matcher.planner import kernels  # numba takes a second to import: on first use

        self.kernels = kernels
        n, tables = problem.size, problem.tables
        self.seating = np.array(seating, np.int64, copy=True)
        value = problem.scores - problem.repeat_weight * problem.partner_mask()
        base = np.asarray(value - HARD * problem.conflicts(), np.float64)
        np.fill_diagonal(base, 0.0)  # the static part of a pair's worth
        self.columns = np.ascontiguousarray(base.T)  # the kernels read it row by row
        affinity = problem.theme_affinity * problem.theme_weight
        self.affinity = np.ascontiguousarray(np.reshape(affinity, (n, tables)).T, np.float64)
        self.must = np.zeros((n + 1, n + 1), np.bool_)
        for a, b in problem.must_meet:
            self.must[a, b] = self.must[b, a] = True
        mix = problem.options.mix
        self.rules = np.array(
            [
                HARD if problem.options.no_repeat else problem.repeat_weight,
                HARD,
                float(bool(problem.must_meet)),
                float(bool(self.affinity.any())),
                float(mix.min_countries or 0),
                float(bool(mix.research_and_industry)),
                problem.mix_weight,
            ]
        )
        codes = np.array(problem.country_code, np.int64).reshape(n)
        self.country = codes
        width = max(int(codes.max(initial=-1)) + 1, 1)
        self.kinds = np.array([problem.research, problem.industry], np.int64).reshape(2, n)
        rounds = problem.rounds
        width_seats = max(int(np.bincount(row, minlength=tables).max()) for row in self.seating)
        self.members = np.full((rounds, tables, width_seats), n, np.int64)
        self.country_count = np.zeros((rounds, tables, width), np.int64)
        self.kind_count = np.zeros((rounds, tables, 2), np.int64)
        self.slots = np.zeros((rounds, tables, width_seats), np.int64)
        self.open = np.zeros((rounds, tables), np.int64)
        self.tab_array = np.zeros((rounds, tables), np.int64)
        self.ntabs = np.zeros(rounds, np.int64)
        self.tabs: list[npt.NDArray[np.int64]] = []
        self.count = np.zeros((n + 1, n + 1), np.int16)
        movable = problem.fixed < 0
        has = codes >= 0
        for r, seat in enumerate(self.seating):
            members = table_members(seat, tables)
            self.members[r, :, : members.shape[1]] = members
            onehot = np.zeros((n, tables))
            onehot[np.arange(n), seat] = 1.0
            np.add.at(self.country_count[r], (seat[has], codes[has]), 1)
            self.kind_count[r] = (self.kinds @ onehot).T.round()
            self.count[:n, :n] += seat[:, None] == seat[None, :]
            free = (members < n) & movable[r][np.minimum(members, n - 1)]
            opened = free.sum(axis=1)
            for t in range(tables):
                self.slots[r, t, : opened[t]] = np.flatnonzero(free[t])
            self.open[r] = opened
            tabs = np.flatnonzero(opened > 0)
            self.tabs.append(tabs)
            self.tab_array[r, : len(tabs)] = tabs
            self.ntabs[r] = len(tabs)
        np.fill_diagonal(self.count, 0)

    def costs(
        self, r: int, draw: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """One movable person per table of round ``r`` (slots drawn from ``draw`` in [0, 1)).

        Returns:
            The tables (``tabs``), the slot of the person taken from each, and the
            (people, tables) costs: minus the objective's change of person ``i`` at table
            ``j`` when each table has lost its person (the diagonal keeps the seating).
        """
        tabs = self.tabs[r]
        k = len(tabs)
        pick = self.slots[r][tabs, (draw * self.open[r][tabs]).astype(np.int64)]
        cost = np.empty((k, k))
        self.kernels.step_costs(
            tabs, pick, self.members[r], self.columns, self.count, self.must,
            self.affinity, self.country, self.country_count[r], self.kinds,
            self.kind_count[r], self.rules, np.empty(k, np.int64), cost,
        )  # fmt: skip
        return tabs, pick, cost

    def move(
        self,
        r: int,
        tabs: npt.NDArray[np.int64],
        pick: npt.NDArray[np.int64],
        cols: npt.NDArray[np.int64],
    ) -> None:
        """Seat the person taken from table ``tabs[i]`` at ``tabs[cols[i]]``, in its free slot."""
        self.kernels.apply_move(
            tabs, pick, np.asarray(cols, np.int64), self.members[r], self.seating[r],
            self.count, self.country, self.country_count[r],
            self.kinds, self.kind_count[r],
        )  # fmt: skip

    def run(
        self,
        steps: int,
        levels: npt.NDArray[np.float64],
        state: npt.NDArray[np.uint64],
        pool: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        best: Seating,
    ) -> None:
        """``steps`` compiled steps at noise ``levels`` (per round); ``values``: [current, best].

        ``best`` receives the seating whenever the best value rises; ``state`` is the
        draws' generator and ``pool`` the normal draws the noise is read from.
        """
        self.kernels.run_steps(
            steps, levels, state, pool, self.tab_array, self.ntabs, self.slots, self.open,
            self.members, self.seating, self.columns, self.count, self.must,
            self.affinity, self.country, self.country_count, self.kinds, self.kind_count,
            self.rules, values, best,
        )  # fmt: skip


def table_members(seat: npt.NDArray[np.int64], tables: int) -> npt.NDArray[np.int64]:
    """(tables, widest) people at each table of one round, padded with ``n``."""
    order = np.argsort(seat, kind="stable")
    counts = np.bincount(seat, minlength=tables)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    table = seat[order]
    out = np.full((tables, int(counts.max(initial=1))), len(seat), np.int64)
    out[table, np.arange(len(seat)) - first[table]] = order
    return out


def improve(
    problem: Problem,
    seating: Seating,
    *,
    steps: int | None = None,
    deadline: float | None = None,
    seed: int = 0,
    heat: float = HEAT,
    cool: float = COOL_SHARE,
    first: float = FIRST_ROUND,
) -> SearchResult:
    """The assignment search from ``seating`` (see the module's docstring).

    Args:
        problem: the problem.
        seating: the start; fixed seats must already be in place.
        steps: how many steps (default :func:`steps_for`).
        deadline: a :func:`time.perf_counter` time to stop at, whatever is left.
        seed: the noise's and the draws' seed; without a deadline cut the search is
            deterministic for a seed.
        heat: the starting noise, in units of the 90th percentile of the pair scores.
        cool: the share of the search over which the noise falls to zero.
        first: the first round's noise as a share of the other rounds' (with one
            round, its noise is ``heat``'s).
    """
    started = time.perf_counter()
    total = steps if steps is not None else steps_for(problem)
    levels = np.ones(problem.rounds)
    if problem.rounds > 1:
        levels[0] = first
    clock = _Clock(started, deadline, total, heat * noise_scale(problem) * levels, cool)
    with threadpool_limits(limits=1):  # small products: BLAS threads only contend
        walk = _walk(problem, seating, seed, clock)
    exact = penalised(problem, walk.best)
    if abs(exact - walk.values[1]) > 1e-6 * max(1.0, abs(exact)):
        logger.warning("search: tracked value drifted by %.3g", exact - walk.values[1])
    seconds = time.perf_counter() - started
    logger.debug("search: %d steps in %.2f s, value %.4f", walk.done, seconds, exact)
    return SearchResult(walk.best, exact, walk.done, seconds, walk.stopped)


def chunk_for(problem: Problem) -> int:
    """Steps per compiled call: a few milliseconds' worth, so that deadlines hold."""
    work = problem.tables * problem.tables * max(problem.sizes)
    return int(np.clip(2**21 // max(work, 1), 16, 4096))


@dataclass(frozen=True)
class _Clock:
    """Where a search stands: the share of its steps or of its time used, whichever leads."""

    started: float
    deadline: float | None
    total: int
    noise: npt.NDArray[np.float64]  # per round, at the start
    cool: float

    def share(self, done: int) -> tuple[float, bool]:
        """The share used after ``done`` steps, and whether the deadline has passed."""
        frac = done / max(self.total, 1)
        if self.deadline is None:
            return frac, False
        now = time.perf_counter()
        span = max(self.deadline - self.started, 1e-9)
        return max(frac, (now - self.started) / span), now > self.deadline

    def levels(self, frac: float) -> npt.NDArray[np.float64]:
        """Each round's noise at a share: falling linearly to zero at ``cool``."""
        return self.noise * max(0.0, 1 - frac / self.cool)


@dataclass
class _Walk:
    """What the search ends with."""

    best: Seating
    values: npt.NDArray[np.float64]  # current, best
    done: int
    stopped: bool


def _walk(problem: Problem, seating: Seating, seed: int, clock: _Clock) -> _Walk:
    """The run: compiled chunks of steps, the noise set and the deadline checked between."""
    rng = np.random.default_rng(seed)
    seats = _Seats(problem, seating)
    # Normal draws cost more than the rest of a small step: one pool, read at random offsets.
    pool = rng.standard_normal(max(1 << 18, 4 * problem.tables**2))
    state = np.array([rng.integers(1 << 63)], np.uint64)
    start = penalised(problem, seats.seating)
    values = np.array([start, start])
    best = seats.seating.copy()
    chunk = chunk_for(problem)
    done = 0
    while done < clock.total:
        frac, late = clock.share(done)
        if late:
            return _Walk(best, values, done, True)
        count = min(chunk, clock.total - done)
        seats.run(count, clock.levels(frac), state, pool, values, best)
        done += count
    return _Walk(best, values, done, False)
