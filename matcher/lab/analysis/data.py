"""The data: counts by kind, country and ecosystem; the degree distribution; a typical organisation.

Degrees are those of the served state (:class:`~matcher.ranking.rank.Context`: the
snapshot's graph and the collaborations written since); deleted organisations are left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from matcher.lab.analysis.tables import Cell, Table, count_table, figure
from matcher.ranking.rank import Context
from matcher.store import Store

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "collaboration_years",
    "degree_distribution",
    "degree_table",
    "degrees",
    "plot_counts",
    "plot_degree_distribution",
    "typical_organisation",
]


def degrees(ctx: Context) -> npt.NDArray[np.int64]:
    """Each live organisation's number of distinct partners, in row order."""
    alive = ctx.profiles.alive[: len(ctx.graph.degree)]
    return ctx.graph.degree[: len(alive)][alive].astype(np.int64)


def degree_distribution(ctx: Context) -> list[tuple[int, int]]:
    """``(degree, organisations with that many partners)``, by degree; degree 0 included."""
    return sorted(Counter(degrees(ctx).tolist()).items())


def degree_table(ctx: Context) -> Table:
    """The degree distribution as a table."""
    dist = degree_distribution(ctx)
    total = sum(n for _, n in dist) or 1
    rows: list[tuple[Cell, ...]] = [(d, n, round(n / total, 3)) for d, n in dist]
    return Table(
        ("partners", "organisations", "share"), rows, "Organisations by number of partners"
    )


def collaboration_years(store: Store) -> Table:
    """Collaborations per year of their date (the history an evaluation can split)."""
    counts = Counter(c.date.year for c in store.collaborations())
    rows: list[tuple[Cell, ...]] = [(year, counts[year]) for year in sorted(counts)]
    return Table(("year", "collaborations"), rows, "Collaborations by year")


def typical_organisation(ctx: Context, *, min_degree: int = 3) -> str:
    """The organisation of median degree among those with at least ``min_degree`` partners.

    Works on any data: where no organisation has ``min_degree`` partners, those with at
    least one count. Deterministic (ties by id).

    Raises:
        ValueError: no organisation has a partner.
    """
    alive = ctx.profiles.alive[: len(ctx.graph.degree)]
    degree = ctx.graph.degree[: len(alive)]
    ids = ctx.profiles.ids
    for floor in (min_degree, 1):
        found = sorted(
            (int(degree[r]), ids[r])
            for r in np.flatnonzero(alive & (degree >= max(floor, 1))).tolist()
        )
        if found:
            return found[len(found) // 2][1]
    raise ValueError("no organisation has a partner: the home holds no collaborations")


def plot_counts(
    counts: Mapping[str, int], *, title: str, xlabel: str, ylabel: str, top: int | None = None
) -> Figure:
    """A horizontal bar chart of counts, largest on top."""
    table = count_table(counts, ylabel, top=top)
    labels = [str(v) for v in table.column(ylabel)]
    values = [float(v) for v in table.column("count")]
    fig = figure(8.0, max(2.5, 0.32 * len(labels) + 1.2))
    ax = fig.add_subplot()
    ax.barh(labels[::-1], values[::-1], color="tab:blue")
    for y, v in enumerate(values[::-1]):
        ax.annotate(f"{v:.0f}", (v, y), xytext=(3, 0), textcoords="offset points", va="center")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.margins(x=0.1)
    return fig


def plot_degree_distribution(ctx: Context, *, title: str = "") -> Figure:
    """The degree distribution on log-log axes, with its complementary cumulative form.

    Organisations without partners cannot sit on a log axis: their number is in the title.
    """
    full = degree_distribution(ctx)
    dist = [(d, n) for d, n in full if d > 0]
    isolated = sum(n for d, n in full if d == 0)
    values = np.array([d for d, _ in dist], np.float64)
    counts = np.array([n for _, n in dist], np.float64)
    fig = figure(10.0, 4.2)
    left, right = fig.subplots(1, 2)
    left.loglog(values, counts, "o", color="tab:blue")
    left.set_title("organisations per degree")
    left.set_xlabel("partners (degree, log)")
    left.set_ylabel("organisations (log)")
    ccdf = counts[::-1].cumsum()[::-1] / max(counts.sum(), 1.0)
    right.loglog(values, ccdf, "-o", color="tab:orange", markersize=3)
    right.set_title("share with at least this degree")
    right.set_xlabel("partners (degree, log)")
    right.set_ylabel("P(degree ≥ k) (log)")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    total = sum(n for _, n in full)
    pairs = int(sum(d * n for d, n in full) // 2)
    fig.suptitle(
        title
        or f"Degree distribution: {total} organisations, {pairs} partner pairs, "
        f"{isolated} without partners"
    )
    return fig
