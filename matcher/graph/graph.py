"""The collaboration graph over organisation ids.

One object holds the same graph twice: a scipy CSR adjacency with an id ↔ row map, for
vectorised scoring (one sparse row times a matrix scores every organisation at once), and
a networkx :class:`~networkx.Graph` (built on first use) for path and structure queries and
for notebooks. Rows are the organisation ids in sorted order.

Each scoring method takes one query row (an ``int``) and returns a dense ``float64`` array
over all rows, or takes several rows (a sequence or an integer array) and returns a
``(len(rows), n)`` array, so callers can score queries in batches.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import networkx as nx
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from matcher.domain.errors import UnknownOrganisationError
from matcher.domain.schema import Collaboration

if TYPE_CHECKING:
    from matcher.store import CollaborationRow, Store

__all__ = [
    "CollaborationGraph",
    "CommonPartner",
    "FloatArray",
    "IntArray",
    "Link",
    "Rows",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
"""A dense array of scores."""

IntArray = npt.NDArray[np.int64]
"""A dense array of row numbers."""

Rows = int | Sequence[int] | npt.NDArray[np.integer[Any]]
"""One query row (scores come back 1-D) or several (scores come back 2-D)."""

_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True, order=True)
class Link:
    """The collaboration that links two organisations (the most recent one)."""

    date: dt.date
    source_ref: str
    kind: str

    def __str__(self) -> str:
        where = f"project {self.source_ref}, " if self.source_ref else ""
        return f"{where}{self.date.year}"


@dataclass(frozen=True)
class CommonPartner:
    """A partner two organisations share, with the collaboration linking it to each."""

    partner: str
    with_a: Link
    with_b: Link

    @property
    def latest(self) -> Link:
        """The more recent of the two links."""
        return max(self.with_a, self.with_b)


def _as_row(value: object) -> tuple[str, str, str, str, float, str]:
    if isinstance(value, Collaboration):
        kind = value.kind.value if hasattr(value.kind, "value") else str(value.kind)
        return (
            value.organisation_a,
            value.organisation_b,
            kind,
            value.date.isoformat(),
            float(value.weight),
            value.source_ref,
        )
    a, b, kind, date, weight, ref = cast("tuple[Any, ...]", value)
    return str(a), str(b), str(kind), str(date), float(weight), str(ref)


class CollaborationGraph:
    """Who collaborated with whom, as a sparse matrix and (lazily) a networkx graph.

    Build it with :meth:`from_rows` or :meth:`from_store`. Edge values in
    :attr:`adjacency` are 1 (binary, the default) or the sum of the collaborations'
    weights (``weighted=True``), each optionally decayed by age with a half-life in years
    (binary edges then take the decay of their most recent collaboration). Degree-based
    normalisers (Adamic–Adar, resource allocation) always use the binary degree: the
    number of distinct partners.

    Attributes:
        ids: organisation ids, sorted; row ``i`` is ``ids[i]``.
        index: id → row.
        adjacency: symmetric CSR matrix of edge values.
        binary: symmetric CSR matrix with 1 on every edge.
        as_of: the date ages are measured from (decay and recency).

    """

    def __init__(
        self,
        ids: Sequence[str],
        a: IntArray,
        b: IntArray,
        days: npt.NDArray[np.int64],
        weights: FloatArray,
        refs: npt.NDArray[np.int64],
        ref_names: Sequence[str],
        kinds: npt.NDArray[np.int64],
        kind_names: Sequence[str],
        *,
        weighted: bool = False,
        half_life_years: float | None = None,
        as_of: dt.date | None = None,
        index: dict[str, int] | None = None,
    ) -> None:
        """Assemble from per-collaboration arrays; prefer :meth:`from_rows`.

        Args:
            ids: sorted organisation ids (rows).
            a: first end (row) of each collaboration.
            b: second end (row) of each collaboration.
            days: each collaboration's date as a proleptic ordinal.
            weights: each collaboration's weight.
            refs: index of each collaboration's source_ref into ``ref_names``.
            ref_names: distinct source references.
            kinds: index of each collaboration's kind into ``kind_names``.
            kind_names: distinct kinds.
            weighted: edge value = sum of weights instead of 1.
            half_life_years: decay each collaboration by its age with this half-life.
            as_of: the date ages are measured from (default: the latest collaboration).
            index: id → row, when the caller has it already (it is shared, not copied).

        """
        self.ids: list[str] = list(ids)
        self.index: dict[str, int] = (
            {o: i for i, o in enumerate(self.ids)} if index is None else index
        )
        self.weighted = weighted
        self.half_life_years = half_life_years
        n = len(self.ids)
        keep = a != b
        a, b, days, weights = a[keep], b[keep], days[keep], weights[keep]
        refs, kinds = refs[keep], kinds[keep]
        self._raw = (a, b, days, weights, refs, kinds)
        if as_of is None:
            as_of = dt.date.fromordinal(int(days.max())) if len(days) else dt.date.today()
        self.as_of = as_of
        self._ref_names = list(ref_names)
        self._kind_names = list(kind_names)

        # Both directions, sorted by (edge key, date): the last row of each key is the
        # edge's most recent collaboration.
        src = np.concatenate([a, b]).astype(np.int64)
        dst = np.concatenate([b, a]).astype(np.int64)
        key = src * max(n, 1) + dst
        day2 = np.concatenate([days, days]).astype(np.int64)
        order = np.lexsort((day2, key))
        key_sorted = key[order]
        self._row_day = day2[order]
        self._row_weight = np.concatenate([weights, weights])[order].astype(np.float64)
        edge_keys, first = np.unique(key_sorted, return_index=True)
        self._first = first.astype(np.int64)
        last = np.append(first[1:], len(key_sorted)) - 1 if len(first) else np.zeros(0, np.int64)
        rows_of_edges = edge_keys // max(n, 1)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows_of_edges, minlength=n), out=indptr[1:])
        indices = (edge_keys % max(n, 1)).astype(np.int64)
        self._edge_day = self._row_day[last] if len(last) else np.zeros(0, np.int64)
        both_refs = np.concatenate([refs, refs])[order]
        both_kinds = np.concatenate([kinds, kinds])[order]
        self._edge_ref = both_refs[last] if len(last) else np.zeros(0, np.int64)
        self._edge_kind = both_kinds[last] if len(last) else np.zeros(0, np.int64)

        ones = np.ones(len(edge_keys), dtype=np.float64)
        self.binary: sp.csr_matrix = sp.csr_matrix((ones, indices, indptr), shape=(n, n))
        values = self._edge_values(self._row_contributions(self.as_of, half_life_years))
        self.adjacency: sp.csr_matrix = sp.csr_matrix(
            (values, indices.copy(), indptr.copy()), shape=(n, n)
        )
        deg = np.diff(indptr).astype(np.float64)
        self._degree = deg
        self._inv_log = 1.0 / np.log(np.maximum(deg, 2.0))
        self._inv_deg = 1.0 / np.maximum(deg, 1.0)
        self._aa_right = sp.csr_matrix(sp.diags(self._inv_log) @ self.adjacency)
        self._ra_right = sp.csr_matrix(sp.diags(self._inv_deg) @ self.adjacency)
        self._recency: dict[tuple[dt.date, float], tuple[sp.csr_matrix, sp.csr_matrix]] = {}
        logger.debug("graph: %d organisations, %d edges", n, self.edge_count)

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[CollaborationRow | Collaboration],
        *,
        organisations: Iterable[str] = (),
        until: dt.date | None = None,
        max_consortium: int | None = None,
        consortium_sizes: Mapping[str, int] | None = None,
        weighted: bool = False,
        half_life_years: float | None = None,
        as_of: dt.date | None = None,
    ) -> CollaborationGraph:
        """Build the graph from collaboration rows ``(a, b, kind, iso_date, weight, ref)``.

        Args:
            rows: collaboration rows as the store and importers give them, or
                :class:`~matcher.domain.schema.Collaboration` objects.
            organisations: extra ids to hold as rows even without an edge.
            until: leave out collaborations dated after this day.
            max_consortium: leave out collaborations of projects (``source_ref``) with more
                participants than this; every end still becomes a row.
            consortium_sizes: participants per ``source_ref``; where a reference is missing
                the size is the number of distinct organisations its rows name.
            weighted: edge value = sum of the collaborations' weights instead of 1.
            half_life_years: decay each collaboration by its age (at ``as_of``).
            as_of: the date ages are measured from (default ``until``, else the latest).

        """
        cutoff = until.isoformat() if until is not None else None
        kept: list[tuple[str, str, str, str, float, str]] = []
        for raw in rows:
            row = _as_row(raw)
            if cutoff is not None and row[3][:10] > cutoff:
                continue
            kept.append(row)
        nodes = set(organisations)
        for row in kept:
            nodes.add(row[0])
            nodes.add(row[1])
        if max_consortium is not None:
            members: dict[str, set[str]] = {}
            for row in kept:
                if row[5]:
                    group = members.setdefault(row[5], set())
                    group.add(row[0])
                    group.add(row[1])
            sizes = {ref: len(m) for ref, m in members.items()}
            if consortium_sizes:
                sizes.update(consortium_sizes)
            kept = [r for r in kept if not r[5] or sizes.get(r[5], 2) <= max_consortium]
        ids = sorted(nodes)
        index = {o: i for i, o in enumerate(ids)}
        ref_codes: dict[str, int] = {}
        kind_codes: dict[str, int] = {}
        day_cache: dict[str, int] = {}
        count = len(kept)
        a = np.empty(count, np.int64)
        b = np.empty(count, np.int64)
        days = np.empty(count, np.int64)
        weights = np.empty(count, np.float64)
        refs = np.empty(count, np.int64)
        kinds = np.empty(count, np.int64)
        for i, (x, y, kind, date, weight, ref) in enumerate(kept):
            a[i] = index[x]
            b[i] = index[y]
            day = day_cache.get(date)
            if day is None:
                day = day_cache[date] = dt.date.fromisoformat(date[:10]).toordinal()
            days[i] = day
            weights[i] = weight
            refs[i] = ref_codes.setdefault(ref, len(ref_codes))
            kinds[i] = kind_codes.setdefault(kind, len(kind_codes))
        return cls(
            ids,
            a,
            b,
            days,
            weights,
            refs,
            list(ref_codes),
            kinds,
            list(kind_codes),
            weighted=weighted,
            half_life_years=half_life_years,
            as_of=as_of if as_of is not None else until,
        )

    @classmethod
    def from_store(
        cls,
        store: Store,
        *,
        until: dt.date | None = None,
        max_consortium: int | None = 50,
        weighted: bool = False,
        half_life_years: float | None = None,
        as_of: dt.date | None = None,
        include_isolated: bool = False,
    ) -> CollaborationGraph:
        """Build the graph from a store's collaborations.

        Consortium sizes come from the store's participations per project (``source_ref``).

        Args:
            store: the store.
            until: leave out collaborations dated after this day.
            max_consortium: leave out projects with more participants (None: keep all).
            weighted: edge value = sum of weights instead of 1.
            half_life_years: decay each collaboration by its age.
            as_of: the date ages are measured from.
            include_isolated: hold every organisation of the store as a row.

        """
        sizes: dict[str, int] = {}
        if max_consortium is not None:
            for p in store.participations():
                sizes[p.project_id] = sizes.get(p.project_id, 0) + 1
        return cls.from_rows(
            store.collaborations(until=until),
            organisations=store.organisation_ids() if include_isolated else (),
            until=until,
            max_consortium=max_consortium,
            consortium_sizes=sizes,
            weighted=weighted,
            half_life_years=half_life_years,
            as_of=as_of,
        )

    def with_collaborations(
        self,
        rows: Iterable[CollaborationRow | Collaboration],
        *,
        ids: Sequence[str] | None = None,
    ) -> CollaborationGraph:
        """A new graph with more collaborations and optionally more organisations.

        Built from this graph's arrays (no store read), with the same edge settings and
        ``as_of``; the rows are taken as they are (no date or consortium filter). This
        graph is not changed, so readers holding it keep a consistent view.

        Args:
            rows: collaborations to add; both ends must be organisations of the new graph.
            ids: the new graph's organisations, sorted, a superset of this graph's
                (default: the same).

        Raises:
            ValueError: ``ids`` is not sorted or drops an organisation of this graph.
            UnknownOrganisationError: a collaboration names an organisation not in ``ids``.
        """
        new_ids = self.ids if ids is None else list(ids)
        if ids is not None and any(x >= y for x, y in itertools.pairwise(new_ids)):
            raise ValueError("ids must be sorted and distinct")
        index = self.index if ids is None else {o: i for i, o in enumerate(new_ids)}
        a, b, days, weights, refs, kinds = self._raw
        if ids is not None:
            try:
                moved = np.array([index[o] for o in self.ids], np.int64)
            except KeyError as exc:
                raise ValueError(f"ids drop organisation {exc.args[0]!r} of the graph") from exc
            a, b = moved[a], moved[b]
        ref_names, kind_names = list(self._ref_names), list(self._kind_names)
        ref_codes, kind_codes = dict(self._ref_codes), dict(self._kind_codes)
        extra = [_as_row(r) for r in rows]
        for row in extra:
            for end in row[:2]:
                if end not in index:
                    raise UnknownOrganisationError(end)
            for name, codes, names in (
                (row[5], ref_codes, ref_names),
                (row[2], kind_codes, kind_names),
            ):
                if name not in codes:
                    codes[name] = len(names)
                    names.append(name)

        def column(values: Iterable[Any], dtype: type[Any]) -> npt.NDArray[Any]:
            return np.fromiter(values, dtype, count=len(extra))

        graph = type(self)(
            new_ids,
            np.concatenate([a, column((index[r[0]] for r in extra), np.int64)]),
            np.concatenate([b, column((index[r[1]] for r in extra), np.int64)]),
            np.concatenate(
                [
                    days,
                    column((dt.date.fromisoformat(r[3][:10]).toordinal() for r in extra), np.int64),
                ]
            ),
            np.concatenate([weights, column((r[4] for r in extra), np.float64)]),
            np.concatenate([refs, column((ref_codes[r[5]] for r in extra), np.int64)]),
            ref_names,
            np.concatenate([kinds, column((kind_codes[r[2]] for r in extra), np.int64)]),
            kind_names,
            weighted=self.weighted,
            half_life_years=self.half_life_years,
            as_of=self.as_of,
            index=index,
        )
        graph.__dict__["_ref_codes"], graph.__dict__["_kind_codes"] = ref_codes, kind_codes
        return graph

    @cached_property
    def _ref_codes(self) -> dict[str, int]:
        return {r: i for i, r in enumerate(self._ref_names)}

    @cached_property
    def _kind_codes(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self._kind_names)}

    # -- edge values -----------------------------------------------------------------------

    def _row_contributions(self, as_of: dt.date, half_life_years: float | None) -> FloatArray:
        """Each (sorted, both-direction) collaboration's contribution; 0 after ``as_of``."""
        base = self._row_weight if self.weighted else np.ones_like(self._row_weight)
        if half_life_years is None:
            return base
        age = (as_of.toordinal() - self._row_day) / _DAYS_PER_YEAR
        out: FloatArray = base * np.power(0.5, np.maximum(age, 0.0) / half_life_years)
        out[age < 0] = 0.0
        return out

    def _edge_values(self, contributions: FloatArray) -> FloatArray:
        if not len(self._first):
            return np.zeros(0, np.float64)
        if self.weighted:
            return np.add.reduceat(contributions, self._first).astype(np.float64)
        return np.maximum.reduceat(contributions, self._first).astype(np.float64)

    # -- basics ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, organisation_id: object) -> bool:
        return organisation_id in self.index

    @property
    def edge_count(self) -> int:
        """Number of distinct linked pairs."""
        return int(self.binary.nnz // 2)

    def row(self, organisation_id: str) -> int:
        """The row of an organisation.

        Raises:
            UnknownOrganisationError: the id is not in the graph.

        """
        try:
            return self.index[organisation_id]
        except KeyError:
            raise UnknownOrganisationError(organisation_id) from None

    def rows(self, organisation_ids: Iterable[str]) -> IntArray:
        """Rows of several organisations."""
        return np.array([self.row(o) for o in organisation_ids], dtype=np.int64)

    def neighbours(self, organisation_id: str) -> list[str]:
        """Ids of the organisation's partners, sorted."""
        r = self.row(organisation_id)
        cols = self.binary.indices[self.binary.indptr[r] : self.binary.indptr[r + 1]]
        return [self.ids[int(c)] for c in cols]

    def link(self, a: str, b: str) -> Link | None:
        """The most recent collaboration between two organisations, or None."""
        pos = self._edge_position(self.row(a), self.row(b))
        return None if pos is None else self._link_at(pos)

    def _edge_position(self, r: int, c: int) -> int | None:
        start, end = int(self.binary.indptr[r]), int(self.binary.indptr[r + 1])
        cols = self.binary.indices[start:end]
        i = int(np.searchsorted(cols, c))
        return start + i if i < len(cols) and int(cols[i]) == c else None

    def _link_at(self, pos: int) -> Link:
        return Link(
            date=dt.date.fromordinal(int(self._edge_day[pos])),
            source_ref=self._ref_names[int(self._edge_ref[pos])],
            kind=self._kind_names[int(self._edge_kind[pos])],
        )

    def common_partners(self, a: str, b: str) -> list[CommonPartner]:
        """Partners that ``a`` and ``b`` share, most recently linked first.

        Each carries the most recent collaboration linking it to ``a`` and to ``b``, for
        reasons such as '2 partners in common: A (project P, 2017), B'.
        """
        ra, rb = self.row(a), self.row(b)
        ind, ptr = self.binary.indices, self.binary.indptr
        shared = np.intersect1d(
            ind[ptr[ra] : ptr[ra + 1]], ind[ptr[rb] : ptr[rb + 1]], assume_unique=True
        ).astype(np.int64)
        if not len(shared):
            return []
        # Positions of the edges z–a and z–b: rows are consecutive and each row's columns
        # sorted, so (row, column) keys are sorted over the whole matrix.
        n = max(len(self.ids), 1)
        keys = self._entry_keys
        pa = np.searchsorted(keys, shared * n + ra).tolist()
        pb = np.searchsorted(keys, shared * n + rb).tolist()
        out = [
            CommonPartner(self.ids[z], self._link_at(x), self._link_at(y))
            for z, x, y in zip(shared.tolist(), pa, pb, strict=True)
        ]
        out.sort(key=lambda p: (-p.latest.date.toordinal(), p.partner))
        return out

    @cached_property
    def _entry_keys(self) -> IntArray:
        """``row * n + column`` of every stored edge of :attr:`binary`, in storage order."""
        n = max(len(self.ids), 1)
        rows = np.repeat(np.arange(len(self.ids), dtype=np.int64), np.diff(self.binary.indptr))
        keys: IntArray = rows * n + self.binary.indices.astype(np.int64)
        return keys

    @cached_property
    def nx_graph(self) -> nx.Graph[str]:
        """The same graph in networkx (built on first use).

        Nodes are ids; edges carry ``weight`` (the edge value), and ``date``,
        ``source_ref`` and ``kind`` of the most recent collaboration.
        """
        graph: nx.Graph[str] = nx.Graph()
        graph.add_nodes_from(self.ids)
        coo = sp.triu(self.adjacency, k=1, format="coo")
        for r, c, w in zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True):
            pos = self._edge_position(r, c)
            assert pos is not None
            link = self._link_at(pos)
            graph.add_edge(
                self.ids[r],
                self.ids[c],
                weight=w,
                date=link.date,
                source_ref=link.source_ref,
                kind=link.kind,
            )
        return graph

    # -- scores ----------------------------------------------------------------------------

    @staticmethod
    def _query(q: Rows) -> tuple[IntArray, bool]:
        if isinstance(q, int | np.integer):
            return np.array([int(q)], dtype=np.int64), True
        return np.asarray(q, dtype=np.int64).reshape(-1), False

    @staticmethod
    def _shape(dense: FloatArray, single: bool) -> FloatArray:
        return dense[0] if single else dense

    def _product(
        self, q: Rows, right: sp.csr_matrix, *, left: sp.csr_matrix | None = None
    ) -> FloatArray:
        rows, single = self._query(q)
        lhs = self.adjacency if left is None else left
        dense = _two_hop(lhs, right, rows)
        dense[np.arange(len(rows)), rows] = 0.0
        return self._shape(dense, single)

    def degree(self) -> FloatArray:
        """Each organisation's number of distinct partners."""
        return self._degree.copy()

    def strength(self) -> FloatArray:
        """Each organisation's sum of edge values (equals degree for binary edges)."""
        return np.asarray(self.adjacency.sum(axis=1), dtype=np.float64).ravel()

    def common_neighbours(self, q: Rows) -> FloatArray:
        """Shared partners of the query and each organisation (edge-value products).

        The query's own entry is 0.
        """
        return self._product(q, self.adjacency)

    def adamic_adar(self, q: Rows) -> FloatArray:
        """Adamic–Adar: shared partners z weighted by 1 / log(degree z)."""
        return self._product(q, self._aa_right)

    def resource_allocation(self, q: Rows) -> FloatArray:
        """Resource allocation: shared partners z weighted by 1 / degree z."""
        return self._product(q, self._ra_right)

    def recency_weighted_adamic_adar(
        self, q: Rows, as_of: dt.date, half_life_years: float
    ) -> FloatArray:
        """Adamic–Adar over edges decayed by the age of their latest collaboration.

        Collaborations after ``as_of`` are ignored; an edge's value is
        ``0.5 ** (age / half_life_years)`` of its latest collaboration up to ``as_of``.
        """
        left, right = self._recency_matrices(as_of, float(half_life_years))
        return self._product(q, right, left=left)

    def _recency_matrices(
        self, as_of: dt.date, half_life_years: float
    ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        key = (as_of, half_life_years)
        cached = self._recency.get(key)
        if cached is None:
            age = (as_of.toordinal() - self._row_day) / _DAYS_PER_YEAR
            contrib = np.power(0.5, np.maximum(age, 0.0) / half_life_years)
            contrib[age < 0] = 0.0
            values = (
                np.maximum.reduceat(contrib, self._first)
                if len(self._first)
                else np.zeros(0, np.float64)
            )
            decayed = sp.csr_matrix(
                (values, self.binary.indices.copy(), self.binary.indptr.copy()),
                shape=self.binary.shape,
            )
            decayed.eliminate_zeros()
            deg = np.diff(decayed.indptr).astype(np.float64)
            right = sp.csr_matrix(sp.diags(1.0 / np.log(np.maximum(deg, 2.0))) @ decayed)
            cached = self._recency[key] = (decayed, right)
        return cached

    @property
    def _transition_t(self) -> sp.csr_matrix:
        """Column j: where a walker at organisation j steps next, in id order.

        Not kept: the power rounds use :attr:`_ordered_transition_t`.
        """
        strength = self.strength()
        inv = np.divide(1.0, strength, out=np.zeros_like(strength), where=strength > 0)
        return sp.csr_matrix((sp.diags(inv) @ self.adjacency).T)

    @cached_property
    def _ordered_transition_t(self) -> tuple[sp.csr_matrix, npt.NDArray[np.int64]]:
        """:attr:`_transition_t` in another order, and each organisation's position in it.

        Rows and columns are sorted by number of entries. The same products, faster: runs
        of rows of one length let the CPU predict where each row's loop ends. Measured at
        100k organisations (average degree 4): a matrix-vector product 0.57 ms against
        1.25 ms in id order; sorting the rows alone gives 0.55 ms, the columns alone 1.32.
        """
        t = self._transition_t
        order = np.argsort(-np.diff(t.indptr), kind="stable")
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        ordered = sp.csr_matrix(t[order][:, order])
        ordered.sort_indices()
        return ordered, position

    def personalised_pagerank(
        self, q: Rows, alpha: float = 0.85, iters: int = 20, *, tol: float | None = None
    ) -> FloatArray:
        """Personalised PageRank from the query.

        A walker follows edges in proportion to their values with probability ``alpha`` and
        jumps back to the query otherwise (and from organisations without partners). The
        scores of one query sum to 1 (up to the approximation); the query's own entry is
        kept.

        Two ways to compute it: ``iters`` rounds of sparse power iteration over the whole
        graph (error at most ``2 * alpha ** iters`` in L1), or, with ``tol``, local forward
        push (Andersen, Chung and Lang 2006), which stops when every organisation's
        undistributed mass is below ``tol`` times its number of partners; its work depends
        on ``tol``, not on the size of the graph. Without ``tol`` graphs above
        :attr:`PUSH_ABOVE` organisations (if set) use push with :attr:`PUSH_TOL`.
        """
        rows, single = self._query(q)
        n = len(self.ids)
        if tol is None and self.PUSH_ABOVE is not None and n > self.PUSH_ABOVE:
            tol = self.PUSH_TOL
        if tol is not None:
            pushed = np.stack([self._push(int(row), alpha, tol) for row in rows.tolist()])
            return self._shape(pushed.reshape(len(rows), n), single)
        # Iterated in the order of _ordered_transition_t; r[position] is the table's order.
        transition_t, position = self._ordered_transition_t
        at = position[rows]
        columns = np.arange(len(rows))
        r = np.zeros((n, len(rows)), dtype=np.float64)
        r[at, columns] = 1.0
        if len(rows) == 1:  # one vector: the leaner sparse matrix-vector product
            r, row = r[:, 0], int(at[0])
            for _ in range(iters):
                step = transition_t @ r
                step *= alpha
                # The mass that did not move along an edge jumps back to the query (at
                # the query's own entry only: every other entry would add 0).
                step[row] += 1.0 - step.sum()
                r = step
            return self._shape(r[position][None, :], single)
        for _ in range(iters):
            nxt = transition_t @ r
            nxt *= alpha
            nxt[at, columns] += 1.0 - nxt.sum(axis=0)
            r = nxt
        return self._shape(np.ascontiguousarray(r[position].T), single)

    PUSH_ABOVE: int | None = None
    """Graphs with more organisations compute personalised PageRank by local push; None:
    never. Off by default: at 100k organisations push took 1.4x less CPU per query than the
    power rounds in id order (since sorted by row length, 1.41x faster themselves), but its
    many small numpy steps hold the GIL, while the power rounds' sparse products release
    it; under the service's concurrent requests on 2 cores the power rounds answered 27
    requests/s against 19 (``benchmarks/results/recommend-100k-2026-11-25.txt``)."""

    PUSH_TOL = 3e-6
    """Undistributed mass per partner at which local push stops."""

    @cached_property
    def _push_weights(self) -> tuple[FloatArray, FloatArray]:
        """Each edge's share of its row's strength, and each row's push threshold scale."""
        strength = self.strength()
        inv = np.divide(1.0, strength, out=np.zeros_like(strength), where=strength > 0)
        owner = np.repeat(np.arange(len(self.ids)), np.diff(self.adjacency.indptr))
        return self.adjacency.data * inv[owner], np.maximum(self._degree, 1.0)

    def _push(self, row: int, alpha: float, tol: float) -> FloatArray:
        """Personalised PageRank from one row by forward push, all active rows at once.

        Invariant: ``estimate + PPR(residual) = PPR(query)``. A push moves ``1 - alpha``
        of an active row's residual into its estimate and spreads ``alpha`` of it over its
        edges (back to the query from a row without partners); pushing every active row in
        one step keeps the invariant because PPR is linear in the residual.
        """
        n = len(self.ids)
        share, scale = self._push_weights
        indptr, indices = self.adjacency.indptr, self.adjacency.indices
        dangling = self._degree == 0
        estimate = np.zeros(n)
        residual = np.zeros(n)
        residual[row] = 1.0
        active = np.array([row], np.int64)
        while len(active):
            mass = residual[active]
            residual[active] = 0.0
            estimate[active] += (1.0 - alpha) * mass
            first, owner = _entries(indptr, active)
            targets = indices[first]
            touched, slot = np.unique(targets, return_inverse=True)
            residual[touched] += np.bincount(
                slot, weights=alpha * mass[owner] * share[first], minlength=len(touched)
            )
            stuck = float(mass[dangling[active]].sum())
            if stuck:
                residual[row] += alpha * stuck
                touched = np.append(touched, row)
            active = touched[residual[touched] > tol * scale[touched]]
        return estimate

    def shortest_path_lengths(self, q: Rows, cutoff: int = 3) -> FloatArray:
        """Hops from the query to each organisation (BFS); ``inf`` beyond ``cutoff``."""
        rows, single = self._query(q)
        n = len(self.ids)
        dist = np.full((len(rows), n), math.inf)
        indptr, indices = self.binary.indptr, self.binary.indices
        for i, row in enumerate(rows.tolist()):
            seen = dist[i]
            seen[row] = 0.0
            frontier = np.array([row], np.int64)
            for hops in range(1, cutoff + 1):
                if not len(frontier):
                    break
                reached = np.zeros(n, np.bool_)
                reached[indices[_entries(indptr, frontier)[0]]] = True
                frontier = np.flatnonzero(reached & np.isinf(seen))
                seen[frontier] = float(hops)
        return self._shape(dist, single)


def _entries(indptr: IntArray, rows: IntArray) -> tuple[IntArray, IntArray]:
    """Positions of the stored entries of CSR ``rows``, row after row, and each one's row.

    The second array gives, for each position, its index into ``rows``.
    """
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    owner = np.repeat(np.arange(len(rows)), lengths)
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.arange(len(owner)) + shift, owner


def _two_hop(left: sp.csr_matrix, right: sp.csr_matrix, rows: IntArray) -> FloatArray:
    """``(left[rows] @ right)`` as a dense array, gathering the two-hop paths with numpy.

    Each output entry adds ``left[q, z] * right[z, j]`` over z in the order of the stored
    entries, as scipy's sparse product does, so the sums are the same to the last bit; the
    gain is skipping the sparse machinery around a one-row product.
    """
    n = right.shape[1]
    first, owner = _entries(left.indptr, rows)
    second, via = _entries(right.indptr, left.indices[first])
    weights = left.data[first][via] * right.data[second]
    target = owner[via] * n + right.indices[second]
    dense = np.bincount(target, weights=weights, minlength=len(rows) * n)
    return dense.astype(np.float64, copy=False).reshape(len(rows), n)
