"""Nearest neighbours of vectors: FAISS's exact inner-product search.

Snapshots keep their vectors as plain ``.npy`` arrays that every process memory-maps;
:func:`nearest` searches them (or a subset of their rows) with FAISS's brute-force kNN,
which reads the array where it lies. Vectors are unit length, so the inner product is the
cosine. Given an :class:`~embeddings.ann.ApproximateIndex` over the array (large
snapshots), it searches that instead: IVF-PQ with an exact re-rank.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import faiss
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from embeddings.ann import ApproximateIndex
    from embeddings.prefilter import Prefilter

__all__ = ["FEW_QUERIES", "PREFILTER_SHARE", "SKIP_LIMIT", "nearest"]

IntArray = npt.NDArray[np.int64]

FEW_QUERIES = 32
"""Fewer queries than this (a write's, a profile's) are searched on the calling thread
alone. OpenMP's thread count is set per thread, so the service's one-thread limit does
not reach its request threads; there a second FAISS thread added CPU and no speed: a
profile write at 100k took 111 ms of CPU on one thread against 187 ms on two
(``benchmarks/writes.py``, ``benchmarks/results/writes-100k-2026-12-05-one-faiss-thread.txt``)."""

PREFILTER_SHARE = 1 / 8
"""A subset of fewer rows than this share is copied and searched (cheaper than reading
every row's codes); a larger one goes through the prefilter."""

SKIP_LIMIT = 4096
"""A subset that leaves out at most this many rows (and under half) is searched in place:
the whole array, with the left-out rows dropped from the results."""


def nearest(
    base: npt.NDArray[np.float32],
    queries: npt.NDArray[np.float32],
    k: int,
    *,
    rows: IntArray | None = None,
    index: ApproximateIndex | None = None,
    prefilter: Prefilter | None = None,
) -> tuple[npt.NDArray[np.float32], IntArray]:
    """Inner-product neighbours of each query among ``base``, best first.

    Exact without ``index``; with it, approximate (IVF-PQ), but exactly scored. Given
    ``prefilter`` (and no ``index``), fewer than :data:`FEW_QUERIES` queries over all of
    ``base``, or over at least :data:`PREFILTER_SHARE` of its rows, are searched through
    it: exact too, reading a quarter of the bytes.

    Args:
        base: (n, d) vectors (may be memory-mapped).
        queries: (q, d) vectors.
        k: neighbours per query.
        rows: the rows of ``base`` to search (default: all); results are rows of ``base``.
        index: an approximate index over the first rows of ``base`` (rows after them are
            searched exactly and merged).
        prefilter: one-byte codes of ``base``'s rows.

    Returns:
        Scores and rows, (q, min(k, searched)) each.
    """
    if len(queries) < FEW_QUERIES:
        if (
            index is None
            and prefilter is not None
            and (rows is None or len(rows) >= PREFILTER_SHARE * len(base))
        ):
            found = prefilter.search(base, queries, k, rows=rows)
            if found is not None:
                return found
        with _one_thread():
            return _nearest(base, queries, k, rows, index)
    return _nearest(base, queries, k, rows, index)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run FAISS on the calling thread alone for the block (OpenMP counts per thread)."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _nearest(
    base: npt.NDArray[np.float32],
    queries: npt.NDArray[np.float32],
    k: int,
    rows: IntArray | None,
    index: ApproximateIndex | None,
) -> tuple[npt.NDArray[np.float32], IntArray]:
    if index is not None:
        return index.search(base, queries, k, rows=rows)
    if rows is not None and len(base) - len(rows) <= SKIP_LIMIT and 2 * len(rows) > len(base):
        return _nearest_skipping(base, queries, k, rows)
    subset = base if rows is None else np.asarray(base[rows], np.float32)
    k = min(k, len(subset))
    if k == 0 or len(queries) == 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    scores, found = faiss.knn(
        np.ascontiguousarray(queries, np.float32),
        np.ascontiguousarray(subset, np.float32),
        k,
        metric=faiss.METRIC_INNER_PRODUCT,
    )
    found = found.astype(np.int64)
    if rows is not None:
        found = np.where(found >= 0, rows[np.maximum(found, 0)], -1)
    return scores, found


def _nearest_skipping(
    base: npt.NDArray[np.float32], queries: npt.NDArray[np.float32], k: int, rows: IntArray
) -> tuple[npt.NDArray[np.float32], IntArray]:
    """Search all of ``base`` in place for ``k`` plus as many as are left out, then drop them.

    Copying nearly the whole array to search a subset costs more than the search itself.
    """
    k = min(k, len(rows))
    if k == 0 or len(queries) == 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    keep = np.zeros(len(base), np.bool_)
    keep[rows] = True
    wide = min(k + len(base) - len(rows), len(base))
    scores, found = faiss.knn(
        np.ascontiguousarray(queries, np.float32),
        np.ascontiguousarray(base, np.float32),
        wide,
        metric=faiss.METRIC_INNER_PRODUCT,
    )
    found = found.astype(np.int64)
    wanted = (found >= 0) & keep[np.maximum(found, 0)]
    order = np.argsort(~wanted, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(found, order, 1)
