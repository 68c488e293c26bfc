"""Exact search of few queries at a quarter of the memory traffic: one-byte codes first.

A search of one query over an (n, d) float32 array reads all of it (153 MB at 100k rows
of 384), and that reading is what it costs. A :class:`Prefilter` keeps the array again
as one byte per value (``codes = rint(base / scale)``, a scale per column), scores every
row on the codes, and then scores exactly only the rows that can still be among the
``k`` best:

- a code differs from its value by at most half its column's scale, so a row's score on
  the codes differs from its true score by at most ``E = ½ Σ |q_i| scale_i`` (plus float
  rounding, :data:`SLACK`);
- the ``k`` rows best on the codes have true scores of at least ``t - E``, where ``t`` is
  the ``k``-th best score on the codes; so every row of the true top ``k`` scores at least
  ``t - 2E`` on the codes.

Those rows are scored exactly against the array and the ``k`` best returned: the same
rows as an exact search (rows with exactly equal scores in row order), with true scores.
When too many rows fall within the margin (many equal vectors), the query is searched
exactly instead. The codes are written beside the array (``prefilter_<name>.npy``, memory
mapped back on load) with their scales and the array's fingerprint
(``prefilter_<name>.json``); codes that do not match their array are refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt

from embeddings.ann import AnnMismatchError, fingerprint, mismatches

__all__ = ["SLACK", "Prefilter", "PrefilterMismatchError", "compile_prefilter"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

SLACK = 1e-3
"""Added to the margin for float rounding (a 384-term float32 sum errs by ~1e-5)."""

MAX_RESCORED = 1 / 8
"""Share of the rows above which a query is searched exactly instead (one full pass)."""

CHUNK = 65_536
"""Rows quantised at once."""


class PrefilterMismatchError(AnnMismatchError):
    """Codes that do not match their array (another array, or unreadable files)."""


def _paths(folder: Path, name: str) -> tuple[Path, Path]:
    return folder / f"prefilter_{name}.npy", folder / f"prefilter_{name}.json"


@numba.njit(cache=True, nogil=True)
def _scores(
    codes: npt.NDArray[np.int8],
    weights: npt.NDArray[np.int16],
    allowed: npt.NDArray[np.bool_],
    k: int,
    out: npt.NDArray[np.int32],
) -> int:  # pragma: no cover - compiled; tested against exact search
    """``out[j] = Σ_i weights[i] * codes[j, i]``; return the ``k``-th largest allowed one.

    ``allowed``: a flag per row, or empty for every row. The ``k`` largest are kept in a
    min-heap as the rows are scored (``k`` at most the allowed rows).
    """
    n, d = codes.shape
    for j in range(n):  # apart from the heap's loop, so that this one vectorises
        acc = np.int32(0)
        for i in range(d):
            acc += np.int32(weights[i]) * np.int32(codes[j, i])
        out[j] = acc
    heap = np.empty(k, np.int32)
    size = 0
    for j in range(n):
        if len(allowed) and not allowed[j]:
            continue
        acc = out[j]
        if size < k:  # push, sift up
            pos = size
            size += 1
            while pos > 0 and heap[(pos - 1) // 2] > acc:
                heap[pos] = heap[(pos - 1) // 2]
                pos = (pos - 1) // 2
            heap[pos] = acc
        elif acc > heap[0]:  # replace the smallest, sift down
            pos = 0
            while True:
                child = 2 * pos + 1
                if child >= k:
                    break
                if child + 1 < k and heap[child + 1] < heap[child]:
                    child += 1
                if heap[child] >= acc:
                    break
                heap[pos] = heap[child]
                pos = child
            heap[pos] = acc
    return int(heap[0])


def compile_prefilter() -> None:
    """Compile the codes' scoring now (numba; or read its disk cache), not in a request."""
    built = np.zeros((1, 1), np.int8)
    mapped = built.copy()
    mapped.flags.writeable = False  # as memory-mapped from a snapshot
    for codes in (built, mapped):
        for allowed in (np.zeros(0, np.bool_), np.ones(1, np.bool_)):
            _scores(codes, np.zeros(1, np.int16), allowed, 1, np.zeros(1, np.int32))


class Prefilter:
    """One-byte codes of an array's rows ``0 .. count-1``, for exact search of few queries.

    Args:
        codes: (count, d) int8 codes.
        scale: (d,) the value of one code step, per column.
        digest: :func:`~embeddings.ann.fingerprint` of the array the codes were made from.
    """

    def __init__(self, codes: npt.NDArray[np.int8], scale: FloatArray, digest: str) -> None:
        self.codes = codes
        self.scale = scale
        self.digest = digest

    @classmethod
    def build(cls, base: npt.NDArray[np.float32]) -> Prefilter:
        """Codes of every row of ``base`` (unit or zero vectors)."""
        n, d = base.shape
        top = np.zeros(d, np.float32)
        for start in range(0, n, CHUNK):
            top = np.maximum(top, np.abs(base[start : start + CHUNK]).max(axis=0, initial=0))
        scale = np.where(top > 0, top / 127, 1).astype(np.float32)
        codes = np.empty((n, d), np.int8)
        for start in range(0, n, CHUNK):
            part = np.asarray(base[start : start + CHUNK], np.float32) / scale
            codes[start : start + CHUNK] = np.clip(np.rint(part), -127, 127)
        return cls(codes, scale, fingerprint(base))

    def save(self, folder: Path, name: str) -> None:
        """Write ``prefilter_<name>.npy`` and its scales, ``prefilter_<name>.json``."""
        codes_path, meta_path = _paths(folder, name)
        np.save(codes_path, np.ascontiguousarray(self.codes), allow_pickle=False)
        meta = {
            "kind": "int8 codes, a scale per column",
            "count": len(self.codes),
            "dimension": int(self.codes.shape[1]),
            "scale": [float(x) for x in self.scale],
            "fingerprint": self.digest,
        }
        meta_path.write_text(json.dumps(meta, indent=2))

    @staticmethod
    def exists(folder: Path, name: str) -> bool:
        """Whether ``folder`` holds codes called ``name``."""
        return _paths(folder, name)[1].is_file()

    @classmethod
    def load(cls, folder: Path, name: str, base: npt.NDArray[np.float32]) -> Prefilter:
        """Memory-map the codes of ``base`` back.

        Raises:
            PrefilterMismatchError: the files are missing or unreadable, or were made from
                another array (row count, dimension or fingerprint differ).
        """
        codes_path, meta_path = _paths(folder, name)
        try:
            meta = json.loads(meta_path.read_text())
            count, dimension = int(meta["count"]), int(meta["dimension"])
            scale = np.array(meta["scale"], np.float32)
            digest = str(meta["fingerprint"])
            codes = np.load(codes_path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PrefilterMismatchError(f"{meta_path}: cannot read the codes ({exc})") from exc
        n, d = base.shape
        more = (("codes' shape", codes.shape, (n, d)), ("scales", scale.shape, (d,)))
        wrong = mismatches(base, count, dimension, digest, more)
        if codes.dtype != np.int8:
            wrong.append(f"the codes are {codes.dtype}, not int8")
        if wrong:
            raise PrefilterMismatchError(
                f"{codes_path.name} does not match its array: {'; '.join(wrong)}; rebuild "
                "the snapshot with `matcher build --full`"
            )
        return cls(codes, scale, digest)

    def __len__(self) -> int:
        return len(self.codes)

    def _weights(self, query: FloatArray) -> tuple[npt.NDArray[np.int16], float, float]:
        """The query as integer weights of the codes, their unit, and the error bound.

        ``query * scale`` is rounded to int16 steps of ``unit`` (the largest weight to
        32,767, fewer above 516 columns: a row's sum stays within int32). The bound adds
        both roundings: half a code step per value, ``½ Σ |q_i| scale_i``, and each
        weight's rounding times the largest code, 127.
        """
        wanted = query.astype(np.float64) * self.scale
        top = float(np.abs(wanted).max()) if len(wanted) else 0.0
        steps = min(32_767, (2**31 - 1) // (127 * max(1, len(wanted))))  # sums fit int32
        unit = top / steps if top > 0 else 1.0
        weights = np.rint(wanted / unit)
        error = 0.5 * float(np.abs(query.astype(np.float64)) @ self.scale)
        error += 127 * float(np.abs(wanted - weights * unit).sum())
        return weights.astype(np.int16), unit, error + SLACK

    def approximate(self, query: FloatArray) -> tuple[npt.NDArray[np.float64], float]:
        """Every coded row's score on the codes, and the most it differs from the true one."""
        weights, unit, error = self._weights(np.asarray(query, np.float32))
        out = np.empty(len(self.codes), np.int32)
        _scores(np.asarray(self.codes), weights, np.zeros(0, np.bool_), 1, out)
        return out.astype(np.float64) * unit, error

    def search(
        self,
        base: npt.NDArray[np.float32],
        queries: FloatArray,
        k: int,
        *,
        rows: IntArray | None = None,
    ) -> tuple[FloatArray, IntArray] | None:
        """Exactly the ``k`` best rows of ``base`` (or of ``rows``) per query, best first.

        Returns:
            Scores and rows, (q, min(k, searched)) each; None when ``base`` is not the
            coded array (the caller searches exactly).
        """
        if base.shape != self.codes.shape:
            return None
        allowed = None
        searched = len(base)
        if rows is not None:
            allowed = np.zeros(len(base), np.bool_)
            allowed[rows] = True
            searched = int(allowed.sum())
        k = min(k, searched)
        out_scores = np.full((len(queries), k), -np.inf, np.float32)
        out_rows = np.full((len(queries), k), -1, np.int64)
        if k == 0:
            return out_scores, out_rows
        for i, query in enumerate(np.asarray(queries, np.float32)):
            scores, found = self._one(base, query, k, allowed)
            out_scores[i, : len(found)], out_rows[i, : len(found)] = scores, found
        return out_scores, out_rows

    def _one(
        self,
        base: npt.NDArray[np.float32],
        query: FloatArray,
        k: int,
        allowed: npt.NDArray[np.bool_] | None,
    ) -> tuple[FloatArray, IntArray]:
        weights, unit, error = self._weights(query)
        approx = np.empty(len(self.codes), np.int32)
        flags = np.zeros(0, np.bool_) if allowed is None else allowed
        kth = _scores(np.asarray(self.codes), weights, flags, k, approx)
        near = np.flatnonzero(approx >= kth - 2 * error / unit)
        if allowed is not None:
            near = near[allowed[near]]
        if len(near) <= max(4 * k, MAX_RESCORED * len(base)):
            exact = np.take(base, near, axis=0) @ query
        else:  # too many rows within the margin (equal vectors): one exact pass, in place
            every = np.asarray(base) @ query
            if allowed is not None:
                every[~allowed] = -np.inf
            kth_exact = np.partition(every, len(every) - k)[len(every) - k]
            near = np.flatnonzero(every >= kth_exact)
            exact = every[near]
        best = np.lexsort((near, -exact))[:k]
        return exact[best].astype(np.float32), near[best].astype(np.int64)
