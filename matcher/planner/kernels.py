"""Compiled inner loops of the assignment search (numba): one step's costs and one move.

A step of :func:`matcher.planner.search.improve` reads about tables² × table size numbers
and changes a few thousand; in NumPy that is some thirty small array operations whose
fixed overhead dominates (about 0.2 ms a step at 300 people, ``tables-2026-12-04c.txt``).
These two loops do the same work compiled: :func:`step_costs` fills the (people, tables)
cost matrix and :func:`apply_move` updates the kept sums after the assignment. They are
compiled on first use and cached on disk where numba can write (``NUMBA_CACHE_DIR``).
The NumPy formulation they replace is kept in :mod:`matcher.lab.planner_blocks`, and the
tests check these against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["apply_move", "step_costs"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def _step_costs(
    tabs: Ints,
    pick: Ints,
    members: Ints,
    sums: Floats,
    columns: Floats,
    count: npt.NDArray[np.int16],
    must: npt.NDArray[np.bool_],
    affinity: Floats,
    country: Ints,
    country_count: Ints,
    kinds: Ints,
    kind_count: Ints,
    rules: Floats,
    people: Ints,
    cost: Floats,
) -> None:
    """Fill ``cost[i, j]``: minus the objective's change of person ``i`` at table ``j``.

    ``people[j]`` is set to the person taken from table ``tabs[j]`` (slot ``pick[j]``);
    ``columns`` is the static pair worth transposed and ``affinity`` is (tables, people);
    ``rules`` holds the repeat penalty, the must-meet reward, whether there are must-meet
    pairs, whether there are themes, the minimum of countries, whether research and
    industry are wanted, and the mix weight.
    """
    k, width = len(tabs), members.shape[1]
    n = columns.shape[0]
    penalty, reward, musts, themed = rules[0], rules[1], rules[2] > 0, rules[3] > 0
    min_countries, both, mix_weight = int(rules[4]), rules[5] > 0, rules[6]
    countries = country_count.shape[1]
    for j in range(k):
        people[j] = members[tabs[j], pick[j]]
    gain = np.empty(k)
    seen = np.empty(k, np.int64)
    kept = np.empty(k, np.int64)
    # Table by table, so that each read runs along one row: a table's sums, the leaver's
    # pair worth, each member's meeting counts (``count`` and ``must`` are symmetric).
    for j in range(k):
        t, gone = tabs[j], people[j]
        for i in range(k):
            gain[i] = sums[t, people[i]] - columns[gone, people[i]]
            seen[i] = 0
            kept[i] = 0
        for w in range(width):
            b = members[t, w]
            if w == pick[j] or b >= n:
                continue
            for i in range(k):
                a = people[i]
                if count[b, a] - (1 if i == j else 0) > 0:
                    seen[i] += 1
                elif musts and must[b, a]:
                    kept[i] += 1
        distinct = 0
        if min_countries > 0:
            lost = country[gone]
            for c in range(countries):
                if country_count[t, c] - (1 if c == lost else 0) > 0:
                    distinct += 1
        for i in range(k):
            a = people[i]
            value = gain[i] - penalty * seen[i] + reward * kept[i]
            if themed:
                value += affinity[t, a]
            short = 0
            if min_countries > 0:
                d = distinct
                mine = country[a]
                if mine >= 0:
                    left = country_count[t, mine] - (1 if country[gone] == mine else 0)
                    if left <= 0:
                        d += 1
                if d < min_countries:
                    short += min_countries - d
            if both:
                for kind in range(2):
                    there = kind_count[t, kind] - kinds[kind, gone] > 0
                    if not there and kinds[kind, a] == 0:
                        short += 1
            cost[i, j] = mix_weight * short - value


def _apply_move(
    tabs: Ints,
    pick: Ints,
    cols: Ints,
    members: Ints,
    seat: Ints,
    sums: Floats,
    columns: Floats,
    count: npt.NDArray[np.int16],
    country: Ints,
    country_count: Ints,
    kinds: Ints,
    kind_count: Ints,
) -> None:
    """Seat the person taken from table ``tabs[i]`` at ``tabs[cols[i]]`` and update the sums.

    ``members``, ``seat``, ``sums`` (tables, people), ``country_count`` and ``kind_count``
    are the round's; ``count`` (how often each pair sat together) is over all rounds;
    ``columns`` is the static pair worth transposed (``sums[t, x]`` adds ``columns[a, x]``
    for each person ``a`` at table ``t``).
    """
    k, width = len(tabs), members.shape[1]
    n = columns.shape[0]
    people = np.empty(k, np.int64)
    for i in range(k):
        people[i] = members[tabs[i], pick[i]]
    for sign in (-1, 1):
        if sign == 1:
            for i in range(k):
                if cols[i] != i:
                    members[tabs[cols[i]], pick[cols[i]]] = people[i]
        for i in range(k):
            if cols[i] == i:
                continue
            t = tabs[i]
            for u in range(width):
                x = members[t, u]
                if x >= n:
                    continue
                for v in range(width):
                    y = members[t, v]
                    if y < n and y != x:
                        count[x, y] += sign
    for i in range(k):
        if cols[i] == i:
            continue
        a, frm, to = people[i], tabs[i], tabs[cols[i]]
        seat[a] = to
        for x in range(n):
            part = columns[a, x]
            sums[to, x] += part
            sums[frm, x] -= part
        if country[a] >= 0:
            country_count[frm, country[a]] -= 1
            country_count[to, country[a]] += 1
        for kind in range(2):
            kind_count[frm, kind] -= kinds[kind, a]
            kind_count[to, kind] += kinds[kind, a]


step_costs: Callable[..., Any] = numba.njit(cache=True, nogil=True)(_step_costs)
apply_move: Callable[..., Any] = numba.njit(cache=True, nogil=True)(_apply_move)
