"""A FAISS inner-product index over unit vectors, with string ids mapped to 64-bit ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

__all__ = ["VectorIndex"]

logger = logging.getLogger(__name__)


class VectorIndex:
    """Exact inner-product search (cosine on unit vectors) over items named by string ids.

    Row ``i`` of the index carries FAISS id ``i``; ``ids[i]`` names it.

    Args:
        dimension: length of the vectors.

    """

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._rows

    @property
    def ids(self) -> Sequence[str]:
        """Item ids in row order."""
        return self._ids

    def add(self, ids: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        """Add items; ids must be new.

        Raises:
            ValueError: an id already present, or vectors of the wrong shape.

        """
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(
                f"expected vectors of shape ({len(ids)}, {self.dimension}), got {vectors.shape}"
            )
        clash = [i for i in ids if i in self._rows]
        if clash or len(set(ids)) != len(ids):
            raise ValueError(f"ids already in the index or repeated: {clash[:5]}")
        start = len(self._ids)
        labels = np.arange(start, start + len(ids), dtype=np.int64)
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), labels)
        for offset, item_id in enumerate(ids):
            self._rows[item_id] = start + offset
        self._ids.extend(ids)

    def vector(self, item_id: str) -> npt.NDArray[np.float32]:
        """The stored vector of an item.

        Raises:
            KeyError: the id is not in the index.

        """
        row = self._rows[item_id]
        return np.asarray(self._index.reconstruct(row), dtype=np.float32)

    def search(
        self,
        query: npt.NDArray[np.float32],
        k: int,
        *,
        exclude: Iterable[str] = (),
    ) -> list[tuple[str, float]]:
        """The ``k`` items most similar to ``query``, best first, ``exclude`` left out.

        Ties are broken by id so results are deterministic.
        """
        excluded = {self._rows[e] for e in exclude if e in self._rows}
        want = min(k + len(excluded), len(self._ids))
        if want <= 0 or k <= 0:
            return []
        scores, labels = self._index.search(
            np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1), want
        )
        hits = [
            (self._ids[int(label)], float(score))
            for score, label in zip(scores[0], labels[0], strict=True)
            if label >= 0 and int(label) not in excluded
        ]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits[:k]

    def save(self, folder: Path) -> None:
        """Write ``index.faiss`` and ``ids.json`` into ``folder``."""
        faiss.write_index(self._index, str(folder / "index.faiss"))
        (folder / "ids.json").write_text(json.dumps(self._ids, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path) -> VectorIndex:
        """Read an index saved by :meth:`save`.

        Raises:
            ValueError: the files disagree with each other.

        """
        index = faiss.read_index(str(folder / "index.faiss"))
        ids = json.loads((folder / "ids.json").read_text())
        if index.ntotal != len(ids):
            raise ValueError(
                f"{folder}: index holds {index.ntotal} vectors but ids.json names {len(ids)}"
            )
        out = cls(index.d)
        out._index = index
        out._ids = list(ids)
        out._rows = {item_id: row for row, item_id in enumerate(ids)}
        return out
