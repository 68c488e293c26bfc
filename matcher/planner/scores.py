"""Pair scores for the planner, from the ranking: the only planner module that touches it.

:func:`pair_scores` turns the Matcher's ranking into a :class:`~matcher.planner.problem.
PairScores` value (ids, a symmetric matrix of scores in [0, 1], and a reasons function);
the solver and the plan depend on that value alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from matcher.domain.schema import Organisation
from matcher.domain.vocab import FeedbackKind
from matcher.planner.problem import PairScores

if TYPE_CHECKING:
    from matcher.app.matcher import Matcher

__all__ = ["pair_scores"]


def pair_scores(
    matcher: Matcher, organisations: Sequence[Organisation]
) -> tuple[PairScores, list[tuple[str, str]]]:
    """Reciprocal pair scores among organisations, as the ranking scores pairs.

    Organisations in the loaded index are scored with every signal (graph included);
    profiles not in it (cold start) have their texts encoded and no graph signals, as
    :meth:`~matcher.app.matcher.Matcher.recommend_profile` treats them. Both sides are scored
    by the ranker and combined as the settings say (harmonic mean by default).

    Returns:
        The scores (with a reasons function for a pair) and the blocked pairs among them
        (organisation pairs where either side blocked the other).

    Raises:
        StateError: no usable index.
    """
    from matcher.graph import CollaborationGraph
    from matcher.ranking.rank import Ranked, combine
    from matcher.ranking.reasons import explain
    from matcher.ranking.signals import SIGNALS, ProfileTable, signal_columns

    state = matcher.state()
    table = state.table
    ranker = matcher.ranker
    how = matcher.settings.reciprocity
    orgs = list({o.id: o for o in organisations}.values())
    ids = [o.id for o in orgs]
    stored = [o for o in orgs if o.id in table.rows and table.organisations[table.rows[o.id]] == o]
    inline = [o for o in orgs if o not in stored]
    pos = {o: k for k, o in enumerate(ids)}
    n = len(ids)
    matrix = np.zeros((n, n))
    # Forward signal rows per pair for the reasons: (query org, candidate org) → vector.
    signals: dict[tuple[str, str], npt.NDArray[np.float64]] = {}

    def probs(fwd: dict[str, Any], rev: dict[str, Any]) -> npt.NDArray[np.float64]:
        return combine(
            ranker.probability(ranker.logits_of_columns(fwd)),
            ranker.probability(ranker.logits_of_columns(rev)),
            how,
        )

    def keep(queries: list[Organisation], cands: list[Organisation], fwd: dict[str, Any]) -> None:
        for a, qa in enumerate(queries):
            for b, cb in enumerate(cands):
                signals[(qa.id, cb.id)] = np.array([fwd[s][a, b] for s in SIGNALS])

    if stored:
        rows = np.array([table.rows[o.id] for o in stored], np.int64)
        fwd, rev = signal_columns(table, [table.query(int(r)) for r in rows], rows)
        sub = probs(fwd, rev)
        idx = [pos[o.id] for o in stored]
        matrix[np.ix_(idx, idx)] = sub
        keep(stored, stored, fwd)
    if inline:
        encoder = matcher.encoder
        texts = [t for o in inline for t in (o.profile_text() or o.name, o.offers, o.seeks) if t]
        distinct = list(dict.fromkeys(texts))
        vectors = dict(zip(distinct, encoder.encode(distinct), strict=True))
        zero = np.zeros(state.index.dimension, np.float32)

        def vec(text: str) -> npt.NDArray[np.float32]:
            return vectors[text] if text else zero

        if stored:
            rows = np.array([table.rows[o.id] for o in stored], np.int64)
            queries = [
                table.profile_query(o, vec(o.profile_text() or o.name), vec(o.offers), vec(o.seeks))
                for o in inline
            ]
            fwd, rev = signal_columns(table, queries, rows)
            sub = probs(fwd, rev)
            ia, ib = [pos[o.id] for o in inline], [pos[o.id] for o in stored]
            matrix[np.ix_(ia, ib)] = sub
            matrix[np.ix_(ib, ia)] = sub.T
            keep(inline, stored, fwd)
        ordered = sorted(inline, key=lambda o: o.id)
        graph = CollaborationGraph.from_rows([], organisations=[o.id for o in ordered])
        small = ProfileTable(
            ordered,
            np.stack([vec(o.profile_text() or o.name) for o in ordered]).astype(np.float32),
            np.stack([vec(o.offers) for o in ordered]).astype(np.float32),
            np.stack([vec(o.seeks) for o in ordered]).astype(np.float32),
            graph,
            table.as_of,
            np.zeros(len(ordered)),
        )
        rows = np.arange(len(ordered), dtype=np.int64)
        queries = [
            small.profile_query(o, vec(o.profile_text() or o.name), vec(o.offers), vec(o.seeks))
            for o in ordered
        ]
        fwd, rev = signal_columns(small, queries, rows)
        sub = probs(fwd, rev)
        idx = [pos[o.id] for o in ordered]
        matrix[np.ix_(idx, idx)] = sub
        keep(ordered, ordered, fwd)
    np.fill_diagonal(matrix, 0.0)
    matrix = (matrix + matrix.T) / 2
    by_id = {o.id: o for o in orgs}

    def reasons(a: str, b: str) -> list[str]:
        x = signals.get((a, b))
        if x is None:
            return []
        contributions = ranker.contributions(x[None, :])[0]
        ranked = Ranked(
            row=table.rows[b] if b in table.rows and by_id[b] in stored else 0,
            score=float(matrix[pos[a], pos[b]]),
            forward=0.0,
            reverse=0.0,
            signals=x,
            contributions=contributions,
        )
        if by_id[b] not in stored:
            return _shared_words(by_id[a], by_id[b])
        query_row = table.rows[a] if by_id[a] in stored else None
        return [r.text for r in explain(table, by_id[a], query_row, ranked)]

    blocked: list[tuple[str, str]] = []
    for o in stored:
        for other, kinds in matcher.store.feedback_about(o.id).items():
            if FeedbackKind.BLOCKED in kinds and other in pos:
                blocked.append((o.id, other))
    return PairScores(ids, matrix, reasons), blocked


def _shared_words(a: Organisation, b: Organisation) -> list[str]:
    out = []
    eco = [e.label for e in a.ecosystems if e in b.ecosystems]
    if eco:
        out.append("shared ecosystems: " + ", ".join(eco))
    mine = {k.lower() for k in a.keywords}
    kws = [k for k in b.keywords if k.lower() in mine]
    if kws:
        out.append("shared technologies: " + ", ".join(kws))
    return out
