"""Pair signals: one named feature per reason to suggest a partner, computed in bulk.

A :class:`ProfileTable` holds every organisation as arrays aligned by row (vectors, codes,
bit masks, sparse keyword and target-market matrices, the collaboration graph), so the
signals of one query against thousands of candidates are a few vectorised operations.
A :class:`Query` is one side of a pair: an organisation of the table, or a profile that
is not in the store (cold start).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from matcher.graph import CollaborationGraph
from matcher.schema import Organisation
from matcher.vocab import (
    STAGE_ORDER,
    Ecosystem,
    OrganisationKind,
    Stage,
    load_complementarity,
    load_neighbours,
)

__all__ = [
    "COUNT_SIGNALS",
    "DIRECTIONAL",
    "SIGNALS",
    "ProfileTable",
    "Query",
    "compute_signals",
]

logger = logging.getLogger(__name__)

SIGNALS: tuple[str, ...] = (
    "text",
    "ecosystems",
    "keywords",
    "complementarity",
    "they_offer",
    "you_offer",
    "common_partners",
    "adamic_adar",
    "resource_allocation",
    "graph_distance",
    "pagerank",
    "recent_ties",
    "same_country",
    "neighbour_country",
    "target_market",
    "international",
    "activity",
    "degree",
)
"""The named pair signals, in column order.

text: cosine of the organisations' text vectors; ecosystems: Jaccard of their ecosystems;
keywords: Jaccard of their technology keywords; complementarity: 1 for the same ecosystem
at another value-chain stage, 0.6 for ecosystems that supply or buy from each other (the
editable table ``matcher/data/complementarity.csv``); they_offer / you_offer: cosine of
what the candidate offers against what the query seeks, and the reverse; common_partners,
adamic_adar, resource_allocation: the classic link-prediction scores on the
collaboration graph; graph_distance: 1 / shortest-path length (0 beyond 3 steps);
pagerank: personalised PageRank from the query (times the number of organisations);
recent_ties: Adamic–Adar over recency-weighted edges; same_country /
neighbour_country: geography (``matcher/data/neighbours.csv``); target_market: the
candidate is in a country the query wants to enter; international: the query wants to go
abroad (has target markets) and the candidate is abroad; activity: the candidate's
collaborations in the two years before the reference date; degree: its partner count.
"""

COUNT_SIGNALS: frozenset[str] = frozenset(
    {"common_partners", "adamic_adar", "resource_allocation", "pagerank", "recent_ties",
     "activity", "degree"}
)  # fmt: skip
"""Signals that are counts or unbounded: rankers see them through log1p."""

DIRECTIONAL: dict[str, str] = {"they_offer": "you_offer", "you_offer": "they_offer"}
"""Signals that swap when the pair is seen from the candidate's side."""

_LINKED_WEIGHT = 0.6
RECENCY_HALF_LIFE_YEARS = 2.0
"""Half-life of a collaboration's weight in the recent_ties signal."""
_ECOSYSTEMS = list(Ecosystem)
_STAGES = list(STAGE_ORDER)


def _mask(values: Sequence[Ecosystem] | Sequence[Stage], order: list[object]) -> int:
    out = 0
    for v in values:
        out |= 1 << order.index(v)
    return out


@dataclass
class Query:
    """One side of a pair, as the signals see it."""

    row: int | None
    text: npt.NDArray[np.float32]
    offers: npt.NDArray[np.float32]
    seeks: npt.NDArray[np.float32]
    ecosystems: int
    stages: int
    keywords: npt.NDArray[np.float32]
    country: int
    targets: npt.NDArray[np.bool_]
    kind: OrganisationKind


@dataclass
class ProfileTable:
    """Every organisation as arrays aligned by row, plus the collaboration graph."""

    organisations: list[Organisation]
    text: npt.NDArray[np.float32]
    offers: npt.NDArray[np.float32]
    seeks: npt.NDArray[np.float32]
    graph: CollaborationGraph
    as_of: dt.date
    activity: npt.NDArray[np.float64]
    ids: list[str] = field(init=False)
    rows: dict[str, int] = field(init=False)
    countries: list[str] = field(init=False)
    country: npt.NDArray[np.int32] = field(init=False)
    kind: npt.NDArray[np.int32] = field(init=False)
    ecosystems: npt.NDArray[np.int64] = field(init=False)
    stages: npt.NDArray[np.int64] = field(init=False)
    keyword_vocab: dict[str, int] = field(init=False)
    keywords: sp.csr_matrix = field(init=False)
    keyword_counts: npt.NDArray[np.float64] = field(init=False)
    targets: sp.csr_matrix = field(init=False)
    degree: npt.NDArray[np.float64] = field(init=False)
    eco_links: npt.NDArray[np.int64] = field(init=False)
    neighbours: npt.NDArray[np.bool_] = field(init=False)

    def __post_init__(self) -> None:
        orgs = self.organisations
        self.ids = [o.id for o in orgs]
        if self.graph.ids != self.ids:
            raise ValueError("the graph's rows must be the table's organisations, in order")
        self.rows = {i: n for n, i in enumerate(self.ids)}
        n = len(orgs)
        neighbour_map = load_neighbours()
        names = sorted(
            {o.country for o in orgs if o.country}
            | {c for o in orgs for c in o.target_countries}
            | set(neighbour_map)
        )
        self.countries = names
        code = {c: i for i, c in enumerate(names)}
        self.country = np.array([code.get(o.country or "", -1) for o in orgs], dtype=np.int32)
        kinds = list(OrganisationKind)
        self.kind = np.array([kinds.index(o.kind) for o in orgs], dtype=np.int32)
        self.ecosystems = np.array([_mask(o.ecosystems, _ECOSYSTEMS) for o in orgs], np.int64)  # type: ignore[arg-type]
        self.stages = np.array([_mask(o.stages, _STAGES) for o in orgs], np.int64)  # type: ignore[arg-type]
        vocab: dict[str, int] = {}
        rows, cols = [], []
        for r, o in enumerate(orgs):
            for kw in {k.lower() for k in o.keywords}:
                rows.append(r)
                cols.append(vocab.setdefault(kw, len(vocab)))
        self.keyword_vocab = vocab
        self.keywords = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(n, max(len(vocab), 1))
        )
        self.keyword_counts = np.asarray(self.keywords.sum(axis=1), np.float64).ravel()
        t_rows, t_cols = [], []
        for r, o in enumerate(orgs):
            for c in o.target_countries:
                t_rows.append(r)
                t_cols.append(code[c])
        self.targets = sp.csr_matrix(
            (np.ones(len(t_rows), np.bool_), (t_rows, t_cols)), shape=(n, len(names))
        )
        self.degree = self.graph.degree().astype(np.float64)
        links = np.zeros(len(_ECOSYSTEMS), np.int64)
        for pair in load_complementarity():
            a, b = sorted(pair) if len(pair) == 2 else (next(iter(pair)),) * 2
            links[_ECOSYSTEMS.index(a)] |= 1 << _ECOSYSTEMS.index(b)
            links[_ECOSYSTEMS.index(b)] |= 1 << _ECOSYSTEMS.index(a)
        self.eco_links = links
        near = np.zeros((len(names), len(names)), np.bool_)
        for c, others in neighbour_map.items():
            for other in others:
                if c in code and other in code:
                    near[code[c], code[other]] = True
        self.neighbours = near

    def __len__(self) -> int:
        return len(self.ids)

    def query(self, row: int) -> Query:
        """The query view of an organisation in the table."""
        org = self.organisations[row]
        return Query(
            row=row,
            text=self.text[row],
            offers=self.offers[row],
            seeks=self.seeks[row],
            ecosystems=int(self.ecosystems[row]),
            stages=int(self.stages[row]),
            keywords=self.keywords[row].toarray().ravel(),
            country=int(self.country[row]),
            targets=self.targets[row].toarray().ravel(),
            kind=org.kind,
        )

    def profile_query(
        self,
        org: Organisation,
        text: npt.NDArray[np.float32],
        offers: npt.NDArray[np.float32],
        seeks: npt.NDArray[np.float32],
    ) -> Query:
        """The query view of a profile that is not in the table (cold start)."""
        keywords = np.zeros(self.keywords.shape[1], np.float32)
        for kw in {k.lower() for k in org.keywords}:
            if kw in self.keyword_vocab:
                keywords[self.keyword_vocab[kw]] = 1.0
        targets = np.zeros(len(self.countries), np.bool_)
        for c in org.target_countries:
            if c in self.countries:
                targets[self.countries.index(c)] = True
        country = self.countries.index(org.country) if org.country in self.countries else -1
        return Query(
            row=None,
            text=text,
            offers=offers,
            seeks=seeks,
            ecosystems=_mask(org.ecosystems, _ECOSYSTEMS),  # type: ignore[arg-type]
            stages=_mask(org.stages, _STAGES),  # type: ignore[arg-type]
            keywords=keywords,
            country=country,
            targets=targets,
            kind=org.kind,
        )


def _popcount(x: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    out = np.zeros(x.shape, np.float64)
    y = x.copy()
    while np.any(y):
        out += (y & 1).astype(np.float64)
        y >>= 1
    return out


def compute_signals(
    table: ProfileTable, query: Query, candidates: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The signals of (query, candidate) pairs, seen from each side.

    Args:
        table: the organisations.
        query: the side asking.
        candidates: rows of the table.

    Returns:
        Two (len(candidates), len(SIGNALS)) arrays: the pair as the query sees it
        (forward) and as each candidate sees it (reverse); symmetric signals agree.
    """
    m = len(candidates)
    col = {name: i for i, name in enumerate(SIGNALS)}
    fwd = np.zeros((m, len(SIGNALS)), np.float64)
    if m == 0:
        return fwd, fwd.copy()
    text = table.text[candidates]
    fwd[:, col["text"]] = text @ query.text
    eco = table.ecosystems[candidates]
    inter = _popcount(eco & query.ecosystems)
    union = _popcount(eco | query.ecosystems)
    fwd[:, col["ecosystems"]] = np.divide(inter, union, out=np.zeros(m), where=union > 0)
    shared_kw = np.asarray(table.keywords[candidates] @ query.keywords, np.float64).ravel()
    kw_union = table.keyword_counts[candidates] + query.keywords.sum() - shared_kw
    fwd[:, col["keywords"]] = np.divide(shared_kw, kw_union, out=np.zeros(m), where=kw_union > 0)
    stages = table.stages[candidates]
    other_stage = (stages & ~np.int64(query.stages)) != 0
    same_eco_other_stage = (inter > 0) & other_stage & (query.stages != 0)
    linked_mask = 0
    for i in range(len(_ECOSYSTEMS)):
        if query.ecosystems >> i & 1:
            linked_mask |= int(table.eco_links[i])
    linked = (eco & linked_mask) != 0
    fwd[:, col["complementarity"]] = np.where(
        same_eco_other_stage, 1.0, np.where(linked, _LINKED_WEIGHT, 0.0)
    )
    fwd[:, col["they_offer"]] = np.clip(table.offers[candidates] @ query.seeks, 0.0, None)
    fwd[:, col["you_offer"]] = np.clip(table.seeks[candidates] @ query.offers, 0.0, None)
    if query.row is not None:
        g = table.graph
        q = query.row
        fwd[:, col["common_partners"]] = g.common_neighbours(q)[candidates]
        fwd[:, col["adamic_adar"]] = g.adamic_adar(q)[candidates]
        fwd[:, col["resource_allocation"]] = g.resource_allocation(q)[candidates]
        dist = g.shortest_path_lengths(q, cutoff=3)[candidates]
        fwd[:, col["graph_distance"]] = np.where(np.isfinite(dist) & (dist > 0), 1.0 / dist, 0.0)
        fwd[:, col["pagerank"]] = g.personalised_pagerank(q)[candidates] * len(table)
        fwd[:, col["recent_ties"]] = g.recency_weighted_adamic_adar(
            q, as_of=table.as_of, half_life_years=RECENCY_HALF_LIFE_YEARS
        )[candidates]
    country = table.country[candidates]
    known = (country >= 0) & (query.country >= 0)
    fwd[:, col["same_country"]] = (known & (country == query.country)).astype(np.float64)
    if query.country >= 0:
        near = table.neighbours[query.country][np.maximum(country, 0)]
        fwd[:, col["neighbour_country"]] = (known & near & (country != query.country)).astype(
            np.float64
        )
    targets_q = query.targets
    fwd[:, col["target_market"]] = np.where(country >= 0, targets_q[np.maximum(country, 0)], False)
    abroad = known & (country != query.country)
    fwd[:, col["international"]] = (abroad & bool(targets_q.any())).astype(np.float64)
    fwd[:, col["activity"]] = table.activity[candidates]
    fwd[:, col["degree"]] = table.degree[candidates]

    rev = fwd.copy()
    rev[:, col["they_offer"]] = fwd[:, col["you_offer"]]
    rev[:, col["you_offer"]] = fwd[:, col["they_offer"]]
    cand_targets = table.targets[candidates]
    if query.country >= 0:
        rev[:, col["target_market"]] = np.asarray(
            cand_targets[:, query.country].toarray(), np.float64
        ).ravel()
    else:
        rev[:, col["target_market"]] = 0.0
    wants_abroad = np.asarray(cand_targets.sum(axis=1), np.float64).ravel() > 0
    rev[:, col["international"]] = (abroad & wants_abroad).astype(np.float64)
    if query.row is not None:
        rev[:, col["activity"]] = table.activity[query.row]
        rev[:, col["degree"]] = table.degree[query.row]
    else:
        rev[:, col["activity"]] = 0.0
        rev[:, col["degree"]] = 0.0
    return fwd, rev
