"""The whole seating problem as one OR-Tools CP-SAT model: proofs, bounds, dense schedules.

Variables: ``x[r, i, t]`` (person ``i`` at table ``t`` in round ``r``) and, per pair and
table, ``z[r, i, j, t] ⇔ x[r, i, t] ∧ x[r, j, t]``, with ``Σ_j z[r, i, j, t]`` between
``lo − 1`` and ``hi − 1`` times ``x[r, i, t]`` (everyone at a table meets the others
there), which tightens the linear relaxation behind the bound. Hard rules are constraints:
each person at one table per round; every table ``lo``–``hi`` people (balanced);
at most one per organisation per table; must-not-meet pairs apart; no pair together in
two rounds (``Σ z ≤ 1``) unless repeats are allowed; must-meet pairs together once;
fixed seats (hosts, locks). The objective is the plan's score (pair scores, theme
affinity, mix shortfall, existing partners and repeats), each coefficient scaled by
:data:`SCALE` and rounded up, so the solver's bound divided by :data:`SCALE` bounds the
true score from above.

Symmetry breaking: tables that nothing tells apart (no host, no lock, no theme) take
their people in order of the lowest-numbered person at each (value precedence), and with
no locks rounds are ordered by the table of one person.

The model has ``rounds × tables × pairs`` pair variables, so it is for small events
(:func:`fits`); :mod:`matcher.planner.search` plans large ones.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ortools.sat.python import cp_model

if TYPE_CHECKING:
    from matcher.planner.problem import Problem, Seating

__all__ = ["MAX_PAIR_VARIABLES", "SCALE", "SolverResult", "fits", "solve_model"]

logger = logging.getLogger(__name__)

SCALE = 10_000
"""Objective coefficients are scores × SCALE, rounded up to integers."""

MAX_PAIR_VARIABLES = 40_000
"""The largest model (pair variables) :func:`fits` accepts."""


@dataclass(frozen=True)
class SolverResult:
    """What CP-SAT found: a seating (or None), its status, and the proven bound."""

    seating: Seating | None
    status: str
    bound: float | None
    seconds: float

    @property
    def proven_infeasible(self) -> bool:
        """CP-SAT proved that no seating keeps the hard rules."""
        return self.status == "infeasible"


def pair_variables(problem: Problem) -> int:
    """How many pair variables the full model has."""
    n = problem.size
    return problem.rounds * problem.tables * n * (n - 1) // 2


def fits(problem: Problem) -> bool:
    """Whether the full model is small enough to build and search (:data:`MAX_PAIR_VARIABLES`)."""
    return pair_variables(problem) <= MAX_PAIR_VARIABLES


def _up(value: float) -> int:
    return math.ceil(value * SCALE - 1e-9)


def _down(value: float) -> int:
    return math.floor(value * SCALE + 1e-9)


def solve_model(
    problem: Problem,
    *,
    time_limit: float,
    hint: Seating | None = None,
    objective: bool = True,
    workers: int | None = None,
    seed: int = 0,
) -> SolverResult:
    """Build the full model and search it.

    Args:
        problem: the problem (see :func:`fits` for its size).
        time_limit: seconds for CP-SAT.
        hint: a seating to start from (CP-SAT's solution hint).
        objective: False: find any seating that keeps the hard rules (faster for dense
            schedules), with no bound.
        workers: CP-SAT's threads; default the problem's option.
        seed: CP-SAT's random seed.
    """
    started = time.perf_counter()
    n, tables, rounds = problem.size, problem.tables, problem.rounds
    lo, hi = min(problem.sizes), max(problem.sizes)
    model = cp_model.CpModel()
    x = [
        [[model.new_bool_var(f"x{r}_{i}_{t}") for t in range(tables)] for i in range(n)]
        for r in range(rounds)
    ]
    for r in range(rounds):
        for i in range(n):
            model.add_exactly_one(x[r][i])
            if problem.fixed[r, i] >= 0:
                model.add(x[r][i][int(problem.fixed[r, i])] == 1)
    big = [[model.new_bool_var(f"big{r}_{t}") for t in range(tables)] for r in range(rounds)]
    for r in range(rounds):
        for t in range(tables):
            model.add(sum(x[r][i][t] for i in range(n)) == lo + big[r][t])
        model.add(sum(big[r]) == n - lo * tables)
    orgs: dict[int, list[int]] = {}
    for i, code in enumerate(problem.org_code):
        orgs.setdefault(code, []).append(i)
    conflict = problem.conflicts()
    for members in orgs.values():
        if len(members) > 1:
            for r in range(rounds):
                for t in range(tables):
                    model.add_at_most_one(x[r][i][t] for i in members)
    value = problem.scores - problem.repeat_weight * problem.partner_mask()
    terms: list[cp_model.LinearExprT] = []
    star: list[list[list[list[cp_model.IntVar]]]] = [
        [[[] for _ in range(tables)] for _ in range(n)] for _ in range(rounds)
    ]
    for i in range(n):
        for j in range(i + 1, n):
            if problem.org_code[i] == problem.org_code[j]:
                continue
            if conflict[i, j]:
                for r in range(rounds):
                    for t in range(tables):
                        model.add_bool_or([~x[r][i][t], ~x[r][j][t]])
                continue
            met: list[cp_model.IntVar] = []
            for r in range(rounds):
                for t in range(tables):
                    z = model.new_bool_var("")
                    a, b = x[r][i][t], x[r][j][t]
                    model.add_bool_or([~a, ~b, z])
                    model.add_implication(z, a)
                    model.add_implication(z, b)
                    met.append(z)
                    star[r][i][t].append(z)
                    star[r][j][t].append(z)
            if problem.options.no_repeat:
                model.add(sum(met) <= 1)
            elif objective and problem.repeat_weight > 0:
                extra = model.new_int_var(0, rounds, "")
                model.add(extra >= sum(met) - 1)
                terms.append(-_down(problem.repeat_weight) * extra)
            if (i, j) in problem.must_meet:
                model.add(sum(met) >= 1)
            weight = _up(float(value[i, j])) if objective else 0
            if weight:
                terms.append(weight * sum(met))
    # Everyone at a table meets its lo − 1 to hi − 1 others: tightens the relaxation.
    for r in range(rounds):
        for i in range(n):
            for t in range(tables):
                together = sum(star[r][i][t])
                model.add(together >= (lo - 1) * x[r][i][t])
                model.add(together <= (hi - 1) * x[r][i][t])
                if hi > lo:
                    model.add(together <= (lo - 1) * x[r][i][t] + big[r][t])
    if objective:
        terms += _soft_terms(problem, model, x)
        model.maximize(sum(terms))
    _break_symmetry(problem, model, x)
    if hint is not None:
        for r in range(rounds):
            for i in range(n):
                for t in range(tables):
                    model.add_hint(x[r][i][t], int(hint[r, i] == t))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit, 0.01)
    solver.parameters.num_workers = workers or problem.options.workers
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    seconds = time.perf_counter() - started
    name = {
        cp_model.OPTIMAL: "optimal",
        cp_model.FEASIBLE: "feasible",
        cp_model.INFEASIBLE: "infeasible",
        cp_model.MODEL_INVALID: "invalid",
    }.get(status, "unknown")
    if name == "invalid":
        raise RuntimeError(f"CP-SAT model invalid: {model.validate()}")
    seating: Seating | None = None
    bound: float | None = None
    if name in ("optimal", "feasible"):
        seating = np.zeros((rounds, n), np.int64)
        for r in range(rounds):
            for i in range(n):
                seating[r, i] = next(t for t in range(tables) if solver.boolean_value(x[r][i][t]))
        if not objective and name == "feasible":
            name = "optimal"  # any seating is optimal for a feasibility model
    if objective and name != "infeasible" and name != "unknown":
        bound = solver.best_objective_bound / SCALE
    logger.debug(
        "CP-SAT: %s in %.2f s (%d pair variables, bound %s)",
        name,
        seconds,
        pair_variables(problem),
        bound,
    )
    return SolverResult(seating, name, bound, seconds)


def _soft_terms(
    problem: Problem, model: cp_model.CpModel, x: list[list[list[cp_model.IntVar]]]
) -> list[cp_model.LinearExprT]:
    """Theme affinity and mix shortfall, as objective terms."""
    n, tables, rounds = problem.size, problem.tables, problem.rounds
    terms: list[cp_model.LinearExprT] = []
    affinity = problem.theme_affinity * problem.theme_weight
    for r in range(rounds):
        for i in range(n):
            for t in range(tables):
                if affinity[i, t] > 0:
                    terms.append(_up(float(affinity[i, t])) * x[r][i][t])
    mix = problem.options.mix
    penalty = _down(problem.mix_weight)
    if not (mix.min_countries or mix.research_and_industry) or penalty <= 0:
        return terms
    by_country: dict[int, list[int]] = {}
    for i, c in enumerate(problem.country_code):
        if c >= 0:
            by_country.setdefault(c, []).append(i)
    research = [i for i in range(n) if problem.research[i]]
    industry = [i for i in range(n) if problem.industry[i]]
    for r in range(rounds):
        for t in range(tables):
            short: list[cp_model.LinearExprT] = []
            if mix.min_countries:
                present = []
                for members in by_country.values():
                    h = model.new_bool_var("")
                    model.add_bool_or([*(x[r][i][t] for i in members), ~h])
                    present.append(h)
                s = model.new_int_var(0, mix.min_countries, "")
                model.add(s >= mix.min_countries - sum(present))
                short.append(s)
            if mix.research_and_industry:
                for group in (research, industry):
                    h = model.new_bool_var("")
                    if group:
                        model.add_bool_or([*(x[r][i][t] for i in group), ~h])
                    else:
                        model.add(h == 0)
                    short.append(1 - h)
            terms.append(-penalty * sum(short))
    return terms


def _break_symmetry(
    problem: Problem, model: cp_model.CpModel, x: list[list[list[cp_model.IntVar]]]
) -> None:
    """Order interchangeable tables by their lowest-numbered person; order rounds."""
    n, tables, rounds = problem.size, problem.tables, problem.rounds
    pinned = {int(t) for t in problem.fixed.ravel() if t >= 0}
    free_tables = [t for t in range(tables) if t not in pinned and not problem.themes[t]]
    for r in range(rounds):
        for k in range(1, len(free_tables)):
            prev, cur = free_tables[k - 1], free_tables[k]
            for i in range(n):
                earlier = [x[r][j][prev] for j in range(i)]
                if earlier:
                    model.add_bool_or([~x[r][i][cur], *earlier])
                else:
                    model.add(x[r][i][cur] == 0)
    locked = bool(((problem.fixed >= 0).sum(axis=0) % rounds).any())
    free_people = [i for i in range(n) if problem.fixed[0, i] < 0]
    if rounds > 1 and not locked and len(free_people) > 1:
        q = free_people[1]
        where = [sum(t * x[r][q][t] for t in range(tables)) for r in range(rounds)]
        for r in range(1, rounds):
            model.add(where[r - 1] <= where[r])
