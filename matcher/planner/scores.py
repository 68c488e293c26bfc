"""Pair scores for the planner, from the ranking: the only planner module that touches it.

:func:`pair_scores` turns the Matcher's group scores (:meth:`~matcher.app.matcher.Matcher.
score_group`) into a :class:`~matcher.planner.problem.PairScores` value; the solver and
the plan depend on that value alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

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
) -> tuple[PairScores, list[tuple[str, str]], dict[str, npt.NDArray[np.float32]]]:
    """Reciprocal pair scores among organisations, as ``/recommend`` scores pairs.

    Stored organisations are scored with every signal (graph included); profiles that are
    not stored (given inline) have their texts encoded and no graph signals, as
    :meth:`~matcher.app.matcher.Matcher.recommend_profile` treats them.

    Returns:
        The scores, the blocked pairs among them (where either side blocked the other) and
        each organisation's profile text vector (for table themes).

    Raises:
        StateError: no snapshot yet.
    """
    group = matcher.score_group(organisations)
    members = set(group.ids)
    blocked: list[tuple[str, str]] = []
    for org_id in group.ids:
        for other, kinds in matcher.store.feedback_about(org_id).items():
            if FeedbackKind.BLOCKED in kinds and other in members:
                blocked.append((org_id, other))
    return PairScores(group.ids, group.matrix), blocked, group.text_vectors
