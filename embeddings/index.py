"""A FAISS inner-product index over unit vectors, with string ids mapped to 64-bit labels.

Exact search below a size threshold, an approximate index (IVF or HNSW) above it; filtered
search through FAISS id selectors that never comes back short; incremental add, update and
remove; a folder format that keeps the kind and parameters.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

import faiss as _faiss_module
import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_PARAMS",
    "BuiltKind",
    "IdSubset",
    "IndexKind",
    "IndexParams",
    "VectorIndex",
]

logger = logging.getLogger(__name__)

# The wheel's type stubs lag its API (SearchParametersHNSW, DirectMap, IDSelectorBitmap(array)).
faiss: Any = _faiss_module

IndexKind = Literal["auto", "flat", "hnsw", "ivf"]
BuiltKind = Literal["flat", "hnsw", "ivf"]
_FORMAT = 1
_META = "index.json"
_IDS = "ids.json"
_FAISS = "index.faiss"
# An escalated retry multiplies efSearch / nprobe by this before falling back to exact search.
_ESCALATE = 4
# Extra neighbours asked of an exact search so that ties at the k-th score are seen whole.
_TIE_SLACK = 8
# Exact search over a subset copies its vectors out up to this size, and above it scans
# the whole index with a selector (measured: copying 1,000 IVF vectors 0.3 ms, the scan 1.5+).
_GATHER_MAX = 4096


@dataclass(frozen=True)
class IndexParams:
    """Tuning of a :class:`VectorIndex`.

    Defaults chosen from ``benchmarks/results/index-2026-11-25.txt`` (``benchmarks/index.py``,
    clustered 384-d unit vectors, 2 shared cores); see :class:`VectorIndex` for the figures.

    Attributes:
        threshold: ``kind="auto"`` builds an exact (flat) index below this many items and
            ``approximate`` from it on.
        approximate: the approximate kind ``"auto"`` picks at and above the threshold.
        exact_subset: an approximate index answers a search whose ``allowed`` filter leaves
            at most this many items exactly over them (recall 1); larger filters go through
            the approximate index with the selector, effort scaled by the filter's
            selectivity.
        hnsw_m: HNSW graph degree (``M``).
        ef_construction: HNSW build beam width.
        ef_search: HNSW search beam width.
        nlist: IVF lists; ``None``: ``4·sqrt(n)`` at build time, at most ``n // 39``.
        nprobe: IVF lists visited per query.
        train_per_list: IVF k-means trains on at most this many vectors per list.
        train_iterations: IVF k-means iterations.
        max_dead_fraction: rebuild automatically once this fraction of the stored rows are
            tombstones of removed or updated items; ``None``: never automatically.

    """

    threshold: int = 30_000
    approximate: Literal["hnsw", "ivf"] = "ivf"
    exact_subset: int = 30_000
    hnsw_m: int = 32
    ef_construction: int = 40
    ef_search: int = 64
    nlist: int | None = None
    nprobe: int = 32
    train_per_list: int = 64
    train_iterations: int = 10
    max_dead_fraction: float | None = 0.25

    def __post_init__(self) -> None:
        if self.threshold < 0 or self.exact_subset < 0:
            raise ValueError("threshold and exact_subset must be at least 0")
        if self.approximate not in ("hnsw", "ivf"):
            raise ValueError(f"approximate must be 'hnsw' or 'ivf', not {self.approximate!r}")
        for name in (
            "hnsw_m",
            "ef_construction",
            "ef_search",
            "nprobe",
            "train_per_list",
            "train_iterations",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.nlist is not None and self.nlist < 1:
            raise ValueError("nlist must be at least 1")
        if self.max_dead_fraction is not None and not 0 < self.max_dead_fraction <= 1:
            raise ValueError("max_dead_fraction must be in (0, 1]")


DEFAULT_PARAMS = IndexParams()

Hit = tuple[str, float]


class IdSubset:
    """Allowed ids resolved to one index's labels, reusable across searches.

    Made by :meth:`VectorIndex.subset`; resolving a large filter (say 100,000 ids) costs
    tens of ms, so a caller that repeats a filter (a country, a kind) keeps one. A search
    refuses it once the index has changed since.
    """

    __slots__ = ("_bits", "_nbits", "_owner", "_version", "labels")

    def __init__(
        self, labels: npt.NDArray[np.int64], owner: VectorIndex, version: int, nbits: int
    ) -> None:
        self.labels = labels  # sorted, unique, live
        self._owner, self._version, self._nbits = owner, version, nbits
        self._bits: npt.NDArray[np.uint8] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def bits(self) -> npt.NDArray[np.uint8]:
        """The labels as a little-endian bitmap, as ``IDSelectorBitmap`` reads it."""
        if self._bits is None:
            mask = np.zeros(self._nbits, dtype=bool)
            mask[self.labels] = True
            self._bits = np.packbits(mask, bitorder="little")
        return self._bits

    def without(self, excluded: set[int]) -> IdSubset:
        """The subset less some labels."""
        gone = np.fromiter(excluded, dtype=np.int64, count=len(excluded))
        gone = gone[np.isin(gone, self.labels)]
        if len(gone) == 0:
            return self
        out = IdSubset(np.setdiff1d(self.labels, gone), self._owner, self._version, self._nbits)
        if self._bits is not None:
            out._bits = _clear_bits(self._bits.copy(), gone)
        return out


@contextmanager
def _single_thread() -> Iterator[None]:
    """Run FAISS on one OpenMP thread.

    A single query gains nothing from a thread team and, on a busy machine, waits for the
    descheduled second thread (see benchmarks/index.py).
    """
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class VectorIndex:
    """Inner-product search (cosine on unit vectors) over items named by string ids.

    Kinds: ``"flat"`` is exact (``IndexFlatIP``); ``"ivf"`` (``IndexIVFFlat``, k-means
    lists) and ``"hnsw"`` (``IndexHNSWFlat``) are approximate; ``"auto"`` (the default)
    builds flat below ``threshold`` items and ``approximate`` from it on, re-deciding when
    an ``add`` crosses the threshold (a one-off rebuild) and at every :meth:`rebuild`.

    Defaults, from ``benchmarks/results/index-2026-11-25.txt`` (clustered 384-d vectors,
    2 busy cores; single queries on one thread): exact search costs 1.9 ms per query at
    10k, 5.4 ms at 30k, 21 ms at 100k and 262 ms at 1M, hence ``threshold=30_000``. IVF
    with ``nprobe=32`` reaches recall@10 0.988 at 30k, 0.994 at 100k and 0.998 at 1M in
    0.3–2.6 ms (nprobe 16: 0.980 at 30k, too close to the 0.98 bar). HNSW (M=32,
    efSearch 64) reaches 0.997–0.999 in 0.4–0.5 ms up to 100k but builds twice as slowly
    (59 s against 27 s at 100k; over ten minutes at 1M), cannot delete and filters worse,
    so IVF is the default ``approximate``; HNSW stays selectable. Filters keeping 1 % or
    10 % returned 10 results every time, recall 1.0 up to 100k and 0.998 for 10 % of 1M.

    Ids: each item gets an int64 *label* that FAISS stores; ``ids[label]`` names it.
    Labels only grow between rebuilds; :meth:`rebuild` renumbers them densely.

    Updates without a rebuild: ``"ivf"`` removes for real (``remove_ids`` with a hashtable
    direct map) and re-adds an updated vector under the same label. ``"flat"`` overwrites
    an updated vector in place. Removal from ``"flat"`` and removal or update in ``"hnsw"``
    (whose graph cannot drop a node) leave a *tombstone*: the row stays, its label is dead
    and every search filters it out through the id selector. When tombstones exceed
    ``max_dead_fraction`` of the rows the index rebuilds itself (cheap for flat; for a
    large HNSW graph this is the full build cost: set ``max_dead_fraction=None`` and call
    :meth:`rebuild` off-line, guided by :attr:`needs_rebuild`). An IVF index with an
    automatic ``nlist`` retrains when it has grown fourfold since training.

    Search: single queries run FAISS on one thread (side by side at 10k: 1.6 ms, against
    16 ms on two threads and 8 ms for numpy's matmul on a busy machine), batches on all.
    Filters (``exclude``, ``allowed``, tombstones) go to FAISS as an ``IDSelectorBitmap``
    over labels. A filtered search never returns fewer than ``min(k, eligible)`` results:
    a flat index is exact anyway; an approximate one answers an ``allowed`` filter of at
    most ``exact_subset`` items exactly over them, and a larger one through the index with
    efSearch/nprobe multiplied by ``items / eligible``, retried ×4 when it comes back
    short, then answered exactly. Exact results equal brute force with ties broken by id;
    approximate results are sorted by score, then id. A filter used for many searches can
    be resolved once with :meth:`subset`.

    Not safe for concurrent writes; concurrent searches are fine.

    Args:
        dimension: length of the vectors.
        kind: ``"auto"``, ``"flat"``, ``"hnsw"`` or ``"ivf"``.
        threshold, approximate, exact_subset, hnsw_m, ef_construction, ef_search, nlist, nprobe,
        train_per_list, train_iterations, max_dead_fraction: see :class:`IndexParams`
            (kept in :attr:`params`; a search reads them there, so a changed
            ``params`` applies to the next search).

    """

    def __init__(
        self,
        dimension: int,
        *,
        kind: IndexKind = "auto",
        threshold: int = DEFAULT_PARAMS.threshold,
        approximate: Literal["hnsw", "ivf"] = DEFAULT_PARAMS.approximate,
        exact_subset: int = DEFAULT_PARAMS.exact_subset,
        hnsw_m: int = DEFAULT_PARAMS.hnsw_m,
        ef_construction: int = DEFAULT_PARAMS.ef_construction,
        ef_search: int = DEFAULT_PARAMS.ef_search,
        nlist: int | None = DEFAULT_PARAMS.nlist,
        nprobe: int = DEFAULT_PARAMS.nprobe,
        train_per_list: int = DEFAULT_PARAMS.train_per_list,
        train_iterations: int = DEFAULT_PARAMS.train_iterations,
        max_dead_fraction: float | None = DEFAULT_PARAMS.max_dead_fraction,
    ) -> None:
        if dimension < 1:
            raise ValueError("dimension must be at least 1")
        if kind not in get_args(IndexKind):
            raise ValueError(f"kind must be one of {get_args(IndexKind)}, not {kind!r}")
        self.dimension = dimension
        self.requested_kind: IndexKind = kind
        self.params = IndexParams(
            threshold=threshold,
            approximate=approximate,
            exact_subset=exact_subset,
            hnsw_m=hnsw_m,
            ef_construction=ef_construction,
            ef_search=ef_search,
            nlist=nlist,
            nprobe=nprobe,
            train_per_list=train_per_list,
            train_iterations=train_iterations,
            max_dead_fraction=max_dead_fraction,
        )
        self._index: Any = None  # faiss.Index once the first vectors arrive
        self._built: BuiltKind | None = None
        self._names: list[str | None] = []  # by label; None: removed
        self._labels: dict[str, int] = {}
        self._alive = np.zeros(0, dtype=bool)  # by label, capacity may exceed len(_names)
        self._dead = 0  # tombstoned rows still stored (flat, hnsw)
        self._trained_on = 0  # items when the index was last built
        self._bits: npt.NDArray[np.uint8] | None = None  # packed _alive, cached
        self._version = 0  # bumped by every change: IdSubset objects check it

    # -- introspection -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._labels

    def __repr__(self) -> str:
        return (
            f"VectorIndex(dimension={self.dimension}, kind={self.kind!r}, items={len(self)}, "
            f"tombstones={self._dead})"
        )

    @property
    def ids(self) -> Sequence[str]:
        """Item ids in label order."""
        return [name for name in self._names if name is not None]

    @property
    def kind(self) -> BuiltKind:
        """The kind built (for an empty index: the kind its first vectors will get)."""
        return self._built or self._choose(0)

    @property
    def tombstones(self) -> int:
        """Rows of removed or replaced items still stored (flat, hnsw)."""
        return self._dead

    @property
    def needs_rebuild(self) -> bool:
        """Whether :meth:`rebuild` would help.

        True with many tombstones, or a kind or IVF list count that no longer fits the size.
        """
        limit = self.params.max_dead_fraction or 0.25
        if self._dead > limit * max(1, len(self._names)):
            return True
        if self._built is not None and self._built != self._choose(len(self)):
            return True
        return (
            self._built == "ivf"
            and self.params.nlist is None
            and len(self) >= 4 * max(1, self._trained_on)
        )

    def subset(self, ids: Iterable[str]) -> IdSubset:
        """Resolve allowed ids once for many searches (``allowed=``); unknown ids are ignored.

        Valid until the index next changes.
        """
        return self._resolve(list(ids), set()) or self._subset(np.zeros(0, dtype=np.int64))

    def vector(self, item_id: str) -> npt.NDArray[np.float32]:
        """The stored vector of an item.

        Raises:
            KeyError: the id is not in the index.

        """
        label = self._labels[item_id]
        if self._built == "ivf":
            return np.asarray(self._index.reconstruct(label), dtype=np.float32)
        return np.array(self._rows()[label], dtype=np.float32)

    # -- updates -------------------------------------------------------------------------

    def add(self, ids: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        """Add items; ids must be new.

        Raises:
            ValueError: an id already present, or vectors of the wrong shape.

        """
        x = self._check_vectors(ids, vectors)
        clash = [i for i in ids if i in self._labels]
        if clash or len(set(ids)) != len(ids):
            raise ValueError(f"ids already in the index or repeated: {clash[:5]}")
        if not ids:
            return
        if self._index is None:
            self._names = list(ids)
            self._labels = {item_id: n for n, item_id in enumerate(ids)}
            self._alive = np.ones(len(ids), dtype=bool)
            self._bits = None
            self._install(self._choose(len(ids)), x)
            return
        start = len(self._names)
        labels = np.arange(start, start + len(ids), dtype=np.int64)
        if self._built == "ivf":
            self._index.add_with_ids(x, labels)
        else:
            self._index.add(x)
        self._names.extend(ids)
        for offset, item_id in enumerate(ids):
            self._labels[item_id] = start + offset
        self._grow_alive(len(self._names))
        self._alive[start : start + len(ids)] = True
        self._bits = None
        self._after_change()

    def update(self, ids: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        """Replace the vectors of items already in the index.

        Raises:
            KeyError: an id is not in the index.
            ValueError: repeated ids, or vectors of the wrong shape.

        """
        x = self._check_vectors(ids, vectors)
        if len(set(ids)) != len(ids):
            raise ValueError("repeated ids")
        missing = [i for i in ids if i not in self._labels]
        if missing:
            raise KeyError(f"not in the index: {missing[:5]}")
        if not ids:
            return
        labels = np.array([self._labels[i] for i in ids], dtype=np.int64)
        if self._built == "flat":
            self._rows()[labels] = x
        elif self._built == "ivf":
            self._index.remove_ids(labels)
            self._index.add_with_ids(x, labels)
        else:  # hnsw: tombstone the old rows, append the new ones under new labels
            self._kill(labels)
            for item_id in ids:
                del self._labels[item_id]
            self.add(ids, x)
            return
        self._after_change()

    def remove(self, ids: Iterable[str]) -> int:
        """Remove the items with these ids (ids not in the index are ignored).

        Returns:
            How many items were removed.

        """
        gone = list(dict.fromkeys(i for i in ids if i in self._labels))
        if not gone:
            return 0
        labels = np.array([self._labels.pop(i) for i in gone], dtype=np.int64)
        if self._built == "ivf":
            self._index.remove_ids(labels)
            self._alive[labels] = False
            for label in labels.tolist():
                self._names[label] = None
            self._bits = None
        else:
            self._kill(labels)
        self._after_change()
        return len(gone)

    def rebuild(self) -> None:
        """Rebuild from the live vectors.

        Drops tombstones, renumbers labels densely, retrains IVF lists and, for
        ``kind="auto"``, chooses the kind anew for the current size.
        """
        names = self.ids
        x = self._gather(np.array([self._labels[i] for i in names], dtype=np.int64))
        self._names = list(names)
        self._labels = {item_id: n for n, item_id in enumerate(names)}
        self._alive = np.ones(len(names), dtype=bool)
        self._dead = 0
        self._bits = None
        if not names:
            self._index, self._built, self._trained_on = None, None, 0
            self._version += 1
            return
        self._install(self._choose(len(names)), x)

    # -- search --------------------------------------------------------------------------

    def search(
        self,
        query: npt.NDArray[np.float32],
        k: int,
        *,
        exclude: Iterable[str] = (),
        allowed: Collection[str] | IdSubset | None = None,
    ) -> list[Hit]:
        """The ``k`` items most similar to ``query``, best first.

        Args:
            query: a vector of length ``dimension`` (or shape ``(1, dimension)``).
            k: how many results at most.
            exclude: ids never to return.
            allowed: if given, only these ids may be returned (unknown ids are ignored):
                a collection of ids or an :class:`IdSubset` made by :meth:`subset`.

        Returns:
            ``(id, score)`` pairs, ``min(k, eligible items)`` of them, by descending score
            then id.

        """
        q = self._check_queries(query)
        if q.shape[0] != 1:
            raise ValueError("search takes one query: use search_batch for several")
        if k <= 0 or not self._labels:
            return []
        if isinstance(exclude, str):
            raise TypeError("exclude must be a collection of ids, not one string")
        excluded = {self._labels[e] for e in exclude if e in self._labels}
        subset = self._resolve(allowed, excluded)
        eligible = len(subset) if subset is not None else len(self._labels) - len(excluded)
        if eligible <= 0:
            return []
        want = min(k, eligible)
        with _single_thread():
            if self._built == "flat":
                sel = self._selector(subset, excluded)
                return self._exact(lambda kk: self._index_search(q, kk, sel, None), want, eligible)
            if subset is not None and eligible <= self.params.exact_subset:
                return self._exact_subset(q, subset, want)
            sel = self._selector(subset, excluded)
            scale = self._index.ntotal / eligible  # a filter keeping 10 %: 10× the effort
            for boost in (scale, scale * _ESCALATE):
                hits = self._finish(*self._index_search(q, want, sel, boost))
                if len(hits) >= want:
                    return hits[:want]
            logger.debug("approximate search came back short: exact over %d items", eligible)
            if subset is None:
                subset = self._subset(self._live_labels(excluded))
            return self._exact_subset(q, subset, want)

    def search_batch(
        self,
        queries: npt.NDArray[np.float32],
        k: int,
        *,
        exclude: Sequence[Iterable[str]] | None = None,
        allowed: Collection[str] | IdSubset | None = None,
    ) -> list[list[Hit]]:
        """:meth:`search` for each row of ``queries`` at once (FAISS on all threads).

        Args:
            queries: shape ``(n, dimension)``.
            k: how many results per query at most.
            exclude: per query, ids never to return (``len(exclude) == n``).
            allowed: if given, only these ids may be returned, for every query.

        Returns:
            One result list per query, as :meth:`search` would return it.

        """
        q = self._check_queries(queries)
        if exclude is not None and len(exclude) != len(q):
            raise ValueError(f"exclude names {len(exclude)} queries, there are {len(q)}")
        if k <= 0 or not self._labels or len(q) == 0:
            return [[] for _ in range(len(q))]
        excluded = [
            {self._labels[e] for e in ex if e in self._labels} for ex in (exclude or [()] * len(q))
        ]
        subset = self._resolve(allowed, set())
        shared = len(self._labels) if subset is None else len(subset)
        pad = max(map(len, excluded))
        exact = self._built == "flat" or (subset is not None and shared <= self.params.exact_subset)
        kk = min(shared, k + pad + (_TIE_SLACK if exact else 0))
        if kk <= 0:
            return [[] for _ in range(len(q))]
        if subset is not None and exact and self._built != "flat":
            scores, labels = self._subset_knn(q, subset, kk)
        else:
            sel = self._selector(subset, set())
            boost = None if exact else self._index.ntotal / shared
            scores, labels = self._index_search(q, kk, sel, boost)
        complete = (labels >= 0).sum(axis=1) < kk if kk < shared else np.ones(len(q), bool)
        in_subset = None if subset is None else set(subset.labels.tolist())
        out: list[list[Hit]] = []
        for n in range(len(q)):
            ex = excluded[n]
            want = min(k, shared - (len(ex) if in_subset is None else len(ex & in_subset)))
            if want <= 0:
                out.append([])
                continue
            keep = [j for j, label in enumerate(labels[n].tolist()) if label not in ex]
            hits = self._finish(scores[n][keep], labels[n][keep])
            settled = len(hits) >= want and (
                not exact or bool(complete[n]) or scores[n][kk - 1] < hits[want - 1][1]
            )
            if settled:
                out.append(hits[:want])
            else:  # short, or a tie at the k-th score that may reach past kk: one by one
                names = [self._names[label] for label in ex]
                out.append(
                    self.search(
                        q[n], k, exclude=[i for i in names if i is not None], allowed=subset
                    )
                )
        return out

    # -- persistence ---------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write ``index.faiss``, ``ids.json`` and ``index.json`` into ``folder``.

        ``ids.json`` lists ids by label (``null`` for removed); ``index.json`` holds the kind,
        parameters and counts.
        """
        folder.mkdir(parents=True, exist_ok=True)
        index = self._index if self._index is not None else faiss.IndexFlatIP(self.dimension)
        faiss.write_index(index, str(folder / _FAISS))
        (folder / _IDS).write_text(json.dumps(self._names, ensure_ascii=False))
        meta = {
            "format": _FORMAT,
            "requested_kind": self.requested_kind,
            "kind": self._built,
            "dimension": self.dimension,
            "metric": "inner_product",
            "params": asdict(self.params),
            "count": len(self),
            "labels": len(self._names),
            "tombstones": self._dead,
            "trained_on": self._trained_on,
        }
        (folder / _META).write_text(json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> VectorIndex:
        """Read an index saved by :meth:`save` (or by the earlier flat-only version).

        Raises:
            ValueError: the files disagree with each other or are not an index.

        """
        index = faiss.read_index(str(folder / _FAISS))
        names = json.loads((folder / _IDS).read_text())
        if not isinstance(names, list) or not all(n is None or isinstance(n, str) for n in names):
            raise ValueError(f"{folder}: ids.json is not a list of ids")
        meta_path = folder / _META
        if not meta_path.exists():
            return cls._load_legacy(folder, index, names)
        try:
            meta = json.loads(meta_path.read_text())
            params = IndexParams(**meta["params"])
            requested, built = meta["requested_kind"], meta["kind"]
            fmt, metric, count = meta["format"], meta["metric"], meta["count"]
            trained_on = int(meta.get("trained_on", 0))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{folder}: index.json is unreadable: {exc}") from exc
        if fmt != _FORMAT:
            raise ValueError(f"{folder}: index format {fmt}, this version reads {_FORMAT}")
        if metric != "inner_product" or index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError(f"{folder}: not an inner-product index")
        if requested not in get_args(IndexKind) or built not in (*get_args(BuiltKind), None):
            raise ValueError(f"{folder}: index.json names an unknown kind {built!r}")
        found = _kind_of(index)
        if built is not None and found != built:
            raise ValueError(f"{folder}: index.json says {built!r}, index.faiss holds {found!r}")
        live = sum(n is not None for n in names)
        if built == "ivf":
            if index.ntotal != live:
                raise ValueError(
                    f"{folder}: index holds {index.ntotal} vectors but ids.json names {live}"
                )
        elif index.ntotal != len(names):
            raise ValueError(
                f"{folder}: index holds {index.ntotal} vectors but ids.json names {len(names)}"
            )
        if live != count:
            raise ValueError(f"{folder}: index.json counts {count} items, ids.json names {live}")
        out = cls(index.d, kind=requested, **asdict(params))
        out._set_contents(folder, index if built else None, built, names, trained_on)
        return out

    # -- internals -----------------------------------------------------------------------

    @classmethod
    def _load_legacy(cls, folder: Path, index: Any, names: list[str | None]) -> VectorIndex:
        """Folders of the flat-only version: IndexIDMap2(IndexFlatIP), labels 0..n-1."""
        if index.ntotal != len(names):
            raise ValueError(
                f"{folder}: index holds {index.ntotal} vectors but ids.json names {len(names)}"
            )
        if isinstance(index, faiss.IndexIDMap2):
            id_map = faiss.vector_to_array(index.id_map)
            if not np.array_equal(id_map, np.arange(len(names))):
                raise ValueError(f"{folder}: index.faiss labels are not the rows of ids.json")
        flat = faiss.IndexFlatIP(index.d)
        if index.ntotal:
            flat.add(index.reconstruct_n(0, index.ntotal))
        out = cls(index.d, kind="flat")
        out._set_contents(folder, flat if names else None, "flat", names, len(names))
        return out

    def _set_contents(
        self,
        folder: Path,
        index: Any,
        built: BuiltKind | None,
        names: list[str | None],
        trained_on: int,
    ) -> None:
        live = [n for n in names if n is not None]
        if len(set(live)) != len(live):
            raise ValueError(f"{folder}: ids.json repeats ids")
        if built == "ivf":
            stored = np.sort(_ivf_labels(index))
            expected = np.array([n for n, name in enumerate(names) if name is not None])
            if not np.array_equal(stored, expected):
                raise ValueError(f"{folder}: index.faiss labels disagree with ids.json")
            if index.direct_map.type != faiss.DirectMap.Hashtable:
                index.set_direct_map_type(faiss.DirectMap.Hashtable)
        self._index = None if built is None else index  # read_index gives the concrete type
        self._built = built if index is not None else None
        self._names = list(names)
        self._labels = {name: n for n, name in enumerate(names) if name is not None}
        self._alive = np.array([n is not None for n in names], dtype=bool)
        self._dead = 0 if built == "ivf" else len(names) - len(live)
        self._trained_on = trained_on

    def _choose(self, n: int) -> BuiltKind:
        if self.requested_kind != "auto":
            return self.requested_kind
        return "flat" if n < self.params.threshold else self.params.approximate

    def _install(self, kind: BuiltKind, x: npt.NDArray[np.float32]) -> None:
        """Build a ``kind`` index holding ``x`` under labels ``0..len(x)-1``."""
        self._version += 1
        d, p = self.dimension, self.params
        index: Any
        if kind == "flat":
            index = faiss.IndexFlatIP(d)
            index.add(x)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, p.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = p.ef_construction
            index.hnsw.efSearch = p.ef_search
            index.add(x)
        else:
            nlist = p.nlist or max(1, min(round(4 * math.sqrt(len(x))), len(x) // 39))
            nlist = min(nlist, len(x))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.min_points_per_centroid = 1  # no warning for small trainings
            index.cp.max_points_per_centroid = p.train_per_list
            index.cp.niter = p.train_iterations
            index.train(x)
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
            index.nprobe = min(p.nprobe, nlist)
            index.add_with_ids(x, np.arange(len(x), dtype=np.int64))
        self._index, self._built, self._trained_on = index, kind, len(x)
        logger.debug("built a %s index of %d vectors", kind, len(x))

    def _after_change(self) -> None:
        self._version += 1
        p = self.params
        if p.max_dead_fraction is not None and self._dead > p.max_dead_fraction * len(self._names):
            self.rebuild()
        elif self.requested_kind == "auto" and self._built != self._choose(len(self)):
            if self._built == "flat":  # grew past the threshold; shrinking waits for rebuild()
                self.rebuild()
        elif self._built == "ivf" and p.nlist is None and len(self) >= 4 * max(1, self._trained_on):
            self.rebuild()

    def _kill(self, labels: npt.NDArray[np.int64]) -> None:
        """Tombstone rows of flat and hnsw indexes."""
        self._alive[labels] = False
        for label in labels.tolist():
            self._names[label] = None
        self._dead += len(labels)
        self._bits = None

    def _grow_alive(self, n: int) -> None:
        if n > len(self._alive):
            grown = np.zeros(max(n, 2 * len(self._alive)), dtype=bool)
            grown[: len(self._alive)] = self._alive
            self._alive = grown

    def _rows(self) -> npt.NDArray[np.float32]:
        """Flat and hnsw: the stored vectors by label, a view into FAISS's memory."""
        store = self._index if self._built == "flat" else faiss.downcast_index(self._index.storage)
        n = store.ntotal
        if n == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        flat = faiss.rev_swig_ptr(store.get_xb(), n * self.dimension)
        return cast("npt.NDArray[np.float32]", flat.reshape(n, self.dimension))

    def _gather(self, labels: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        if len(labels) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._built == "ivf":
            return np.asarray(self._index.reconstruct_batch(labels), dtype=np.float32)
        return np.ascontiguousarray(self._rows()[labels])

    def _live_labels(self, excluded: set[int]) -> npt.NDArray[np.int64]:
        alive = self._alive[: len(self._names)].copy()
        if excluded:
            alive[list(excluded)] = False
        return np.flatnonzero(alive).astype(np.int64)

    def _subset(self, labels: npt.NDArray[np.int64]) -> IdSubset:
        return IdSubset(labels, self, self._version, len(self._names))

    def _resolve(
        self, allowed: Collection[str] | IdSubset | None, excluded: set[int]
    ) -> IdSubset | None:
        if allowed is None:
            return None
        if isinstance(allowed, str):
            raise TypeError("allowed must be a collection of ids, not one string")
        if isinstance(allowed, IdSubset):
            if allowed._owner is not self or allowed._version != self._version:
                raise ValueError("the IdSubset was made before the index changed: make it again")
            return allowed.without(excluded) if excluded else allowed
        found = {self._labels[a] for a in allowed if a in self._labels} - excluded
        return self._subset(np.array(sorted(found), dtype=np.int64))

    def _selector(self, subset: IdSubset | None, excluded: set[int]) -> Any:
        """An ``IDSelectorBitmap`` over labels, or ``None`` when nothing is filtered.

        ``subset`` must already leave out ``excluded``.
        """
        if subset is not None:
            return faiss.IDSelectorBitmap(subset.bits())  # keeps a reference to the bits
        if not excluded and self._dead == 0:
            return None
        if self._bits is None:
            self._bits = np.packbits(self._alive[: len(self._names)], bitorder="little")
        bits = self._bits
        if excluded:
            gone = np.fromiter(excluded, dtype=np.int64, count=len(excluded))
            bits = _clear_bits(bits.copy(), gone)
        return faiss.IDSelectorBitmap(bits)

    def _index_search(
        self, q: npt.NDArray[np.float32], kk: int, sel: Any, boost: float | None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """FAISS search; ``boost``: multiply efSearch / nprobe (``None``: exhaustive IVF)."""
        p = self.params
        if self._built == "hnsw":
            ef = max(kk, math.ceil(p.ef_search * (boost or 1)))
            params = faiss.SearchParametersHNSW(efSearch=ef, sel=sel)
        elif self._built == "ivf":
            nlist = self._index.nlist
            nprobe = nlist if boost is None else min(nlist, math.ceil(p.nprobe * boost))
            params = faiss.SearchParametersIVF(nprobe=nprobe, sel=sel)
        else:
            params = faiss.SearchParameters(sel=sel)
        scores, labels = self._index.search(q, kk, params=params)
        return scores, labels

    def _subset_knn(
        self, q: npt.NDArray[np.float32], subset: IdSubset, kk: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Exact search over the items of ``subset``."""
        if len(subset) > _GATHER_MAX:  # scan everything, with the selector
            sel = self._selector(subset, set())
            if self._built == "ivf":  # every list: exact, IVF-Flat stores the vectors
                return self._index_search(q, kk, sel, None)
            store = self._index if self._built == "flat" else self._index.storage
            scores, labels = store.search(q, kk, params=faiss.SearchParameters(sel=sel))
            return scores, labels
        rows = subset.labels
        scores, found = faiss.knn(q, self._gather(rows), kk, metric=faiss.METRIC_INNER_PRODUCT)
        return scores, np.where(found >= 0, rows[np.maximum(found, 0)], -1)

    def _exact_subset(self, q: npt.NDArray[np.float32], subset: IdSubset, want: int) -> list[Hit]:
        return self._exact(lambda kk: self._subset_knn(q, subset, kk), want, len(subset))

    def _exact(
        self,
        run: Any,
        want: int,
        eligible: int,
    ) -> list[Hit]:
        """Exact top ``want``, ties at the cut broken by id.

        Widens the fetch until the last score fetched is below the ``want``-th one (or
        everything eligible was fetched).
        """
        kk = min(eligible, want + _TIE_SLACK)
        while True:
            scores, labels = run(kk)
            hits = self._finish(scores[0], labels[0])
            if kk >= eligible or len(hits) < kk or scores[0][kk - 1] < scores[0][want - 1]:
                return hits[:want]
            kk = min(eligible, kk * 4)

    def _finish(self, scores: npt.NDArray[np.float32], labels: npt.NDArray[np.int64]) -> list[Hit]:
        if scores.ndim == 2:
            scores, labels = scores[0], labels[0]
        names = self._names
        hits: list[Hit] = []
        for score, label in zip(scores.tolist(), labels.tolist(), strict=True):
            if label >= 0:
                name = names[label]
                if name is not None:
                    hits.append((name, score))
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits

    def _check_vectors(
        self, ids: Sequence[str], vectors: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        if isinstance(ids, str):
            raise TypeError("ids must be a sequence of ids, not one string")
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(
                f"expected vectors of shape ({len(ids)}, {self.dimension}), got {vectors.shape}"
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _check_queries(self, queries: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q.reshape(1, -1)
        if q.ndim != 2 or q.shape[1] != self.dimension:
            raise ValueError(f"expected queries of dimension {self.dimension}, got {q.shape}")
        return q


def _kind_of(index: Any) -> BuiltKind | str:
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexFlat):
        return "flat"
    if isinstance(index, faiss.IndexHNSWFlat):
        return "hnsw"
    if isinstance(index, faiss.IndexIVFFlat):
        return "ivf"
    return type(index).__name__


def _clear_bits(
    bits: npt.NDArray[np.uint8], labels: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint8]:
    np.bitwise_and.at(bits, labels >> 3, ~np.left_shift(1, labels & 7).astype(np.uint8))
    return bits


def _ivf_labels(index: Any) -> npt.NDArray[np.int64]:
    lists = index.invlists
    parts = [np.zeros(0, dtype=np.int64)]
    for n in range(index.nlist):
        size = lists.list_size(n)
        if size:
            parts.append(faiss.rev_swig_ptr(lists.get_ids(n), size).copy())
    return np.concatenate(parts)
