"""Nearest neighbours of vectors: FAISS's exact inner-product search.

Snapshots keep their vectors as plain ``.npy`` arrays that every process memory-maps;
:func:`nearest` searches them (or a subset of their rows) with FAISS's brute-force kNN,
which reads the array where it lies. Vectors are unit length, so the inner product is the
cosine.
"""

from __future__ import annotations

import faiss
import numpy as np
import numpy.typing as npt

__all__ = ["nearest"]

IntArray = npt.NDArray[np.int64]


def nearest(
    base: npt.NDArray[np.float32],
    queries: npt.NDArray[np.float32],
    k: int,
    *,
    rows: IntArray | None = None,
) -> tuple[npt.NDArray[np.float32], IntArray]:
    """Exact inner-product neighbours of each query among ``base``, best first.

    Args:
        base: (n, d) vectors (may be memory-mapped).
        queries: (q, d) vectors.
        k: neighbours per query.
        rows: the rows of ``base`` to search (default: all); results are rows of ``base``.

    Returns:
        Scores and rows, (q, min(k, searched)) each.
    """
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
