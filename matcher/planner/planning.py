"""Plan the tables: pick the engines, keep the time limit, refuse with a proof.

:func:`solve` runs, within ``PlanOptions.time_limit``:

1. the counting bound on rounds (:func:`~matcher.planner.feasibility.round_limit`):
   a request over it is refused at once with that proof;
2. a start: a known schedule (:mod:`~matcher.planner.designs`) where one fits, else the
   greedy seating;
3. the assignment search (:mod:`~matcher.planner.search`), which plans events of any size,
   for the whole time limit (30 % of it when CP-SAT follows) unless
   ``PlanOptions.steps`` fixes its length;
4. for small events (:func:`~matcher.planner.solver.fits`), the full CP-SAT model warm
   started from the best seating so far, for the rest of the time limit (it stops once
   it proves the plan optimal): it gives the bound, finds dense schedules the search
   cannot, and proves infeasibility;
5. for large events, the bound of :mod:`~matcher.planner.bounds` (computed before the
   search, so that the search's deadline leaves the time it took).

A refusal (:class:`~matcher.planner.problem.InfeasiblePlanError`) names the rule, the
proof (``counting`` or ``solver``, or none when nothing was found in time), the largest
number of rounds that works (a seating for it was found) and the alternatives. Finding
that number may take up to one more time limit.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from multiprocessing.connection import Connection

from matcher.planner.bounds import best_bound, counting_bound
from matcher.planner.designs import design_seating
from matcher.planner.feasibility import alternatives, round_limit
from matcher.planner.plan import Plan, SearchStats
from matcher.planner.problem import InfeasiblePlanError, PlanOptions, Problem, Seating
from matcher.planner.search import greedy_seating, improve, penalised, steps_for
from matcher.planner.solver import fits, solve_model

__all__ = ["find_seating", "largest_rounds", "solve", "solve_to"]

logger = logging.getLogger(__name__)


def _clean(problem: Problem, seating: Seating | None) -> bool:
    return seating is not None and not problem.evaluate(seating).broken


def find_seating(
    problem: Problem,
    *,
    deadline: float,
    seed: int = 0,
    steps: int | None = None,
    first: bool = False,
) -> tuple[Seating | None, SearchStats]:
    """The best seating found by the deadline that keeps every hard rule, or None.

    Args:
        problem: the problem.
        deadline: a :func:`time.perf_counter` time.
        seed: the search's seed.
        steps: the assignment search's steps (default ``PlanOptions.steps``; None: until
            its share of the time is used).
        first: return the first seating that keeps every rule (only feasibility matters).
    """
    started = time.perf_counter()
    engines: list[str] = []
    design = design_seating(problem)
    if design is not None:
        engines.append("design")
        if first:
            return design, _stats(problem, seed, started, engines, "feasible", None, "", 0)
    start = design if design is not None else greedy_seating(problem)
    if first and _clean(problem, start):
        return start, _stats(problem, seed, started, engines, "feasible", None, "", 0)
    small = fits(problem)
    # Large events: the bound first (it depends on the problem only and takes seconds at
    # 1,000 people, more under load), so the search's deadline counts it; then keep a
    # share of the time for the plan's description.
    early: float | None = None
    reserve = min(3.0, 0.04 * (deadline - started))  # CP-SAT's model building, the checks
    if not small and not first:
        early = best_bound(problem) if problem.options.no_repeat else counting_bound(problem)
        # After the search: its exact value, the rule check and the plan's description,
        # about five evaluations (0.8 s each at 1,000 people under load 5).
        began = time.perf_counter()
        problem.evaluate(start)
        reserve = max(reserve, 5 * (time.perf_counter() - began))
    search_deadline = deadline - reserve
    if small:
        search_deadline = min(deadline, started + max(0.2, (deadline - started) * 0.3))
    if steps is None:
        steps = problem.options.steps
    if steps is None and first:
        steps = steps_for(problem)
    result = improve(
        problem,
        start,
        steps=steps if steps is not None else 10**9,
        deadline=search_deadline,
        seed=seed,
    )
    engines.append("assignment search")
    best: Seating | None = result.seating if _clean(problem, result.seating) else None
    # A run can stick with a broken rule early (seen on a dense 36-person event, notebook
    # 06); on small events, a few short runs with other seeds before CP-SAT.
    for again in range(1, 4 if small else 1):
        share = min(deadline - reserve - time.perf_counter(), 0.1 * (deadline - started))
        if best is not None or share <= 0:
            break
        retry = improve(
            problem, start, steps=steps if steps is not None else 10**9,
            deadline=time.perf_counter() + share, seed=seed + again,
        )  # fmt: skip
        if _clean(problem, retry.seating):
            result, best = retry, retry.seating
    if first and best is not None:
        return best, _stats(problem, seed, started, engines, "feasible", None, "", result.steps)
    status, bound, source = "feasible", None, ""
    stopped = result.stopped_early
    if small:
        budget = deadline - reserve - time.perf_counter()
        dense = best is None
        if dense and budget > 0:
            # First any seating that keeps the rules (dense no-repeat schedules), then better.
            # Without an objective CP-SAT stops at the first one, so the rest of the time
            # still goes to improving it; most of the budget is for finding one at all.
            found = solve_model(problem, time_limit=budget * 0.9, objective=False, seed=seed)
            engines.append("cp-sat")
            if found.proven_infeasible:
                return None, _stats(problem, seed, started, engines, "infeasible", None, "", 0)
            best = found.seating if _clean(problem, found.seating) else None
            if first:
                return best, _stats(problem, seed, started, engines, found.status, None, "", 0)
            budget = deadline - reserve - time.perf_counter()
        if budget > 0:
            solved = solve_model(problem, time_limit=budget, hint=best, seed=seed)
            if "cp-sat" not in engines:
                engines.append("cp-sat")
            if solved.proven_infeasible:
                return None, _stats(problem, seed, started, engines, "infeasible", None, "", 0)
            if solved.seating is not None and _clean(problem, solved.seating):
                better = best is None or (
                    penalised(problem, solved.seating) > penalised(problem, best) + 1e-9
                )
                if better:
                    best = solved.seating
            if solved.bound is not None:
                bound, source = solved.bound, "cp-sat"
                if solved.status == "optimal":
                    status = "optimal"
            stopped = stopped or solved.status not in ("optimal", "infeasible")
    if best is None:
        return None, _stats(problem, seed, started, engines, "unknown", None, "", result.steps)
    if bound is None:
        if early is None:
            early = best_bound(problem) if problem.options.no_repeat else counting_bound(problem)
        bound, source = early, "b-matching" if problem.options.no_repeat else "counting"
    stats = SearchStats(
        seed=seed,
        seconds=time.perf_counter() - started,
        stopped_early=stopped and status != "optimal",
        engines=tuple(engines),
        status=status,
        bound=bound,
        bound_source=source,
        steps=result.steps,
    )
    return best, stats


def _stats(
    problem: Problem,
    seed: int,
    started: float,
    engines: list[str],
    status: str,
    bound: float | None,
    source: str,
    steps: int,
) -> SearchStats:
    return SearchStats(
        seed, time.perf_counter() - started, False, tuple(engines), status, bound, source, steps
    )


def largest_rounds(problem: Problem, upto: int, *, deadline: float, seed: int = 0) -> int | None:
    """The largest number of rounds up to ``upto`` for which a seating is found, or None."""
    for rounds in range(min(upto, problem.rounds), 0, -1):
        candidate = problem.with_rounds(rounds)
        if round_limit(candidate).rounds < rounds:
            continue
        now = time.perf_counter()
        if now >= deadline:
            return None
        share = max(0.5, (deadline - now) / 2)
        seating, _ = find_seating(
            candidate, deadline=min(deadline, now + share), seed=seed, first=True
        )
        if seating is not None:
            return rounds
    return None


def solve(problem: Problem, options: PlanOptions | None = None) -> Plan:
    """Plan the tables (see the module's docstring).

    Args:
        problem: the compiled problem.
        options: search settings (seed, time limit, workers); default the problem's.

    Raises:
        InfeasiblePlanError: the request cannot be met (with a proof), or no seating that
            keeps every rule was found in the time given; either names the largest
            number of rounds that works and the alternatives.
    """
    opts = options or problem.options
    if opts is not problem.options:
        problem = dataclasses.replace(
            problem,
            options=dataclasses.replace(
                problem.options,
                seed=opts.seed,
                time_limit=opts.time_limit,
                workers=opts.workers,
                steps=opts.steps,
            ),
        )
    seconds = opts.seconds(problem.size)
    started = time.perf_counter()
    deadline = started + seconds
    limit = round_limit(problem)
    if problem.rounds > limit.rounds:
        best = largest_rounds(problem, limit.rounds, deadline=deadline, seed=opts.seed)
        raise InfeasiblePlanError(
            limit.rule,
            list(limit.participants),
            limit.reason,
            proof="counting",
            max_rounds=best,
            alternatives=alternatives(problem, best),
        )
    seating, stats = find_seating(problem, deadline=deadline, seed=opts.seed)
    if seating is None:
        proven = stats.status == "infeasible"
        reason = (
            "CP-SAT proved that no seating keeps every rule"
            if proven
            else f"no seating that keeps every rule was found in {seconds:g} s "
            "(not proven impossible)"
        )
        again = time.perf_counter() + seconds
        best = largest_rounds(problem, problem.rounds - 1, deadline=again, seed=opts.seed)
        rule = "no_repeat" if problem.options.no_repeat and problem.rounds > 1 else "layout"
        raise InfeasiblePlanError(
            rule,
            [],
            reason,
            proof="solver" if proven else None,
            max_rounds=best,
            alternatives=alternatives(problem, best),
        )
    plan = Plan.of(problem, seating, stats)
    logger.info(
        "planned %d people at %d tables over %d rounds: score %.4f (%s) in %.2f s",
        problem.size,
        problem.tables,
        problem.rounds,
        plan.score,
        stats.status,
        stats.seconds,
    )
    return plan


def solve_to(conn: Connection, problem: Problem) -> None:
    """:func:`solve` for a child process: send ``(kind, payload, stats)`` down ``conn``.

    ``("ok", seating as lists, stats as a dict)``, ``("refused", the refusal's fields,
    None)`` or ``("error", text, None)``: plain data, so nothing depends on pickling the
    planner's exceptions.
    """
    try:
        plan = solve(problem)
        stats = dataclasses.asdict(plan.stats) if plan.stats is not None else None
        conn.send(("ok", plan.seating.tolist(), stats))
    except InfeasiblePlanError as exc:
        refusal = {
            "rule": exc.rule,
            "participants": exc.participants,
            "message": exc.reason,
            "proof": exc.proof,
            "max_rounds": exc.max_rounds,
            "alternatives": exc.alternatives,
        }
        conn.send(("refused", refusal, None))
    except Exception as exc:  # reported to the parent, which logs it
        conn.send(("error", f"{type(exc).__name__}: {exc}", None))
    finally:
        conn.close()
