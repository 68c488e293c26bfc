"""Known no-repeat schedules: affine planes, their truncations, round robin, Kirkman's 15.

A schedule is a list of rounds, each a partition of points ``0 … n−1`` into blocks
(tables). In all of them no two points share a block twice.

- **Affine plane** AG(2, q), q a prime power: q² points (x, y) over the field GF(q); the
  lines of one slope form a parallel class (a round of q tables of q); the q + 1 slopes
  give q + 1 rounds in which every pair meets exactly once (16 at tables of 4 for 5
  rounds, 9 at 3 for 4).
- **Truncated affine plane** (a resolvable transversal design): keep the points with
  x < s for a table size s < q: each non-vertical line keeps s points, so the q slopes
  give q rounds of q tables of s; points with the same x never meet (20 at 4 for 5
  rounds: q = 5, s = 4). Removing up to q points of one column keeps tables balanced
  (s or s − 1), so any n with (s − 1)·q < n ≤ s·q works.
- **Round robin** (the circle method): tables of 2, n − 1 rounds (n even), n (odd, with a
  table of 1).
- **Kirkman's schoolgirls**: 15 at tables of 3 for 7 rounds (a resolution of the Steiner
  triple system of order 15; the table below was found by CP-SAT and is checked by the
  tests).

:func:`design_seating` maps a schedule onto a problem's people: each organisation's
people (and must-not-meet pairs) go to one column of points that never meet; hosts to
one column, with tables renumbered per round so that each host keeps its table.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matcher.planner.problem import Problem, Seating

__all__ = [
    "Schedule",
    "affine_plane",
    "design_seating",
    "kirkman_15",
    "prime_power",
    "round_robin",
    "schedule_for",
    "truncated_affine",
]

logger = logging.getLogger(__name__)

Schedule = list[list[list[int]]]
"""Rounds → tables → points."""

_KIRKMAN_15: Schedule = [
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11], [12, 13, 14]],
    [[0, 5, 12], [1, 8, 9], [2, 7, 13], [4, 10, 14], [3, 6, 11]],
    [[0, 7, 10], [1, 6, 14], [2, 4, 11], [3, 8, 12], [5, 9, 13]],
    [[0, 3, 13], [1, 5, 11], [2, 8, 14], [6, 10, 12], [4, 7, 9]],
    [[0, 4, 8], [1, 10, 13], [2, 5, 6], [3, 9, 14], [7, 11, 12]],
    [[0, 6, 9], [1, 4, 12], [2, 3, 10], [5, 7, 14], [8, 11, 13]],
    [[0, 11, 14], [1, 3, 7], [2, 9, 12], [4, 6, 13], [5, 8, 10]],
]


def prime_power(q: int) -> tuple[int, int] | None:
    """(p, k) with q = p**k and p prime, or None."""
    if q < 2:
        return None
    for p in range(2, q + 1):
        if q % p == 0:
            k, rest = 0, q
            while rest % p == 0:
                rest //= p
                k += 1
            return (p, k) if rest == 1 else None
    return None


def _poly_mod(a: list[int], f: list[int], p: int) -> list[int]:
    """``a`` modulo the monic ``f`` over GF(p); coefficients lowest degree first."""
    a = list(a)
    while len(a) >= len(f):
        lead = a[-1]
        shift = len(a) - len(f)
        for k, c in enumerate(f):
            a[shift + k] = (a[shift + k] - lead * c) % p
        a.pop()
    return a


def _irreducible(p: int, k: int) -> list[int]:
    """A monic irreducible polynomial of degree k over GF(p) (lowest degree first)."""
    for tail in itertools.product(range(p), repeat=k):
        f = [*tail, 1]
        if f[0] == 0:
            continue
        reducible = False
        for d in range(1, k // 2 + 1):
            for g_tail in itertools.product(range(p), repeat=d):
                g = [*g_tail, 1]
                if not any(_poly_mod(f, g, p)):
                    reducible = True
                    break
            if reducible:
                break
        if not reducible:
            return f
    raise ValueError(f"no irreducible polynomial of degree {k} over GF({p})")


def _field(q: int) -> tuple[list[list[int]], list[list[int]]]:
    """Addition and multiplication tables of GF(q), elements numbered 0 … q−1."""
    pk = prime_power(q)
    if pk is None:
        raise ValueError(f"{q} is not a prime power")
    p, k = pk
    digits = [[(e // p**d) % p for d in range(k)] for e in range(q)]

    def number(coeffs: list[int]) -> int:
        return sum(c * p**d for d, c in enumerate(coeffs))

    add = [
        [number([(a + b) % p for a, b in zip(x, y, strict=True)]) for y in digits] for x in digits
    ]
    f = _irreducible(p, k) if k > 1 else [0, 1]
    mul = []
    for x in digits:
        row = []
        for y in digits:
            prod = [0] * (2 * k - 1)
            for i, a in enumerate(x):
                for j, b in enumerate(y):
                    prod[i + j] = (prod[i + j] + a * b) % p
            reduced = _poly_mod(prod, f, p) if k > 1 else [prod[0] % p]
            row.append(number((reduced + [0] * k)[:k]))
        mul.append(row)
    return add, mul


def affine_plane(q: int) -> Schedule:
    """The q + 1 parallel classes of AG(2, q); point (x, y) is number x·q + y.

    Round m < q holds the lines y = m·x + b (one table per b); round q the columns x = c.
    """
    add, mul = _field(q)
    rounds: Schedule = []
    for m in range(q):
        tables: list[list[int]] = [[] for _ in range(q)]
        for x in range(q):
            for b in range(q):
                tables[b].append(x * q + add[mul[m][x]][b])
        rounds.append([sorted(t) for t in tables])
    rounds.append([[x * q + y for y in range(q)] for x in range(q)])
    return rounds


def truncated_affine(q: int, size: int, n: int | None = None) -> Schedule:
    """Q rounds of q tables for ``n`` points (default ``size × q``), from AG(2, q).

    Points x·q + y with x < ``size``; the last column loses ``size × q − n`` points, so
    tables hold ``size`` or ``size − 1``.
    """
    total = size * q
    n = total if n is None else n
    if not (size <= q and (size - 1) * q < n <= total):
        raise ValueError(f"{n} points do not fit {q} tables of {size}")
    # Points x·q + y with x < size are the first size·q; the dropped ones (numbers n and
    # up) all lie in the last column, which every slope line meets once.
    return [[[p for p in table if p < n] for table in rnd] for rnd in affine_plane(q)[:q]]


def round_robin(n: int) -> Schedule:
    """Tables of 2 (and one of 1 when n is odd) in which everyone meets everyone once."""
    m = n + (n % 2)
    people = list(range(m))
    rounds: Schedule = []
    for _ in range(m - 1):
        pairs = [[people[k], people[m - 1 - k]] for k in range(m // 2)]
        rounds.append([[p for p in pair if p < n] for pair in pairs])
        people = [people[0], people[-1], *people[1:-1]]
    return rounds


def kirkman_15() -> Schedule:
    """Kirkman's fifteen schoolgirls: 7 rounds of 5 tables of 3, every pair once."""
    return [[list(t) for t in rnd] for rnd in _KIRKMAN_15]


def schedule_for(n: int, tables: int, rounds: int) -> tuple[Schedule, list[list[int]]] | None:
    """A known schedule for ``n`` people at ``tables`` balanced tables, or None.

    Returns the schedule (its first ``rounds`` rounds) and its columns: groups of points
    that never meet in it (for placing an organisation's people), possibly empty.
    """
    size = -(-n // tables)
    if size == 2 and rounds <= n - 1 + n % 2 and tables == -(-n // 2):
        return round_robin(n)[:rounds], []
    if (n, tables) == (15, 5) and rounds <= 7:
        return kirkman_15()[:rounds], []
    pk = prime_power(tables)
    if pk is None or size > tables or not (size - 1) * tables < n <= size * tables:
        return None
    q = tables
    if n == q * q and rounds == q + 1:
        return affine_plane(q), []
    if rounds > q:
        return None
    schedule = truncated_affine(q, size, n)[:rounds]
    full = size * q
    dropped = full - n
    columns: list[list[int]] = []
    for x in range(size):
        width = q - dropped if x == size - 1 else q
        columns.append(list(range(x * q, x * q + width)))
    return schedule, columns


def _groups(problem: Problem, partners: bool) -> list[list[int]]:
    """People to keep apart, grouped: one organisation, must-not-meet, existing partners."""
    parent = list(range(problem.size))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_org: dict[int, int] = {}
    for i, code in enumerate(problem.org_code):
        if code in by_org:
            parent[root(i)] = root(by_org[code])
        by_org.setdefault(code, i)
    apart = problem.must_not_meet | (problem.partners if partners else set())
    for a, b in apart:
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for i in range(problem.size):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=len, reverse=True)


def design_seating(problem: Problem) -> Seating | None:
    """A known schedule fitted to the problem's people, or None.

    Only for no-repeat problems without locks, themes or must-meet pairs; hosts keep
    their tables. The result is checked: a seating that breaks a rule is not returned.
    """
    if not problem.options.no_repeat or problem.must_meet or any(problem.themes):
        return None
    if ((problem.fixed >= 0) & (problem.fixed != problem.fixed[0])).any():
        return None
    found = schedule_for(problem.size, problem.tables, problem.rounds)
    if found is None:
        return None
    schedule, columns = found
    for partners in (True, False):
        seating = _fit(problem, schedule, columns, partners)
        if seating is not None:
            return seating
    logger.debug("the known schedule does not fit this problem's rules")
    return None


def _fit(
    problem: Problem, schedule: Schedule, columns: list[list[int]], partners: bool
) -> Seating | None:
    """The schedule's points given to people so that groups kept apart share a column."""
    point_of: dict[int, int] = {}
    column_of: dict[int, int] = {}
    hosts = sorted(problem.hosts)
    free = [list(c) for c in columns] if columns else [list(range(problem.size))]
    if hosts:
        if not columns or len(hosts) > len(free[0]):
            return None
        for h in hosts:
            point_of[h], column_of[h] = free[0].pop(0), 0
    for group in _groups(problem, partners and problem.options.avoid_partners):
        placed = {column_of[i] for i in group if i in column_of}
        rest = [i for i in group if i not in point_of]
        if not rest:
            continue
        if len(placed) > 1 or (len(group) > 1 and not columns):
            return None
        if placed:
            c = placed.pop()
        elif len(rest) > 1:
            c = next((k for k, col in enumerate(free) if len(col) >= len(rest)), -1)
        else:
            c = max(range(len(free)), key=lambda k: len(free[k]))
        if c < 0 or len(free[c]) < len(rest):
            return None
        for i in rest:
            point_of[i], column_of[i] = free[c].pop(0), c
    seating = np.zeros((problem.rounds, problem.size), np.int64)
    person_at = {p: i for i, p in point_of.items()}
    for r, rnd in enumerate(schedule):
        order = sorted(range(len(rnd)), key=lambda t: -len(rnd[t]))
        labels: dict[int, int] = {}
        for h in hosts:
            block = next(t for t, table in enumerate(rnd) if point_of[h] in table)
            labels[block] = problem.hosts[h]
        spare = iter(t for t in range(problem.tables) if t not in labels.values())
        for block in order:
            if block not in labels:
                labels[block] = next(spare)
        for block, table in enumerate(rnd):
            for p in table:
                seating[r, person_at[p]] = labels[block]
    return None if problem.evaluate(seating).broken else seating
