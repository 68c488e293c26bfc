"""Pair signals: one named feature per reason to suggest a partner, computed in bulk.

A :class:`ProfileTable` holds every organisation as arrays aligned by row (vectors, codes,
bit masks, sparse keyword and target-market matrices, the collaboration graph), so the
signals of one query against thousands of candidates are a few vectorised operations.
A :class:`Query` is one side of a pair: an organisation of the table, or a profile that
is not in the store (cold start).
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from matcher.domain.schema import Organisation
from matcher.domain.vocab import (
    STAGE_ORDER,
    Ecosystem,
    OrganisationKind,
    Stage,
    load_complementarity,
    load_neighbours,
)
from matcher.graph import CollaborationGraph
from matcher.ranking.domains import DomainActivity

__all__ = [
    "COUNT_SIGNALS",
    "DIRECTIONAL",
    "GRAPH_SIGNAL_NAMES",
    "SIGNALS",
    "Columns",
    "ProfileTable",
    "Query",
    "compute_signals",
    "signal_columns",
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
editable table ``matcher/domain/data/complementarity.csv``); they_offer / you_offer: cosine of
what the candidate offers against what the query seeks, and the reverse; common_partners,
adamic_adar, resource_allocation: the classic link-prediction scores on the
collaboration graph; graph_distance: 1 / shortest-path length (0 beyond 3 steps);
pagerank: personalised PageRank from the query (times the number of organisations);
recent_ties: Adamic–Adar over recency-weighted edges; same_country /
neighbour_country: geography (``matcher/domain/data/neighbours.csv``); target_market: the
candidate is in a country the query wants to enter; international: the query wants to go
abroad (has target markets) and the candidate is abroad; activity: the candidate's
collaborations in the two years before the reference date; degree: its partner count.
"""

COUNT_SIGNALS: frozenset[str] = frozenset(
    {"common_partners", "adamic_adar", "resource_allocation", "pagerank", "recent_ties",
     "activity", "degree"}
)  # fmt: skip
"""Signals that are counts or unbounded: rankers see them through log1p."""

GRAPH_SIGNAL_NAMES: tuple[str, ...] = (
    "common_partners",
    "adamic_adar",
    "resource_allocation",
    "graph_distance",
    "pagerank",
    "recent_ties",
)
"""Signals read off the collaboration graph (zero for a profile not in it)."""

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


def _entries_of(
    rows: Iterable[tuple[int, Organisation]], vocab: dict[str, int], code: Mapping[str, int]
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Keyword and target-market matrix entries (rows and columns) of organisations.

    New keywords are added to ``vocab``; ``code`` maps a country to its column.
    """
    kw_rows: list[int] = []
    kw_cols: list[int] = []
    t_rows: list[int] = []
    t_cols: list[int] = []
    for row, org in rows:
        for kw in {k.lower() for k in org.keywords}:
            kw_rows.append(row)
            kw_cols.append(vocab.setdefault(kw, len(vocab)))
        for c in org.target_countries:
            t_rows.append(row)
            t_cols.append(code[c])
    return kw_rows, kw_cols, t_rows, t_cols


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
    domains: DomainActivity | None = None
    """Project counts by funding domain (:mod:`matcher.ranking.domains`), where the ranking weighs
    them; None: not built."""
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
        if self.domains is not None and list(self.domains.ids) != self.ids:
            raise ValueError("the domains' rows must be the table's organisations, in order")
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

    def with_graph(
        self, graph: CollaborationGraph, activity: npt.NDArray[np.float64]
    ) -> ProfileTable:
        """A copy of the table over another graph of the same organisations.

        Everything but the graph, the activity and the degrees is shared with this table.

        Raises:
            ValueError: the graph's rows are not the table's organisations.
        """
        if graph.ids != self.ids:
            raise ValueError("the graph's rows must be the table's organisations, in order")
        if activity.shape != (len(self.ids),):
            raise ValueError("one activity value per organisation is needed")
        new = copy.copy(self)
        new.graph, new.activity = graph, activity
        new.degree = graph.degree().astype(np.float64)
        return new

    def with_new_organisations(
        self,
        orgs: Sequence[Organisation],
        vectors: Mapping[str, npt.NDArray[np.float32]],
        graph: CollaborationGraph,
        activity: npt.NDArray[np.float64],
    ) -> ProfileTable | None:
        """A copy of the table with new organisations inserted at their ids' places.

        The other rows are moved, not rebuilt from their profiles: O(rows) array copies
        instead of the constructor's per-organisation work.

        Args:
            orgs: organisations not in the table, in any order.
            vectors: ``text``, ``offers`` and ``seeks``, one row per organisation of
                ``orgs`` in its order.
            graph: the graph over the new table's ids.
            activity: one value per organisation of the new table.

        Returns:
            The new table, or None when a new organisation names a country this table has
            no code for, or the table carries domain activity (its rows would not be the
            new table's): the caller then builds the table whole.

        Raises:
            ValueError: an organisation is in the table already, or the graph's rows are
                not the new table's ids.
        """
        if self.domains is not None:
            return None
        code = {c: i for i, c in enumerate(self.countries)}
        for org in orgs:
            if org.id in self.rows:
                raise ValueError(f"organisation {org.id!r} is in the table already")
            if any(c not in code for c in [*org.target_countries, *filter(None, [org.country])]):
                return None
        order = sorted(range(len(orgs)), key=lambda i: orgs[i].id)
        added = [orgs[i] for i in order]
        at = np.array([bisect.bisect_left(self.ids, o.id) for o in added], np.int64)
        final = at + np.arange(len(added))  # each new organisation's row in the new table
        merged: list[Organisation] = []
        start = 0
        for position, org in zip(at.tolist(), added, strict=True):
            merged.extend(self.organisations[start:position])
            merged.append(org)
            start = position
        merged.extend(self.organisations[start:])
        ids = [o.id for o in merged]
        if graph.ids != ids:
            raise ValueError("the graph's rows must be the new table's organisations, in order")
        n = len(ids)
        new = copy.copy(self)
        new.organisations, new.ids = merged, ids
        new.rows = {i: r for r, i in enumerate(ids)}
        for name in ("text", "offers", "seeks"):
            setattr(new, name, np.insert(getattr(self, name), at, vectors[name][order], axis=0))
        kinds = list(OrganisationKind)
        new.country = np.insert(
            self.country, at, [code.get(o.country or "", -1) for o in added]
        ).astype(np.int32)
        new.kind = np.insert(self.kind, at, [kinds.index(o.kind) for o in added]).astype(np.int32)
        new.ecosystems = np.insert(
            self.ecosystems,
            at,
            [_mask(o.ecosystems, _ECOSYSTEMS) for o in added],  # type: ignore[arg-type]
        ).astype(np.int64)
        new.stages = np.insert(
            self.stages,
            at,
            [_mask(o.stages, _STAGES) for o in added],  # type: ignore[arg-type]
        ).astype(np.int64)
        vocab = dict(self.keyword_vocab)
        kw_rows, kw_cols, t_rows, t_cols = _entries_of(
            zip(final.tolist(), added, strict=True), vocab, code
        )

        def moved(
            matrix: sp.csr_matrix, rows: list[int], cols: list[int], width: int
        ) -> sp.csr_matrix:
            old = matrix.tocoo()
            shifted = old.row + np.searchsorted(at, old.row, side="right")
            return sp.csr_matrix(
                (
                    np.ones(old.nnz + len(rows), matrix.dtype),
                    (np.r_[shifted, rows], np.r_[old.col, cols]),
                ),
                shape=(n, width),
            )

        new.keywords = moved(self.keywords, kw_rows, kw_cols, max(len(vocab), 1))
        new.keyword_counts = np.asarray(new.keywords.sum(axis=1), np.float64).ravel()
        new.targets = moved(self.targets, t_rows, t_cols, len(self.countries))
        new.keyword_vocab = vocab
        new.graph, new.activity = graph, activity
        new.degree = graph.degree().astype(np.float64)
        return new

    def with_profiles(self, changed: Mapping[int, Organisation]) -> ProfileTable | None:
        """A copy of the table with some rows' profiles replaced (same ids), in O(changes).

        The new table shares the graph, the activity and the vector arrays with this one
        (the caller overwrites the changed rows' vectors in place) and gets its own copies
        of the per-row codes, keyword and target matrices.

        Returns:
            The new table, or None when a change needs a full rebuild (a country this
            table has no code for).
        """
        code = {c: i for i, c in enumerate(self.countries)}
        for row, org in changed.items():
            if org.id != self.ids[row]:
                raise ValueError(f"row {row} holds {self.ids[row]!r}, not {org.id!r}")
            if any(c not in code for c in [*org.target_countries, *filter(None, [org.country])]):
                return None
        new = copy.copy(self)
        new.organisations = list(self.organisations)
        country, kind = self.country.copy(), self.kind.copy()
        ecosystems, stages = self.ecosystems.copy(), self.stages.copy()
        vocab = dict(self.keyword_vocab)
        kinds = list(OrganisationKind)
        for row, org in changed.items():
            new.organisations[row] = org
            country[row] = code.get(org.country or "", -1)
            kind[row] = kinds.index(org.kind)
            ecosystems[row] = _mask(org.ecosystems, _ECOSYSTEMS)  # type: ignore[arg-type]
            stages[row] = _mask(org.stages, _STAGES)  # type: ignore[arg-type]
        kw_rows, kw_cols, t_rows, t_cols = _entries_of(changed.items(), vocab, code)
        n = len(self.ids)
        keep = np.ones(n, np.bool_)
        keep[list(changed)] = False

        def replaced(
            matrix: sp.csr_matrix, rows: list[int], cols: list[int], width: int
        ) -> sp.csr_matrix:
            old = matrix.tocoo()
            kept = keep[old.row]
            return sp.csr_matrix(
                (
                    np.ones(int(kept.sum()) + len(rows), matrix.dtype),
                    (np.r_[old.row[kept], rows], np.r_[old.col[kept], cols]),
                ),
                shape=(n, width),
            )

        new.keywords = replaced(self.keywords, kw_rows, kw_cols, max(len(vocab), 1))
        new.keyword_counts = np.asarray(new.keywords.sum(axis=1), np.float64).ravel()
        new.targets = replaced(self.targets, t_rows, t_cols, len(self.countries))
        new.keyword_vocab = vocab
        new.country, new.kind, new.ecosystems, new.stages = country, kind, ecosystems, stages
        return new

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


_POPCOUNT = np.array([bin(i).count("1") for i in range(1 << 14)], np.float64)


def _popcount(x: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    result: npt.NDArray[np.float64] = _POPCOUNT[x]
    return result


Columns = dict[str, npt.NDArray[np.float64]]
"""Signals by name, each a (queries, candidates) array."""


def _target_columns(
    targets: sp.csr_matrix, columns: npt.NDArray[np.int64], rows: npt.NDArray[np.int64] | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Columns of the boolean target-market matrix as 0/1 rows, and who has any target.

    Read straight off the CSR arrays: the same as ``targets[rows][:, columns].toarray().T`` and
    ``targets[rows].sum(axis=1) > 0``, without building sub-matrices.
    """
    n = targets.shape[0]
    owner = np.repeat(np.arange(n), np.diff(targets.indptr))
    present = targets.data != 0
    values = np.zeros((len(columns), n))
    for i, column in enumerate(columns.tolist()):
        values[i, owner[present & (targets.indices == column)]] = 1.0
    any_target = np.bincount(owner[present], minlength=n) > 0
    if rows is None:
        return values, any_target
    return values[:, rows], any_target[rows]


def signal_columns(
    table: ProfileTable,
    queries: Sequence[Query],
    candidates: npt.NDArray[np.int64] | None = None,
    *,
    signals: Collection[str] | None = None,
) -> tuple[Columns, Columns]:
    """The signals of every (query, candidate) pair, seen from each side, in bulk.

    Args:
        table: the organisations.
        queries: the sides asking (graph signals are zero for queries not in the table).
        candidates: rows of the table; every row when None.
        signals: compute only these (e.g. those a ranker weighs); every signal when None.
            The columns of the others are left out.

    Returns:
        Forward (as each query sees the pair) and reverse (as each candidate sees it)
        columns, each signal a (len(queries), len(candidates)) array; symmetric signals
        are the same array in both.
    """
    everyone = candidates is None
    cand = np.arange(len(table), dtype=np.int64) if candidates is None else candidates
    wanted = set(SIGNALS) if signals is None else set(signals) & set(SIGNALS)

    def pick(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return a if everyone else a[cand]

    b, m = len(queries), len(cand)
    fwd: Columns = {}
    zeros = np.zeros((b, m))
    if m == 0 or b == 0:
        return {s: zeros for s in wanted}, {s: zeros for s in wanted}
    if "text" in wanted:
        q_text = np.stack([q.text for q in queries])
        fwd["text"] = (q_text @ pick(table.text).T).astype(np.float64)
    eco = pick(table.ecosystems)[None, :]
    q_eco = np.array([q.ecosystems for q in queries], np.int64)[:, None]
    inter = _popcount(eco & q_eco)
    if "ecosystems" in wanted:
        union = _popcount(eco | q_eco)
        fwd["ecosystems"] = np.divide(inter, union, out=np.zeros((b, m)), where=union > 0)
    if "keywords" in wanted:
        q_kw = np.stack([q.keywords for q in queries]).astype(np.float32)
        kw_matrix = table.keywords if everyone else table.keywords[cand]
        shared = np.asarray((kw_matrix @ q_kw.T).T, np.float64)
        kw_union = pick(table.keyword_counts)[None, :] + q_kw.sum(axis=1)[:, None] - shared
        fwd["keywords"] = np.divide(shared, kw_union, out=np.zeros((b, m)), where=kw_union > 0)
    if "complementarity" in wanted:
        q_stages = np.array([q.stages for q in queries], np.int64)[:, None]
        other_stage = (pick(table.stages)[None, :] & ~q_stages) != 0
        same_eco_other_stage = (inter > 0) & other_stage & (q_stages != 0)
        has = ((q_eco >> np.arange(len(_ECOSYSTEMS))) & 1).astype(bool)  # (b, ecosystems)
        linked_mask = np.bitwise_or.reduce(
            np.where(has, table.eco_links[None, :], 0), axis=1, keepdims=True
        )
        linked = (eco & linked_mask) != 0
        fwd["complementarity"] = np.where(
            same_eco_other_stage, 1.0, np.where(linked, _LINKED_WEIGHT, 0.0)
        )
    # Each direction of offers ↔ seeks is wanted when either is: the reverse side swaps them.
    if wanted & {"they_offer", "you_offer"}:
        q_offers = np.stack([q.offers for q in queries])
        q_seeks = np.stack([q.seeks for q in queries])
        fwd["they_offer"] = np.clip(q_seeks @ pick(table.offers).T, 0.0, None).astype(np.float64)
        fwd["you_offer"] = np.clip(q_offers @ pick(table.seeks).T, 0.0, None).astype(np.float64)
    rows = np.array([q.row if q.row is not None else -1 for q in queries], np.int64)
    in_table = rows >= 0
    graph_wanted = [name for name in GRAPH_SIGNAL_NAMES if name in wanted]
    for name in graph_wanted:
        fwd[name] = np.zeros((b, m))
    if in_table.any() and graph_wanted:
        g = table.graph
        r = rows[in_table]

        def graph_part(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            values = values.reshape(len(r), -1)
            return values if everyone else values[:, cand]

        if "common_partners" in wanted:
            fwd["common_partners"][in_table] = graph_part(g.common_neighbours(r))
        if "adamic_adar" in wanted:
            fwd["adamic_adar"][in_table] = graph_part(g.adamic_adar(r))
        if "resource_allocation" in wanted:
            fwd["resource_allocation"][in_table] = graph_part(g.resource_allocation(r))
        if "graph_distance" in wanted:
            dist = graph_part(g.shortest_path_lengths(r, cutoff=3))
            reached = np.isfinite(dist) & (dist > 0)
            fwd["graph_distance"][in_table] = np.divide(
                1.0, dist, out=np.zeros(dist.shape), where=reached
            )
        if "pagerank" in wanted:
            fwd["pagerank"][in_table] = graph_part(g.personalised_pagerank(r)) * len(table)
        if "recent_ties" in wanted:
            fwd["recent_ties"][in_table] = graph_part(
                g.recency_weighted_adamic_adar(
                    r, as_of=table.as_of, half_life_years=RECENCY_HALF_LIFE_YEARS
                )
            )
    country = pick(table.country)[None, :]
    q_country = np.array([q.country for q in queries], np.int32)[:, None]
    known = (country >= 0) & (q_country >= 0)
    if "same_country" in wanted:
        fwd["same_country"] = (known & (country == q_country)).astype(np.float64)
    if "neighbour_country" in wanted:
        near = table.neighbours[np.maximum(q_country[:, 0], 0)][:, np.maximum(country[0], 0)]
        fwd["neighbour_country"] = (known & near & (country != q_country)).astype(np.float64)
    abroad = known & (country != q_country)
    if wanted & {"target_market", "international"}:
        q_targets = np.stack([q.targets for q in queries])
        fwd["target_market"] = np.where(
            country >= 0, q_targets[:, np.maximum(country[0], 0)], False
        ).astype(np.float64)
        wants_out = np.asarray(q_targets.any(axis=1), np.bool_).reshape(b, 1)
        fwd["international"] = (abroad & wants_out).astype(np.float64)
    if "activity" in wanted:
        fwd["activity"] = np.broadcast_to(pick(table.activity)[None, :], (b, m))
    if "degree" in wanted:
        fwd["degree"] = np.broadcast_to(pick(table.degree)[None, :], (b, m))

    rev = dict(fwd)
    if "they_offer" in fwd:
        rev["they_offer"], rev["you_offer"] = fwd["you_offer"], fwd["they_offer"]
    if wanted & {"target_market", "international"}:
        their_targets, wants_abroad = _target_columns(
            table.targets, np.maximum(q_country[:, 0], 0).astype(np.int64), candidates
        )
        rev["target_market"] = np.where(q_country >= 0, their_targets, 0.0)
        rev["international"] = (abroad & wants_abroad[None, :]).astype(np.float64)
    if "activity" in wanted:
        own_activity = np.where(in_table, table.activity[np.maximum(rows, 0)], 0.0)
        rev["activity"] = np.broadcast_to(own_activity[:, None], (b, m))
    if "degree" in wanted:
        own_degree = np.where(in_table, table.degree[np.maximum(rows, 0)], 0.0)
        rev["degree"] = np.broadcast_to(own_degree[:, None], (b, m))
    if signals is not None:
        fwd = {s: v for s, v in fwd.items() if s in wanted}
        rev = {s: v for s, v in rev.items() if s in wanted}
    return fwd, rev


def compute_signals(
    table: ProfileTable, query: Query, candidates: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The signals of one query's pairs, seen from each side.

    Args:
        table: the organisations.
        query: the side asking.
        candidates: rows of the table.

    Returns:
        Two (len(candidates), len(SIGNALS)) arrays: the pair as the query sees it
        (forward) and as each candidate sees it (reverse); symmetric signals agree.
    """
    fwd, rev = signal_columns(table, [query], candidates)
    return (
        np.stack([fwd[s][0] for s in SIGNALS], axis=1),
        np.stack([rev[s][0] for s in SIGNALS], axis=1),
    )
