"""Scores between every two members of a group, as ``/recommend`` scores a pair.

The table planner seats people by these scores. Each member that asks (a query) scores the
others inside its own candidate pool, because the features are relative to the pool
(:mod:`matcher.ranking.features`): a pair gets the probability ``/recommend`` would show,
not one measured against the group alone. Members that ``/recommend`` would not consider
(existing partners, organisations outside the pool) are scored beside the pool. The two
directions are averaged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from matcher.ranking.features import Query
from matcher.ranking.rank import Context, pool_of, score_rows

__all__ = ["group_scores"]

FloatArray = npt.NDArray[np.float64]


def group_scores(ctx: Context, queries: Sequence[Query]) -> FloatArray:
    """Symmetric scores in [0, 1] between every two queries (zero diagonal).

    A member without a row (a profile that is not stored) can ask but cannot be a
    candidate: its pairs with stored members take the one direction that exists; two such
    members are scored by the cosine of their profile texts, clipped at 0 (no graph and no
    model can speak for them).
    """
    n = len(queries)
    forward = np.full((n, n), np.nan)
    rows = np.array([-1 if q.row is None else q.row for q in queries], np.int64)
    stored = np.flatnonzero(rows >= 0)
    member_rows = rows[stored]
    for i, query in enumerate(queries):
        # The pool exactly as rank() builds it (alive, not the query, not its partners), so
        # members in it get the probability /recommend shows; members outside it (partners,
        # those too far away) are scored in a second pass beside it.
        pool = pool_of(ctx, query)
        banned = np.append(query.partners.astype(np.int64), rows[i])
        pool = pool[ctx.profiles.alive[pool] & ~np.isin(pool, banned)]
        others = member_rows[member_rows != rows[i]]
        inside = np.intersect1d(others, pool)
        extra = np.setdiff1d(others, pool)
        for part, scored in ((pool, inside), (np.union1d(pool, extra), extra)):
            if len(scored) == 0:
                continue
            _, _, probability = score_rows(ctx, query, part)
            wanted = np.isin(member_rows, scored)
            forward[i, stored[wanted]] = probability[np.searchsorted(part, member_rows[wanted])]
    both = np.stack([forward, forward.T])
    known = ~np.isnan(both)
    total = np.where(known, both, 0.0).sum(axis=0)
    count = known.sum(axis=0)
    scores = np.divide(total, count, out=np.zeros((n, n)), where=count > 0)
    loose = np.flatnonzero(rows < 0)
    if len(loose) > 1:
        text = np.stack([queries[int(i)].vectors["text"] for i in loose]).astype(np.float64)
        scores[np.ix_(loose, loose)] = np.clip(text @ text.T, 0.0, 1.0)
    np.fill_diagonal(scores, 0.0)
    return np.asarray(scores, np.float64)
