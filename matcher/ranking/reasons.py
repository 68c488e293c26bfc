"""Reasons: why a suggestion was made, in words, and only when it is true.

A signal becomes a reason when its value is clearly above what a random pair gets (above
the 90th percentile of random pairs, measured at build time: :class:`Thresholds`) and it
pushed the score up (a positive contribution). Popularity (activity, number of partners)
and a shared country are never reasons. What seeks and what is offered match only above
the threshold and between different roles: an organisation offering much the same as the
query is a competitor, not a supplier of what the query seeks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import numpy.typing as npt

from matcher.domain.schema import Organisation, Reason
from matcher.domain.vocab import STAGE_ORDER, Ecosystem, load_complementarity
from matcher.ranking.features import SIGNALS

__all__ = [
    "NO_SINGLE_REASON",
    "READS",
    "REASON_SIGNALS",
    "Evidence",
    "Thresholds",
    "explain",
    "possible",
]

FloatArray = npt.NDArray[np.float64]

REASON_SIGNALS: dict[str, tuple[str, ...]] = {
    "text": SIGNALS["text"],
    "keywords": ("keywords", *SIGNALS["tags"]),
    "ecosystems": SIGNALS["ecosystems"],
    "complementarity": SIGNALS["complementarity"],
    "they_offer": ("they_offer",),
    "you_offer": ("you_offer",),
    "common_partners": SIGNALS["two_hop"],
    "walk": SIGNALS["walk"],
    "domain_activity": SIGNALS["domains"],
    "target_market": ("target_market",),
    "their_target": ("their_target",),
}
"""Each reason and the features whose contributions it sums (popularity has none)."""

READS: tuple[str, ...] = (
    "text",
    "ecosystems",
    "complementarity",
    "they_offer",
    "you_offer",
    "common_partners",
    "walk",
    "domain_activity",
    "target_market",
    "their_target",
)
"""The feature values :func:`possible` and :func:`explain` read (others need not be passed)."""

_MAX_REASONS = 4

NO_SINGLE_REASON = Reason(
    signal="overall",
    contribution=0.0,
    text="no single reason stands out: several weaker signals together rank it here",
)
"""The reason of a suggestion none of whose signals is clearly above random pairs."""
_GRID = 101
_STEPS = np.arange(_GRID)


@dataclass(frozen=True)
class Thresholds:
    """What random pairs get: per signal, its percentiles 0..100 over random pairs.

    Attributes:
        grid: per signal, 101 values (the 0th to 100th percentile).
        pairs: how many random pairs were measured.
    """

    grid: dict[str, tuple[float, ...]]
    pairs: int

    @classmethod
    def measure(cls, samples: Mapping[str, FloatArray]) -> Thresholds:
        """Percentiles of each signal's values over random pairs (absent texts left out)."""
        known = {name: values[~np.isnan(values)] for name, values in samples.items()}
        grid = {
            name: tuple(float(v) for v in np.percentile(values, np.arange(_GRID)))
            for name, values in known.items()
            if len(values)
        }
        return cls(grid, max((len(v) for v in samples.values()), default=0))

    def percentile(self, name: str, value: float) -> float:
        """The share (0–100) of random pairs below ``value``."""
        grid = self._arrays.get(name)
        if grid is None:
            return 0.0
        return float(np.interp(value, grid, _STEPS, left=0.0, right=100.0))

    @cached_property
    def _arrays(self) -> dict[str, FloatArray]:
        return {name: np.array(grid, np.float64) for name, grid in self.grid.items()}

    def clearly_above(self, name: str, value: float, *, floor: float = 0.0) -> bool:
        """Above the 90th percentile of random pairs (and above ``floor``)."""
        return value > max(self._lines.get(name, 0.0), floor)

    @cached_property
    def _lines(self) -> dict[str, float]:
        return {name: grid[90] for name, grid in self.grid.items() if grid}

    def to_json(self) -> dict[str, object]:
        """As JSON data for the manifest."""
        return {"pairs": self.pairs, "percentiles": {k: list(v) for k, v in self.grid.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Thresholds:
        """Read :meth:`to_json`'s output."""
        grid = data.get("percentiles", {})
        assert isinstance(grid, dict)
        pairs = data.get("pairs", 0)
        return cls(
            {k: tuple(v) for k, v in grid.items()}, int(pairs) if isinstance(pairs, int) else 0
        )


@dataclass(frozen=True)
class Evidence:
    """What a reason may name about the pair beyond its feature values.

    Attributes:
        common_count: how many partners both have.
        common_partners: names of some of them.
        path: for a pair two steps apart, (their partner, your partner) linking them.
        domains: funding domains both work in, with the candidate's project count.
        offers_alike: cosine of what both offer (a competitor offers much the same).
    """

    common_count: int = 0
    common_partners: Sequence[str] = ()
    path: tuple[str, str] | None = None
    domains: Sequence[tuple[str, int]] = ()
    offers_alike: float = 0.0


def _clip(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _than(share: float) -> str:
    return f"closer than {min(share, 99.0):.0f} % of pairs"


@cache
def _relations() -> dict[frozenset[Ecosystem], str]:
    return load_complementarity()


def _complementarity(query: Organisation, other: Organisation) -> str:
    shared = [e for e in other.ecosystems if e in query.ecosystems]
    if shared and query.stages and other.stages:
        theirs = [s for s in STAGE_ORDER if s in other.stages and s not in query.stages]
        mine = [s for s in STAGE_ORDER if s in query.stages]
        if theirs:
            return (
                f"complements your stage in {shared[0].label}: you do "
                f"{', '.join(s.label for s in mine)}, they do "
                f"{', '.join(s.label for s in theirs)}"
            )
    table = _relations()
    for a in query.ecosystems:
        for b in other.ecosystems:
            relation = table.get(frozenset((a, b)))
            if relation and a != b:
                return f"their ecosystem works with yours ({b.label} ↔ {a.label}): {relation}"
    return ""


def possible(
    query: Organisation,
    other: Organisation,
    values: Mapping[str, float],
    thresholds: Thresholds,
) -> set[str]:
    """The reasons :func:`explain` could give this pair, whatever the evidence and weights.

    Every condition here is one of :func:`explain`'s that reads no evidence, so the
    reasons it gives are always among these (tested): their contributions are the only
    ones worth computing.
    """
    v = values
    out: set[str] = set()
    if thresholds.clearly_above("text", v.get("text", 0.0)):
        out.add("text")
    mine = {k.lower() for k in query.keywords}
    if any(k.lower() in mine for k in other.keywords):
        out.add("keywords")
    shared_eco = any(e in query.ecosystems for e in other.ecosystems)
    if shared_eco and thresholds.clearly_above("ecosystems", v.get("ecosystems", 0.0)):
        out.add("ecosystems")
    if v.get("complementarity", 0.0) > 0:
        out.add("complementarity")
    if (
        query.seeks
        and other.offers
        and thresholds.clearly_above("they_offer", v.get("they_offer", 0.0))
    ):
        out.add("they_offer")
    if (
        query.offers
        and other.seeks
        and thresholds.clearly_above("you_offer", v.get("you_offer", 0.0))
    ):
        out.add("you_offer")
    if v.get("common_partners", 0.0) > 0:
        out.add("common_partners")
    if thresholds.clearly_above("walk", v.get("walk", 0.0)):
        out.add("walk")
    if thresholds.clearly_above("domain_activity", v.get("domain_activity", 0.0)):
        out.add("domain_activity")
    if v.get("target_market", 0.0) > 0 and other.country:
        out.add("target_market")
    if v.get("their_target", 0.0) > 0 and query.country:
        out.add("their_target")
    return out


def explain(
    query: Organisation,
    other: Organisation,
    values: Mapping[str, float],
    contributions: Mapping[str, float],
    thresholds: Thresholds,
    evidence: Evidence,
) -> list[Reason]:
    """The reasons for one suggestion, largest contribution first (at most four).

    Args:
        query: who asks.
        other: the suggested organisation.
        values: the pair's feature values.
        contributions: how much each reason's signals raised the score (by reason name
            of :data:`REASON_SIGNALS`; absent: 0).
        thresholds: what random pairs get.
        evidence: names and facts the reasons cite.
    """
    texts: dict[str, Callable[[], str]] = {}
    v = values
    if thresholds.clearly_above("text", v.get("text", 0.0)):
        share = thresholds.percentile("text", v["text"])
        texts["text"] = lambda: f"their profile describes work close to yours ({_than(share)})"
    mine = {k.lower() for k in query.keywords}
    shared_kw = [k for k in other.keywords if k.lower() in mine]
    if shared_kw:
        texts["keywords"] = lambda: "shared technologies: " + ", ".join(shared_kw[:5])
    shared_eco = [e.label for e in other.ecosystems if e in query.ecosystems]
    if shared_eco and thresholds.clearly_above("ecosystems", v.get("ecosystems", 0.0)):
        texts["ecosystems"] = lambda: "shared ecosystems: " + ", ".join(shared_eco)
    complement = _complementarity(query, other) if v.get("complementarity", 0.0) > 0 else ""
    if complement:
        texts["complementarity"] = lambda: complement
    competitor = thresholds.clearly_above("offers_alike", evidence.offers_alike)
    offer = thresholds.clearly_above("they_offer", v.get("they_offer", 0.0))
    if not competitor and query.seeks and other.offers and offer:
        texts["they_offer"] = lambda: (
            f"they offer {_clip(other.offers)!r}, which matches what you seek"
        )
    seek = thresholds.clearly_above("you_offer", v.get("you_offer", 0.0))
    if not competitor and query.offers and other.seeks and seek:
        texts["you_offer"] = lambda: f"they seek {_clip(other.seeks)!r}, which you offer"
    names = list(evidence.common_partners)[:3]
    count = max(evidence.common_count, len(names))
    if count:
        more = f" and {count - len(names)} more" if count > len(names) else ""
        texts["common_partners"] = lambda: f"{count} partner(s) in common: {', '.join(names)}{more}"
    elif evidence.path is not None and thresholds.clearly_above("walk", v.get("walk", 0.0)):
        theirs, yours = evidence.path
        texts["walk"] = lambda: f"their partner {theirs} works with your partner {yours}"
    if evidence.domains and thresholds.clearly_above(
        "domain_activity", v.get("domain_activity", 0.0)
    ):
        shown = ", ".join(f"{key} ({count} projects)" for key, count in evidence.domains[:3])
        texts["domain_activity"] = lambda: f"active in the funding domains you work in: {shown}"
    if v.get("target_market", 0.0) > 0 and other.country:
        texts["target_market"] = lambda: f"based in {other.country}, a market you want to enter"
    if v.get("their_target", 0.0) > 0 and query.country:
        texts["their_target"] = lambda: f"they want to enter your market ({query.country})"
    weight = {name: float(contributions.get(name, 0.0)) for name in texts}
    ordered = sorted(texts, key=lambda name: (-weight[name], name))
    listed = [
        name for name in ordered if weight[name] > 0 or name in {"target_market", "their_target"}
    ][:_MAX_REASONS]
    found = [
        Reason(signal=name, contribution=round(weight[name], 6), text=texts[name]())
        for name in listed
    ]
    return found or [NO_SINGLE_REASON]
