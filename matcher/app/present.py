"""From a ranking to what people read: suggestions, their reasons, what was left out.

Reasons are built only when asked for (``explain``): they read the store (or the state's
cache of it, :mod:`matcher.app.organisations`) for names and the graph for the partners a
pair shares.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np
import numpy.typing as npt

from matcher.app.organisations import Organisations
from matcher.domain.schema import Organisation, Reason, Suggestion
from matcher.ranking.consortium import Completion
from matcher.ranking.features import Columns
from matcher.ranking.rank import Context, LeftOut, Ranking
from matcher.ranking.reasons import (
    NO_SINGLE_REASON,
    READS,
    REASON_SIGNALS,
    Evidence,
    explain,
    possible,
)

__all__ = ["NO_GOOD_MATCH", "Recommendation", "present", "present_completions"]

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


@dataclass
class _Lookup:
    """The evidence of one suggestion before the store's names are read."""

    count: int = 0
    shared: list[str] = field(default_factory=list)
    ends: list[str] | None = None
    domains: list[tuple[str, int]] = field(default_factory=list)
    alike: float = 0.0

    def ids(self) -> list[str]:
        return [*self.shared, *(self.ends or [])]

    def evidence(self, names: dict[str, str]) -> Evidence:
        common = sorted(names[i] for i in self.shared if i in names)
        path: tuple[str, str] | None = None
        if self.ends is not None and all(e in names for e in self.ends):
            path = (names[self.ends[0]], names[self.ends[1]])
        return Evidence(self.count, common, path, self.domains, self.alike)


def _lookup(
    ctx: Context,
    ranking: Ranking,
    row: int,
    values: dict[str, float],
    keys: Callable[[], list[set[int]]],
    offers: npt.NDArray[np.float32],
) -> _Lookup:
    """What the reasons of one suggestion may cite, looked up only where a reason may show.

    ``keys``: the query's funding-domain keys (computed once per list); ``offers``: the
    candidate's offers vector.
    """
    q = ranking.query
    p, graph, th = ctx.profiles, ctx.graph, ctx.thresholds
    out = _Lookup()
    if q.row is not None and values.get("common_partners", 0.0) > 0:
        shared = np.intersect1d(graph.partners(q.row), graph.partners(row), assume_unique=True)
        out.count = len(shared)
        out.shared = [p.ids[int(z)] for z in shared[:3].tolist()]
    elif q.neighbourhood is not None and th.clearly_above("walk", values.get("walk", 0.0)):
        theirs = graph.partners(row).astype(np.int64)
        ra = q.neighbourhood.resource_allocation_of(theirs)
        if len(theirs) and ra.max() > 0:
            y = int(theirs[int(np.argmax(ra))])
            link = np.intersect1d(graph.partners(q.row or 0), graph.partners(y), assume_unique=True)
            if len(link):
                out.ends = [p.ids[y], p.ids[int(link[0])]]
    if (
        ctx.domains is not None
        and q.row is not None
        and th.clearly_above("domain_activity", values.get("domain_activity", 0.0))
    ):
        out.domains = ctx.domains.shared(q.row, row, keys=keys())
    if max(values.get("they_offer", 0.0), values.get("you_offer", 0.0)) > 0:
        out.alike = float(offers @ q.vectors["offers"]) if offers.any() else 0.0
    return out


def present(
    ctx: Context,
    store: Organisations,
    query: Organisation,
    ranking: Ranking,
    *,
    explain_them: bool = True,
) -> Recommendation:
    """The suggestions of a ranking, with reasons when asked for.

    Args:
        ctx: the state that was ranked against.
        store: for names and profiles (the store, or the state's cache of it).
        query: who asked (a stored organisation or a profile).
        ranking: the ranking.
        explain_them: build the reasons.
    """
    rows = [int(ranking.rows[i]) for i in ranking.chosen]
    ids = [ctx.profiles.ids[r] for r in rows]
    found = store.get_organisations(ids)
    kept = [n for n, org_id in enumerate(ids) if org_id in found]  # others deleted since
    reasons: dict[int, list[Reason]] = {}
    if explain_them and ranking.chosen:
        # Only the features the reasons read, in one gather (not every column's values).
        read = [name for name in READS if name in ranking.columns]
        table = np.array([ranking.columns[name][ranking.chosen] for name in read], np.float64)
        values = [dict(zip(read, table[:, n].tolist(), strict=True)) for n in kept]
        # Only the contributions of reasons a pair can give are computed (the others would
        # never be read): each is a prediction of the ranker.
        needed: list[set[str]] = [set() for _ in ranking.chosen]
        for n, v in zip(kept, values, strict=True):
            needed[n] = possible(query, found[ids[n]], v, ctx.thresholds)
        contributions = ctx.scorer.contributions(
            ranking.columns, ranking.chosen, REASON_SIGNALS,
            x=ranking.matrix, raw=ranking.raw, needed=needed,
        )  # fmt: skip
        shown = {name: c.tolist() for name, c in contributions.items()}
        domains, query_row = ctx.domains, ranking.query.row
        keys = functools.cache(
            lambda: domains.keys_of(query_row) if domains and query_row is not None else []
        )
        offers = ctx.profiles.vectors("offers", np.array([rows[n] for n in kept], np.int64))
        lookups = [
            _lookup(ctx, ranking, rows[n], v, keys, offers[i])
            for i, (n, v) in enumerate(zip(kept, values, strict=True))
        ]
        wanted = [i for look in lookups for i in look.ids()]
        names = store.names(dict.fromkeys(wanted)) if wanted else {}
        for n, v, look in zip(kept, values, lookups, strict=True):
            shares = {name: float(c[n]) for name, c in shown.items()}
            other = found[ids[n]]
            reasons[n] = explain(query, other, v, shares, ctx.thresholds, look.evidence(names))
    suggestions: list[Suggestion] = []
    for n in kept:
        i = ranking.chosen[n]
        suggestions.append(
            Suggestion(
                rank=len(suggestions) + 1,
                organisation=found[ids[n]],
                score=round(float(ranking.probability[i]), 6),
                reasons=reasons.get(n, []),
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


def present_completions(
    ctx: Context,
    store: Organisations,
    members: Sequence[Organisation],
    done: Sequence[Completion],
    columns: Sequence[Columns],
    *,
    explain_them: bool = True,
) -> Recommendation:
    """Consortium completions as suggestions.

    Each carries the gaps it fills, then at most two reasons of its fit with the member it
    fits best, named after that member.
    """
    found = store.get_organisations(ctx.profiles.ids[c.row] for c in done)
    out: list[Suggestion] = []
    for c in done:
        other = found.get(ctx.profiles.ids[c.row])
        if other is None:
            continue
        reasons = list(c.gaps)
        if explain_them:
            member = members[c.member]
            cols = columns[c.member]
            values = {name: float(col[c.position]) for name, col in cols.items()}
            shares = ctx.scorer.contributions(cols, [c.position], REASON_SIGNALS)
            pair = explain(
                member, other, values, {g: float(v[0]) for g, v in shares.items()},
                ctx.thresholds, Evidence(),
            )  # fmt: skip
            reasons += [
                r.model_copy(update={"text": f"with {member.name}: {r.text}"})
                for r in pair[:2]
                if r is not NO_SINGLE_REASON
            ]
            reasons = reasons or [NO_SINGLE_REASON]
        out.append(
            Suggestion(
                rank=len(out) + 1, organisation=other, score=round(c.score, 6), reasons=reasons
            )
        )
    return Recommendation(out, calibrated=ctx.scorer.calibrated)
