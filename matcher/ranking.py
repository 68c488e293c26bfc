"""Ranking: hard rules, candidates, reciprocal scores, diversity and exposure.

The steps, in order: rules (filters, the query itself, blocked pairs; existing partners
and 'not interested' pairs excluded or flagged) → candidates (everyone in a small table;
text neighbours ∪ graph neighbours of neighbours in a large one) → signals seen from both
sides → a ranker scores each side → the two sides combine (harmonic mean by default, so a
one-sided fit is punished) → a greedy re-rank trades score for variety (maximal marginal
relevance on text similarity, at most ``max_per_country`` per country, at most
``max_hubs`` of the best-connected 1 %) → ties broken by id.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from matcher.signals import (
    COUNT_SIGNALS,
    SIGNALS,
    ProfileTable,
    Query,
    signal_columns,
)
from matcher.vocab import Ecosystem, OrganisationKind, Stage
from models import LinearRanker

__all__ = [
    "HAND_WEIGHTS",
    "Filters",
    "Ranked",
    "RankingOptions",
    "combine",
    "eligible",
    "hand_ranker",
    "rank",
]

logger = logging.getLogger(__name__)

HAND_WEIGHTS: dict[str, float] = {
    # Fit on CORDIS (features as of 2015, new pairs of 2016; never the test years) and
    # rounded, dropping the collinear adamic_adar and recent_ties and the slightly
    # negative degree: see the README's evaluation section.
    "text": 2.5,
    "ecosystems": 1.0,
    "complementarity": 0.5,
    "common_partners": 0.8,
    "resource_allocation": 10.0,
    "pagerank": 0.35,
    "same_country": 0.45,
    "activity": 0.55,
    # CORDIS has no keywords, stages, offers, seeks or target markets: these are set by
    # judgement, on the scale of the fitted ones, for the platform's own profiles.
    "keywords": 1.0,
    "they_offer": 2.0,
    "you_offer": 1.0,
    "target_market": 1.0,
    "international": 0.3,
    "neighbour_country": 0.1,
}
"""Weights for a platform without history to learn from."""

HAND_BIAS = -5.7


def hand_ranker() -> LinearRanker:
    """The hand-weighted ranker."""
    return LinearRanker.from_weights(
        SIGNALS,
        HAND_WEIGHTS,
        bias=HAND_BIAS,
        log_features=COUNT_SIGNALS,
        card={"kind": "hand weights", "weights": HAND_WEIGHTS, "bias": HAND_BIAS},
    )


Reciprocity = Literal["harmonic", "geometric", "min", "forward"]
Handling = Literal["exclude", "flag"]


@dataclass(frozen=True)
class Filters:
    """Hard filters on candidates; an empty set means no filter on that field."""

    countries: frozenset[str] = frozenset()
    exclude_countries: frozenset[str] = frozenset()
    kinds: frozenset[OrganisationKind] = frozenset()
    ecosystems: frozenset[Ecosystem] = frozenset()
    stages: frozenset[Stage] = frozenset()
    languages: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RankingOptions:
    """How ranking treats reciprocity, existing ties, variety and exposure."""

    reciprocity: Reciprocity = "harmonic"
    partnered: Handling = "exclude"
    not_interested: Handling = "exclude"
    diversity: float = 0.15
    max_per_country: int | None = None
    max_hubs: int | None = 3
    hub_share: float = 0.01
    candidates: int = 300
    full_scan_limit: int = 20_000


@dataclass
class Ranked:
    """One ranked candidate with the numbers behind it."""

    row: int
    score: float
    forward: float
    reverse: float
    signals: npt.NDArray[np.float64]
    contributions: npt.NDArray[np.float64]
    flags: list[str] = field(default_factory=list)


def combine(
    forward: npt.NDArray[np.float64], reverse: npt.NDArray[np.float64], how: Reciprocity
) -> npt.NDArray[np.float64]:
    """Combine both sides' scores in (0, 1) into one.

    Raises:
        ValueError: an unknown method.
    """
    if how == "harmonic":
        total = forward + reverse
        return np.divide(2 * forward * reverse, total, out=np.zeros_like(forward), where=total > 0)
    if how == "geometric":
        result: npt.NDArray[np.float64] = np.sqrt(forward * reverse)
        return result
    if how == "min":
        return np.minimum(forward, reverse)
    if how == "forward":
        return forward
    raise ValueError(f"unknown reciprocity {how!r}: harmonic, geometric, min or forward")


def eligible(table: ProfileTable, filters: Filters) -> npt.NDArray[np.bool_]:
    """Rows that pass the filters."""
    n = len(table)
    ok = np.ones(n, np.bool_)
    code = {c: i for i, c in enumerate(table.countries)}
    if filters.countries:
        wanted = [code[c] for c in filters.countries if c in code]
        ok &= np.isin(table.country, wanted)
    if filters.exclude_countries:
        ok &= ~np.isin(table.country, [code[c] for c in filters.exclude_countries if c in code])
    if filters.kinds:
        kinds = list(OrganisationKind)
        ok &= np.isin(table.kind, [kinds.index(k) for k in filters.kinds])
    if filters.ecosystems:
        eco = list(Ecosystem)
        mask = sum(1 << eco.index(e) for e in filters.ecosystems)
        ok &= (table.ecosystems & mask) != 0
    if filters.stages:
        from matcher.vocab import STAGE_ORDER

        mask = sum(1 << STAGE_ORDER.index(s) for s in filters.stages)
        ok &= (table.stages & mask) != 0
    if filters.languages:
        langs = set(filters.languages)
        ok &= np.array([bool(langs & set(o.languages)) for o in table.organisations], np.bool_)
    return ok


def _candidates(
    table: ProfileTable,
    query: Query,
    allowed: npt.NDArray[np.bool_],
    options: RankingOptions,
    text_neighbours: npt.NDArray[np.int64] | None,
) -> npt.NDArray[np.int64]:
    if len(table) <= options.full_scan_limit:
        return np.flatnonzero(allowed).astype(np.int64)
    pool: set[int] = set()
    if text_neighbours is not None:
        pool.update(int(r) for r in text_neighbours)
    else:
        sims = table.text @ query.text
        sims[~allowed] = -np.inf
        top = np.argpartition(-sims, min(options.candidates, len(sims) - 1))
        pool.update(int(r) for r in top[: options.candidates])
    if query.row is not None:
        two_hop = table.graph.common_neighbours(query.row) > 0
        pool.update(int(r) for r in np.flatnonzero(two_hop))
        pool.update(int(r) for r in table.graph.binary[query.row].indices)
    rows = np.array(sorted(pool), np.int64)
    return rows[allowed[rows]] if len(rows) else rows


def rank(
    table: ProfileTable,
    ranker: LinearRanker,
    query: Query,
    *,
    k: int,
    filters: Filters = Filters(),
    options: RankingOptions = RankingOptions(),
    partners: Collection[int] | None = None,
    not_interested: Collection[int] = (),
    blocked: Collection[int] = (),
    text_neighbours: npt.NDArray[np.int64] | None = None,
) -> list[Ranked]:
    """The ``k`` best candidates for a query, best first.

    Args:
        table: the organisations.
        ranker: scores one side of a pair from its signals.
        query: who asks.
        k: how many.
        filters: hard filters.
        options: reciprocity, exclusions, diversity and exposure.
        partners: rows already partnered with the query (default: its graph neighbours).
        not_interested: rows the query (or who said so of the query) is not interested in.
        blocked: rows never to return.
        text_neighbours: candidate rows from the vector index (large tables).
    """
    allowed = eligible(table, filters)
    if partners is None:
        partners = table.graph.binary[query.row].indices.tolist() if query.row is not None else []
    if query.row is not None:
        allowed[query.row] = False
    for rows in (blocked,):
        allowed[list(rows)] = False
    flags: dict[int, list[str]] = {}
    for rows, handling, label in (
        (partners, options.partnered, "already partners"),
        (not_interested, options.not_interested, "marked not interested"),
    ):
        for r in rows:
            if handling == "exclude":
                allowed[r] = False
            else:
                flags.setdefault(r, []).append(label)
    candidates = _candidates(table, query, allowed, options, text_neighbours)
    if len(candidates) == 0:
        return []
    # Most of a small table is a candidate: scoring every row avoids copying the arrays.
    everyone = len(candidates) * 2 > len(table)
    fwd_cols, rev_cols = signal_columns(table, [query], None if everyone else candidates)
    fwd_all = ranker.probability(ranker.logits_of_columns(fwd_cols))[0]
    rev_all = ranker.probability(ranker.logits_of_columns(rev_cols))[0]
    fwd = fwd_all[candidates] if everyone else fwd_all
    rev = rev_all[candidates] if everyone else rev_all
    score = combine(fwd, rev, options.reciprocity)
    # Rows are in id order, so ordering by row breaks ties by id.
    order = np.lexsort((candidates, -score))
    pool = order[: max(k * 5, 50)]
    chosen = _diversify(table, candidates, score, pool, k, options)
    at = candidates[chosen] if everyone else np.asarray(chosen, np.int64)
    signals = np.stack([fwd_cols[s][0][at] for s in SIGNALS], axis=1)
    contributions = ranker.contributions(signals)
    return [
        Ranked(
            row=int(candidates[i]),
            score=float(score[i]),
            forward=float(fwd[i]),
            reverse=float(rev[i]),
            signals=signals[n],
            contributions=contributions[n],
            flags=flags.get(int(candidates[i]), []),
        )
        for n, i in enumerate(chosen)
    ]


def _diversify(
    table: ProfileTable,
    candidates: npt.NDArray[np.int64],
    score: npt.NDArray[np.float64],
    pool: npt.NDArray[np.intp],
    k: int,
    options: RankingOptions,
) -> list[int]:
    """Greedy maximal marginal relevance with per-country and hub caps.

    Returns positions into ``candidates``; when the caps leave nobody, the list is filled
    by score alone so it is never shorter than it could be.
    """
    per_country = options.max_per_country or max(2, math.ceil(k / 2))
    hub_cut = math.inf
    if options.max_hubs is not None and len(table) > 0:
        hub_cut = max(float(np.quantile(table.degree, 1 - options.hub_share)), 1.0)
    rows = candidates[pool]
    vectors = table.text[rows]
    similarity = vectors @ vectors.T
    relevance = (1 - options.diversity) * score[pool]
    redundancy = np.zeros(len(pool))
    country = table.country[rows]
    hub = table.degree[rows] > hub_cut
    free = np.ones(len(pool), np.bool_)
    per: dict[int, int] = {}
    hubs = 0
    chosen: list[int] = []
    while free.any() and len(chosen) < k:
        ok = free.copy()
        for c, count in per.items():
            if count >= per_country and c >= 0:
                ok &= country != c
        if options.max_hubs is not None and hubs >= options.max_hubs:
            ok &= ~hub
        if ok.any():
            value = relevance - options.diversity * np.maximum(redundancy, 0.0)
            best = int(np.flatnonzero(ok)[np.argmax(value[ok])])
        else:  # caps exhausted: fill by score alone
            best = int(np.flatnonzero(free)[0])
        free[best] = False
        chosen.append(int(pool[best]))
        redundancy = np.maximum(redundancy, similarity[best])
        per[int(country[best])] = per.get(int(country[best]), 0) + 1
        hubs += int(hub[best])
    return chosen


def score_all(
    table: ProfileTable,
    ranker: LinearRanker,
    rows: npt.NDArray[np.int64],
    *,
    reciprocity: Reciprocity = "harmonic",
    batch: int = 32,
) -> npt.NDArray[np.float64]:
    """Reciprocal scores of each query row against every row of the table.

    No rules and no re-ranking: this is the scorer the offline evaluation measures.

    Returns:
        A (len(rows), len(table)) array; a query's own entry is -inf.
    """
    out = np.empty((len(rows), len(table)), np.float64)
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        fwd, rev = signal_columns(table, [table.query(int(q)) for q in chunk])
        out[start : start + len(chunk)] = combine(
            ranker.probability(ranker.logits_of_columns(fwd)),
            ranker.probability(ranker.logits_of_columns(rev)),
            reciprocity,
        )
        out[np.arange(start, start + len(chunk)), chunk] = -np.inf
    return out
