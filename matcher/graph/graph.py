"""The collaboration graph over organisation ids, as compressed sparse rows.

Rows are the organisation ids in sorted order. Each edge links two organisations that
collaborated (binary: how often does not matter) and carries the day of their most recent
collaboration. Projects with more participants than ``max_consortium`` make no edges
(weak links; the evaluation protocol's rule). The arrays can be saved into a snapshot
folder and memory-mapped back, so that several processes share one copy.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from embeddings.artefact import map_array
from matcher.domain.errors import UnknownOrganisationError
from matcher.domain.schema import Collaboration
from matcher.graph.rows import entries

if TYPE_CHECKING:
    from matcher.store import CollaborationRow, Store

__all__ = [
    "CollaborationGraph",
    "FloatArray",
    "IntArray",
    "Rows",
    "as_row",
    "entries",
    "sizes_of_consortia",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
"""A dense array of scores."""

IntArray = npt.NDArray[np.int64]
"""A dense array of row numbers."""

Rows = int | Sequence[int] | npt.NDArray[np.integer[Any]]
"""One query row (scores come back 1-D) or several (scores come back 2-D)."""


def as_row(value: CollaborationRow | Collaboration) -> CollaborationRow:
    """A collaboration as the store's row ``(a, b, kind, iso_date, weight, source_ref)``."""
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
    a, b, kind, date, weight, ref = value
    return str(a), str(b), str(kind), str(date), float(weight), str(ref)


def sizes_of_consortia(rows: Iterable[CollaborationRow]) -> dict[str, int]:
    """Participants per ``source_ref``: the distinct organisations its collaborations name."""
    members: dict[str, set[str]] = {}
    for row in rows:
        if row[5]:
            group = members.setdefault(row[5], set())
            group.add(row[0])
            group.add(row[1])
    return {ref: len(m) for ref, m in members.items()}


class CollaborationGraph:
    """Who collaborated with whom.

    Attributes:
        ids: organisation ids, sorted; row ``i`` is ``ids[i]``.
        index: id → row.
        indptr: CSR row pointers (``n + 1``).
        indices: CSR columns, sorted within each row; both directions of every edge.
        day: the proleptic ordinal of each edge's most recent collaboration.
        as_of: the date the graph was read at.
    """

    def __init__(
        self,
        ids: Sequence[str],
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int32],
        day: npt.NDArray[np.int32],
        as_of: dt.date,
        *,
        index: dict[str, int] | None = None,
    ) -> None:
        self.ids: list[str] = list(ids)
        self.index: dict[str, int] = (
            {o: i for i, o in enumerate(self.ids)} if index is None else index
        )
        self.indptr = indptr
        self.indices = indices
        self.day = day
        self.as_of = as_of

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
        as_of: dt.date | None = None,
    ) -> CollaborationGraph:
        """Build the graph from collaboration rows.

        Args:
            rows: collaboration rows as the store and importers give them, or
                :class:`~matcher.domain.schema.Collaboration` objects.
            organisations: extra ids to hold as rows even without an edge.
            until: leave out collaborations dated after this day.
            max_consortium: leave out collaborations of projects (``source_ref``) with more
                participants than this; every end still becomes a row.
            consortium_sizes: participants per ``source_ref``; where a reference is missing
                the size is the number of distinct organisations its rows name.
            as_of: the graph's date (default ``until``, else its latest collaboration).
        """
        cutoff = until.isoformat() if until is not None else None
        kept = [r for r in map(as_row, rows) if cutoff is None or r[3][:10] <= cutoff]
        nodes = set(organisations)
        for row in kept:
            nodes.add(row[0])
            nodes.add(row[1])
        if max_consortium is not None:
            sizes = sizes_of_consortia(kept)
            if consortium_sizes:
                sizes.update(consortium_sizes)
            kept = [r for r in kept if not r[5] or sizes.get(r[5], 2) <= max_consortium]
        ids = sorted(nodes)
        index = {o: i for i, o in enumerate(ids)}
        days: dict[str, int] = {}
        count = len(kept)
        a = np.fromiter((index[r[0]] for r in kept), np.int64, count)
        b = np.fromiter((index[r[1]] for r in kept), np.int64, count)
        day = np.fromiter(
            (
                days.get(r[3])
                or days.setdefault(r[3], dt.date.fromisoformat(r[3][:10]).toordinal())
                for r in kept
            ),
            np.int64,
            count,
        )
        if as_of is None:
            as_of = until or (dt.date.fromordinal(int(day.max())) if count else dt.date.today())
        return cls.from_edges(ids, a, b, day, as_of, index=index)

    @classmethod
    def from_edges(
        cls,
        ids: Sequence[str],
        a: IntArray,
        b: IntArray,
        day: IntArray,
        as_of: dt.date,
        *,
        index: dict[str, int] | None = None,
    ) -> CollaborationGraph:
        """Build from arrays of collaboration ends (rows) and days; repeats merge."""
        n = len(ids)
        keep = a != b
        src = np.concatenate([a[keep], b[keep]])
        dst = np.concatenate([b[keep], a[keep]])
        both_days = np.concatenate([day[keep], day[keep]])
        key = src * max(n, 1) + dst
        order = np.lexsort((both_days, key))
        key, both_days = key[order], both_days[order]
        edge_keys, first = np.unique(key, return_index=True)
        last = np.append(first[1:], len(key)) - 1 if len(first) else np.zeros(0, np.int64)
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(edge_keys // max(n, 1), minlength=n), out=indptr[1:])
        indices = (edge_keys % max(n, 1)).astype(np.int32)
        edge_day = both_days[last].astype(np.int32) if len(last) else np.zeros(0, np.int32)
        graph = cls(ids, indptr, indices, edge_day, as_of, index=index)
        logger.debug("graph: %d organisations, %d edges", n, graph.edge_count)
        return graph

    @classmethod
    def from_store(
        cls,
        store: Store,
        *,
        until: dt.date | None = None,
        max_consortium: int | None = 50,
        include_isolated: bool = False,
        as_of: dt.date | None = None,
    ) -> CollaborationGraph:
        """Build the graph from a store's collaborations.

        Consortium sizes come from the store's participations per project (``source_ref``).

        Args:
            store: the store.
            until: leave out collaborations dated after this day.
            max_consortium: leave out projects with more participants (None: keep all).
            include_isolated: hold every organisation of the store as a row.
            as_of: the graph's date.
        """
        sizes: dict[str, int] = {}
        if max_consortium is not None:
            for p in store.participations():
                sizes[p.project_id] = sizes.get(p.project_id, 0) + 1
        return cls.from_rows(
            (as_row(c) for c in store.collaborations(until=until)),
            organisations=store.organisation_ids() if include_isolated else (),
            until=until,
            max_consortium=max_consortium,
            consortium_sizes=sizes,
            as_of=as_of,
        )

    # -- persistence -----------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write the arrays as ``graph_*.npy`` into ``folder`` (the ids are the caller's)."""
        np.save(folder / "graph_indptr.npy", self.indptr, allow_pickle=False)
        np.save(folder / "graph_indices.npy", self.indices, allow_pickle=False)
        np.save(folder / "graph_day.npy", self.day, allow_pickle=False)

    @classmethod
    def load(
        cls, folder: Path, ids: Sequence[str], as_of: dt.date, *, index: dict[str, int]
    ) -> CollaborationGraph:
        """Memory-map arrays written by :meth:`save` (read-only, shared between processes)."""

        def read(name: str) -> npt.NDArray[Any]:
            return map_array(folder, f"graph_{name}")

        indptr = read("indptr")
        if len(indptr) != len(ids) + 1:
            raise ValueError(f"{folder.name}: the graph has {len(indptr) - 1} rows, not {len(ids)}")
        return cls(ids, indptr, read("indices"), read("day"), as_of, index=index)

    # -- basics ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, organisation_id: object) -> bool:
        return organisation_id in self.index

    @property
    def edge_count(self) -> int:
        """Number of distinct linked pairs."""
        return int(len(self.indices) // 2)

    def row(self, organisation_id: str) -> int:
        """The row of an organisation.

        Raises:
            UnknownOrganisationError: the id is not in the graph.
        """
        try:
            return self.index[organisation_id]
        except KeyError:
            raise UnknownOrganisationError(organisation_id) from None

    def partners(self, row: int) -> npt.NDArray[np.int32]:
        """The rows linked to ``row``, sorted."""
        return self.indices[self.indptr[row] : self.indptr[row + 1]]

    def neighbours(self, organisation_id: str) -> list[str]:
        """Ids of the organisation's partners, sorted."""
        return [self.ids[int(c)] for c in self.partners(self.row(organisation_id))]

    def degree(self) -> FloatArray:
        """Each organisation's number of distinct partners."""
        return np.diff(self.indptr).astype(np.float64)

    @cached_property
    def binary(self) -> sp.csr_matrix:
        """The adjacency as a scipy matrix with 1 on every edge (built on first use)."""
        n = len(self.ids)
        data = np.ones(len(self.indices), np.float64)
        return sp.csr_matrix((data, np.asarray(self.indices), np.asarray(self.indptr)), (n, n))

    @cached_property
    def nx_graph(self) -> nx.Graph[str]:
        """The same graph in networkx (built on first use); edges carry ``date``."""
        graph: nx.Graph[str] = nx.Graph()
        graph.add_nodes_from(self.ids)
        coo = sp.triu(self.binary, k=1, format="coo")
        position = {(int(r), int(c)): i for i, (r, c) in enumerate(self._pairs())}
        for r, c in zip(coo.row.tolist(), coo.col.tolist(), strict=True):
            day = int(self.day[position[(r, c)]])
            graph.add_edge(self.ids[r], self.ids[c], date=dt.date.fromordinal(day))
        return graph

    def _pairs(self) -> Iterable[tuple[int, int]]:
        rows = np.repeat(np.arange(len(self.ids)), np.diff(self.indptr))
        return zip(rows.tolist(), np.asarray(self.indices).tolist(), strict=True)

    # -- whole-graph scores (offline evaluation baselines) ---------------------------------

    def common_neighbours(self, q: Rows) -> FloatArray:
        """Shared partners of each query row and every organisation (own entry 0)."""
        return self._two_hop(q, np.ones(len(self.ids)))

    def adamic_adar(self, q: Rows) -> FloatArray:
        """Adamic–Adar: shared partners z weighted by 1 / log(degree z)."""
        return self._two_hop(q, 1.0 / np.log(np.maximum(self.degree(), 2.0)))

    def resource_allocation(self, q: Rows) -> FloatArray:
        """Resource allocation: shared partners z weighted by 1 / degree z."""
        return self._two_hop(q, 1.0 / np.maximum(self.degree(), 1.0))

    def _two_hop(self, q: Rows, via: FloatArray) -> FloatArray:
        single = isinstance(q, int | np.integer)
        rows = np.asarray([q] if single else q, np.int64).reshape(-1)
        n = len(self.ids)
        first, owner = entries(self.indptr, rows)
        middle = np.asarray(self.indices[first], np.int64)
        second, hop = entries(self.indptr, middle)
        target = owner[hop] * n + np.asarray(self.indices[second], np.int64)
        dense = np.bincount(target, weights=via[middle][hop], minlength=len(rows) * n)
        out: FloatArray = dense.astype(np.float64).reshape(len(rows), n)
        out[np.arange(len(rows)), rows] = 0.0
        return out[0] if single else out
