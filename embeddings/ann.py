"""Approximate nearest neighbours for large snapshots: FAISS IVF-PQ with an exact re-rank.

An :class:`ApproximateIndex` covers a snapshot's (n, d) array of unit vectors. FAISS's
IVF-PQ keeps every vector as ``m`` one-byte codes in one of ``nlist`` inverted lists; a
search probes the ``nprobe`` lists nearest the query and scores their codes, which finds
a shortlist of ``k × rerank`` rows. The shortlist is then scored exactly against the
memory-mapped array, so the returned scores are true inner products and the order is the
exact one within the shortlist. The index is written beside the array
(``ann_<name>.faiss``, memory-mapped back on load) with its parameters and a fingerprint
of the array in ``ann_<name>.json``; a file that does not match the array is refused.

A subset of rows is searched with an ID selector and proportionally more lists probed;
a subset under :data:`EXACT_SHARE` of the rows is searched exactly instead. Rows of the
array beyond the indexed ones (appended later) are searched exactly and merged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from embeddings.index import nearest

__all__ = [
    "EXACT_SHARE",
    "AnnMismatchError",
    "AnnParams",
    "ApproximateIndex",
    "mismatches",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

EXACT_SHARE = 0.05
"""A subset of fewer than this share of the indexed rows is searched exactly (copied):
cheaper then than probing the many lists a sparse subset needs."""

RERANK_FLOATS = 1 << 23
"""Floats gathered at once for the exact re-rank (32 MiB): queries are re-ranked in chunks."""

MAX_SHORTLIST = 512
"""The shortlist's cap: a long list (a candidate list's 101) needs less than ``rerank``
times its length of margin, and each shortlisted row is read from the array."""

ADD_BATCH = 65_536
"""Rows encoded and added to the index at once."""

FINGERPRINT_ROWS = 64
"""Rows, evenly spaced, whose bytes fingerprint the array an index was built over."""


class AnnMismatchError(ValueError):
    """An index file that does not belong to the array it is loaded for."""


@dataclass(frozen=True)
class AnnParams:
    """How an IVF-PQ index is built and searched.

    Attributes:
        nlist: inverted lists (coarse k-means centroids).
        m: PQ sub-quantizers, each coding ``d / m`` dimensions in ``nbits`` bits.
        nprobe: lists probed per query (over the whole index).
        rerank: the shortlist is ``k × rerank`` rows (at most :data:`MAX_SHORTLIST`, or
            ``k``), re-scored exactly.
        train_size: rows sampled to train the centroids and codebooks.
        seed: seed of the training sample and of the k-means.
        nbits: bits per sub-quantizer code (8; fewer only for tiny arrays).
    """

    nlist: int
    m: int
    nprobe: int = 64
    rerank: int = 16
    train_size: int = 131_072
    seed: int = 0
    nbits: int = 8

    @classmethod
    def for_size(cls, n: int, d: int) -> AnnParams:
        """The defaults for ``n`` rows of dimension ``d``.

        ``nlist`` is the power of two nearest ``4 √n`` (4,096 at a million rows), kept to
        at most one list per 39 rows (FAISS's minimum for k-means); ``m`` gives each
        sub-quantizer 8 dimensions (48 bytes per 384-dimensional vector); training uses
        32 rows per list, at least 16,384 and at most 131,072. Fewer than 256 rows get
        codes of fewer bits (k-means needs a row per code).
        """
        wanted = 2 ** round(math.log2(max(4 * math.sqrt(max(n, 1)), 1)))
        ceiling = 2 ** int(math.log2(max(n // 39, 1)))
        nlist = max(1, min(wanted, ceiling))
        m = max((x for x in range(1, d // 8 + 1) if d % x == 0), default=1)
        nbits = max(1, min(8, int(math.log2(max(n, 2)))))
        return cls(nlist=nlist, m=m, train_size=min(max(32 * nlist, 16_384), 131_072), nbits=nbits)

    def factory(self) -> str:
        """The FAISS index-factory string."""
        return f"IVF{self.nlist},PQ{self.m}x{self.nbits}"


def fingerprint(base: npt.NDArray[np.float32]) -> str:
    """A digest of an array's shape and of a few evenly spaced rows."""
    n = len(base)
    digest = hashlib.sha256(f"{base.shape}".encode())
    for row in np.unique(np.linspace(0, n - 1, min(n, FINGERPRINT_ROWS)).astype(np.int64)):
        digest.update(np.ascontiguousarray(base[row], np.float32).tobytes())
    return digest.hexdigest()[:32]


def mismatches(
    base: npt.NDArray[np.float32],
    count: int,
    dimension: int,
    digest: str,
    more: tuple[tuple[str, object, object], ...] = (),
) -> list[str]:
    """How a file made from an array differs from ``base``: shape, then fingerprint.

    Args:
        base: the array now.
        count: rows the file says.
        dimension: columns the file says.
        digest: the :func:`fingerprint` the file says.
        more: further (what, the file's, the array's) to compare.
    """
    n, d = base.shape
    checks = (("row count", count, n), ("dimension", dimension, d), *more)
    wrong = [f"{what} is {got}, the array has {have}" for what, got, have in checks if got != have]
    if not wrong and digest != fingerprint(base):
        wrong.append("its fingerprint differs from the array's (other vectors)")
    return wrong


def _paths(folder: Path, name: str) -> tuple[Path, Path]:
    return folder / f"ann_{name}.faiss", folder / f"ann_{name}.json"


class ApproximateIndex:
    """An IVF-PQ index over rows ``0 .. count-1`` of an array, searched with a re-rank.

    Args:
        index: the trained and filled FAISS index (row numbers are its ids).
        params: how it was built and is searched.
        count: rows indexed.
        dimension: their dimension.
        digest: :func:`fingerprint` of the array it was built over.
    """

    def __init__(
        self, index: Any, params: AnnParams, count: int, dimension: int, digest: str
    ) -> None:
        self.index = index
        self.params = params
        self.count = count
        self.dimension = dimension
        self.digest = digest

    # -- building and persistence ------------------------------------------------------------

    @classmethod
    def train(
        cls,
        base: npt.NDArray[np.float32],
        params: AnnParams | None = None,
        *,
        sample_from: IntArray | None = None,
    ) -> ApproximateIndex:
        """Train an index on a sample of ``base`` and add every row of it.

        Args:
            base: (n, d) unit vectors (may be memory-mapped).
            params: the parameters (default: :meth:`AnnParams.for_size`).
            sample_from: the rows to draw the training sample from (default: all), e.g.
                those that are not all zeros.
        """
        n, d = base.shape
        params = params or AnnParams.for_size(n, d)
        if d % params.m:
            raise ValueError(f"PQ{params.m} does not divide dimension {d}")
        pool = np.arange(n, dtype=np.int64) if sample_from is None else sample_from
        if len(pool) == 0:
            pool = np.arange(n, dtype=np.int64)
        rng = np.random.default_rng(params.seed)
        sample = np.sort(rng.choice(pool, min(params.train_size, len(pool)), replace=False))
        index = faiss.index_factory(d, params.factory(), faiss.METRIC_INNER_PRODUCT)
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.seed = params.seed
        ivf.cp.spherical = True
        pq: Any = faiss.downcast_index(ivf)
        pq.do_polysemous_training = False  # codes are never compared by Hamming distance
        pq.pq.cp.seed = params.seed
        pq.pq.cp.max_points_per_centroid = 128  # small-dimension k-means is slow in FAISS
        index.train(np.ascontiguousarray(base[sample], np.float32))
        for start in range(0, n, ADD_BATCH):
            index.add(np.ascontiguousarray(base[start : start + ADD_BATCH], np.float32))
        return cls(index, params, n, d, fingerprint(base))

    def save(self, folder: Path, name: str) -> None:
        """Write ``ann_<name>.faiss`` and its parameters, ``ann_<name>.json``."""
        index_path, meta_path = _paths(folder, name)
        faiss.write_index(self.index, str(index_path))
        meta = {
            "kind": "IVF-PQ",
            "factory": self.params.factory(),
            "params": dataclasses.asdict(self.params),
            "count": self.count,
            "dimension": self.dimension,
            "fingerprint": self.digest,
            "faiss": faiss.__version__,
        }
        meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))

    @staticmethod
    def exists(folder: Path, name: str) -> bool:
        """Whether ``folder`` holds an index called ``name``."""
        return _paths(folder, name)[1].is_file()

    @classmethod
    def load(cls, folder: Path, name: str, base: npt.NDArray[np.float32]) -> ApproximateIndex:
        """Read an index back (its lists memory-mapped where FAISS can) for ``base``.

        Raises:
            AnnMismatchError: the files are missing or unreadable, or were built over
                another array (row count, dimension or fingerprint differ).
        """
        index_path, meta_path = _paths(folder, name)
        try:
            meta = json.loads(meta_path.read_text())
            params = AnnParams(**meta["params"])
            count, dimension, digest = (
                int(meta["count"]),
                int(meta["dimension"]),
                meta["fingerprint"],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AnnMismatchError(
                f"{meta_path}: cannot read the index parameters ({exc})"
            ) from exc
        wrong = mismatches(base, count, dimension, digest)
        if wrong:
            raise AnnMismatchError(
                f"{index_path.name} does not match its array: {'; '.join(wrong)}; rebuild "
                "the snapshot with `matcher build --full`"
            )
        try:
            index = faiss.read_index(str(index_path), faiss.IO_FLAG_MMAP_IFC)
        except RuntimeError:
            try:
                index = faiss.read_index(str(index_path))
            except RuntimeError as exc:
                raise AnnMismatchError(f"{index_path}: cannot read the index ({exc})") from exc
        if (index.ntotal, index.d) != (count, dimension):
            raise AnnMismatchError(
                f"{index_path.name} holds {index.ntotal} rows of dimension {index.d}, its "
                f"parameters say {count} of {dimension}"
            )
        return cls(index, params, count, dimension, digest)

    def file_bytes(self) -> int:
        """Bytes of the serialised index (as written by :meth:`save`)."""
        return int(faiss.serialize_index(self.index).nbytes)

    # -- searching ---------------------------------------------------------------------------

    def search(
        self,
        base: npt.NDArray[np.float32],
        queries: npt.NDArray[np.float32],
        k: int,
        *,
        rows: IntArray | None = None,
        nprobe: int | None = None,
        rerank: int | None = None,
    ) -> tuple[FloatArray, IntArray]:
        """The ``k`` best rows of ``base`` (or of ``rows``) per query, exactly scored.

        :func:`~embeddings.index.nearest`'s contract: scores and rows, (q, min(k,
        searched)) each, best first. Rows of ``base`` beyond the indexed ones are searched
        exactly and merged.

        Args:
            base: the array the index was built over (more rows may follow).
            queries: (q, d) vectors.
            k: neighbours per query.
            rows: the rows of ``base`` to search (default: all).
            nprobe: lists probed (default: the index's parameter).
            rerank: shortlist factor (default: the index's parameter).

        Raises:
            AnnMismatchError: ``base`` is shorter or of another dimension than the index.
        """
        if len(base) < self.count or base.shape[1] != self.dimension:
            raise AnnMismatchError(
                f"an index of {self.count} rows of dimension {self.dimension} searched over "
                f"an array of shape {base.shape}"
            )
        if rows is None:
            inside: IntArray | None = None
            outside = np.arange(self.count, len(base), dtype=np.int64)
        else:
            rows = np.asarray(rows, np.int64)
            inside, outside = rows[rows < self.count], rows[rows >= self.count]
        n_inside = self.count if inside is None else len(inside)
        k = min(k, n_inside + len(outside))
        if k == 0 or len(queries) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        queries = np.ascontiguousarray(queries, np.float32)
        parts: list[tuple[FloatArray, IntArray]] = []
        if n_inside:
            if inside is not None and n_inside < EXACT_SHARE * self.count:
                parts.append(nearest(base, queries, k, rows=inside))
            else:
                parts.append(self._approximate(base, queries, k, inside, nprobe, rerank))
        if len(outside):
            parts.append(nearest(base, queries, k, rows=outside))
        if len(parts) == 1:
            return parts[0]
        scores = np.concatenate([p[0] for p in parts], axis=1)
        found = np.concatenate([p[1] for p in parts], axis=1)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(found, order, 1)

    def _approximate(
        self,
        base: npt.NDArray[np.float32],
        queries: FloatArray,
        k: int,
        inside: IntArray | None,
        nprobe: int | None,
        rerank: int | None,
    ) -> tuple[FloatArray, IntArray]:
        """Search the indexed rows (or the ``inside`` ones): shortlist, then re-rank."""
        n_inside = self.count if inside is None else len(inside)
        k = min(k, n_inside)
        probes = nprobe or self.params.nprobe
        bits: npt.NDArray[np.uint8] | None = None
        selector = None
        if inside is not None and n_inside < self.count:
            mask = np.zeros(self.count, np.bool_)
            mask[inside] = True
            bits = np.packbits(mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(self.count, faiss.swig_ptr(bits))
            probes = math.ceil(probes * self.count / n_inside)
        params: Any = faiss.SearchParametersIVF()
        params.sel = selector
        params.nprobe = min(probes, self.params.nlist)
        wide = min(max(min(k * (rerank or self.params.rerank), MAX_SHORTLIST), k), n_inside)
        _, shortlist = self.index.search(queries, wide, params=params)
        del bits  # the selector read it during the search
        scores, found = _rerank(base, queries, shortlist.astype(np.int64), k)
        short = (found < 0).any(axis=1)
        if short.any():  # a probe found fewer than k rows: search those queries exactly
            every = np.arange(self.count, dtype=np.int64) if inside is None else inside
            scores[short], found[short] = nearest(base, queries[short], k, rows=every)
        return scores, found


def _rerank(
    base: npt.NDArray[np.float32], queries: FloatArray, shortlist: IntArray, k: int
) -> tuple[FloatArray, IntArray]:
    """The ``k`` best of each query's shortlist (-1: none), scored exactly against ``base``."""
    q, wide = shortlist.shape
    scores = np.full((q, k), -np.inf, np.float32)
    found = np.full((q, k), -1, np.int64)
    step = max(1, RERANK_FLOATS // max(wide * base.shape[1], 1))
    for start in range(0, q, step):
        ids = shortlist[start : start + step]
        valid = ids >= 0
        distinct = np.unique(ids[valid])  # sorted: the memory map is read in order
        vectors = np.asarray(base[distinct], np.float32)
        at = np.searchsorted(distinct, np.maximum(ids, 0)).clip(0, max(len(distinct) - 1, 0))
        if len(distinct) == 0:
            continue
        exact = np.matmul(vectors[at], queries[start : start + step, :, None])[:, :, 0]
        exact[~valid] = -np.inf
        order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(exact, order, 1)
        rows = np.take_along_axis(ids, order, 1)
        rows[~np.isfinite(best)] = -1
        scores[start : start + step] = best
        found[start : start + step] = rows
    return scores, found
