"""Workshop tables (notebook 06): registrations, one round of a plan, seatings compared.

Kept apart from the rest of the analysis helpers (not imported by the package): only
notebook 06 needs the planner and its solver.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from matcher.lab.analysis.tables import Cell, Table, figure
from matcher.planner import (
    Participant,
    Plan,
    Problem,
    best_bound,
    greedy_seating,
    random_seating,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plan_table", "plot_seatings", "seating_comparison", "workshop_participants"]


def workshop_participants(
    ids: Sequence[str], n: int, *, seed: int = 0, two_people_every: int = 6
) -> list[Participant]:
    """``n`` registrations drawn from organisations, as an organiser gets them.

    Every ``two_people_every``-th organisation sends two people (so the one-per-table rule
    has work to do); the rest one each.
    """
    rng = np.random.default_rng(seed)
    participants: list[Participant] = []
    for n_org, row in enumerate(rng.permutation(len(ids)).tolist()):
        people = 2 if n_org % two_people_every == 0 else 1
        for k in range(min(people, n - len(participants))):
            participants.append(Participant(ids[row], person=f"delegate {k + 1}"))
        if len(participants) >= n:
            break
    return participants


def plan_table(plan: Plan, round_number: int = 1) -> Table:
    """One round of a plan: each table's theme, members and countries."""
    data = plan.to_json()["rounds"][round_number - 1]["tables"]
    rows: list[tuple[Cell, ...]] = [
        (
            t["table"],
            t["theme"],
            "; ".join(m["name"] for m in t["members"]),
            ", ".join(t["countries"]),
        )
        for t in data
    ]
    return Table(("table", "theme", "members", "countries"), rows, f"Round {round_number}")


def seating_comparison(problem: Problem, plan: Plan, *, seed: int = 0) -> Table:
    """The plan's objective beside a random seating, a greedy one and the upper bound.

    The bound is the plan's own (CP-SAT's proven bound for small events), else
    :func:`matcher.planner.best_bound`.
    """
    rows: list[tuple[Cell, ...]] = []
    bound = plan.stats.bound if plan.stats and plan.stats.bound else best_bound(problem)
    for name, seating in (
        ("random", random_seating(problem, seed)),
        ("greedy", greedy_seating(problem)),
        ("planned", plan.seating),
    ):
        evaluation = problem.evaluate(seating)
        rows.append(
            (
                name,
                round(evaluation.score, 3),
                len(evaluation.broken),
                round(evaluation.score / bound, 3),
            )
        )
    rows.append(("upper bound", round(bound, 3), 0, 1.0))
    return Table(("seating", "objective", "broken rules", "of the bound"), rows, "Seatings")


def plot_seatings(comparison: Table, *, title: str = "") -> Figure:
    """The objectives of :func:`seating_comparison` as bars, broken rules noted."""
    fig = figure(7.0, 4.0)
    ax = fig.subplots()
    names = [str(v) for v in comparison.column("seating")]
    values = [float(v) for v in comparison.column("objective")]
    broken = comparison.column("broken rules")
    bars = ax.bar(names, values, color=["tab:gray", "tab:orange", "tab:blue", "tab:green"])
    for bar, b in zip(bars, broken, strict=True):
        label = f"{bar.get_height():.2f}" + (f"\n{b} broken" if b else "")
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.set_ylabel("objective (pair scores + themes − mix shortfall)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(title or "The planner against simpler seatings")
    return fig
