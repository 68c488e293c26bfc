"""Graph signals: the link scores the ranker reads, for one organisation and over many.

The scores are those of :mod:`matcher.graph.scores`, computed as ranking computes them:
common partners, Adamic–Adar and resource allocation over the query's two-hop
neighbourhood, the three-hop walk over its partners' partners' partners, and (where the
home has projects) domain activity. Candidates are every live organisation but the query
and its partners.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from matcher.graph.scores import two_hop
from matcher.lab.analysis.tables import Cell, Table, figure
from matcher.ranking.rank import Context

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "SCORE_LABELS",
    "LinkScores",
    "link_score_correlations",
    "link_score_table",
    "link_scores",
    "plot_link_scores",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SCORE_LABELS: dict[str, str] = {
    "common_partners": "common partners",
    "adamic_adar": "Adamic–Adar",
    "resource_allocation": "resource allocation",
    "walk": "three-hop walk",
    "domain_activity": "domain activity",
    "degree": "candidate degree",
}
"""The scores by name, and how tables label them."""


@dataclass(frozen=True)
class LinkScores:
    """Link scores of one organisation against candidates (not itself, not its partners)."""

    organisation: str
    partners: list[str]
    ids: list[str]
    rows: IntArray
    scores: dict[str, FloatArray]
    """Each score of :data:`SCORE_LABELS` over the candidates (domain activity only where
    the home has projects)."""

    def reached(self, name: str) -> int:
        """How many candidates score above 0."""
        return int((self.scores[name] > 0).sum())


def _candidates(ctx: Context, row: int) -> IntArray:
    alive = ctx.profiles.alive[: len(ctx.graph)]
    keep = alive.copy()
    keep[row] = False
    keep[np.asarray(ctx.graph.partners(row), np.int64)] = False
    return np.flatnonzero(keep).astype(np.int64)


def _scores(ctx: Context, row: int, rows: IntArray) -> dict[str, FloatArray]:
    nb = two_hop(ctx.graph, row)
    cn, aa, ra = nb.scores(rows)
    out = {
        "common_partners": cn,
        "adamic_adar": aa,
        "resource_allocation": ra,
        "walk": nb.walk(ctx.graph, rows),
    }
    if ctx.domains is not None:
        out["domain_activity"] = np.asarray(ctx.domains.scores(row, rows), np.float64)
    out["degree"] = np.asarray(ctx.graph.degree[rows], np.float64)
    return out


def link_scores(ctx: Context, organisation_id: str) -> LinkScores:
    """Every link score of one organisation against every candidate.

    Raises:
        KeyError: the id is not in the served state.
    """
    row = ctx.profiles.index[organisation_id]
    rows = _candidates(ctx, row)
    ids = ctx.profiles.ids
    return LinkScores(
        organisation=organisation_id,
        partners=[ids[int(r)] for r in ctx.graph.partners(row).tolist()],
        ids=[ids[int(r)] for r in rows.tolist()],
        rows=rows,
        scores=_scores(ctx, row, rows),
    )


def link_score_table(
    scores: LinkScores, *, k: int = 10, by: str = "adamic_adar", names: Mapping[str, str]
) -> Table:
    """The ``k`` best candidates by one score, with every score beside it.

    Args:
        scores: from :func:`link_scores`.
        k: rows.
        by: the score to sort by (ties: the walk, then id).
        names: id → name, for the table.
    """
    s = scores.scores
    ranked = sorted(range(len(scores.ids)), key=lambda i: (-s[by][i], -s["walk"][i], scores.ids[i]))
    order = ranked[:k]
    shown = [n for n in SCORE_LABELS if n in s]
    rows: list[tuple[Cell, ...]] = []
    for i in order:
        values: list[Cell] = [
            int(s[n][i]) if n in ("common_partners", "degree") else round(float(s[n][i]), 4)
            for n in shown
        ]
        rows.append((scores.ids[i], names.get(scores.ids[i], ""), *values))
    return Table(
        ("id", "name", *(SCORE_LABELS[n] for n in shown)),
        rows,
        f"Top {k} candidates of {scores.organisation} by {SCORE_LABELS[by]}",
    )


def link_score_correlations(
    ctx: Context,
    queries: Sequence[int] | IntArray | None = None,
    *,
    sample: int = 100,
    max_candidates: int = 5000,
    seed: int = 0,
) -> Table:
    """Spearman correlations of the link scores over (query, candidate) pairs.

    Args:
        ctx: the served state.
        queries: query rows (default: a seeded sample of ``sample`` organisations with a
            partner).
        sample: how many queries to draw by default.
        max_candidates: per query, a seeded sample of this many candidates at most.
        seed: the samples' seed.
    """
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    if queries is None:
        alive = ctx.profiles.alive[: len(ctx.graph)]
        linked = np.flatnonzero(alive & (ctx.graph.degree[: len(alive)] > 0))
        count = min(sample, len(linked))
        queries = np.sort(rng.choice(linked, count, replace=False)).astype(np.int64)
    columns: dict[str, list[FloatArray]] = {}
    pairs = 0
    for row in np.asarray(queries, np.int64).tolist():
        rows = _candidates(ctx, int(row))
        if len(rows) > max_candidates:
            rows = np.sort(rng.choice(rows, max_candidates, replace=False))
        for name, values in _scores(ctx, int(row), rows).items():
            columns.setdefault(name, []).append(values)
        pairs += len(rows)
    names = [n for n in SCORE_LABELS if n in columns]
    labels = [SCORE_LABELS[n] for n in names]
    if pairs < 3:
        return Table(("score", *labels), [], "Too few (query, candidate) pairs to correlate")
    data = np.column_stack([np.concatenate(columns[n]) for n in names])
    rho = np.atleast_2d(spearmanr(data).statistic)
    table_rows: list[tuple[Cell, ...]] = [
        (a, *(round(float(rho[i, j]), 3) for j in range(len(labels)))) for i, a in enumerate(labels)
    ]
    return Table(
        ("score", *labels),
        table_rows,
        f"Spearman correlation over {pairs:,} (query, candidate) pairs "
        f"of {len(np.asarray(queries))} queries",
    )


def plot_link_scores(scores: LinkScores, *, title: str = "") -> Figure:
    """How the scores relate for one query, each candidate coloured by its degree.

    Left: Adamic–Adar against common partners (two hops); right: the three-hop walk
    against Adamic–Adar (the walk also reaches candidates without a partner in common).
    """
    s = scores.scores
    fig = figure(11.0, 4.6)
    left, right = fig.subplots(1, 2)
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(scores.ids))
    points = left.scatter(
        s["common_partners"] + jitter, s["adamic_adar"], c=s["degree"], cmap="viridis", s=22,
        alpha=0.8,
    )  # fmt: skip
    left.set_xlabel("common partners (jittered)")
    left.set_ylabel("Adamic–Adar")
    left.set_title("Adamic–Adar discounts partners shared via hubs")
    right.scatter(s["adamic_adar"], s["walk"], c=s["degree"], cmap="viridis", s=22, alpha=0.8)
    right.set_xlabel("Adamic–Adar (0: no partner in common)")
    right.set_ylabel("three-hop walk")
    only_walk = int(((s["walk"] > 0) & (s["common_partners"] == 0)).sum())
    right.set_title(f"the walk reaches {only_walk} candidates without a common partner")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    fig.colorbar(points, ax=[left, right], label="candidate's degree")
    fig.suptitle(
        title
        or f"Link scores of {scores.organisation} ({len(scores.partners)} partners) "
        f"against {len(scores.ids)} candidates"
    )
    return fig
