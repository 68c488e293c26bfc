"""One organisation's suggestions: the profile, the list, its reasons and what it left out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from matcher.app.present import Recommendation
from matcher.domain.schema import Organisation, Suggestion
from matcher.lab.analysis.tables import Cell, Table, figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "left_out_table",
    "plot_reasons",
    "profile_table",
    "reasons_table",
    "suggestions_table",
]


def profile_table(organisation: Organisation) -> Table:
    """An organisation's profile, one field a row (empty fields left out)."""
    rows: list[tuple[Cell, ...]] = []
    for name, value in organisation.model_dump(mode="json").items():
        if value in (None, "", []):
            continue
        text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        rows.append((name, text))
    return Table(("field", "value"), rows, f"{organisation.name} ({organisation.id})")


def suggestions_table(suggestions: Iterable[Suggestion], *, title: str = "") -> Table:
    """One row per suggestion: rank, partner, kind, country, score and reasons."""
    rows: list[tuple[Cell, ...]] = [
        (
            s.rank,
            s.organisation.id,
            s.organisation.name,
            s.organisation.kind.value,
            s.organisation.country or "",
            round(s.score, 4),
            "; ".join(r.text for r in s.reasons),
        )
        for s in suggestions
    ]
    return Table(("rank", "id", "name", "kind", "country", "score", "reasons"), rows, title)


def left_out_table(recommendation: Recommendation) -> Table:
    """What a list left out and why, with its note and whether scores are probabilities."""
    lo = recommendation.left_out
    rows: list[tuple[Cell, ...]] = [
        ("existing partners", lo.partners),
        ("blocked (either side)", lo.blocked),
        ("not interested (either side)", lo.not_interested),
        ("excluded by the filters", lo.filtered),
    ]
    note = recommendation.note or "none"
    scores = "calibrated probabilities" if recommendation.calibrated else "uncalibrated scores"
    return Table(("left out", "organisations"), rows, f"Left out; note: {note}; {scores}")


def reasons_table(suggestions: Iterable[Suggestion]) -> Table:
    """One row per reason: which signal, its share of the score, and the text shown."""
    rows: list[tuple[Cell, ...]] = [
        (s.rank, s.organisation.name, r.signal, round(r.contribution, 3), r.text)
        for s in suggestions
        for r in s.reasons
    ]
    return Table(("rank", "partner", "signal", "contribution", "reason"), rows)


def plot_reasons(suggestions: Sequence[Suggestion], *, title: str = "") -> Figure:
    """Each suggestion's score and the contributions of its reasons' signals, stacked."""
    from matplotlib import colormaps

    order: list[str] = []
    for s in suggestions:
        order += [r.signal for r in s.reasons if r.signal not in order]
    palette = colormaps["tab20"]
    labels = [f"{s.rank}. {s.organisation.name[:40]}" for s in suggestions][::-1]
    fig = figure(11.0, 0.45 * len(suggestions) + 2.0)
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=(2, 1))
    start = np.zeros(len(suggestions))
    for i, signal in enumerate(order):
        values = np.array(
            [sum(r.contribution for r in s.reasons if r.signal == signal) for s in suggestions]
        )[::-1]
        left.barh(
            labels, values, left=start, color=palette((2 * i) % 20 + (i // 10) % 2), label=signal
        )
        start += values
    left.set_xlabel("share of the score (reasons shown)")
    left.set_ylabel("suggestion")
    left.set_title("what each suggestion's reasons contribute")
    if order:
        fig.legend(title="signal", loc="outside lower center", ncol=min(len(order), 5))
    scores = [s.score for s in suggestions][::-1]
    right.barh(labels, scores, color="tab:gray")
    for y, v in enumerate(scores):
        right.annotate(f"{v:.3f}", (v, y), xytext=(3, 0), textcoords="offset points",
                       va="center", fontsize=8)  # fmt: skip
    right.margins(x=0.25)
    right.set_xlabel("score")
    right.set_title("final score")
    for ax in (left, right):
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(title or "Suggestions and the reasons behind them")
    return fig
