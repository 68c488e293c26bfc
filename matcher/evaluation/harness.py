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
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from matcher.graph import FloatArray

if TYPE_CHECKING:
    pass

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

logger = logging.getLogger(__name__)

__all__ = [
    "DEGREE_BUCKETS",
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


def evaluate(
    split: Split,
    methods: Mapping[str, Scorer] | Iterable[str],
    *,
    k: int = 10,
    bootstrap: int = 1000,
    seed: int = 0,
    batch_size: int = 200,
) -> EvaluationReport:
    """Rank every train organisation for each query with each method; measure.

    Args:
        split: the split.
        methods: scorers by name, or names of registered methods.
        k: list length.
        bootstrap: resamples of the queries for the 95% CIs (0: none).
        seed: seeds the tie-breaking noise (the same for every method) and the bootstrap.
        batch_size: queries scored at once.

    Raises:
        UnknownMethodError: a name is not registered.
        ValueError: a scorer returned an array of the wrong shape.

    """
    scorers = dict(methods) if isinstance(methods, Mapping) else scorers_for(split, methods)
    queries = np.asarray(split.queries, dtype=np.int64)
    nq, n = len(queries), split.train_organisations
    past = split.past_partners()[queries]
    countries, kinds = value_codes(split.countries), value_codes(split.kinds)
    resamples = (
        np.random.default_rng([seed, 0xB007]).integers(0, nq, size=(bootstrap, nq))
        if bootstrap and nq
        else None
    )
    binary = split.graph.binary
    results: dict[str, MethodResult] = {}
    for name, scorer in scorers.items():
        started = time.perf_counter()
        rng = np.random.default_rng(seed)
        per: dict[str, FloatArray] = {
            m: np.zeros(nq) for m in ("hits", "recall", "precision", "ndcg", "rr")
        }
        if countries is not None:
            per["countries"] = np.zeros(nq)
        if kinds is not None:
            per["kinds"] = np.zeros(nq)
        exposure = np.zeros(n, dtype=np.int64)
        for start in range(0, nq, batch_size):
            rows = queries[start : start + batch_size]
            scores = np.array(scorer(rows), dtype=np.float64)
            if scores.shape != (len(rows), n):
                raise ValueError(
                    f"method {name!r} returned scores of shape {scores.shape}, "
                    f"expected {(len(rows), n)}"
                )
            scores[np.isnan(scores)] = -np.inf
            scores[np.arange(len(rows)), rows] = -np.inf
            linked = binary[rows]
            scores[
                np.repeat(np.arange(len(rows)), np.diff(linked.indptr)), linked.indices
            ] = -np.inf
            scores += rng.random(scores.shape) * TIE_BREAK
            relevant = split.truth[rows].toarray() > 0
            got = rank_metrics(scores, relevant, k)
            chunk = slice(start, start + len(rows))
            per["hits"][chunk] = got.hits
            per["recall"][chunk] = got.recall
            per["precision"][chunk] = got.precision
            per["ndcg"][chunk] = got.ndcg
            per["rr"][chunk] = got.reciprocal_rank
            exposure += np.bincount(got.top[got.valid], minlength=n)
            for key, codes in (("countries", countries), ("kinds", kinds)):
                if codes is not None:
                    per[key][chunk] = distinct_values(np.where(got.valid, codes[got.top], -1))
        seconds = time.perf_counter() - started
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
        results[name] = MethodResult(
            name=name,
            metrics=metrics,
            ci=ci,
            by_degree=by_degree,
            seconds=seconds,
            per_query={names[m]: v for m, v in per.items()},
            exposure=exposure,
        )
        logger.info(
            "%s: nDCG@%d %.3f, MRR %.3f (%.1f s)",
            name,
            k,
            metrics[f"ndcg@{k}"],
            metrics["mrr"],
            seconds,
        )
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
