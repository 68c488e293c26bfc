"""Feedback outcomes: what 'not interested', 'blocked' and 'interested' do to the lists.

:func:`feedback_outcomes` copies the home (:func:`~matcher.lab.analysis.homes.open_copy`:
the user's home is never written), asks the lists of a sample of organisations, records
feedback on some of their suggestions through the facade
(:meth:`~matcher.app.matcher.Matcher.record_feedback`, as the service records it), and asks
again. Feedback counts in both directions: a pair either side blocked, or said 'not
interested' about, is left out of both sides' lists and counted in
:attr:`~matcher.app.present.Recommendation.left_out`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from matcher.domain.vocab import FeedbackKind
from matcher.lab.analysis.crossborder import sample_ids
from matcher.lab.analysis.homes import Home, open_copy
from matcher.lab.analysis.tables import Cell, Table, figure
from matcher.ranking.rank import LeftOut

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FEEDBACK_PLAN",
    "FeedbackCase",
    "FeedbackOutcome",
    "feedback_outcomes",
    "feedback_summary",
    "feedback_table",
    "plot_feedback",
]

FEEDBACK_PLAN: tuple[tuple[int, FeedbackKind], ...] = (
    (0, FeedbackKind.NOT_INTERESTED),
    (1, FeedbackKind.BLOCKED),
    (2, FeedbackKind.INTERESTED),
)
"""Which suggestion (position in the list) gets which feedback from each asker."""


@dataclass(frozen=True)
class FeedbackCase:
    """One asker's list before and after every feedback of the sample was recorded."""

    organisation: str
    before: list[str]
    after: list[str]
    given: dict[str, FeedbackKind]
    """The feedback this asker gave, by the other organisation's id."""
    left_out_before: LeftOut
    left_out_after: LeftOut

    @property
    def kept(self) -> int:
        """Suggestions in both lists."""
        return len(set(self.before) & set(self.after))

    @property
    def new(self) -> int:
        """Suggestions only in the list after."""
        return len(set(self.after) - set(self.before))


@dataclass(frozen=True)
class FeedbackOutcome:
    """The cases of a sample, the pairs' lists after, and where the copy lives."""

    cases: list[FeedbackCase]
    reverse: dict[tuple[str, str], bool]
    """For each (asker, other) pair given feedback: whether the asker is in the other's
    list after."""
    copy: Path
    k: int


def feedback_outcomes(
    home: Home,
    target: Path | str | None = None,
    *,
    sample: int = 20,
    k: int = 10,
    seed: int = 0,
    plan: Sequence[tuple[int, FeedbackKind]] = FEEDBACK_PLAN,
) -> FeedbackOutcome:
    """Record feedback on a sample's lists in a copy of the home; compare the lists.

    Args:
        home: the home (read only).
        target: an empty folder for the copy (default: a new temporary folder).
        sample: how many askers (a seeded sample of those with a list of ``k``).
        k: list length.
        seed: the sample's seed.
        plan: (position in the list, feedback) given by every asker.
    """
    folder = (
        Path(target)
        if target is not None
        else Path(tempfile.mkdtemp(prefix="matcher-feedback-")) / "home"
    )
    copy = open_copy(home, folder)
    matcher = copy.matcher
    deepest = max((i for i, _ in plan), default=-1)
    asked: list[str] = []
    before: dict[str, tuple[list[str], LeftOut]] = {}
    for org_id in sample_ids(copy, 4 * sample, seed=seed):
        rec = matcher.recommend(org_id, k, explain=False)
        if len(rec) > deepest:
            asked.append(org_id)
            before[org_id] = ([s.organisation.id for s in rec], rec.left_out)
        if len(asked) == sample:
            break
    given: dict[str, dict[str, FeedbackKind]] = {}
    for org_id in asked:
        listed = before[org_id][0]
        for position, kind in plan:
            matcher.record_feedback(org_id, listed[position], kind)
            given.setdefault(org_id, {})[listed[position]] = kind
    cases = []
    for org_id in asked:
        rec = matcher.recommend(org_id, k, explain=False)
        ids, left = before[org_id]
        cases.append(
            FeedbackCase(
                org_id, ids, [s.organisation.id for s in rec], given[org_id], left, rec.left_out
            )
        )
    reverse: dict[tuple[str, str], bool] = {}
    for org_id, others in given.items():
        for other in others:
            listed = [s.organisation.id for s in matcher.recommend(other, k, explain=False)]
            reverse[(org_id, other)] = org_id in listed
    copy.close()
    return FeedbackOutcome(cases, reverse, folder, k)


def feedback_table(outcome: FeedbackOutcome) -> Table:
    """One row per asker: the feedback it gave, what its list left out, how it changed."""
    rows: list[tuple[Cell, ...]] = []
    for c in outcome.cases:
        given = "; ".join(f"{kind.value}: {other}" for other, kind in c.given.items())
        b, a = c.left_out_before, c.left_out_after
        rows.append(
            (
                c.organisation,
                given,
                f"{b.blocked} / {b.not_interested}",
                f"{a.blocked} / {a.not_interested}",
                a.partners,
                c.kept,
                len(c.before) - c.kept,
                c.new,
            )
        )
    return Table(
        ("asker", "feedback given", "left out before (blocked / not interested)",
         "left out after", "partners left out", "kept", "dropped", "new"),
        rows,
        f"Lists of {len(outcome.cases)} askers before and after their feedback (k = {outcome.k})",
    )  # fmt: skip


def feedback_summary(outcome: FeedbackOutcome) -> Table:
    """Per feedback kind: pairs, and how many stay in the asker's and the other's list."""
    after = {c.organisation: set(c.after) for c in outcome.cases}
    kinds: dict[FeedbackKind, list[tuple[str, str]]] = {}
    for c in outcome.cases:
        for other, kind in c.given.items():
            kinds.setdefault(kind, []).append((c.organisation, other))
    rows: list[tuple[Cell, ...]] = []
    for kind in FeedbackKind:
        pairs = kinds.get(kind, [])
        if not pairs:
            continue
        rows.append(
            (
                kind.value,
                len(pairs),
                sum(other in after[asker] for asker, other in pairs),
                sum(outcome.reverse[(asker, other)] for asker, other in pairs),
            )
        )
    return Table(
        ("feedback", "pairs", "still in the asker's list", "asker in the other's list"),
        rows,
        "Where the pairs given feedback appear afterwards",
    )


def plot_feedback(outcome: FeedbackOutcome) -> Figure:
    """Left-out counts before and after (summed over askers); how each list changed."""
    fig = figure(11.0, 4.2)
    left, right = fig.subplots(1, 2)
    labels = ["blocked", "not interested"]
    before = [
        sum(c.left_out_before.blocked for c in outcome.cases),
        sum(c.left_out_before.not_interested for c in outcome.cases),
    ]
    after = [
        sum(c.left_out_after.blocked for c in outcome.cases),
        sum(c.left_out_after.not_interested for c in outcome.cases),
    ]
    x = np.arange(len(labels))
    left.bar(x - 0.2, before, 0.4, label="before", color="tab:gray")
    left.bar(x + 0.2, after, 0.4, label="after", color="tab:blue")
    left.set_xticks(x, labels)
    left.set_ylabel("organisations left out (sum over lists)")
    left.set_title("What the lists left out")
    left.legend()
    names = [c.organisation for c in outcome.cases]
    kept = np.array([c.kept for c in outcome.cases], np.float64)
    new = np.array([c.new for c in outcome.cases], np.float64)
    y = np.arange(len(names))
    right.barh(y, kept, color="tab:gray", label="kept")
    right.barh(y, new, left=kept, color="tab:orange", label="new")
    right.set_yticks(y, names, fontsize=7)
    right.invert_yaxis()
    right.set_xlabel(f"suggestions (of {outcome.k})")
    right.set_title("Each list after the feedback")
    right.legend(loc="lower right")
    for ax in (left, right):
        ax.grid(True, axis="x" if ax is right else "y", alpha=0.3)
    fig.suptitle(f"Feedback outcomes: {len(outcome.cases)} askers, recorded in a copy of the home")
    return fig
