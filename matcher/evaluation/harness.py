"""Offline evaluation: predict the next years' new partnerships from the past.

The protocol of ``../shared/data/README.md``, for any data in CORDIS's schema or the
platform's dated collaborations:

- train graph: pairs of organisations in the same project (``source_ref``) starting in a
  year up to ``train_until``; projects with more than ``max_consortium`` (50) participants
  are left out, though their members still count as train organisations;
- a new pair: two train organisations, not linked in the train graph, together in a
  project starting in the test years (same size rule);
- queries: ``N`` organisations (2,000) with a new pair, drawn with
  ``np.random.default_rng(seed).choice(rows, N, replace=False)`` from their rows in id
  order, as the reference implementation draws them;
- for each query every other train organisation is ranked, except those it is already
  linked to; metrics over its new partners, averaged over queries.

A method is a :data:`Scorer`: a function from an array of query rows to a
``(len(rows), n)`` array of scores (higher is better), so methods can score a batch of
queries with one sparse product. Methods are registered by name with a factory that makes
the scorer for a split (:func:`register_method`); the built-ins are ``random``,
``popularity``, ``common_neighbours``, ``adamic_adar`` and ``resource_allocation``.
Ties are broken at random (tiny seeded noise), never by row order.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from matcher.evaluation.methods import (
    Scorer,
    ScorerFactory,
    UnknownMethodError,
    method_description,
    method_names,
    register_method,
    scorers_for,
)
from matcher.evaluation.metrics import RankMetrics, distinct_values, gini, rank_metrics, value_codes
from matcher.evaluation.report import EvaluationReport, MethodResult
from matcher.evaluation.split import (
    Split,
    parse_years,
    read_collaborations_file,
    read_organisations_file,
)
from matcher.graph import FloatArray

logger = logging.getLogger(__name__)

__all__ = [
    "DEGREE_BUCKETS",
    "BatchRunner",
    "BatchScores",
    "EvaluationReport",
    "MethodResult",
    "RankMetrics",
    "Scorer",
    "ScorerFactory",
    "Split",
    "UnknownMethodError",
    "evaluate",
    "gini",
    "method_description",
    "method_names",
    "parse_years",
    "rank_metrics",
    "read_collaborations_file",
    "read_organisations_file",
    "register_method",
    "score_batch",
    "scorers_for",
]

DEGREE_BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("0-2", 0, 2),
    ("3-10", 3, 10),
    (">10", 11, math.inf),
)
"""Query groups by past-partner count: label, lowest, highest (inclusive)."""

TIE_BREAK = 1e-9
"""Scale of the uniform noise added to every score so that ties fall at random."""


# -- evaluate ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchScores:
    """The metrics of one batch of queries for one method.

    Attributes:
        start: the batch's first query (its position among the split's queries).
        per: per-query values of each metric, in query order.
        exposure: how often each train organisation was shown in this batch's lists.
        seconds: time spent scoring and measuring the batch.
    """

    start: int
    per: dict[str, FloatArray]
    exposure: npt.NDArray[np.int64]
    seconds: float


def score_batch(
    split: Split, scorer: Scorer, name: str, start: int, batch_size: int, *, k: int, seed: int
) -> BatchScores:
    """Score and measure the queries ``start … start + batch_size`` of a split with one method.

    The tie-breaking noise of a batch is the stretch of one seeded stream that the batches
    before it would have drawn, so a batch's figures do not depend on where or in which
    order the batches run.

    Raises:
        ValueError: the scorer returned an array of the wrong shape.
    """
    started = time.perf_counter()
    n = split.train_organisations
    rows = np.asarray(split.queries, dtype=np.int64)[start : start + batch_size]
    scores = np.array(scorer(rows), dtype=np.float64)
    if scores.shape != (len(rows), n):
        raise ValueError(
            f"method {name!r} returned scores of shape {scores.shape}, expected {(len(rows), n)}"
        )
    scores[np.isnan(scores)] = -np.inf
    scores[np.arange(len(rows)), rows] = -np.inf
    linked = split.graph.binary[rows]
    scores[np.repeat(np.arange(len(rows)), np.diff(linked.indptr)), linked.indices] = -np.inf
    stream = np.random.PCG64(seed)
    stream.advance(start * n)
    scores += np.random.Generator(stream).random(scores.shape) * TIE_BREAK
    relevant = split.truth[rows].toarray() > 0
    got = rank_metrics(scores, relevant, k)
    per: dict[str, FloatArray] = {
        "hits": got.hits,
        "recall": got.recall,
        "precision": got.precision,
        "ndcg": got.ndcg,
        "rr": got.reciprocal_rank,
    }
    for key, codes in (
        ("countries", value_codes(split.countries)),
        ("kinds", value_codes(split.kinds)),
    ):
        if codes is not None:
            per[key] = distinct_values(np.where(got.valid, codes[got.top], -1))
    exposure = np.bincount(got.top[got.valid], minlength=n).astype(np.int64)
    return BatchScores(start, per, exposure, time.perf_counter() - started)


class BatchRunner(Protocol):
    """Runs the batches of named methods elsewhere (see :mod:`matcher.evaluation.distributed`)."""

    def __call__(
        self, split: Split, names: Sequence[str], starts: Sequence[int], batch_size: int,
        *, k: int, seed: int,
    ) -> Mapping[str, list[BatchScores]]:  # fmt: skip
        """Each method's :func:`score_batch` results for the batches at ``starts``."""
        ...


def evaluate(
    split: Split,
    methods: Mapping[str, Scorer] | Iterable[str],
    *,
    k: int = 10,
    bootstrap: int = 1000,
    seed: int = 0,
    batch_size: int = 200,
    runner: BatchRunner | None = None,
) -> EvaluationReport:
    """Rank every train organisation for each query with each method; measure.

    Args:
        split: the split.
        methods: scorers by name, or names of registered methods.
        k: list length.
        bootstrap: resamples of the queries for the 95% CIs (0: none).
        seed: seeds the tie-breaking noise (the same for every method) and the bootstrap.
        batch_size: queries scored at once.
        runner: runs the batches elsewhere (e.g. on Ray) with the same figures; needs
            ``methods`` as names. A method's ``seconds`` is then the sum of its batches'.

    Raises:
        UnknownMethodError: a name is not registered.
        ValueError: a scorer returned an array of the wrong shape; scorers given to a runner.

    """
    nq, n = len(split.queries), split.train_organisations
    starts = list(range(0, nq, batch_size))
    batches: dict[str, list[BatchScores]] = {}
    if runner is not None:
        if isinstance(methods, Mapping):
            raise ValueError("a runner takes methods by name, not scorers")
        names = list(methods)
        unknown = [m for m in names if m not in method_names()]
        if unknown:
            raise UnknownMethodError(unknown, method_names())
        ran = runner(split, names, starts, batch_size, k=k, seed=seed)
        batches = {name: sorted(ran[name], key=lambda b: b.start) for name in names}
    else:
        scorers = dict(methods) if isinstance(methods, Mapping) else scorers_for(split, methods)
        for name, scorer in scorers.items():
            batches[name] = [
                score_batch(split, scorer, name, start, batch_size, k=k, seed=seed)
                for start in starts
            ]
    resamples = (
        np.random.default_rng([seed, 0xB007]).integers(0, nq, size=(bootstrap, nq))
        if bootstrap and nq
        else None
    )
    past = split.past_partners()[np.asarray(split.queries, dtype=np.int64)]
    results = {
        name: _result(name, parts, nq, n, k, past, resamples) for name, parts in batches.items()
    }
    return EvaluationReport(
        methods=results,
        queries=nq,
        train_organisations=n,
        train_pairs=split.train_pairs,
        new_pairs=split.new_pairs,
        train_until=split.train_until,
        test_years=split.test_years,
        seed=split.seed,
        k=k,
        bootstrap=bootstrap,
        source=split.source,
    )


def _result(
    name: str,
    parts: list[BatchScores],
    nq: int,
    n: int,
    k: int,
    past: FloatArray,
    resamples: npt.NDArray[np.int64] | None,
) -> MethodResult:
    """One method's figures from its batches."""
    keys = list(parts[0].per) if parts else ["hits", "recall", "precision", "ndcg", "rr"]
    per = {m: np.concatenate([p.per[m] for p in parts]) if parts else np.zeros(0) for m in keys}
    exposure = np.sum([p.exposure for p in parts], axis=0) if parts else np.zeros(n, np.int64)
    seconds = float(sum(p.seconds for p in parts))
    names = {
        "hits": f"hits@{k}",
        "recall": f"recall@{k}",
        "precision": f"precision@{k}",
        "ndcg": f"ndcg@{k}",
        "rr": "mrr",
        "countries": f"countries@{k}",
        "kinds": f"kinds@{k}",
    }
    metrics = {names[m]: float(v.mean()) if nq else 0.0 for m, v in per.items()}
    metrics["coverage"] = float((exposure > 0).mean()) if n else 0.0
    metrics["gini"] = gini(exposure)
    ci: dict[str, tuple[float, float]] = {}
    if resamples is not None:
        for m, v in per.items():
            means = v[resamples].mean(axis=1)
            lo, hi = np.percentile(means, [2.5, 97.5])
            ci[names[m]] = (float(lo), float(hi))
    by_degree: dict[str, dict[str, float]] = {}
    for label, low, high in DEGREE_BUCKETS:
        mask = (past >= low) & (past <= high)
        group: dict[str, float] = {"queries": float(mask.sum())}
        for m in ("hits", "recall", "precision", "ndcg", "rr"):
            group[names[m]] = float(per[m][mask].mean()) if mask.any() else 0.0
        by_degree[label] = group
    logger.info(
        "%s: nDCG@%d %.3f, MRR %.3f (%.1f s)",
        name,
        k,
        metrics[f"ndcg@{k}"],
        metrics["mrr"],
        seconds,
    )
    return MethodResult(
        name=name,
        metrics=metrics,
        ci=ci,
        by_degree=by_degree,
        seconds=seconds,
        per_query={names[m]: v for m, v in per.items()},
        exposure=exposure,
    )
