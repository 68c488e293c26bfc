"""Upper bounds on the objective of any seating that keeps the hard rules.

For events too large for the full CP-SAT model, the plan's gap is measured against
the smaller of two bounds:

- :func:`counting_bound`: each person sits with at most ``rounds × (widest table − 1)``
  others (distinct ones without repeats; never of its organisation or a must-not-meet
  partner), so the pair part is at most half the sum, over people, of their best such
  scores;
- :func:`matching_bound`: the same degree limit, but counted once per pair — the dual
  of the linear relaxation of a maximum-weight b-matching. For any ``u ≥ 0``,
  ``b·Σu + Σ_pairs max(0, w − u_i − u_j)`` bounds it; a subgradient descent on ``u``
  lowers it, and every value it passes through is a valid bound.

Both ignore that tables are groups in which everyone meets everyone (the structure
that no-repeat rounds constrain most), so at hundreds of people they sit well above any
seating; the benchmark's 30× longer run is the practical reference there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from matcher.planner.problem import Problem

__all__ = ["best_bound", "counting_bound", "matching_bound"]


def _weights(problem: Problem) -> npt.NDArray[np.float64]:
    """Pair values a bound may count: zero for pairs that may not meet; partner cost off."""
    w = problem.scores - problem.repeat_weight * problem.partner_mask()
    w = np.maximum(w, 0.0)
    w[problem.conflicts()] = 0.0
    np.fill_diagonal(w, 0.0)
    return w


def _degree(problem: Problem) -> int:
    return problem.rounds * (max(problem.sizes) - 1)


def _extras(problem: Problem) -> float:
    """Theme part: each person's best table affinity in every round (mix part ≤ 0)."""
    best = problem.theme_affinity.max(axis=1, initial=0.0).sum()
    return float(problem.rounds * problem.theme_weight * best)


def counting_bound(problem: Problem) -> float:
    """Half the sum over people of their best reachable pair scores, plus themes."""
    w = _weights(problem)
    ranked = np.sort(w, axis=1)[:, ::-1]
    seats = max(problem.sizes) - 1
    if problem.options.no_repeat:
        pair = ranked[:, : _degree(problem)].sum()
    else:
        pair = problem.rounds * ranked[:, :seats].sum()
    return float(pair / 2 + _extras(problem))


def matching_bound(problem: Problem, *, steps: int = 300) -> float:
    """The b-matching dual bound (no-repeat problems; else the counting bound)."""
    if not problem.options.no_repeat:
        return counting_bound(problem)
    w_full = _weights(problem)
    n = problem.size
    b = float(_degree(problem))
    rows, cols = np.triu_indices(n, 1)
    w = w_full[rows, cols]
    keep = w > 0
    rows, cols, w = rows[keep], cols[keep], w[keep]
    if not len(w):
        return _extras(problem)
    ranked = np.sort(w_full, axis=1)
    k = int(min(b, n - 1))
    u = ranked[:, n - k] / 2 if k > 0 else np.zeros(n)

    def value(u: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.bool_]]:
        slack = w - u[rows] - u[cols]
        over = slack > 0
        return float(b * u.sum() + slack[over].sum()), over

    best, over = value(u)
    step = float(np.quantile(w, 0.9)) / 4 if len(w) else 0.0
    for it in range(steps):
        grad = np.full(n, b)
        grad -= np.bincount(rows[over], minlength=n) + np.bincount(cols[over], minlength=n)
        norm = float(np.abs(grad).max())
        if norm == 0:
            break
        u = np.maximum(u - step * grad / norm, 0.0)
        current, over = value(u)
        best = min(best, current)
        if it % 50 == 49:
            step /= 2
    return best + _extras(problem)


def best_bound(problem: Problem) -> float:
    """The smaller of :func:`counting_bound` and :func:`matching_bound`."""
    return min(counting_bound(problem), matching_bound(problem))
