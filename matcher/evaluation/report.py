"""What an evaluation found: per method, its metrics, intervals and groups."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from matcher.domain.text import text_table
from matcher.graph import FloatArray, IntArray

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

__all__ = ["EvaluationReport", "MethodResult"]

# -- the report --------------------------------------------------------------------------


@dataclass
class MethodResult:
    """One method's figures."""

    name: str
    metrics: dict[str, float]
    ci: dict[str, tuple[float, float]]
    by_degree: dict[str, dict[str, float]]
    seconds: float
    per_query: dict[str, FloatArray] = field(repr=False)
    exposure: IntArray = field(repr=False)


@dataclass
class EvaluationReport:
    """Methods side by side on one split."""

    methods: dict[str, MethodResult]
    queries: int
    train_organisations: int
    train_pairs: int
    new_pairs: int
    train_until: int
    test_years: tuple[int, int]
    seed: int
    k: int
    bootstrap: int
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON data."""

        def r(x: float) -> float:
            return round(float(x), 6)

        return {
            "methods": {
                name: {
                    **{m: r(v) for m, v in res.metrics.items()},
                    "seconds": round(res.seconds, 3),
                    "ci": {m: [r(lo), r(hi)] for m, (lo, hi) in res.ci.items()},
                    "by_degree": {
                        b: {m: (int(v) if m == "queries" else r(v)) for m, v in ms.items()}
                        for b, ms in res.by_degree.items()
                    },
                }
                for name, res in self.methods.items()
            },
            "queries": self.queries,
            "train_organisations": self.train_organisations,
            "train_pairs": self.train_pairs,
            "new_pairs": self.new_pairs,
            "train_until": self.train_until,
            "test_years": list(self.test_years),
            "seed": self.seed,
            "k": self.k,
            "bootstrap": self.bootstrap,
            "source": self.source,
        }

    def to_text(self) -> str:
        """The comparison as plain-text tables."""
        k = self.k
        first, last = self.test_years
        lines = [
            f"train ≤ {self.train_until}, test {first}–{last}: "
            f"{self.train_organisations:,} train organisations, {self.train_pairs:,} train "
            f"pairs, {self.new_pairs:,} new pairs, {self.queries:,} queries (seed {self.seed})",
            f"k = {k}; "
            + (
                f"95% CIs from {self.bootstrap} bootstrap resamples of the queries"
                if self.bootstrap
                else "no intervals (no bootstrap resamples)"
            ),
            "",
        ]
        cols = [f"hits@{k}", f"recall@{k}", f"precision@{k}", f"ndcg@{k}", "mrr"]
        extra = ["coverage", "gini", f"countries@{k}", f"kinds@{k}"]
        interval = [f"ndcg@{k} 95% CI"] if self.bootstrap else []
        headers = ["method", *cols, *interval, *extra, "s"]
        rows = []
        for name, res in self.methods.items():
            lo, hi = res.ci.get(f"ndcg@{k}", (math.nan, math.nan))
            rows.append(
                [
                    name,
                    *(f"{res.metrics[c]:.3f}" for c in cols),
                    *([f"[{lo:.3f}, {hi:.3f}]"] if self.bootstrap else []),
                    *(f"{res.metrics[c]:.3f}" if c in res.metrics else "-" for c in extra),
                    f"{res.seconds:.1f}",
                ]
            )
        lines.append(text_table(rows, headers))
        if self.methods:
            first_result = next(iter(self.methods.values()))
            buckets = list(first_result.by_degree)
            counts = [int(first_result.by_degree[b]["queries"]) for b in buckets]
            lines += ["", f"nDCG@{k} by the query's past partners:"]
            headers = ["method", *(f"{b} ({c})" for b, c in zip(buckets, counts, strict=True))]
            rows = [
                [name, *(f"{res.by_degree[b][f'ndcg@{k}']:.3f}" for b in buckets)]
                for name, res in self.methods.items()
            ]
            lines.append(text_table(rows, headers))
        if "CORDIS" in self.source:
            lines += ["", "Source: CORDIS, European Commission."]
        return "\n".join(lines)
