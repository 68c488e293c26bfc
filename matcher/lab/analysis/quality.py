"""Ranking quality on the home's own history: the product against the baselines.

The split comes from the home's dated collaborations (:meth:`Split.from_store`): the last
``test_span`` calendar years with a collaboration are the test years, everything before
them the past. ``default`` is the product itself (:mod:`matcher.evaluation.product`): the
home's state up to the end of the last train year copied into a home of its own, built
by the product's build, and asked through :meth:`~matcher.app.matcher.Matcher.recommend`
as the service asks. ``default-minus-<feature>`` refits its ranker without one feature.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embeddings import Encoder
from matcher.app.matcher import Matcher
from matcher.evaluation.harness import (
    EvaluationReport,
    Scorer,
    Split,
    evaluate,
    scorers_for,
)
from matcher.evaluation.product import ProductHomes, copy_until, register_product_methods
from matcher.lab.analysis.homes import Home
from matcher.lab.analysis.tables import Cell, Table, figure
from matcher.store import Store

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ABLATIONS",
    "BASELINES",
    "Comparison",
    "ablation_deltas",
    "compare",
    "cordis_comparison",
    "history_years",
    "home_split",
    "plot_ablation",
    "plot_by_degree",
    "plot_metric",
    "product_homes",
    "report_table",
]

logger = logging.getLogger(__name__)

BASELINES: tuple[str, ...] = ("random", "popularity", "adamic_adar", "resource_allocation")
"""The graph-only baselines a comparison runs beside the product."""

ABLATIONS: tuple[str, ...] = (
    "text",
    "two_hop",
    "walk",
    "popularity",
    "geography",
    "targets",
    "offers_seeks",
)
"""Signals the notebook drops one at a time (any of :data:`matcher.ranking.features.SIGNALS`
may be asked)."""


def history_years(store: Store, *, test_span: int = 2) -> tuple[int, tuple[int, int]]:
    """The last train year and the test years, from the store's collaboration dates.

    The test years are the last ``test_span`` calendar years up to the latest
    collaboration's; the train years everything before.

    Raises:
        ValueError: no collaborations, or none before the test years.
    """
    latest = store.latest_collaboration()
    if latest is None:
        raise ValueError("the home holds no collaborations: nothing to evaluate")
    last = latest.year
    first = last - test_span + 1
    earliest = min((c.date.year for c in store.collaborations()), default=last)
    if earliest >= first:
        raise ValueError(
            f"the collaborations span {earliest}–{last}: too short a history to hold "
            f"{test_span} test year(s) back"
        )
    return first - 1, (first, last)


def home_split(
    store: Store,
    *,
    train_until: int | None = None,
    test_years: tuple[int, int] | None = None,
    test_span: int = 2,
    queries: int = 300,
    seed: int = 0,
) -> Split:
    """The temporal split of a home's collaborations (years from :func:`history_years`).

    Raises:
        ValueError: the history is too short, or no train organisation has a new partner.
    """
    if train_until is None or test_years is None:
        found_until, found_years = history_years(store, test_span=test_span)
        train_until = found_until if train_until is None else train_until
        test_years = found_years if test_years is None else test_years
    split = Split.from_store(store, train_until, test_years, queries=queries, seed=seed)
    if not len(split.queries):
        raise ValueError(
            f"no organisation of the train years (≤ {train_until}) has a new partner in "
            f"{test_years[0]}–{test_years[1]}: nothing to evaluate"
        )
    return split


def product_homes(home: Home, root: Path | str | None = None) -> ProductHomes:
    """Homes of the product at a cut-off, copied from ``home``'s store (kept under ``root``).

    The source is named by the store's path and change-log sequence, so a home that has
    changed since gets new copies. The copies encode through the home's encoder (which
    remembers every text of its snapshot: nothing is encoded twice).

    Args:
        home: the home.
        root: where the copies live (default: ``<home>/evaluation``).
    """
    store = home.store
    return ProductHomes(
        Path(root) if root is not None else home.path / "evaluation",
        copy_until(store),
        f"home:{store.path.resolve()}:{store.sequence()}",
        encoder=home.matcher.encoder,
        settings=home.matcher.settings,
    )


@dataclass
class Comparison:
    """An evaluation report and the methods that could not run, with why."""

    report: EvaluationReport
    skipped: dict[str, str] = field(default_factory=dict)

    def notes(self) -> str:
        """The skipped methods in words ('' when none)."""
        return "\n".join(f"{name}: not run ({why})" for name, why in self.skipped.items())


def compare(
    split: Split,
    homes: ProductHomes,
    *,
    baselines: Sequence[str] = BASELINES,
    ablations: Sequence[str] = (),
    k: int = 10,
    bootstrap: int = 1000,
    seed: int = 0,
) -> Comparison:
    """The product (``default``), the baselines and ablations on one split.

    An ablation needs a learned ranker: where the cut-off's home has too little history
    to learn one (its build fell back to the hand weights), the ablations are skipped and
    said so in :attr:`Comparison.skipped`.
    """
    register_product_methods(split, homes, ablations=ablations)
    scorers: dict[str, Scorer] = scorers_for(split, [*baselines, "default"])
    skipped: dict[str, str] = {}
    for feature in ablations:
        name = f"default-minus-{feature}"
        try:
            scorers.update(scorers_for(split, [name]))
        except ValueError as exc:
            skipped[name] = str(exc)
    report = evaluate(split, scorers, k=k, bootstrap=bootstrap, seed=seed)
    return Comparison(report, skipped)


def cordis_comparison(
    directory: Path | str,
    root: Path | str,
    *,
    train_until: int = 2016,
    test_years: tuple[int, int] = (2017, 2018),
    queries: int = 2000,
    seed: int = 0,
    baselines: Sequence[str] = BASELINES,
    ablations: Sequence[str] = (),
    bootstrap: int = 1000,
    encoder: Encoder | None = None,
) -> Comparison:
    """The product against the baselines on a CORDIS directory.

    The product's home at the cut-off imports the directory up to the end of the last
    train year under ``root`` (kept, so a second run only reads it back): slow on a first
    run (the project texts are encoded; minutes to hours by the data's size).
    """
    source = Path(directory)

    def importer(matcher: Matcher, until: dt.date) -> None:
        matcher.import_cordis(source, until=until)

    split = Split.from_cordis(source, train_until, test_years, queries=queries, seed=seed)
    homes = ProductHomes(Path(root), importer, f"cordis:{source.resolve()}", encoder=encoder)
    return compare(
        split, homes, baselines=baselines, ablations=ablations, bootstrap=bootstrap, seed=seed
    )


def report_table(report: EvaluationReport, *, metrics: Sequence[str] | None = None) -> Table:
    """The report's methods as rows: the metrics and nDCG@k's 95 % CI."""
    k = report.k
    names = list(metrics or (f"hits@{k}", f"recall@{k}", f"ndcg@{k}", "mrr", "coverage", "gini"))
    rows: list[tuple[Cell, ...]] = []
    for name, res in report.methods.items():
        lo, hi = res.ci.get(f"ndcg@{k}", (math.nan, math.nan))
        rows.append(
            (
                name,
                *(round(res.metrics.get(m, math.nan), 3) for m in names),
                f"[{lo:.3f}, {hi:.3f}]",
            )
        )
    return Table(
        ("method", *names, f"ndcg@{k} 95% CI"),
        rows,
        f"{report.queries} queries; train ≤ {report.train_until}, "
        f"test {report.test_years[0]}–{report.test_years[1]}",
    )


def plot_metric(
    report: EvaluationReport,
    *,
    metric: str | None = None,
    methods: Sequence[str] | None = None,
    title: str = "",
) -> Figure:
    """One metric per method as bars with their bootstrap 95 % confidence intervals."""
    metric = metric or f"ndcg@{report.k}"
    names = list(methods or report.methods)
    values = np.array([report.methods[n].metrics[metric] for n in names])
    cis = [report.methods[n].ci.get(metric, (math.nan, math.nan)) for n in names]
    lower = np.nan_to_num(values - np.array([c[0] for c in cis]))
    upper = np.nan_to_num(np.array([c[1] for c in cis]) - values)
    fig = figure(max(5.0, 1.1 * len(names) + 2.0), 4.5)
    ax = fig.add_subplot()
    colours = ["tab:orange" if n == "default" else "tab:blue" for n in names]
    ax.bar(names, values, yerr=[lower, upper], capsize=5, color=colours, alpha=0.85)
    for x, v in enumerate(values):
        ax.annotate(f"{v:.3f}", (x, v), xytext=(4, 3), textcoords="offset points", fontsize=8)
    ax.set_xlabel("method (orange: the product)")
    ax.set_ylabel(f"{metric} (mean over queries)")
    ax.set_title(
        title
        or f"{metric} with 95% bootstrap CIs ({report.queries} queries, "
        f"test {report.test_years[0]}–{report.test_years[1]})"
    )
    ax.tick_params(axis="x", labelrotation=20)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def plot_by_degree(
    report: EvaluationReport,
    *,
    metric: str | None = None,
    methods: Sequence[str] | None = None,
    title: str = "",
) -> Figure:
    """One metric per method, grouped by how many past partners the query had."""
    metric = metric or f"ndcg@{report.k}"
    names = list(methods or report.methods)
    first = report.methods[names[0]]
    buckets = list(first.by_degree)
    width = 0.8 / len(names)
    fig = figure(max(6.0, 1.6 * len(buckets) + 3.0), 4.5)
    ax = fig.add_subplot()
    x = np.arange(len(buckets))
    for i, name in enumerate(names):
        values = [report.methods[name].by_degree[b][metric] for b in buckets]
        ax.bar(x + (i - (len(names) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(
        x, [f"{b} partners\n({int(first.by_degree[b]['queries'])} queries)" for b in buckets]
    )
    ax.set_xlabel("the query's past partners")
    ax.set_ylabel(f"{metric} (mean over the bucket's queries)")
    ax.set_title(title or f"{metric} by the query's number of past partners")
    ax.legend(title="method", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def ablation_deltas(
    report: EvaluationReport,
    *,
    base: str = "default",
    metric: str | None = None,
    prefix: str = "default-minus-",
) -> list[tuple[str, float]]:
    """``(feature, metric without it − metric of base)``, the most needed first.

    Raises:
        ValueError: the report has no ``<prefix><feature>`` rows.
    """
    metric = metric or f"ndcg@{report.k}"
    reference = report.methods[base].metrics[metric]
    deltas = sorted(
        (
            (name.removeprefix(prefix), res.metrics[metric] - reference)
            for name, res in report.methods.items()
            if name.startswith(prefix)
        ),
        key=lambda t: (t[1], t[0]),
    )
    if not deltas:
        raise ValueError(f"no methods named {prefix}<feature> in the report")
    return deltas


def plot_ablation(
    report: EvaluationReport,
    *,
    base: str = "default",
    metric: str | None = None,
    prefix: str = "default-minus-",
    title: str = "",
) -> Figure:
    """Change of a metric when one feature is dropped (``<prefix><feature>`` against ``base``).

    Raises:
        ValueError: the report has no ablation rows.
    """
    metric = metric or f"ndcg@{report.k}"
    deltas = ablation_deltas(report, base=base, metric=metric, prefix=prefix)[::-1]
    reference = report.methods[base].metrics[metric]
    fig = figure(8.0, 0.3 * len(deltas) + 1.8)
    ax = fig.add_subplot()
    colours = ["tab:red" if d < 0 else "tab:green" for _, d in deltas]
    ax.barh([f for f, _ in deltas], [d for _, d in deltas], color=colours)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(f"{metric} without the feature − {metric} of {base} ({reference:.3f})")
    ax.set_ylabel("feature dropped")
    ax.set_title(
        title
        or f"Ablation: {metric} change when one feature is dropped "
        f"({report.queries} queries; most needed at the bottom)"
    )
    ax.grid(True, axis="x", alpha=0.3)
    return fig
