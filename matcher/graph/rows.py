"""Rows of integer sets: a snapshot's CSR arrays with this process's changed rows on top.

The collaboration graph (each row's partners), the keywords, target countries and
languages of profiles, and the stored candidate lists are all such rows. The CSR arrays are
memory-mapped from a snapshot and never written; a row changed since lives whole in the
overlay. Reads cost what the rows asked for hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from embeddings.artefact import map_array

__all__ = ["RowSets", "entries"]

IntArray = npt.NDArray[np.int64]
Values = npt.NDArray[np.int32]


def entries(indptr: npt.NDArray[Any], rows: IntArray) -> tuple[IntArray, IntArray]:
    """Positions of the stored entries of CSR ``rows``, row after row, and each one's owner.

    The second array gives, for each position, its index into ``rows``.
    """
    starts = np.asarray(indptr[rows], np.int64)
    lengths = np.asarray(indptr[rows + 1], np.int64) - starts
    owner = np.repeat(np.arange(len(rows)), lengths)
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.arange(len(owner)) + shift, owner


class RowSets:
    """Sorted integer values per row: CSR arrays plus an overlay of changed rows.

    Args:
        indptr: CSR row pointers (``rows + 1``).
        indices: the values, sorted within each row.
    """

    def __init__(self, indptr: npt.NDArray[Any], indices: npt.NDArray[Any]) -> None:
        self.indptr, self.indices = indptr, indices
        self.base_count = len(indptr) - 1
        self.changed: dict[int, Values] = {}
        self._overlaid = np.zeros(self.base_count, np.bool_)
        """Which snapshot rows have a changed row in the overlay (set through :meth:`set`)."""

    @classmethod
    def of(cls, rows: Sequence[Sequence[int]]) -> RowSets:
        """Rows given as lists of values (each row's values sorted here)."""
        lengths = np.array([len(r) for r in rows], np.int64)
        indptr = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(lengths, out=indptr[1:])
        flat = [x for r in rows for x in sorted(r)]
        return cls(indptr, np.array(flat, np.int32))

    def row(self, r: int) -> Values:
        """The values of row ``r`` (none for a row past the arrays and never set)."""
        got = self.changed.get(r)
        if got is not None:
            return got
        if r >= self.base_count:
            return np.zeros(0, np.int32)
        return np.asarray(self.indices[self.indptr[r] : self.indptr[r + 1]], np.int32)

    def plain(self, rows: IntArray) -> npt.NDArray[np.bool_]:
        """Which of ``rows`` are read from the snapshot's arrays (not changed, not new)."""
        plain = rows < self.base_count
        if self.changed:
            plain[plain] = ~self._overlaid[rows[plain]]
        return plain

    def csr(self, rows: IntArray) -> tuple[IntArray, Values]:
        """CSR arrays (indptr, indices) of some rows' current values, in their order."""
        got = [self.row(int(r)) for r in rows.tolist()]
        indptr = np.zeros(len(got) + 1, np.int64)
        np.cumsum([len(g) for g in got], out=indptr[1:])
        indices = np.concatenate(got).astype(np.int32) if got else np.zeros(0, np.int32)
        return indptr, indices

    def gather(self, rows: IntArray) -> tuple[Values, IntArray]:
        """The values of several rows, concatenated, and each value's index into ``rows``."""
        plain = self.plain(rows)
        positions, owner = entries(self.indptr, rows[plain])
        values = [np.asarray(self.indices[positions], np.int32)]
        owners = [np.flatnonzero(plain)[owner]]
        other = np.flatnonzero(~plain)
        if len(other):
            got = [self.row(r) for r in rows[other].tolist()]
            values.extend(got)
            owners.append(np.repeat(other, [len(g) for g in got]).astype(np.int64))
        return np.concatenate(values), np.concatenate(owners)

    def set(self, r: int, values: Sequence[int] | npt.NDArray[Any]) -> None:
        """Replace row ``r``'s values."""
        self.changed[r] = np.unique(np.asarray(values, np.int32))
        if r < self.base_count:
            self._overlaid[r] = True

    def rows_having(self, value: int, n: int) -> npt.NDArray[np.bool_]:
        """A mask over ``n`` rows of those whose values hold ``value``."""
        mask = np.zeros(n, np.bool_)
        owners = np.repeat(np.arange(self.base_count), np.diff(np.asarray(self.indptr)))
        mask[owners[np.asarray(self.indices) == value]] = True
        for r, values in self.changed.items():
            mask[r] = bool((values == value).any())
        return mask

    def save(self, folder: Path, name: str) -> None:
        """Write ``<name>_indptr.npy`` and ``<name>_indices.npy`` (the overlay must be empty).

        Raises:
            ValueError: rows were changed since the arrays were made.
        """
        if self.changed:
            raise ValueError(f"{name}: only rows without changes can be saved")
        np.save(folder / f"{name}_indptr.npy", np.asarray(self.indptr), allow_pickle=False)
        np.save(folder / f"{name}_indices.npy", np.asarray(self.indices), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, name: str) -> RowSets:
        """Memory-map arrays written by :meth:`save`."""
        return cls(map_array(folder, f"{name}_indptr"), map_array(folder, f"{name}_indices"))
