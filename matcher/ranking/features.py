"""Pair features: one named number per reason to suggest a partner, for a pool of candidates.

A :class:`Query` is one side of a pair (an organisation of the snapshot, or a profile that
is not stored: cold start); :func:`pair_features` computes every feature of the query
against a few hundred candidate rows at once. Features (``x`` is the query, ``c`` the
candidate; cosines are of unit vectors, 0 where a text is absent):

- ``text``, ``tags``: cosine of the profile texts, of the tag lists (ecosystems, stages,
  keywords); ``they_offer``: what c offers against what x seeks; ``you_offer``: the reverse;
- ``ecosystems``, ``keywords``: Jaccard overlap; ``complementarity``: 1 for the same
  ecosystem at another value-chain stage, 0.6 for ecosystems that supply or buy from each
  other (``matcher/domain/data/complementarity.csv``);
- ``common_partners``, ``adamic_adar``, ``resource_allocation``: two-hop link scores;
  ``walk``: three-hop walk score (pairs without a partner in common);
- ``domain_activity``: c's projects in x's programme parts, call-topic families and
  funding schemes (:mod:`matcher.ranking.domains`);
- ``same_country``, ``neighbour_country``; ``target_market``: c is in a country x wants
  to enter; ``their_target``: x is in a country c wants to enter;
- ``activity``: c's collaborations in the two years before the snapshot; ``degree``: c's
  partners (popularity: weighed by the ranker, never shown as a reason); ``query_degree``:
  x's partners; ``kind``, ``query_kind`` (codes of the organisation kinds) and ``same_kind``;
- query-relative, for a listwise ranker: ``*_rank`` (the candidate's rank among the pool by
  that score, 0 best, divided by the pool size) and ``*_share`` (its share of the pool's best).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from matcher.domain.vocab import Ecosystem, load_complementarity, load_neighbours
from matcher.graph.live import LiveGraph
from matcher.graph.scores import Neighbourhood, two_hop
from matcher.ranking.domains import DomainActivity
from matcher.ranking.profiles import COUNTRY_CODES, FIELDS, Profiles, RowValues

__all__ = [
    "FEATURES",
    "RELATIVE",
    "SIGNALS",
    "Columns",
    "Query",
    "members",
    "pair_features",
    "stack",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Columns = dict[str, FloatArray]
"""Features by name, each an array over the candidates."""

RELATIVE: tuple[str, ...] = ("text", "tags", "resource_allocation", "walk", "domain_activity")
"""Scores whose rank and share within the query's pool are features too."""

FEATURES: tuple[str, ...] = (
    "text",
    "tags",
    "they_offer",
    "you_offer",
    "ecosystems",
    "keywords",
    "complementarity",
    "common_partners",
    "adamic_adar",
    "resource_allocation",
    "walk",
    "domain_activity",
    "same_country",
    "neighbour_country",
    "target_market",
    "their_target",
    "activity",
    "degree",
    "query_degree",
    "kind",
    "query_kind",
    "same_kind",
    *(f"{name}_rank" for name in RELATIVE),
    *(f"{name}_share" for name in RELATIVE),
)
"""Every feature :func:`pair_features` computes, in a fixed order."""

SIGNALS: dict[str, tuple[str, ...]] = {
    "text": ("text", "text_rank", "text_share"),
    "tags": ("tags", "tags_rank", "tags_share"),
    "offers_seeks": ("they_offer", "you_offer"),
    "ecosystems": ("ecosystems",),
    "keywords": ("keywords",),
    "complementarity": ("complementarity",),
    "two_hop": (
        "common_partners",
        "adamic_adar",
        "resource_allocation",
        "resource_allocation_rank",
        "resource_allocation_share",
    ),
    "walk": ("walk", "walk_rank", "walk_share"),
    "domains": ("domain_activity", "domain_activity_rank", "domain_activity_share"),
    "geography": ("same_country", "neighbour_country"),
    "targets": ("target_market", "their_target"),
    "popularity": ("activity", "degree", "query_degree"),
    "kinds": ("kind", "query_kind", "same_kind"),
}
"""The signals, each the features it is made of (an ablation drops one signal whole)."""

_FEW = 8
"""Up to this many wanted values, :func:`members` compares them one by one."""
_LINKED_WEIGHT = 0.6
_ECOSYSTEMS = list(Ecosystem)
_POPCOUNT = np.array([bin(i).count("1") for i in range(1 << 16)], np.float64)


def _links() -> npt.NDArray[np.int64]:
    links = np.zeros(len(_ECOSYSTEMS), np.int64)
    for pair in load_complementarity():
        a, b = sorted(pair) if len(pair) == 2 else (next(iter(pair)),) * 2
        links[_ECOSYSTEMS.index(a)] |= 1 << _ECOSYSTEMS.index(b)
        links[_ECOSYSTEMS.index(b)] |= 1 << _ECOSYSTEMS.index(a)
    return links


def _near() -> npt.NDArray[np.bool_]:
    code = {c: i for i, c in enumerate(COUNTRY_CODES)}
    near = np.zeros((len(COUNTRY_CODES), len(COUNTRY_CODES)), np.bool_)
    for c, others in load_neighbours().items():
        for other in others:
            if c in code and other in code:
                near[code[c], code[other]] = True
    return near


_ECO_LINKS = _links()
_NEAR = _near()


def _popcount(x: npt.NDArray[np.int64]) -> FloatArray:
    out: FloatArray = _POPCOUNT[x & 0xFFFF]
    return out


@dataclass
class Query:
    """One side of a pair: who asks.

    Attributes:
        row: its row, or None for a profile that is not stored (no graph, no domains).
        vectors: per field of :data:`~matcher.ranking.profiles.FIELDS`, a unit vector (or 0).
        values: its encoded profile.
        keyword_codes: its keywords' codes in the snapshot's vocabulary.
        neighbourhood: its two-hop neighbourhood (None without a row).
        degree: its number of partners.
    """

    row: int | None
    vectors: dict[str, npt.NDArray[np.float32]]
    values: RowValues
    keyword_codes: npt.NDArray[np.int32]
    neighbourhood: Neighbourhood | None = None
    degree: float = 0.0
    partners: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))

    @classmethod
    def of_row(cls, profiles: Profiles, graph: LiveGraph, row: int, values: RowValues) -> Query:
        """The query view of a stored organisation (``values``: its encoded profile)."""
        rows = np.array([row], np.int64)
        return cls(
            row=row,
            vectors={f: profiles.vectors(f, rows)[0] for f in FIELDS},
            values=values,
            keyword_codes=profiles.keywords.row(row),
            neighbourhood=two_hop(graph, row, graph.scratch),
            degree=float(graph.degree[row]),
            partners=graph.partners(row),
        )


def _relative(values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Each value's rank in the pool (0 best, over the pool size) and share of the best.

    Unknown values (NaN) rank last and have no share.
    """
    m = len(values)
    known = ~np.isnan(values)
    order = np.argsort(-np.where(known, values, -np.inf), kind="stable")
    rank = np.empty(m)
    rank[order] = np.arange(m) / max(m, 1)
    best = float(values[known].max()) if known.any() else 0.0
    share = values / best if best > 0 else np.where(known, 0.0, np.nan)
    return rank, share


def _jaccard(shared: FloatArray, a: FloatArray, b: float) -> FloatArray:
    union = a + b - shared
    return np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)


def members(values: npt.NDArray[np.integer], wanted: npt.NDArray[np.integer]) -> BoolArray:
    """``np.isin(values, wanted)`` for integers, without its fixed cost on a request's sizes.

    Up to eight wanted values are compared one by one; more are flagged in a table over
    ``0..max(wanted)`` that the values are looked up in (a value outside it, e.g. -1 for an
    unknown code, is not wanted). A negative wanted value falls back on ``np.isin``.
    """
    out: BoolArray
    if len(wanted) <= _FEW:
        out = np.zeros(len(values), np.bool_)
        for w in np.asarray(wanted).tolist():
            out |= values == w
        return out
    low = int(np.min(wanted))
    if low < 0:
        out = np.isin(values, wanted)
        return out
    table = np.zeros(int(np.max(wanted)) + 1, np.bool_)
    table[wanted] = True
    inside = (values >= 0) & (values < len(table))
    out = np.zeros(len(values), np.bool_)
    out[inside] = table[values[inside]]
    return out


def _set_overlap(
    sets: tuple[npt.NDArray[np.int32], IntArray], wanted: npt.NDArray[np.int32], m: int
) -> tuple[FloatArray, FloatArray]:
    """Per candidate: how many of its set's values are in ``wanted``, and its set's size."""
    values, owner = sets
    sizes = np.bincount(owner, minlength=m).astype(np.float64)
    hit = members(values, wanted)
    shared = np.bincount(owner[hit], minlength=m).astype(np.float64)
    return shared, sizes


def pair_features(
    profiles: Profiles,
    graph: LiveGraph,
    domains: DomainActivity | None,
    query: Query,
    candidates: IntArray,
    *,
    wanted: frozenset[str] | None = None,
) -> Columns:
    """Every feature of the query against each candidate row.

    Args:
        profiles: the organisations.
        graph: the collaboration graph.
        domains: funding-domain counts (None: the feature is 0).
        query: who asks.
        candidates: candidate rows.
        wanted: compute only these (and what they need); all when None.
    """
    m = len(candidates)
    need = set(FEATURES) if wanted is None else set(wanted)
    cols: Columns = {}
    q = query.vectors
    for name, stored, query_field in (
        ("text", "text", "text"),
        ("tags", "tags", "tags"),
        ("they_offer", "offers", "seeks"),
        ("you_offer", "seeks", "offers"),
    ):
        if q[query_field].any():  # a query without this text scores 0: no gather needed
            cols[name] = (profiles.vectors(stored, candidates) @ q[query_field]).astype(np.float64)
        else:
            cols[name] = np.zeros(m)
    cols["they_offer"] = np.clip(cols["they_offer"], 0.0, None)
    cols["you_offer"] = np.clip(cols["you_offer"], 0.0, None)
    v = query.values
    eco = profiles.ecosystems[candidates]
    inter = _popcount(eco & v.ecosystems)
    cols["ecosystems"] = np.divide(
        inter, _popcount(eco | v.ecosystems), out=np.zeros(m), where=(eco | v.ecosystems) != 0
    )
    if len(query.keyword_codes):
        kw = profiles.keywords.gather(candidates)
        shared, sizes = _set_overlap(kw, query.keyword_codes, m)
        cols["keywords"] = _jaccard(shared, sizes, float(len(v.keywords)))
    else:  # nothing shared: 0 for every candidate, without reading their keywords
        cols["keywords"] = np.zeros(m)
    stages = profiles.stages[candidates]
    other_stage = (stages & ~v.stages) != 0
    has = (v.ecosystems >> np.arange(len(_ECOSYSTEMS))) & 1
    linked_mask = int(np.bitwise_or.reduce(np.where(has == 1, _ECO_LINKS, 0)))
    cols["complementarity"] = np.where(
        (inter > 0) & other_stage & (v.stages != 0),
        1.0,
        np.where((eco & linked_mask) != 0, _LINKED_WEIGHT, 0.0),
    )
    if query.neighbourhood is not None:
        cn, aa, ra = query.neighbourhood.scores(candidates)
        walk = query.neighbourhood.walk(graph, candidates) if "walk" in need else np.zeros(m)
    else:
        cn = aa = ra = walk = np.zeros(m)
    cols["common_partners"], cols["adamic_adar"], cols["resource_allocation"] = cn, aa, ra
    cols["walk"] = walk
    cols["domain_activity"] = (
        domains.scores(query.row, candidates)
        if domains is not None and query.row is not None
        else np.zeros(m)
    )
    country = profiles.country[candidates].astype(np.int64)
    known = (country >= 0) & (v.country >= 0)
    cols["same_country"] = (known & (country == v.country)).astype(np.float64)
    near = _NEAR[max(v.country, 0)][np.maximum(country, 0)]
    cols["neighbour_country"] = (known & near & (country != v.country)).astype(np.float64)
    targets = np.array(v.targets, np.int64)
    cols["target_market"] = ((country >= 0) & members(country, targets)).astype(np.float64)
    if v.country >= 0:
        theirs = profiles.targets.gather(candidates)
        hit, _ = _set_overlap(theirs, np.array([v.country], np.int32), m)
        cols["their_target"] = (hit > 0).astype(np.float64)
    else:
        cols["their_target"] = np.zeros(m)
    cols["activity"] = profiles.activity[candidates].astype(np.float64)
    cols["degree"] = graph.degree[candidates]
    cols["query_degree"] = np.full(m, query.degree)
    kind = profiles.kind[candidates].astype(np.float64)
    cols["kind"] = kind
    cols["query_kind"] = np.full(m, float(v.kind))
    cols["same_kind"] = (kind == v.kind).astype(np.float64)
    for name in RELATIVE:
        cols[f"{name}_rank"], cols[f"{name}_share"] = _relative(cols[name])
    return cols


def stack(columns: Mapping[str, FloatArray], names: tuple[str, ...]) -> FloatArray:
    """Columns as a (candidates, len(names)) matrix in ``names``' order."""
    return np.column_stack([columns[n] for n in names]) if names else np.zeros((0, 0))
