"""Compiled inner loops of the assignment search (numba): whole steps, in chunks.

A step of :func:`matcher.planner.search.improve` reads about tables² × table size numbers
and changes a few hundred; in NumPy that is some thirty small array operations whose
fixed overhead dominates (about 0.2 ms a step at 300 people, ``tables-2026-12-04c.txt``).
Here :func:`step_costs` fills the (people, tables) cost matrix, :func:`assign` solves the
assignment, :func:`apply_move` updates the kept counts, and :func:`run_steps` runs many
steps in a row, draws and noise included, without returning to Python. They release the
GIL, so independent runs go side by side in threads. They are compiled on first use and
cached on disk where numba can write (``NUMBA_CACHE_DIR``). The NumPy formulation of the
costs is kept in :mod:`matcher.lab.planner_blocks`, and the tests check these against it
(and :func:`assign` against SciPy's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["apply_move", "assign", "run_steps", "step_costs"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

_compile = numba.njit(cache=True, nogil=True)


def _step_costs(
    tabs: Ints,
    pick: Ints,
    members: Ints,
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
    # Table by table, so that each read runs along one row: each staying member's pair
    # worth and meeting counts (``columns``, ``count`` and ``must`` are symmetric).
    for j in range(k):
        t, gone = tabs[j], people[j]
        for i in range(k):
            gain[i] = 0.0
            seen[i] = 0
            kept[i] = 0
        for w in range(width):
            b = members[t, w]
            if w == pick[j] or b >= n:
                continue
            for i in range(k):
                a = people[i]
                gain[i] += columns[b, a]
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


step_costs: Callable[..., Any] = _compile(_step_costs)


def _apply_move(
    tabs: Ints,
    pick: Ints,
    cols: Ints,
    members: Ints,
    seat: Ints,
    count: npt.NDArray[np.int16],
    country: Ints,
    country_count: Ints,
    kinds: Ints,
    kind_count: Ints,
) -> None:
    """Seat the person taken from table ``tabs[i]`` at ``tabs[cols[i]]`` and update the counts.

    ``members``, ``seat``, ``country_count`` and ``kind_count`` are the round's; ``count``
    (how often each pair sat together) is over all rounds. Each table loses one person
    and gains one (``cols`` is a permutation), so a table's meetings change only between
    those two and the people who stay.
    """
    k, width = len(tabs), members.shape[1]
    n = count.shape[0] - 1
    people = np.empty(k, np.int64)
    for i in range(k):
        people[i] = members[tabs[i], pick[i]]
    for i in range(k):
        j = cols[i]
        if j == i:
            continue
        a, gone, t = people[i], people[j], tabs[j]  # ``a`` takes the slot ``gone`` leaves
        for w in range(width):
            x = members[t, w]
            if w == pick[j] or x >= n:
                continue
            count[gone, x] -= 1
            count[x, gone] -= 1
            count[a, x] += 1
            count[x, a] += 1
        seat[a] = t
        if country[a] >= 0:
            country_count[tabs[i], country[a]] -= 1
            country_count[t, country[a]] += 1
        for kind in range(2):
            kind_count[tabs[i], kind] -= kinds[kind, a]
            kind_count[t, kind] += kinds[kind, a]
    for i in range(k):
        if cols[i] != i:
            members[tabs[cols[i]], pick[cols[i]]] = people[i]


apply_move: Callable[..., Any] = _compile(_apply_move)


def _assign(cost: Floats, col4row: Ints, work: Floats, marks: Ints) -> None:
    """A minimum-cost perfect assignment of a square ``cost``: row ``i`` to ``col4row[i]``.

    The shortest augmenting path method (Crouse 2016), as in SciPy's
    ``linear_sum_assignment``, written out so that the whole search step runs compiled.
    ``work`` (3, n) and ``marks`` (5, n) are scratch space.
    """
    n = cost.shape[0]
    u, v, shortest = work[0], work[1], work[2]
    row4col, path, remaining, in_rows, in_cols = marks[0], marks[1], marks[2], marks[3], marks[4]
    for x in range(n):
        u[x] = 0.0
        v[x] = 0.0
        row4col[x] = -1
        col4row[x] = -1
    for row in range(n):
        for x in range(n):
            remaining[x] = n - x - 1
            in_rows[x] = 0
            in_cols[x] = 0
            shortest[x] = np.inf
            path[x] = -1
        left, lowest_seen, sink, i = n, 0.0, -1, row
        while sink == -1:
            in_rows[i] = 1
            lowest, index = np.inf, -1
            for it in range(left):
                j = remaining[it]
                reduced = lowest_seen + cost[i, j] - u[i] - v[j]
                if reduced < shortest[j]:
                    path[j] = i
                    shortest[j] = reduced
                if shortest[j] < lowest or (shortest[j] == lowest and row4col[j] == -1):
                    lowest, index = shortest[j], it
            lowest_seen = lowest
            j = remaining[index]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            in_cols[j] = 1
            left -= 1
            remaining[index] = remaining[left]
        u[row] += lowest_seen
        for x in range(n):
            if in_rows[x] and x != row:
                u[x] += lowest_seen - shortest[col4row[x]]
            if in_cols[x]:
                v[x] -= lowest_seen - shortest[x]
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            j, col4row[i] = col4row[i], j
            if i == row:
                break


assign: Callable[..., Any] = _compile(_assign)


def _uniform(state: npt.NDArray[np.uint64]) -> float:
    """A draw in [0, 1) from a splitmix64 generator kept in ``state[0]``."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


uniform: Callable[..., Any] = _compile(_uniform)


def _run_steps(
    steps: int,
    levels: Floats,
    state: npt.NDArray[np.uint64],
    pool: Floats,
    tabs: Ints,
    ntabs: Ints,
    slots: Ints,
    opened: Ints,
    members: Ints,
    seating: Ints,
    columns: Floats,
    count: npt.NDArray[np.int16],
    must: npt.NDArray[np.bool_],
    affinity: Floats,
    country: Ints,
    country_count: Ints,
    kinds: Ints,
    kind_count: Ints,
    rules: Floats,
    values: Floats,
    best: Ints,
) -> None:
    """``steps`` whole steps of the assignment search, compiled (round ``r``'s noise ``levels[r]``).

    Each step draws a round and one movable person per table, fills the costs
    (:func:`step_costs`), adds noise read from ``pool`` at a random offset, assigns
    (:func:`assign`) and moves (:func:`apply_move`). The per-round arrays are stacked on a
    first axis (``tabs`` padded, ``ntabs`` long). ``values`` holds the current and the
    best value; ``best`` receives the seating whenever the best value rises.
    """
    rounds, widest = tabs.shape
    cost_buffer = np.empty(widest * widest)
    noisy_buffer = np.empty(widest * widest)
    pick = np.empty(widest, np.int64)
    people = np.empty(widest, np.int64)
    cols = np.empty(widest, np.int64)
    work = np.empty((3, widest))
    marks = np.empty((5, widest), np.int64)
    for _ in range(steps):
        r = min(int(uniform(state) * rounds), rounds - 1)
        k = ntabs[r]
        if k < 2:
            continue
        tab = tabs[r, :k]
        for j in range(k):
            t = tab[j]
            pick[j] = slots[r, t, min(int(uniform(state) * opened[r, t]), opened[r, t] - 1)]
        cost = cost_buffer[: k * k].reshape((k, k))
        step_costs(
            tab, pick[:k], members[r], columns, count, must, affinity, country,
            country_count[r], kinds, kind_count[r], rules, people[:k], cost,
        )  # fmt: skip
        noisy = cost
        level = levels[r]
        if level > 0:
            noisy = noisy_buffer[: k * k].reshape((k, k))
            at = min(int(uniform(state) * (len(pool) - k * k)), len(pool) - k * k)
            for i in range(k):
                for j in range(k):
                    noisy[i, j] = cost[i, j] + level * pool[at + i * k + j]
        assign(noisy, cols[:k], work[:, :k], marks[:, :k])
        change = 0.0
        for i in range(k):
            change += cost[i, i] - cost[i, cols[i]]
        apply_move(
            tab, pick[:k], cols[:k], members[r], seating[r], count, country,
            country_count[r], kinds, kind_count[r],
        )  # fmt: skip
        values[0] += change
        if values[0] > values[1] + 1e-9:
            values[1] = values[0]
            best[:, :] = seating


run_steps: Callable[..., Any] = _compile(_run_steps)
