"""A content-addressed embedding cache: a text is encoded once per model and backend."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from embeddings.encoder import Encoder

__all__ = ["EmbeddingCache", "text_key"]

logger = logging.getLogger(__name__)


def text_key(model_id: str, backend: str, text: str) -> bytes:
    """The cache key of a text: a digest of (model id, backend, exact text)."""
    return hashlib.sha256(f"{model_id}\x00{backend}\x00{text}".encode()).digest()[:16]


class EmbeddingCache:
    """Vectors by text key, saved as two .npy files (keys and vectors), no pickle.

    Args:
        dimension: length of the vectors.

    """

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._rows: dict[bytes, int] = {}
        self._vectors = np.zeros((0, dimension), dtype=np.float32)
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: bytes) -> bool:
        return key in self._rows

    def get(self, key: bytes) -> npt.NDArray[np.float32]:
        """The vector stored under ``key``."""
        row: npt.NDArray[np.float32] = self._vectors[self._rows[key]]
        return row

    def add(self, keys: Sequence[bytes], vectors: npt.NDArray[np.float32]) -> None:
        """Store vectors under their keys."""
        fresh = [i for i, k in enumerate(keys) if k not in self._rows]
        if not fresh:
            return
        start = len(self._vectors)
        self._vectors = np.vstack([self._vectors, vectors[fresh].astype(np.float32)])
        for offset, i in enumerate(fresh):
            self._rows[keys[i]] = start + offset

    def encode(
        self, encoder: Encoder, texts: Sequence[str], *, show_progress: bool = False
    ) -> npt.NDArray[np.float32]:
        """Vectors for ``texts``, encoding only those not cached yet (each distinct once)."""
        keys = [text_key(encoder.model_id, encoder.backend, t) for t in texts]
        todo: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._rows and key not in todo:
                todo[key] = text
        self.misses += len(todo)
        if todo:
            logger.info("encoding %d new texts (%d cached)", len(todo), len(self))
            vectors = encoder.encode(list(todo.values()), show_progress=show_progress)
            self.add(list(todo), vectors)
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._vectors[[self._rows[k] for k in keys]]

    def merge(self, other: EmbeddingCache) -> None:
        """Add the entries of another cache of the same dimension.

        Raises:
            ValueError: another dimension.
        """
        if other.dimension != self.dimension:
            raise ValueError(f"dimension {other.dimension}, expected {self.dimension}")
        keys = list(other._rows)
        if keys:
            self.add(keys, other._vectors[[other._rows[k] for k in keys]])

    def retain(self, keys: set[bytes]) -> None:
        """Drop every entry whose key is not in ``keys``."""
        kept = [k for k in self._rows if k in keys]
        self._vectors = self._vectors[[self._rows[k] for k in kept]].reshape(-1, self.dimension)
        self._rows = {k: i for i, k in enumerate(kept)}

    def save(self, folder: Path) -> None:
        """Write ``cache_keys.npy`` and ``cache_vectors.npy`` into ``folder``."""
        keys = np.frombuffer(b"".join(self._rows), dtype=np.uint8).reshape(-1, 16)
        order = np.array(list(self._rows.values()), dtype=np.int64)
        np.save(folder / "cache_keys.npy", keys, allow_pickle=False)
        np.save(
            folder / "cache_vectors.npy",
            self._vectors[order].reshape(-1, self.dimension),
            allow_pickle=False,
        )

    @classmethod
    def load(cls, folder: Path, dimension: int) -> EmbeddingCache:
        """Read a cache saved by :meth:`save`; an absent one is empty."""
        cache = cls(dimension)
        keys_path = folder / "cache_keys.npy"
        if not keys_path.exists():
            return cache
        keys = np.load(keys_path, allow_pickle=False)
        vectors = np.load(folder / "cache_vectors.npy", allow_pickle=False)
        if vectors.ndim != 2 or vectors.shape[1] != dimension or keys.shape != (len(vectors), 16):
            logger.warning("ignoring an embedding cache of another shape in %s", folder)
            return cache
        cache._vectors = vectors.astype(np.float32)
        cache._rows = {k.tobytes(): i for i, k in enumerate(keys)}
        return cache
