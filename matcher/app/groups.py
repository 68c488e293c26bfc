"""Pair scores within a group of organisations (the table planner's input), cached.

An organiser page re-scores the same group on every edit (a swap, an undo, a save), and
scoring a group of ``n`` costs ``n`` rankings; the last few groups are kept, keyed by the
state they were scored against (snapshot and change-log sequence) and by the
organisations' profiles, so any write or any profile change scores afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher.app.state import LiveState
from matcher.domain.schema import Organisation
from matcher.ranking.features import Query
from matcher.ranking.group import group_scores
from matcher.ranking.rank import Context

__all__ = ["GroupScorer", "GroupScores"]


@dataclass(frozen=True)
class GroupScores:
    """Pair scores within a group.

    Attributes:
        ids: the organisations, in the matrix's order.
        matrix: symmetric scores in [0, 1]: a pair's mean probability both ways.
        text_vectors: each organisation's profile text vector (unit, or 0).
    """

    ids: list[str]
    matrix: npt.NDArray[np.float64]
    text_vectors: dict[str, npt.NDArray[np.float32]]


class GroupScorer:
    """Scores groups against the live state, keeping the last ``size`` results.

    Args:
        size: how many groups to keep.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[object, ...], GroupScores] = OrderedDict()
        self._lock = threading.Lock()

    def score(
        self,
        live: LiveState,
        organisations: Sequence[Organisation],
        query: Callable[[Context, Organisation], Query],
    ) -> GroupScores:
        """The group's scores (each organisation once, in first-seen order)."""
        orgs = list({o.id: o for o in organisations}.values())
        with live.reading() as ctx:
            key = (id(ctx), live.seq, *(o.model_dump_json() for o in orgs))
            with self._lock:
                kept = self._kept.get(key)
                if kept is not None:
                    self._kept.move_to_end(key)
                    return kept
            queries = [query(ctx, o) for o in orgs]
            found = GroupScores(
                [o.id for o in orgs],
                group_scores(ctx, queries),
                {o.id: q.vectors["text"] for o, q in zip(orgs, queries, strict=True)},
            )
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return found
