"""Rank metrics of one batch of queries, and exposure inequality."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from matcher.graph import FloatArray, IntArray

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

__all__ = ["RankMetrics", "distinct_values", "gini", "rank_metrics", "value_codes"]

# -- metrics -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RankMetrics:
    """Per-query metrics of one batch of rankings."""

    top: IntArray
    """The top-k rows of each query, best first."""
    valid: npt.NDArray[np.bool_]
    """Which entries of ``top`` had a finite score (were recommended at all)."""
    hits: FloatArray
    recall: FloatArray
    precision: FloatArray
    ndcg: FloatArray
    reciprocal_rank: FloatArray


def rank_metrics(scores: FloatArray, relevant: npt.NDArray[np.bool_], k: int) -> RankMetrics:
    """Hits, recall, precision and nDCG at k, and the reciprocal rank, per row.

    Excluded candidates must already score ``-inf``; ties must already be broken (ties
    fall in index order here). nDCG's ideal DCG runs over ``min(|truth|, k)`` positions;
    the reciprocal rank is that of the best-ranked relevant item over the full ranking.
    Rows without any relevant item score 0.

    Args:
        scores: ``(b, n)`` scores, higher first.
        relevant: ``(b, n)`` booleans, the new partners.
        k: list length.

    """
    b, n = scores.shape
    kk = min(k, n)
    part = (
        np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        if kk < n
        else np.tile(np.arange(n), (b, 1))
    )
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1).astype(np.int64)
    valid = np.isfinite(np.take_along_axis(values, order, axis=1))
    rel = np.take_along_axis(relevant, top, axis=1) & valid
    n_true = relevant.sum(axis=1)
    found = rel.sum(axis=1).astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, kk + 2))
    dcg = rel.astype(np.float64) @ discounts
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    idcg = ideal[np.minimum(n_true, k)]
    has = n_true > 0
    best = np.where(relevant, scores, -np.inf).max(axis=1)
    rank = (scores > best[:, None]).sum(axis=1) + 1
    return RankMetrics(
        top=top,
        valid=valid,
        hits=(found > 0).astype(np.float64),
        recall=np.divide(found, n_true, out=np.zeros(b), where=has),
        precision=found / k,
        ndcg=np.divide(dcg, idcg, out=np.zeros(b), where=idcg > 0),
        reciprocal_rank=np.where(has, 1.0 / rank, 0.0),
    )


def gini(counts: npt.ArrayLike) -> float:
    """Gini coefficient of non-negative counts: 0 all equal, → 1 all on one."""
    x = np.sort(np.asarray(counts, dtype=np.float64).ravel())
    total = x.sum()
    if len(x) == 0 or total <= 0:
        return 0.0
    i = np.arange(1, len(x) + 1)
    return float((2.0 * (i * x).sum()) / (len(x) * total) - (len(x) + 1) / len(x))


def distinct_values(codes: IntArray) -> FloatArray:
    """Distinct non-negative values per row."""
    s = np.sort(codes, axis=1)
    fresh = (s[:, 1:] != s[:, :-1]) & (s[:, 1:] >= 0)
    return np.asarray(fresh.sum(axis=1) + (s[:, 0] >= 0), dtype=np.float64)


def value_codes(values: Sequence[str] | None) -> IntArray | None:
    """Each value's code among the distinct non-empty values (-1 for empty); None passes."""
    if values is None:
        return None
    names = {v: i for i, v in enumerate(sorted({v for v in values if v}))}
    return np.array([names.get(v, -1) for v in values], dtype=np.int64)
