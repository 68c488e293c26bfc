"""The final list: the best candidates under the cross-border and exposure rules.

ECCP is a platform for cooperation across borders, so by default:

- an organisation that names target countries gets at least half of its list from them
  when such candidates exist (the best of them, by score);
- otherwise at most ``max_same_country`` of every ten suggestions share its country;
- at most ``max_hubs`` suggestions are hubs (the best-connected 1 %), so that a few
  popular organisations are not suggested to everyone.

Candidates are taken greedily in score order, skipping one that would break a rule (the
rules give way only when no other candidate is left), so the list comes back in the order
of the score it shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SelectionRules", "select"]


@dataclass(frozen=True)
class SelectionRules:
    """The cross-border and exposure rules of a list."""

    max_same_country: int | None = 3
    """Per ten suggestions; None: no limit."""
    target_share: float = 0.5
    """Share of the list reserved for the query's target countries (when it names some)."""
    max_hubs: int | None = None
    """Per list; None: no limit."""


def select(
    score: npt.NDArray[np.float64],
    same_country: npt.NDArray[np.bool_],
    in_targets: npt.NDArray[np.bool_],
    hub: npt.NDArray[np.bool_],
    k: int,
    rules: SelectionRules,
) -> list[int]:
    """Positions of the chosen candidates, best score first.

    Args:
        score: each candidate's score (ties broken by position).
        same_country: the candidate shares the query's country.
        in_targets: the candidate is in one of the query's target countries.
        hub: the candidate is a hub.
        k: how many to choose.
        rules: the rules.
    """
    order = np.lexsort((np.arange(len(score)), -score)).tolist()
    k = min(k, len(order))
    same_cap = (
        len(order)
        if rules.max_same_country is None
        else max(1, math.floor(rules.max_same_country * k / 10))
    )
    hub_cap = len(order) if rules.max_hubs is None else rules.max_hubs
    chosen: list[int] = []
    counts = {"same": 0, "hub": 0}

    def fits(i: int) -> bool:
        return not (
            (same_country[i] and counts["same"] >= same_cap)
            or (hub[i] and counts["hub"] >= hub_cap)
        )

    def take(i: int) -> None:
        chosen.append(i)
        counts["same"] += int(same_country[i])
        counts["hub"] += int(hub[i])

    if in_targets.any():
        reserved = math.ceil(rules.target_share * k)
        for i in order:
            if len(chosen) >= reserved:
                break
            if in_targets[i] and fits(i):
                take(i)
    picked = set(chosen)
    for i in order:
        if len(chosen) >= k:
            break
        if i not in picked and fits(i):
            take(i)
            picked.add(i)
    for i in order:  # the rules give way only when nothing else is left
        if len(chosen) >= k:
            break
        if i not in picked:
            take(i)
            picked.add(i)
    return sorted(chosen, key=lambda i: (-score[i], i))
