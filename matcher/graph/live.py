"""The collaboration graph a process serves: a snapshot's arrays plus the edges written since.

The snapshot's CSR arrays are memory-mapped and never written; a row whose partners
changed since keeps its whole partner array in this process's overlay. Degrees are a
private copy kept current. Reads cost O(partners of the rows asked for).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.graph.graph import CollaborationGraph, IntArray, entries

__all__ = ["LiveGraph", "Scratch"]


class Scratch:
    """Dense per-row lookups of the latest neighbourhood (one process ranks one at a time).

    Filling costs the neighbourhood's size; the rows the previous neighbourhood filled are
    zeroed first, so nothing is ever proportional to the whole graph. An older
    neighbourhood falls back to binary search.
    """

    def __init__(self) -> None:
        self.values = np.zeros((3, 0))
        self.owner: Any = None

    def fill(self, nb: Any, size: int) -> None:
        """Make ``nb``'s scores the dense lookups."""
        if self.owner is not None and self.values.shape[1]:
            self.values[:, self.owner.rows] = 0.0
        if self.values.shape[1] < size:
            self.values = np.zeros((3, max(size, 2 * self.values.shape[1])))
        self.values[0, nb.rows] = nb.common_partners
        self.values[1, nb.rows] = nb.adamic_adar
        self.values[2, nb.rows] = nb.resource_allocation
        self.owner = nb


class LiveGraph:
    """Partners of every row, from a snapshot graph and this process's changes.

    Args:
        base: the snapshot's graph (its rows are the first rows here).
    """

    def __init__(self, base: CollaborationGraph) -> None:
        self.base = base
        self.base_count = len(base)
        self.changed: dict[int, npt.NDArray[np.int32]] = {}
        self.degree = np.diff(np.asarray(base.indptr)).astype(np.float64)
        self.count = self.base_count
        self.as_of = base.as_of
        self.scratch = Scratch()
        """Dense lookups of the neighbourhood being ranked (see :class:`Scratch`)."""
        """The date of the latest collaboration (activity counts the two years before it)."""

    def __len__(self) -> int:
        return self.count

    def add_rows(self, count: int) -> None:
        """Room for ``count`` new organisations, without partners."""
        self.degree = np.concatenate([self.degree, np.zeros(count)])
        self.count += count

    def partners(self, row: int) -> npt.NDArray[np.int32]:
        """The rows linked to ``row``, sorted."""
        got = self.changed.get(row)
        if got is not None:
            return got
        if row >= self.base_count:
            return np.zeros(0, np.int32)
        return np.asarray(self.base.partners(row), np.int32)

    def partners_of(self, rows: IntArray) -> tuple[npt.NDArray[np.int32], IntArray]:
        """The partners of several rows, concatenated, and each entry's index into ``rows``."""
        plain = np.ones(len(rows), np.bool_)
        if self.changed or self.count > self.base_count:
            plain = np.array(
                [int(r) < self.base_count and int(r) not in self.changed for r in rows.tolist()],
                np.bool_,
            )
        positions, owner = entries(self.base.indptr, rows[plain])
        out = [np.asarray(self.base.indices[positions], np.int32)]
        owners = [np.flatnonzero(plain)[owner]]
        for i in np.flatnonzero(~plain).tolist():
            got = self.partners(int(rows[i]))
            out.append(got)
            owners.append(np.full(len(got), i, np.int64))
        return np.concatenate(out), np.concatenate(owners)

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
            if linked:
                self.changed[x] = np.insert(current, np.searchsorted(current, y), y).astype(
                    np.int32
                )
            else:
                self.changed[x] = current[current != y]
            self.degree[x] += 1.0 if linked else -1.0
        return True

    def remove_row(self, row: int) -> None:
        """Drop every edge of a deleted organisation."""
        for other in self.partners(row).tolist():
            self.set_link(row, int(other), False)
