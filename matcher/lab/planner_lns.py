"""CP-SAT large-neighbourhood steps: fix most tables, re-solve a few of one round.

Each step of :func:`cpsat_lns` takes one round and a few of its tables (``tables`` of
them, at random), frees the movable people seated there and lets OR-Tools CP-SAT reseat
them at the same tables, for at most ``step_limit`` seconds, with everything else fixed:
the table sizes stay (so the tables stay balanced), a pair that met in another round or
may not meet is kept apart, and the objective is the plan's score restricted to those
tables (pair scores, existing partners, theme affinity, mix shortfall, must-meet
rewards), warm-started from the current seating. A step is kept when the search's exact
objective (:func:`~matcher.planner.search.penalised`) rises.

It lives in the lab, outside the product, as a measured alternative
(``benchmarks/tables_lns.py``): on the benchmark's instances it improves plans more slowly
than the assignment search (figures in ``docs/planner.md``), so
:func:`~matcher.planner.planning.solve` does not use it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ortools.sat.python import cp_model

from matcher.planner.search import HARD, penalised
from matcher.planner.solver import SCALE

if TYPE_CHECKING:
    from matcher.planner.problem import Problem, Seating

__all__ = ["LnsResult", "cpsat_lns"]


@dataclass(frozen=True)
class LnsResult:
    """The best seating of :func:`cpsat_lns` and how it went."""

    seating: Seating
    value: float
    steps: int
    improved: int


def _met_elsewhere(problem: Problem, seating: Seating, r: int) -> np.ndarray:
    n = problem.size
    met = np.zeros((n, n), np.bool_)
    for r2 in range(problem.rounds):
        if r2 != r:
            met |= seating[r2][:, None] == seating[r2][None, :]
    return met


def _step(
    problem: Problem,
    seating: Seating,
    r: int,
    chosen: list[int],
    *,
    time_limit: float,
    workers: int,
    seed: int,
) -> Seating | None:
    """Reseat round ``r``'s movable people at the ``chosen`` tables; None if nothing found."""
    seat = seating[r]
    at = np.isin(seat, chosen)
    free = [int(i) for i in np.flatnonzero(at & (problem.fixed[r] < 0))]
    stay = [int(i) for i in np.flatnonzero(at & (problem.fixed[r] >= 0))]
    if len(free) < 2:
        return None
    value = problem.scores - problem.repeat_weight * problem.partner_mask()
    conflict = problem.conflicts()
    met = _met_elsewhere(problem, seating, r)
    must = {frozenset(p) for p in problem.must_meet}
    no_repeat = problem.options.no_repeat

    def worth(i: int, j: int) -> float | None:
        """A pair's worth together at a table, or None when it may not sit together."""
        if conflict[i, j] or (no_repeat and met[i, j]):
            return None
        w = float(value[i, j])
        if met[i, j]:
            w -= problem.repeat_weight
        elif frozenset((i, j)) in must:
            w += HARD
        return w

    model = cp_model.CpModel()
    x = {(i, t): model.new_bool_var(f"x{i}_{t}") for i in free for t in chosen}
    terms: list[cp_model.LinearExprT] = []
    for i in free:
        model.add_exactly_one(x[i, t] for t in chosen)
        model.add_hint(x[i, int(seat[i])], 1)
    for t in chosen:
        here = [j for j in stay if seat[j] == t]
        model.add(sum(x[i, t] for i in free) == int((seat[free] == t).sum()))
        for i in free:
            w = float(problem.theme_weight * problem.theme_affinity[i, t])
            for j in here:
                pair = worth(i, j)
                if pair is None:
                    model.add(x[i, t] == 0)
                    break
                w += pair
            terms.append(round(w * SCALE) * x[i, t])
    for a, i in enumerate(free):
        for j in free[a + 1 :]:
            pair = worth(i, j)
            for t in chosen:
                if pair is None:
                    model.add_bool_or([x[i, t].Not(), x[j, t].Not()])
                    continue
                y = model.new_bool_var("")
                model.add_implication(y, x[i, t])
                model.add_implication(y, x[j, t])
                if pair < 0:
                    model.add_bool_or([x[i, t].Not(), x[j, t].Not(), y])
                terms.append(round(pair * SCALE) * y)
    _mix_terms(problem, model, x, free, stay, seat, chosen, terms)
    model.maximize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    out = seating.copy()
    for i in free:
        out[r, i] = next(t for t in chosen if solver.boolean_value(x[i, t]))
    return out


def _mix_terms(
    problem: Problem,
    model: cp_model.CpModel,
    x: dict[tuple[int, int], cp_model.IntVar],
    free: list[int],
    stay: list[int],
    seat: np.ndarray,
    chosen: list[int],
    terms: list[cp_model.LinearExprT],
) -> None:
    """The mix shortfall of the chosen tables (countries, research and industry)."""
    mix = problem.options.mix
    weight = round(problem.mix_weight * SCALE)
    for t in chosen:
        here = [j for j in stay if seat[j] == t]
        if mix.min_countries:
            present: list[cp_model.LinearExprT] = []
            fixed_codes = {problem.country_code[j] for j in here} - {-1}
            codes = {problem.country_code[i] for i in free} - {-1} - fixed_codes
            for code in codes:
                z = model.new_bool_var("")
                who = [x[i, t] for i in free if problem.country_code[i] == code]
                model.add_bool_or([*who, z.Not()])
                present.append(z)
            short = model.new_int_var(0, mix.min_countries, "")
            model.add(short >= mix.min_countries - len(fixed_codes) - sum(present))
            terms.append(-weight * short)
        if mix.research_and_industry:
            for kind in (problem.research, problem.industry):
                if any(kind[j] for j in here):
                    continue
                has = model.new_bool_var("")
                model.add_bool_or([*(x[i, t] for i in free if kind[i]), has.Not()])
                terms.append(weight * has - weight)


def cpsat_lns(
    problem: Problem,
    seating: Seating,
    *,
    deadline: float,
    tables: int = 3,
    step_limit: float = 0.5,
    seed: int = 0,
) -> LnsResult:
    """CP-SAT neighbourhood steps from ``seating`` until ``deadline`` (module docstring).

    Args:
        problem: the problem.
        seating: the start; fixed seats must already be in place.
        deadline: a :func:`time.perf_counter` time.
        tables: how many tables of one round a step re-solves.
        step_limit: CP-SAT's seconds per step.
        seed: the choice of rounds and tables.
    """
    rng = np.random.default_rng(seed)
    best = np.array(seating, np.int64, copy=True)
    value = penalised(problem, best)
    steps = improved = 0
    k = min(tables, problem.tables)
    while time.perf_counter() < deadline and k >= 2:
        r = int(rng.integers(problem.rounds))
        chosen = sorted(int(t) for t in rng.choice(problem.tables, k, replace=False))
        left = deadline - time.perf_counter()
        found = _step(
            problem,
            best,
            r,
            chosen,
            time_limit=min(step_limit, left),
            workers=problem.options.workers,
            seed=steps,
        )
        steps += 1
        if found is None:
            continue
        new = penalised(problem, found)
        if new > value + 1e-9:
            best, value = found, new
            improved += 1
    return LnsResult(best, value, steps, improved)
