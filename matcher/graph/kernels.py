"""Compiled inner loops of the local link scores (numba).

A query's two-hop neighbourhood and its candidates' walk scores read the partners of tens
to thousands of rows. In NumPy that is a gather, a sort of every row reached
(``np.unique``) and several ``bincount`` passes; here one loop over the CSR arrays adds
each path's weight into the dense scratch space where the request reads it anyway
(:class:`matcher.graph.live.Scratch`). Sums run in the order NumPy's ``bincount`` runs
them, so every score is bit for bit the NumPy one (:mod:`matcher.graph.scores` keeps that
path, and the tests compare the two). Compiled on first use and cached on disk where numba
can write (``NUMBA_CACHE_DIR``).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["add_paths", "walk_sums"]

_compile = numba.njit(cache=True, nogil=True)


def _add_paths(
    indptr: npt.NDArray[Any],
    indices: npt.NDArray[Any],
    middle: npt.NDArray[np.int64],
    by_log: npt.NDArray[np.float64],
    by_degree: npt.NDArray[np.float64],
    query: int,
    dense: npt.NDArray[np.float64],
    touched: npt.NDArray[np.int64],
    count: int,
) -> int:
    """Add the paths query–middle[i]–end to the dense sums of each end; return the count.

    ``dense[0]`` counts paths (common partners), ``dense[1]`` adds ``by_log[i]``
    (Adamic–Adar), ``dense[2]`` adds ``by_degree[i]`` (resource allocation). An end seen for
    the first time is written to ``touched[count]``. The query itself is skipped.
    """
    for i in range(len(middle)):
        m = middle[i]
        for e in range(indptr[m], indptr[m + 1]):
            end = indices[e]
            if end == query:
                continue
            if dense[0, end] == 0.0:
                touched[count] = end
                count += 1
            dense[0, end] += 1.0
            dense[1, end] += by_log[i]
            dense[2, end] += by_degree[i]
    return count


def _walk_sums(
    indptr: npt.NDArray[Any],
    indices: npt.NDArray[Any],
    rows: npt.NDArray[np.int64],
    allocation: npt.NDArray[np.float64],
    degree: npt.NDArray[np.float64],
    out: npt.NDArray[np.float64],
) -> None:
    """``out[i]``: the sum over the partners y of ``rows[i]`` of allocation[y] / max(deg y, 1)."""
    for i in range(len(rows)):
        r = rows[i]
        total = 0.0
        for e in range(indptr[r], indptr[r + 1]):
            y = indices[e]
            total += allocation[y] / max(degree[y], 1.0)
        out[i] = total


add_paths = _compile(_add_paths)
walk_sums = _compile(_walk_sums)
