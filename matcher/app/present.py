"""From a ranking to what people read: suggestions, their reasons, what was left out.

Reasons are built only when asked for (``explain``): they read the store for names and
the graph for the partners a pair shares.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np

from matcher.domain.schema import Organisation, Reason, Suggestion
from matcher.ranking.rank import Context, LeftOut, Ranking
from matcher.ranking.reasons import Evidence, explain
from matcher.store import Store

__all__ = ["NO_GOOD_MATCH", "Recommendation", "present"]

NO_GOOD_MATCH = 0.02
"""Below this best probability a list carries a 'no good match' note."""


@dataclass(frozen=True)
class Recommendation(Sequence[Suggestion]):
    """A list of suggestions, with what was left out and a note when none is good.

    Behaves as the sequence of its suggestions.
    """

    suggestions: list[Suggestion]
    left_out: LeftOut = field(default_factory=LeftOut)
    note: str | None = None
    calibrated: bool = False
    """Whether scores are probabilities calibrated on the store's history."""

    @overload
    def __getitem__(self, i: int) -> Suggestion: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Suggestion]: ...

    def __getitem__(self, i: int | slice) -> Suggestion | Sequence[Suggestion]:
        return self.suggestions[i]

    def __len__(self) -> int:
        return len(self.suggestions)

    def __iter__(self) -> Iterator[Suggestion]:
        return iter(self.suggestions)


def _evidence(ctx: Context, store: Store, ranking: Ranking, row: int) -> Evidence:
    q = ranking.query
    p, graph = ctx.profiles, ctx.graph
    common: list[str] = []
    path: tuple[str, str] | None = None
    if q.row is not None:
        shared = np.intersect1d(graph.partners(q.row), graph.partners(row))
        names = store.get_organisations(p.ids[int(z)] for z in shared.tolist())
        latest = {z: store.latest_collaboration_of(p.ids[q.row], z) for z in names}
        ordered = sorted(
            names, key=lambda z: (-(latest[z].date.toordinal() if latest[z] else 0), z)
        )
        common = [names[z].name for z in ordered]
        if not common and q.neighbourhood is not None:
            theirs = graph.partners(row).astype(np.int64)
            _, _, ra = q.neighbourhood.scores(theirs)
            if len(theirs) and ra.max() > 0:
                y = int(theirs[int(np.argmax(ra))])
                link = np.intersect1d(graph.partners(q.row), graph.partners(y))
                if len(link):
                    found = store.get_organisations([p.ids[y], p.ids[int(link[0])]])
                    if len(found) == 2:
                        path = (found[p.ids[y]].name, found[p.ids[int(link[0])]].name)
    domains: list[tuple[str, int]] = []
    if ctx.domains is not None and q.row is not None:
        domains = ctx.domains.shared(q.row, row)
    offers = p.vector("offers", row)
    alike = float(offers @ q.vectors["offers"]) if offers.any() else 0.0
    return Evidence(common_partners=common, path=path, domains=domains, offers_alike=alike)


def present(
    ctx: Context,
    store: Store,
    query: Organisation,
    ranking: Ranking,
    *,
    explain_them: bool = True,
) -> Recommendation:
    """The suggestions of a ranking, with reasons when asked for.

    Args:
        ctx: the state that was ranked against.
        store: for names and profiles.
        query: who asked (a stored organisation or a profile).
        ranking: the ranking.
        explain_them: build the reasons.
    """
    rows = [int(ranking.rows[i]) for i in ranking.chosen]
    ids = [ctx.profiles.ids[r] for r in rows]
    found = store.get_organisations(ids)
    contributions = (
        ctx.scorer.contributions(ranking.columns, ranking.chosen)
        if explain_them and ranking.chosen
        else None
    )
    features = ctx.scorer.features
    suggestions = []
    for n, (i, row, org_id) in enumerate(zip(ranking.chosen, rows, ids, strict=True)):
        other = found.get(org_id)
        if other is None:  # deleted since the ranking began
            continue
        reasons: list[Reason] = []
        if contributions is not None:
            values = {name: float(col[i]) for name, col in ranking.columns.items()}
            shares = dict(zip(features, contributions[n].tolist(), strict=True))
            evidence = _evidence(ctx, store, ranking, row)
            reasons = explain(query, other, values, shares, ctx.thresholds, evidence)
        suggestions.append(
            Suggestion(
                rank=len(suggestions) + 1,
                organisation=other,
                score=round(float(ranking.probability[i]), 6),
                reasons=reasons,
            )
        )
    best = suggestions[0].score if suggestions else 0.0
    note = None
    if not suggestions:
        note = "no organisation passes the filters and rules"
    elif ctx.scorer.calibrated and best < NO_GOOD_MATCH:
        note = (
            f"no good match: the best suggestion's chance of a partnership is "
            f"{best:.1%}, below {NO_GOOD_MATCH:.0%}"
        )
    return Recommendation(suggestions, ranking.left_out, note, ctx.scorer.calibrated)
