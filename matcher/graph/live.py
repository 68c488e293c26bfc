"""The collaboration graph a process serves: a snapshot's arrays plus the edges written since.

The snapshot's CSR arrays are memory-mapped and never written; a row whose partners
changed since keeps its whole partner array in this process's overlay. Degrees are a
private copy kept current. Reads cost O(partners of the rows asked for).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.graph.graph import CollaborationGraph, IntArray
from matcher.graph.rows import RowSets

__all__ = ["LiveGraph", "Scratch"]


class Scratch:
    """Dense per-row lookups of the latest neighbourhood (one process ranks one at a time).

    A neighbourhood's sums are added into it (:mod:`matcher.graph.kernels`) after
    :meth:`claim` zeroes the rows the previous one filled, so nothing is ever proportional
    to the whole graph. An older neighbourhood falls back to binary search.
    """

    def __init__(self) -> None:
        self.values = np.zeros((3, 0))
        self.owner: Any = None

    def claim(self, size: int) -> npt.NDArray[np.float64]:
        """Zeroed dense rows for at least ``size`` rows, owned by no one yet.

        The caller sets :attr:`owner` once it has filled them.
        """
        if self.owner is not None and self.values.shape[1]:
            self.values[:, self.owner.rows] = 0.0
        if self.values.shape[1] < size:
            self.values = np.zeros((3, max(size, 2 * self.values.shape[1])))
        self.owner = None
        return self.values


class LiveGraph:
    """Partners of every row, from a snapshot graph and this process's changes.

    Args:
        base: the snapshot's graph (its rows are the first rows here).
    """

    def __init__(self, base: CollaborationGraph) -> None:
        self.base = base
        self.base_count = len(base)
        self.sets = RowSets(base.indptr, base.indices)
        self.degree = np.diff(np.asarray(base.indptr)).astype(np.float64)
        self.count = self.base_count
        self.as_of = base.as_of
        """The date of the latest collaboration (activity counts the two years before it)."""
        self.scratch = Scratch()
        """Dense lookups of the neighbourhood being ranked (see :class:`Scratch`)."""

    def __len__(self) -> int:
        return self.count

    def add_rows(self, count: int) -> None:
        """Room for ``count`` new organisations, without partners."""
        self.degree = np.concatenate([self.degree, np.zeros(count)])
        self.count += count

    def partners(self, row: int) -> npt.NDArray[np.int32]:
        """The rows linked to ``row``, sorted."""
        return self.sets.row(row)

    def partners_of(self, rows: IntArray) -> tuple[npt.NDArray[np.int32], IntArray]:
        """The partners of several rows, concatenated, and each entry's index into ``rows``."""
        return self.sets.gather(rows)

    def linked(self, a: int, b: int) -> bool:
        """Whether two rows are partners."""
        found = self.partners(a)
        i = int(np.searchsorted(found, b))
        return i < len(found) and int(found[i]) == b

    def set_link(self, a: int, b: int, linked: bool) -> bool:
        """Add or remove the edge a–b; return whether anything changed."""
        if a == b or self.linked(a, b) == linked:
            return False
        for x, y in ((a, b), (b, a)):
            current = self.partners(x)
            self.sets.set(x, np.append(current, y) if linked else current[current != y])
            self.degree[x] += 1.0 if linked else -1.0
        return True

    def remove_row(self, row: int) -> None:
        """Drop every edge of a deleted organisation."""
        for other in self.partners(row).tolist():
            self.set_link(row, int(other), False)
