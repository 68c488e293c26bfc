"""Candidates: the few hundred organisations worth scoring for a query.

At build time every organisation gets a stored list (:func:`build_lists`): its nearest
profile texts, nearest tag lists, the offers nearest to what it seeks, and the nearest
texts in each country it wants to enter, found with FAISS over the snapshot's vectors
(exactly, or with a large snapshot's approximate indexes). A write's few queries are
searched exactly through the arrays' one-byte codes (:mod:`embeddings.prefilter`).
At request time the pool is that list, plus the rows two hops away in the live graph (best
by resource allocation), plus the rows written since the snapshot that are near the query
(:func:`pool`). A written organisation gets its own list, computed the same way
(:func:`lists_for`): by the process that writes it, which keeps the list in the store with
the write's vectors, or, where no list was kept (a bulk import), by each process that
applies the write.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from embeddings import nearest
from embeddings.ann import ApproximateIndex
from embeddings.prefilter import Prefilter
from matcher.graph.rows import RowSets
from matcher.ranking.profiles import Profiles

__all__ = [
    "QUERY_FIELD",
    "SOURCES",
    "ListSizes",
    "Parts",
    "build_lists",
    "lists_for",
    "merge",
    "search",
]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ListSizes:
    """How many candidates each source contributes to a stored list."""

    text: int = 100
    tags: int = 30
    offers: int = 30
    per_target: int = 20
    two_hop: int = 200
    recent: int = 20
    popular: int = 50
    per_domain: int = 20
    three_hop: int = 0


def _neighbours(
    base: npt.NDArray[np.float32],
    queries: npt.NDArray[np.float32],
    k: int,
    rows: IntArray,
    index: ApproximateIndex | None = None,
    prefilter: Prefilter | None = None,
) -> list[IntArray]:
    """Per query, the rows of its ``k`` nearest among ``rows`` (none for a zero query).

    With ``index`` (a large snapshot's array), approximately; with ``prefilter`` (the
    array's codes), exactly, reading the codes first. A zero query is not searched.
    """
    out = [np.zeros(0, np.int64) for _ in range(len(queries))]
    if len(rows) == 0 or k == 0 or not len(queries):
        return out
    asked = np.flatnonzero(np.abs(queries).max(axis=1) > 0)
    if not len(asked):
        return out
    _, found = nearest(base, queries[asked], k, rows=rows, index=index, prefilter=prefilter)
    for i, f in zip(asked.tolist(), found, strict=True):
        out[i] = f[f >= 0]
    return out


SOURCES = ("text", "tags", "offers", "targets")
"""Where a stored list's candidates come from, searched one by one (:func:`search`)."""

QUERY_FIELD = {"text": "text", "tags": "tags", "offers": "seeks", "targets": "text"}
"""The query's vector field each source searches with."""

Parts = list[list[IntArray]]
"""Per query, the rows some sources found (merged by :func:`merge`)."""


def search(
    profiles: Profiles,
    source: str,
    queries: npt.NDArray[np.float32],
    targets: Sequence[Sequence[int]],
    sizes: ListSizes,
) -> Parts:
    """Per query, the rows one source finds among every row (written rows included).

    Args:
        profiles: the organisations.
        source: one of :data:`SOURCES`.
        queries: the queries' (q, d) vectors of the source's field (:data:`QUERY_FIELD`).
        targets: per query, its target-country codes.
        sizes: how many from each source.
    """
    count = len(targets)
    parts: Parts = [[] for _ in range(count)]
    if source == "targets":
        base, _ = profiles.all_vectors("text")
        wanted: dict[int, list[int]] = {}
        for i in range(count):
            for country in targets[i]:
                wanted.setdefault(int(country), []).append(i)
        for country, asking in wanted.items():
            rows = np.flatnonzero(profiles.country == country).astype(np.int64)
            rows = rows[profiles.alive[rows]]
            new = profiles.written(rows)
            inside = rows[(rows < profiles.base_count) & ~new]
            found = _neighbours(
                base,
                queries[asking],
                sizes.per_target,
                inside,
                profiles.ann.get("text"),
                profiles.prefilters.get("text"),
            )
            written = rows[new]
            for i, close in zip(asking, found, strict=True):
                parts[i].extend([close, written])
        return parts
    field = source  # the text, tags or offers of every row
    k = {"text": sizes.text, "tags": sizes.tags, "offers": sizes.offers}[source]
    base, changed = profiles.all_vectors(field)
    rows = profiles.present(field)
    rows = rows[profiles.alive[rows]]
    if len(changed):
        rows = rows[~profiles.written(rows)]
    found = _neighbours(
        base, queries, k + 1, rows, profiles.ann.get(field), profiles.prefilters.get(field)
    )
    if len(changed):
        extra = profiles.vectors(field, changed)
        near = _neighbours(extra, queries, k + 1, np.arange(len(changed)))
        found = [np.concatenate([f, changed[n]]) for f, n in zip(found, near, strict=True)]
    for i in range(count):
        parts[i].append(found[i])
    return parts


def merge(searched: Sequence[Parts], exclude: Sequence[int] = ()) -> list[IntArray]:
    """Per query, the distinct rows its sources found, without its own row.

    Args:
        searched: what each source found (:func:`search`), the same queries in each.
        exclude: per query, a row to leave out (its own), or nothing.
    """
    count = len(searched[0]) if searched else 0
    out = []
    for i in range(count):
        found = [rows for parts in searched for rows in parts[i]]
        merged = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
        if i < len(exclude):
            merged = merged[merged != exclude[i]]
        out.append(merged.astype(np.int64))
    return out


def lists_for(
    profiles: Profiles,
    vectors: dict[str, npt.NDArray[np.float32]],
    targets: Sequence[Sequence[int]],
    sizes: ListSizes,
    *,
    exclude: Sequence[int] = (),
) -> list[IntArray]:
    """Candidate lists of a few queries against every row (written rows included).

    Args:
        profiles: the organisations.
        vectors: per field, the queries' (q, d) vectors.
        targets: per query, its target-country codes.
        sizes: how many from each source.
        exclude: per query, a row to leave out (its own), or nothing.
    """
    searched = [
        search(profiles, source, vectors[QUERY_FIELD[source]], targets, sizes) for source in SOURCES
    ]
    return merge(searched, exclude)


def build_lists(
    profiles: Profiles, sizes: ListSizes, *, batch: int = 4096, show_progress: bool = False
) -> RowSets:
    """Every row's stored candidate list.

    Raises:
        ValueError: the profiles have written rows (build lists from a fresh snapshot).
    """
    if profiles.changed_rows:
        raise ValueError("candidate lists are built over a snapshot without written rows")
    n = len(profiles)
    lists: list[IntArray] = []
    starts = range(0, n, batch)
    for start in tqdm(starts, desc="candidate lists", unit="batch", disable=not show_progress):
        rows = np.arange(start, min(start + batch, n), dtype=np.int64)
        vectors = {f: profiles.vectors(f, rows) for f in ("text", "tags", "seeks")}
        targets = [profiles.targets.row(int(r)).tolist() for r in rows]
        lists += lists_for(profiles, vectors, targets, sizes, exclude=rows.tolist())
    return RowSets.of([x.tolist() for x in lists])
