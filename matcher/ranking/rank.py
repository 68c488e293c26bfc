"""Ranking one query: rules, candidate pool, features, scores, the final list.

The steps, in order: the pool (the query's stored list ∪ its two-hop neighbourhood ∪ rows
written since the snapshot near it; a profile that is not stored gets its list computed
on the fly) → hard rules (filters, the query itself, blocked pairs, existing partners and
'not interested' pairs left out and counted) → features of every pool member
(:mod:`matcher.ranking.features`) → the scorer's probabilities → the cross-border and
exposure rules pick the list (:mod:`matcher.ranking.select`), in score order.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from matcher.graph.live import LiveGraph
from matcher.graph.rows import RowSets
from matcher.ranking.candidates import ListSizes, lists_for
from matcher.ranking.domains import DomainActivity
from matcher.ranking.features import Columns, Query, members, pair_features, stack
from matcher.ranking.profiles import FIELDS, Profiles
from matcher.ranking.reasons import Thresholds
from matcher.ranking.rules import Filters, Masks
from matcher.ranking.scorer import Scorer
from matcher.ranking.select import SelectionRules, select

__all__ = ["Context", "LeftOut", "Ranking", "pool_of", "rank", "score_rows"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

NO_FILTERS = Filters()
CROSS_BORDER = SelectionRules()
"""The default rules (see :mod:`matcher.ranking.select`)."""

HUB_SHARE = 0.01
"""Hubs are the best-connected 1 % (by partners)."""


@dataclass
class Context:
    """Everything a ranking reads: one process's view of a snapshot and the writes since."""

    profiles: Profiles
    graph: LiveGraph
    domains: DomainActivity | None
    lists: RowSets
    """Each row's stored candidate list (:func:`~matcher.ranking.candidates.build_lists`)."""
    scorer: Scorer
    thresholds: Thresholds
    sizes: ListSizes = field(default_factory=ListSizes)
    masks: Masks = field(init=False)
    hub_degree: float = field(init=False)
    popular: IntArray = field(init=False)
    """The best-connected rows: candidates for everyone (popularity predicts new ties)."""

    def __post_init__(self) -> None:
        self.masks = Masks(self.profiles)
        self.update_hubs()

    def update_hubs(self) -> None:
        """Recompute the hub cut and the most popular rows (after degrees changed)."""
        alive = self.profiles.alive[: len(self.graph.degree)]
        degree = np.where(alive, self.graph.degree, -1.0)
        cut = float(np.quantile(degree[alive], 1.0 - HUB_SHARE)) if alive.any() else 0.0
        self.hub_degree = max(cut, 1.0)
        count = min(self.sizes.popular, len(degree))
        top = np.argpartition(-degree, count - 1)[:count] if count else np.zeros(0, np.int64)
        self.popular = np.sort(top[degree[top] > 0]).astype(np.int64)

    def query(self, row: int) -> Query:
        """The query view of a row."""
        from matcher.ranking.profiles import RowValues

        p = self.profiles
        values = RowValues(
            country=int(p.country[row]),
            kind=int(p.kind[row]),
            ecosystems=int(p.ecosystems[row]),
            stages=int(p.stages[row]),
            keywords=tuple(p.keyword_vocab[c] for c in p.keywords.row(row).tolist()),
            targets=tuple(p.targets.row(row).tolist()),
            languages=tuple(p.languages.row(row).tolist()),
        )
        return Query.of_row(p, self.graph, row, values)


@dataclass(frozen=True)
class LeftOut:
    """Organisations a list left out, and why."""

    partners: int = 0
    """Existing partners (never suggested again)."""
    blocked: int = 0
    """Pairs where either side blocked the other."""
    not_interested: int = 0
    """Pairs where either side said 'not interested'."""
    filtered: int = 0
    """Organisations the request's filters excluded."""


@dataclass
class Ranking:
    """One query's scored pool and its final list.

    Attributes:
        rows: the pool's rows (after the rules).
        columns: every feature over the pool.
        raw: the ranker's raw scores over the pool.
        probability: the scores shown, over the pool.
        chosen: positions in the pool of the final list, best first.
        left_out: what the rules left out.
    """

    query: Query
    rows: IntArray
    columns: Columns
    raw: FloatArray
    probability: FloatArray
    chosen: list[int]
    left_out: LeftOut
    matrix: FloatArray | None = None
    """The scorer's features over the pool, stacked in its order (None: stack again)."""


def _pool(ctx: Context, query: Query) -> IntArray:
    sizes = ctx.sizes
    parts: list[IntArray] = []
    p = ctx.profiles
    if query.row is not None and (query.row in ctx.lists.changed or query.row < p.base_count):
        parts.append(ctx.lists.row(query.row).astype(np.int64))
    else:
        vectors = {f: query.vectors[f][None, :] for f in FIELDS}
        parts += lists_for(p, vectors, [list(query.values.targets)], sizes)
    if query.neighbourhood is not None:
        parts.append(query.neighbourhood.best(sizes.two_hop, ctx.graph.degree))
        parts.append(query.neighbourhood.three_hop(ctx.graph, sizes.three_hop))
    parts.append(ctx.popular)
    if ctx.domains is not None and query.row is not None:
        parts.append(ctx.domains.leaders(query.row, sizes.per_domain))
    written, near = p.written_scores("text", query.vectors["text"])
    if len(written):
        parts.append(written[np.argsort(-near, kind="stable")[: sizes.recent]])
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def rank(
    ctx: Context,
    query: Query,
    k: int,
    *,
    filters: Filters = NO_FILTERS,
    blocked: Collection[int] = (),
    not_interested: Collection[int] = (),
    rules: SelectionRules = CROSS_BORDER,
) -> Ranking:
    """Score the query's pool and choose its ``k`` best under the rules.

    Args:
        ctx: the state ranked against.
        query: who asks.
        k: how many to choose.
        filters: hard filters on candidates.
        blocked: rows never to suggest (either side blocked the other).
        not_interested: rows left out because either side said 'not interested'.
        rules: the cross-border and exposure rules.
    """
    p = ctx.profiles
    pool = _pool(ctx, query)
    partners = query.partners.astype(np.int64)
    banned = np.concatenate(
        [
            partners,
            np.fromiter(blocked, np.int64),
            np.fromiter(not_interested, np.int64),
            np.array([] if query.row is None else [query.row], np.int64),
        ]
    )
    keep = p.alive[pool] & ~members(pool, banned)
    filtered = 0
    if filters:
        allowed = ctx.masks.allowed(filters)
        filtered = int(p.alive.sum() - allowed.sum())
        keep &= allowed[pool]
        pool = pool[keep]
        if len(pool) < 3 * k:  # the filters leave too few: search every allowed row
            allowed[banned[banned < len(allowed)]] = False
            rows = np.flatnonzero(allowed).astype(np.int64)
            near = p.vectors("text", rows) @ query.vectors["text"]
            extra = rows[np.argsort(-near, kind="stable")[: ctx.sizes.text]]
            pool = np.union1d(pool, extra)
    else:
        pool = pool[keep]
    left_out = LeftOut(
        partners=len(partners),
        blocked=len(set(blocked)),
        not_interested=len(set(not_interested) - set(blocked)),
        filtered=filtered,
    )
    if len(pool) == 0:
        empty = np.zeros(0)
        return Ranking(query, pool, {}, empty, empty, [], left_out)
    columns, matrix = _features(ctx, query, pool)
    raw = ctx.scorer.ranker.raw(matrix)
    probability = ctx.scorer.probability(raw)
    country = p.country[pool]
    same = (country == query.values.country) & (query.values.country >= 0)
    targets = members(country, np.array(query.values.targets, np.int64))
    hub = ctx.graph.degree[pool] >= ctx.hub_degree
    # Ties of the calibrated probability (it is a step function) fall back on the raw score.
    order_score = probability + 1e-9 * _unit(raw)
    chosen = select(order_score, same, targets, hub, k, rules)
    return Ranking(query, pool, columns, raw, probability, chosen, left_out, matrix)


def score_rows(
    ctx: Context, query: Query, rows: IntArray
) -> tuple[Columns, FloatArray, FloatArray]:
    """Features, raw scores and probabilities of the query against some rows."""
    columns, matrix = _features(ctx, query, rows)
    raw = ctx.scorer.ranker.raw(matrix)
    return columns, raw, ctx.scorer.probability(raw)


def _features(ctx: Context, query: Query, rows: IntArray) -> tuple[Columns, FloatArray]:
    """Every feature of the query against some rows, and the scorer's matrix of them."""
    columns = pair_features(ctx.profiles, ctx.graph, ctx.domains, query, rows)
    return columns, stack(columns, ctx.scorer.features)


def pool_of(ctx: Context, query: Query) -> IntArray:
    """The query's candidate pool before any rule."""
    return _pool(ctx, query)


def _unit(raw: FloatArray) -> FloatArray:
    """Raw scores squeezed into (0, 1), order kept."""
    return 0.5 * (1.0 + np.tanh(raw / max(float(np.abs(raw).max()), 1e-12)))
