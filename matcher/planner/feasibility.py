"""What cannot be planned, with a proof: contradictions in the input and counting bounds.

:func:`check` refuses contradictory input (an organisation with more people than tables,
hosts that clash, must-meet pairs that cannot meet) whatever the number of rounds.
:func:`round_limit` is the counting bound on the number of rounds without repeats: it
is a proof that more rounds cannot work; whether that many do is for the solver to show.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from matcher.planner.problem import DEFAULT_TABLE_SIZE, InfeasiblePlanError, choose_table_size

if TYPE_CHECKING:
    from matcher.planner.problem import Problem

__all__ = ["RoundLimit", "alternatives", "check", "round_limit"]

UNLIMITED = 10**6
"""The round limit when nothing bounds the rounds (repeats allowed)."""


@dataclass(frozen=True)
class RoundLimit:
    """The most rounds the counting bounds allow, and why no more (rule, who, reason)."""

    rounds: int
    rule: str = "no_repeat"
    participants: tuple[str, ...] = ()
    reason: str = ""


def check(problem: Problem) -> None:
    """Cheap necessary conditions on the input, each failing with the rule and who.

    Raises:
        InfeasiblePlanError: with ``proof="counting"``.
    """
    people = problem.participants
    names = [p.key for p in people]
    tables = problem.tables
    groups: dict[int, list[int]] = {}
    for i, code in enumerate(problem.org_code):
        groups.setdefault(code, []).append(i)
    for members in groups.values():
        if len(members) > tables:
            org = people[members[0]].organisation_id
            raise InfeasiblePlanError(
                "one_per_organisation",
                [names[i] for i in members],
                f"{org} sends {len(members)} people but there are {tables} tables",
                proof="counting",
            )
    if len(problem.hosts) > tables * problem.capacity:
        raise InfeasiblePlanError(
            "host", [names[i] for i in problem.hosts], "more hosts than seats", proof="counting"
        )
    at: dict[int, list[int]] = {}
    for i, t in problem.hosts.items():
        at.setdefault(t, []).append(i)
    for t, hs in at.items():
        who = [names[i] for i in hs]
        if len(hs) > problem.sizes[t] and len(hs) > min(problem.sizes):
            raise InfeasiblePlanError(
                "host", who, f"table {t + 1} has too many hosts", proof="counting"
            )
        codes = [problem.org_code[i] for i in hs]
        if len(set(codes)) < len(codes):
            raise InfeasiblePlanError(
                "one_per_organisation",
                who,
                f"hosts of one organisation at table {t + 1}",
                proof="counting",
            )
        for a in hs:
            for b in hs:
                if a < b and (a, b) in problem.must_not_meet:
                    raise InfeasiblePlanError(
                        "must_not_meet",
                        [names[a], names[b]],
                        f"both host table {t + 1}",
                        proof="counting",
                    )
    for r in range(problem.rounds):
        seated: dict[int, list[int]] = {}
        for i, t in enumerate(problem.fixed[r]):
            if t >= 0:
                seated.setdefault(int(t), []).append(i)
        for t, members in seated.items():
            if len(members) > problem.sizes[t]:
                raise InfeasiblePlanError(
                    "locked",
                    [names[i] for i in members],
                    f"{len(members)} people locked at table {t + 1} of round {r + 1}, "
                    f"which seats {problem.sizes[t]}",
                    proof="counting",
                )
    for a, b in sorted(problem.must_meet):
        who = [names[a], names[b]]
        if problem.org_code[a] == problem.org_code[b]:
            raise InfeasiblePlanError(
                "must_meet",
                who,
                "they are of the same organisation, who never share a table",
                proof="counting",
            )
        if (a, b) in problem.must_not_meet:
            raise InfeasiblePlanError(
                "must_meet", who, "the pair is also a must-not-meet pair", proof="counting"
            )
        ta, tb = problem.hosts.get(a), problem.hosts.get(b)
        if ta is not None and tb is not None and ta != tb:
            raise InfeasiblePlanError(
                "must_meet",
                who,
                f"they host different tables ({ta + 1} and {tb + 1})",
                proof="counting",
            )
    widest = max(problem.sizes)
    count = Counter(x for pair in problem.must_meet for x in pair)
    for i, k in count.items():
        room = problem.rounds * (widest - 1)
        if k > room:
            raise InfeasiblePlanError(
                "must_meet",
                [names[i]],
                f"{names[i]} must meet {k} people but sits with at most {room} "
                f"in {problem.rounds} round(s)",
                proof="counting",
            )


def round_limit(problem: Problem) -> RoundLimit:
    """The counting bound on rounds without repeats (:data:`UNLIMITED` with repeats).

    Three bounds, the smallest wins:

    - hosts of one table sit together every round: at most one round;
    - a round-2 table of ``s`` people needs them from ``s`` different round-1 tables,
      so the widest table may not exceed the number of tables: at most one round;
    - a person meets at least ``s − 1`` new people per round (``s`` the narrowest
      table) among the others it may meet (not its own organisation, not a
      must-not-meet partner): at most ⌊others / (s − 1)⌋ rounds.
    """
    if not problem.options.no_repeat:
        return RoundLimit(UNLIMITED, rule="", reason="repeats are allowed")
    names = [p.key for p in problem.participants]
    at: dict[int, list[int]] = {}
    for i, t in problem.hosts.items():
        at.setdefault(t, []).append(i)
    for t, hs in sorted(at.items()):
        if len(hs) > 1:
            return RoundLimit(
                1,
                "no_repeat",
                tuple(names[i] for i in hs),
                f"the hosts of table {t + 1} would sit together every round",
            )
    widest, narrowest, tables = max(problem.sizes), min(problem.sizes), problem.tables
    if widest > tables:
        return RoundLimit(
            1,
            "no_repeat",
            (),
            f"the {widest} people of a table in round 2 must come from {widest} different "
            f"tables of round 1, but there are {tables}",
        )
    if narrowest < 2:
        return RoundLimit(UNLIMITED)
    org_size = Counter(problem.org_code)
    avoid = Counter(x for pair in problem.must_not_meet for x in pair)
    best = RoundLimit(UNLIMITED)
    for i in range(problem.size):
        others = problem.size - org_size[problem.org_code[i]] - avoid[i]
        rounds = max(others, 0) // (narrowest - 1)
        if rounds < best.rounds:
            best = RoundLimit(
                rounds,
                "no_repeat",
                (names[i],),
                f"{names[i]} meets at least {narrowest - 1} new people in each round but may "
                f"meet only {others} others, so at most {rounds} round(s) work",
            )
    return best


def alternatives(problem: Problem, max_rounds: int | None) -> list[str]:
    """What would work instead of a refused request, in words (best first)."""
    out: list[str] = []
    n, rounds = problem.size, problem.rounds
    if max_rounds:
        out.append(f"{max_rounds} round(s) with the same tables")
    largest_org = max(Counter(problem.org_code).values())
    size = choose_table_size(n, rounds, no_repeat=True, largest_org=largest_org)
    if size < max(problem.sizes) and size >= 2:
        out.append(f"tables of {size} ({math.ceil(n / size)} tables) for {rounds} rounds")
    if problem.options.no_repeat:
        out.append("allowing repeats (--allow-repeats; each repeat then costs)")
    if max(problem.sizes) > DEFAULT_TABLE_SIZE and not out:
        out.append(f"tables of at most {DEFAULT_TABLE_SIZE}")
    return out
