"""Consortium completion: partners that fit every member of a group and fill its gaps.

A candidate's score is its mean probability with the members, plus a bonus for each gap
it fills (a country, a kind, a value-chain stage the group lacks: :data:`COVERAGE_BONUS`)
and, with a call topic, for its text similarity to the topic (:data:`TOPIC_WEIGHT`).
Candidates are the union of the members' pools.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher.domain.schema import Organisation, Reason
from matcher.ranking.features import Columns
from matcher.ranking.rank import NO_FILTERS, Context, pool_of, score_rows
from matcher.ranking.rules import Filters

__all__ = ["COVERAGE_BONUS", "TOPIC_WEIGHT", "Completion", "complete"]

COVERAGE_BONUS = 0.05
"""Score added for each gap a candidate fills (country, kind, stage)."""

TOPIC_WEIGHT = 0.3
"""Weight of a candidate's text similarity to the call topic."""

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Completion:
    """One candidate for a consortium.

    Attributes:
        row: its row.
        score: mean member probability plus bonuses.
        member: the member it fits best (index into the members).
        position: its position in the pool (the columns returned beside).
        gaps: reasons for the gaps it fills and its fit with the topic.
    """

    row: int
    score: float
    member: int
    position: int
    gaps: list[Reason]


def complete(
    ctx: Context,
    members: list[int],
    organisations: Callable[[Sequence[int]], dict[int, Organisation]],
    k: int,
    *,
    topic: npt.NDArray[np.float32] | None = None,
    filters: Filters = NO_FILTERS,
    blocked: set[int] | None = None,
) -> tuple[list[Completion], list[Columns]]:
    """The ``k`` best partners to complete a group of member rows.

    Args:
        ctx: the state.
        members: the group's rows.
        organisations: reads the profiles of some rows (by row).
        k: how many.
        topic: the call topic's vector.
        filters: hard filters.
        blocked: rows a member blocked.

    Returns:
        The completions, best first, and per member the pool's feature columns.
    """
    p = ctx.profiles
    queries = [ctx.query(r) for r in members]
    pool = np.unique(np.concatenate([pool_of(ctx, q) for q in queries]))
    banned = set(members) | (blocked or set())
    for q in queries:
        banned |= set(q.partners.tolist())
    keep = p.alive[pool] & ~np.isin(pool, np.fromiter(banned, np.int64))
    if filters:
        keep &= ctx.masks.allowed(filters)[pool]
    pool = pool[keep]
    if not len(pool):
        return [], []
    scored = [score_rows(ctx, q, pool) for q in queries]
    pair = np.stack([probability for _, _, probability in scored])
    score = pair.mean(axis=0)
    profiles = organisations([*members, *pool.tolist()])
    group = [profiles[r] for r in members]
    have_countries = {o.country for o in group}
    have_kinds = {o.kind for o in group}
    have_stages = {s for o in group for s in o.stages}
    texts = p.vectors("text", pool)
    gaps: list[list[Reason]] = []
    for j, row in enumerate(pool.tolist()):
        org = profiles.get(row)
        found: list[Reason] = []
        if org is not None and org.country and org.country not in have_countries:
            found.append(
                Reason(
                    signal="new_country",
                    contribution=COVERAGE_BONUS,
                    text=f"adds a country to the consortium: {org.country}",
                )
            )
        if org is not None and org.kind not in have_kinds:
            found.append(
                Reason(
                    signal="new_kind",
                    contribution=COVERAGE_BONUS,
                    text=f"adds a kind of partner: {org.kind.label}",
                )
            )
        new_stages = [s for s in (org.stages if org else []) if s not in have_stages]
        if new_stages:
            found.append(
                Reason(
                    signal="new_stage",
                    contribution=COVERAGE_BONUS,
                    text="adds value-chain stages: " + ", ".join(s.label for s in new_stages),
                )
            )
        bonus = sum(r.contribution for r in found)
        if topic is not None:
            fit = max(float(texts[j] @ topic), 0.0)
            bonus += TOPIC_WEIGHT * fit
            if ctx.thresholds.clearly_above("text", fit):
                share = min(ctx.thresholds.percentile("text", fit), 99.0)
                found.append(
                    Reason(
                        signal="topic",
                        contribution=round(TOPIC_WEIGHT * fit, 6),
                        text=f"fits the call topic (closer than {share:.0f} % of pairs)",
                    )
                )
        score[j] += bonus
        gaps.append(found)
    order = np.lexsort((pool, -score))[:k]
    out = [
        Completion(int(pool[j]), float(score[j]), int(np.argmax(pair[:, j])), int(j), gaps[j])
        for j in order.tolist()
    ]
    return out, [columns for columns, _, _ in scored]
