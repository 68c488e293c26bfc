"""Reasons: the largest contributions to a suggestion's score, in words people read.

Every reason names the signal it comes from and carries that signal's contribution to the
score, so what is shown is what was computed; nothing is written separately.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from matcher.domain.schema import Organisation, Reason
from matcher.domain.vocab import STAGE_ORDER, load_complementarity
from matcher.ranking.rank import DOMAIN_SIGNAL, Ranked
from matcher.ranking.signals import SIGNALS, ProfileTable

__all__ = ["explain"]

_MAX_REASONS = 4
_MIN_SHARE = 0.05


def _clip(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _names(items: list[str]) -> str:
    return ", ".join(items)


class _Explainer:
    def __init__(
        self, table: ProfileTable, query: Organisation, query_row: int | None, ranked: Ranked
    ) -> None:
        self.table = table
        self.query = query
        self.query_row = query_row
        self.ranked = ranked
        self.other = table.organisations[ranked.row]
        self.value = dict(zip(SIGNALS, ranked.signals.tolist(), strict=True))

    def text(self) -> str:
        return f"your profiles describe related work (text similarity {self.value['text']:.2f})"

    def ecosystems(self) -> str:
        shared = [e.label for e in self.other.ecosystems if e in self.query.ecosystems]
        return f"shared ecosystems: {_names(shared)}"

    def keywords(self) -> str:
        mine = {k.lower() for k in self.query.keywords}
        shared = [k for k in self.other.keywords if k.lower() in mine]
        return f"shared technologies: {_names(shared)}"

    def complementarity(self) -> str:
        q, o = self.query, self.other
        shared = [e for e in o.ecosystems if e in q.ecosystems]
        if shared and q.stages and o.stages:
            theirs = [s for s in STAGE_ORDER if s in o.stages and s not in q.stages]
            mine = [s for s in STAGE_ORDER if s in q.stages]
            if theirs:
                return (
                    f"complements your stage in {shared[0].label}: you do "
                    f"{_names([s.label for s in mine])}, they do "
                    f"{_names([s.label for s in theirs])}"
                )
        table = load_complementarity()
        for a in q.ecosystems:
            for b in o.ecosystems:
                relation = table.get(frozenset((a, b)))
                if relation:
                    return f"their ecosystem works with yours ({b.label} ↔ {a.label}): {relation}"
        return "complementary value chains"

    def they_offer(self) -> str:
        return f"they offer {_clip(self.other.offers, 80)!r}, which matches what you seek"

    def you_offer(self) -> str:
        return f"they seek {_clip(self.other.seeks, 80)!r}, which you offer"

    def common_partners(self) -> str:
        if self.query_row is None:
            return "partners in common"
        items = self.table.graph.common_partners(self.table.ids[self.query_row], self.other.id)
        named = []
        for item in items[:3]:
            row = self.table.rows.get(item.partner)
            name = self.table.organisations[row].name if row is not None else item.partner
            named.append(f"{name} ({item.latest})")
        more = f" and {len(items) - 3} more" if len(items) > 3 else ""
        return f"{len(items)} partner(s) in common: {_names(named)}{more}"

    adamic_adar = common_partners
    resource_allocation = common_partners

    def graph_distance(self) -> str:
        steps = round(1 / self.value["graph_distance"]) if self.value["graph_distance"] else 0
        return f"reachable through your partners' network ({steps} steps away)"

    def pagerank(self) -> str:
        return "close to you in the collaboration network"

    def recent_ties(self) -> str:
        return "linked to you through recent collaborations"

    def same_country(self) -> str:
        return f"based in your country ({self.other.country})"

    def neighbour_country(self) -> str:
        return f"based in a neighbouring country ({self.other.country})"

    def target_market(self) -> str:
        return f"based in {self.other.country}, a market you want to enter"

    def international(self) -> str:
        return f"a partner abroad ({self.other.country}), as you look to go international"

    def activity(self) -> str:
        n = self.value["activity"]
        return f"active: {n:.0f} collaboration(s) in the last two years"

    def degree(self) -> str:
        return f"well connected: {self.value['degree']:.0f} partners"

    def domain_activity(self) -> str:
        return "active in the funding programmes and call topics you work in"


def explain(
    table: ProfileTable,
    query: Organisation,
    query_row: int | None,
    ranked: Ranked,
) -> list[Reason]:
    """Reasons for one suggestion, largest contribution first.

    A signal becomes a reason when its contribution is positive and at least 5 % of the
    sum of positive contributions; at most four are given.
    """
    explainer = _Explainer(table, query, query_row, ranked)
    contributions: npt.NDArray[np.float64] = ranked.contributions
    positive = float(contributions[contributions > 0].sum())
    order: list[int] = np.argsort(-contributions, kind="stable").tolist()
    names = (*SIGNALS, DOMAIN_SIGNAL)  # a ranker's features: the signals, then maybe it
    values: list[float] = contributions.tolist()
    reasons: list[Reason] = []
    seen_graph = False
    for i in order:
        share = values[i]
        if share <= 0 or (positive > 0 and share < _MIN_SHARE * positive):
            break
        name = names[i]
        if name in {"common_partners", "adamic_adar", "resource_allocation"}:
            if seen_graph:
                continue
            seen_graph = True
        render: Callable[[], str] = getattr(explainer, name)
        reasons.append(Reason(signal=name, contribution=round(share, 6), text=render()))
        if len(reasons) == _MAX_REASONS:
            break
    return reasons
