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
import threading
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from threadpoolctl import ThreadpoolController

from matcher.domain.vocab import Ecosystem, OrganisationKind, Stage
from matcher.ranking.domains import DomainActivity
from matcher.ranking.signals import (
    COUNT_SIGNALS,
    SIGNALS,
    Columns,
    ProfileTable,
    Query,
    signal_columns,
)
from models import LinearRanker

__all__ = [
    "DOMAIN_SIGNAL",
    "HAND_DOMAIN_WEIGHT",
    "HAND_WEIGHTS",
    "Filters",
    "Ranked",
    "RankingOptions",
    "add_domain_columns",
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

DOMAIN_SIGNAL = "domain_activity"
"""The candidate's activity in the query's funding domains (:mod:`matcher.ranking.domains`); not one
of :data:`~matcher.ranking.signals.SIGNALS`: it needs projects, so rankers that weigh it take it as
an extra column (:func:`score_all`'s ``domains``)."""

HAND_DOMAIN_WEIGHT = 1.5
"""Weight of :data:`DOMAIN_SIGNAL` next to the hand weights. Chosen on CORDIS as of 2015
(new pairs of 2016, 800 queries, seed 7; never the test years), query side only: nDCG@10
0.153 without it, 0.161 at 1.0, 0.162 at 1.5, 0.162 at 2.0. On the protocol split
(2016 → 2017–18): 0.160 without it, 0.162 with it."""


def add_domain_columns(
    table: ProfileTable,
    queries: list[Query],
    candidates: npt.NDArray[np.int64] | None,
    fwd: Columns,
    rev: Columns,
    *,
    domains: DomainActivity | None = None,
    reverse: bool = True,
) -> None:
    """Add :data:`DOMAIN_SIGNAL` to both sides' columns, in place.

    ``domains`` default to the table's own; without any, or for a query that is not in the
    table (a profile without projects), the signal is 0. ``reverse=False`` leaves the
    reverse side equal to the forward one (for scoring from the query's side only).
    """
    domains = domains if domains is not None else table.domains
    m = len(table) if candidates is None else len(candidates)
    forward = np.zeros((len(queries), m))
    backward = np.zeros((len(queries), m))
    rows = np.array([q.row if q.row is not None else -1 for q in queries], np.int64)
    inside = rows >= 0
    if domains is not None and inside.any():
        forward[inside] = domains.scores(rows[inside], candidates)
        if reverse:
            everyone = np.arange(len(table), dtype=np.int64) if candidates is None else candidates
            backward[inside] = domains.scores(everyone, rows[inside]).T
    fwd[DOMAIN_SIGNAL] = forward
    rev[DOMAIN_SIGNAL] = backward if reverse else forward


def hand_ranker(*, domain: bool = False) -> LinearRanker:
    """The hand-weighted ranker; with ``domain``, also weighing :data:`DOMAIN_SIGNAL`."""
    weights = {**HAND_WEIGHTS, DOMAIN_SIGNAL: HAND_DOMAIN_WEIGHT} if domain else HAND_WEIGHTS
    return LinearRanker.from_weights(
        (*SIGNALS, DOMAIN_SIGNAL) if domain else SIGNALS,
        weights,
        bias=HAND_BIAS,
        log_features=COUNT_SIGNALS,
        card={"kind": "hand weights", "weights": weights, "bias": HAND_BIAS},
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
    blas_threads: int | None = 1
    """BLAS threads while one query is ranked (None: leave the process's setting).

    One query's products are a few small matrix-vector ones: extra BLAS threads barely
    speed them up, and their busy-waiting slows everything else down when the other
    cores are in use (two to three times slower on a two-core machine with one core
    busy). The limit holds while any ranking runs and is undone after the last one.
    """


@dataclass
class Ranked:
    """One ranked candidate with the numbers behind it."""

    row: int
    score: float
    forward: float
    reverse: float
    signals: npt.NDArray[np.float64]
    """Every one of :data:`~matcher.ranking.signals.SIGNALS`, as the query sees the pair."""
    contributions: npt.NDArray[np.float64]
    """Each of the ranker's features' share of the logit: the signals, then
    :data:`DOMAIN_SIGNAL` for a ranker that weighs it."""
    flags: list[str] = field(default_factory=list)


class _BlasLimit:
    """Holds the BLAS libraries to a number of threads while any holder is inside.

    Re-entrant and thread-safe: the first to enter sets the limit, the last to leave
    restores what was there before.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._controller: ThreadpoolController | None = None
        self._limiter: Any = None

    @contextmanager
    def __call__(self, threads: int | None) -> Iterator[None]:
        if threads is None:
            yield
            return
        with self._lock:
            if self._depth == 0:
                if self._controller is None:
                    self._controller = ThreadpoolController()
                self._limiter = self._controller.limit(limits=threads, user_api="blas")
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._limiter is not None:
                    self._limiter.restore_original_limits()
                    self._limiter = None


_blas_threads = _BlasLimit()


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
        from matcher.domain.vocab import STAGE_ORDER

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
    with _blas_threads(options.blas_threads):
        return _rank(table, ranker, query, candidates, k, options, flags)


def _rank(
    table: ProfileTable,
    ranker: LinearRanker,
    query: Query,
    candidates: npt.NDArray[np.int64],
    k: int,
    options: RankingOptions,
    flags: dict[int, list[str]],
) -> list[Ranked]:
    # Only the signals the ranker weighs are needed to score every candidate; the others
    # are computed for the chosen few alone, for their Ranked.signals.
    weighed = [s for s, w in zip(ranker.features, ranker.weights, strict=True) if w != 0.0]
    # Most of a small table is a candidate: scoring every row avoids copying the arrays.
    everyone = len(candidates) * 2 > len(table)
    fwd_cols, rev_cols = signal_columns(
        table, [query], None if everyone else candidates, signals=weighed
    )
    if DOMAIN_SIGNAL in weighed:
        add_domain_columns(
            table, [query], None if everyone else candidates, fwd_cols, rev_cols,
            reverse=options.reciprocity != "forward",
        )  # fmt: skip
    fwd_all = ranker.probability(ranker.logits_of_columns(fwd_cols))[0]
    rev_all = ranker.probability(ranker.logits_of_columns(rev_cols))[0]
    fwd = fwd_all[candidates] if everyone else fwd_all
    rev = rev_all[candidates] if everyone else rev_all
    score = combine(fwd, rev, options.reciprocity)
    pool = _best(score, candidates, max(k * 5, 50))
    chosen = _diversify(table, candidates, score, pool, k, options)
    at = candidates[chosen] if everyone else np.asarray(chosen, np.int64)
    missing = [s for s in SIGNALS if s not in fwd_cols]
    if missing:
        rest, _ = signal_columns(table, [query], candidates[chosen], signals=missing)
    signals = np.stack(
        [fwd_cols[s][0][at] if s in fwd_cols else rest[s][0] for s in SIGNALS], axis=1
    )
    if DOMAIN_SIGNAL in ranker.features:  # the ranker's columns: the signals, then it
        domain = fwd_cols[DOMAIN_SIGNAL][0][at] if DOMAIN_SIGNAL in fwd_cols else np.zeros(len(at))
        contributions = ranker.contributions(np.column_stack([signals, domain]))
    else:
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


def _best(
    score: npt.NDArray[np.float64], candidates: npt.NDArray[np.int64], size: int
) -> npt.NDArray[np.intp]:
    """Positions of the ``size`` best scores, best first, ties broken by row (= by id).

    The same as ``np.lexsort((candidates, -score))[:size]``, sorting only the scores at or
    above the size-th best instead of all of them.
    """
    negative = -score
    if len(score) > 2 * size:
        cut = np.partition(negative, size - 1)[size - 1]
        top = np.flatnonzero(negative <= cut)
        order: npt.NDArray[np.intp] = top[np.lexsort((candidates[top], negative[top]))]
        return order[:size]
    return np.lexsort((candidates, negative))[:size]


def _hub_cut(table: ProfileTable, share: float) -> float:
    """The degree above which an organisation counts as a hub (the top ``share``).

    Cached on the table against the degree array's contents, so a table whose degrees
    change (in place or not) gets a new cut.
    """
    degree = np.ascontiguousarray(table.degree)
    key = (share, len(degree), zlib.crc32(degree.tobytes()))
    cache: dict[str, tuple[object, float]] = vars(table).setdefault("_hub_cut_cache", {})
    hit = cache.get("cut")
    if hit is not None and hit[0] == key:
        return hit[1]
    cut = max(float(np.quantile(degree, 1 - share)), 1.0) if len(degree) else math.inf
    cache["cut"] = (key, cut)
    return cut


def _diversify(
    table: ProfileTable,
    candidates: npt.NDArray[np.int64],
    score: npt.NDArray[np.float64],
    pool: npt.NDArray[np.intp],
    k: int,
    options: RankingOptions,
) -> list[int]:
    """Greedy maximal marginal relevance with per-country and hub caps.

    Each step takes the free candidate with the best ``(1 − λ)·score − λ·redundancy``,
    where redundancy is its largest text similarity to those already taken (updated
    incrementally, one row of the pool's similarity matrix per step). Returns positions
    into ``candidates``; when the caps leave nobody, the list is filled by score alone so
    it is never shorter than it could be.
    """
    per_country = options.max_per_country or max(2, math.ceil(k / 2))
    hub_cut = math.inf
    if options.max_hubs is not None and len(table) > 0:
        hub_cut = _hub_cut(table, options.hub_share)
    rows = candidates[pool]
    vectors = table.text[rows]
    similarity = vectors @ vectors.T
    relevance = (1 - options.diversity) * score[pool]
    redundancy = np.zeros(len(pool))
    country = table.country[rows]
    hub = table.degree[rows] > hub_cut
    free = np.ones(len(pool), np.bool_)
    capped = np.zeros(len(pool), np.bool_)  # in a country that reached its cap, or a hub
    per: dict[int, int] = {}
    hubs = 0
    if options.max_hubs is not None and hubs >= options.max_hubs:
        capped |= hub
    chosen: list[int] = []
    while len(chosen) < k and free.any():
        ok = free & ~capped
        if ok.any():
            value = relevance - options.diversity * np.maximum(redundancy, 0.0)
            best = int(np.flatnonzero(ok)[np.argmax(value[ok])])
        else:  # caps exhausted: fill by score alone
            best = int(np.flatnonzero(free)[0])
        free[best] = False
        chosen.append(int(pool[best]))
        np.maximum(redundancy, similarity[best], out=redundancy)
        c = int(country[best])
        per[c] = per.get(c, 0) + 1
        if c >= 0 and per[c] == per_country:
            capped |= country == c
        hubs += int(hub[best])
        if options.max_hubs is not None and hubs >= options.max_hubs:
            capped |= hub
    return chosen


def score_all(
    table: ProfileTable,
    ranker: LinearRanker,
    rows: npt.NDArray[np.int64],
    *,
    reciprocity: Reciprocity = "harmonic",
    batch: int = 32,
    domains: DomainActivity | None = None,
) -> npt.NDArray[np.float64]:
    """Reciprocal scores of each query row against every row of the table.

    No rules and no re-ranking: this is the scorer the offline evaluation measures.

    Args:
        table: the organisations.
        ranker: scores one side of a pair.
        rows: query rows.
        reciprocity: how both sides' scores combine.
        batch: queries scored at once.
        domains: the domain activity, for a ranker that weighs :data:`DOMAIN_SIGNAL`
            (default: the table's own; such a ranker needs one or the other).

    Returns:
        A (len(rows), len(table)) array; a query's own entry is -inf.

    Raises:
        ValueError: the ranker weighs :data:`DOMAIN_SIGNAL` and there are no domains.
    """
    if DOMAIN_SIGNAL in ranker.features and domains is None and table.domains is None:
        raise ValueError(f"the ranker weighs {DOMAIN_SIGNAL}: pass the table's domains")
    out = np.empty((len(rows), len(table)), np.float64)
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        fwd, rev = signal_columns(table, [table.query(int(q)) for q in chunk])
        if DOMAIN_SIGNAL in ranker.features:
            add_domain_columns(
                table, [table.query(int(q)) for q in chunk], None, fwd, rev,
                domains=domains, reverse=reciprocity != "forward",
            )  # fmt: skip
        out[start : start + len(chunk)] = combine(
            ranker.probability(ranker.logits_of_columns(fwd)),
            ranker.probability(ranker.logits_of_columns(rev)),
            reciprocity,
        )
        out[np.arange(start, start + len(chunk)), chunk] = -np.inf
    return out
