"""A plan: the seating of every round, scored and explained, as JSON, CSV and agendas.

The JSON shape (:meth:`Plan.to_json`) is what the CLI prints with ``--json``, what
``POST /tables`` answers and what the organiser page edits and sends back to be scored
(:func:`score_plan`) or re-solved around locked seats (:func:`locks_from_json`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matcher.planner.evaluation import Evaluation
from matcher.planner.problem import Problem, Seating
from matcher.planner.reasons import describe_table, label, seat_reasons

__all__ = [
    "AGENDA_COLUMNS",
    "SEATING_COLUMNS",
    "Plan",
    "SearchStats",
    "locks_from_json",
    "score_plan",
    "seating_from_json",
]

SEATING_COLUMNS = (
    "round",
    "table",
    "organisation_id",
    "person",
    "name",
    "country",
    "kind",
    "host",
    "theme",
)
"""Columns of :meth:`Plan.to_csv`: one row per person per round."""

AGENDA_COLUMNS = ("person", "organisation_id", "name", "round", "table", "theme", "with", "why")
"""Columns of :meth:`Plan.agenda_csv`: one row per person per round."""


@dataclass(frozen=True)
class SearchStats:
    """How a plan was found.

    Args:
        seed: the search's seed.
        seconds: wall-clock time of the search.
        stopped_early: the time limit cut the search short.
        engines: what ran, in order (``design``, ``assignment search``, ``cp-sat``).
        status: ``optimal`` (proven by CP-SAT) or ``feasible``.
        bound: an upper bound on the objective of any seating that keeps the rules.
        bound_source: where the bound comes from (``cp-sat``, ``b-matching``, ``counting``).
        steps: steps of the assignment search.
    """

    seed: int
    seconds: float
    stopped_early: bool
    engines: tuple[str, ...] = ()
    status: str = "feasible"
    bound: float | None = None
    bound_source: str = ""
    steps: int = 0


def _member_json(problem: Problem, i: int) -> dict[str, Any]:
    p, o = problem.participants[i], problem.organisations[i]
    return {
        "key": p.key,
        "organisation_id": p.organisation_id,
        "person": p.person,
        "name": o.name,
        "country": o.country,
        "kind": o.kind.value,
        "host": i in problem.hosts,
    }


@dataclass
class Plan:
    """A seating for every round with its score, themes and reasons.

    ``seating[r, i]`` is participant ``i``'s table (0-based) in round ``r``.
    """

    problem: Problem
    seating: Seating
    evaluation: Evaluation
    stats: SearchStats | None = None
    tables: list[list[tuple[str, list[str]]]] = field(default_factory=list)
    why: list[dict[int, str]] = field(default_factory=list)

    @classmethod
    def of(cls, problem: Problem, seating: Seating, stats: SearchStats | None = None) -> Plan:
        """Describe a seating: scores, broken rules, each table's theme and reasons."""
        described, why = [], []
        for r in range(problem.rounds):
            row, seats = [], {}
            for t in range(problem.tables):
                members = [int(i) for i in np.flatnonzero(seating[r] == t)]
                row.append(describe_table(problem, members, t))
                seats.update(seat_reasons(problem, members, t))
            described.append(row)
            why.append(seats)
        return cls(problem, seating, problem.evaluate(seating), stats, described, why)

    @property
    def score(self) -> float:
        """The objective (see :mod:`matcher.planner.evaluation`)."""
        return self.evaluation.score

    @property
    def gap(self) -> float | None:
        """(bound − score) / |bound|: how far the plan may be from the best, at most."""
        if self.stats is None or self.stats.bound is None or self.stats.bound == 0:
            return None
        return max(0.0, (self.stats.bound - self.score) / abs(self.stats.bound))

    def members(self, r: int, t: int) -> list[int]:
        """The people at table ``t`` (0-based) in round ``r`` (0-based)."""
        return [int(i) for i in np.flatnonzero(self.seating[r] == t)]

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON: rounds → tables → members (with why), theme, reasons; scores."""
        problem = self.problem
        rounds = []
        for r in range(problem.rounds):
            tables = []
            for t in range(problem.tables):
                members = self.members(r, t)
                theme, reasons = self.tables[r][t]
                sub = problem.scores[np.ix_(members, members)]
                people = [{**_member_json(problem, i), "why": self.why[r][i]} for i in members]
                tables.append(
                    {
                        "table": t + 1,
                        "members": people,
                        "theme": theme,
                        "reasons": reasons,
                        "countries": sorted({m["country"] for m in people if m["country"]}),
                        "score": round(float(np.triu(sub, 1).sum()), 6),
                    }
                )
            rounds.append({"round": r + 1, "tables": tables})
        out: dict[str, Any] = {"rounds": rounds, **self.evaluation.to_json()}
        out["participants"] = [
            {
                **_member_json(problem, i),
                "tables": [int(self.seating[r, i]) + 1 for r in range(problem.rounds)],
            }
            for i in range(problem.size)
        ]
        out["layout"] = {
            "tables": problem.tables,
            "sizes": problem.sizes,
            "capacity": problem.capacity,
            "rounds": problem.rounds,
            "themes": {str(t + 1): th for t, th in enumerate(problem.themes) if th},
            "no_repeat": problem.options.no_repeat,
            "avoid_partners": problem.options.avoid_partners,
        }
        out["notes"] = list(problem.notes)
        if self.stats is not None:
            s = self.stats
            out["search"] = {
                "seed": s.seed,
                "seconds": round(s.seconds, 3),
                "stopped_early": s.stopped_early,
                "engines": list(s.engines),
                "status": s.status,
                "steps": s.steps,
                "bound": None if s.bound is None else round(s.bound, 6),
                "bound_source": s.bound_source,
                "gap": None if self.gap is None else round(self.gap, 6),
            }
        return out

    def to_csv(self) -> str:
        """One row per participant per round (:data:`SEATING_COLUMNS`)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(SEATING_COLUMNS)
        for r in range(self.problem.rounds):
            for t in range(self.problem.tables):
                for i in self.members(r, t):
                    m = _member_json(self.problem, i)
                    writer.writerow(
                        [r + 1, t + 1, m["organisation_id"], m["person"] or "", m["name"],
                         m["country"] or "", m["kind"], "yes" if m["host"] else "",
                         self.tables[r][t][0]]
                    )  # fmt: skip
        return buffer.getvalue()

    def agendas(self) -> list[dict[str, Any]]:
        """Per person: in each round, the table, its theme, with whom, and why."""
        problem = self.problem
        out = []
        for i in range(problem.size):
            rounds = []
            for r in range(problem.rounds):
                t = int(self.seating[r, i])
                rounds.append(
                    {
                        "round": r + 1,
                        "table": t + 1,
                        "theme": self.tables[r][t][0],
                        "with": [label(problem, j) for j in self.members(r, t) if j != i],
                        "why": self.why[r][i],
                    }
                )
            out.append({**_member_json(problem, i), "rounds": rounds})
        return out

    def agenda_csv(self) -> str:
        """The agendas as CSV (:data:`AGENDA_COLUMNS`), people in input order."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(AGENDA_COLUMNS)
        for person in self.agendas():
            for rnd in person["rounds"]:
                writer.writerow(
                    [person["person"] or "", person["organisation_id"], person["name"],
                     rnd["round"], rnd["table"], rnd["theme"], "; ".join(rnd["with"]), rnd["why"]]
                )  # fmt: skip
        return buffer.getvalue()


def _key(member: Mapping[str, Any]) -> str:
    key = member.get("key")
    if key:
        return str(key)
    person = member.get("person")
    org = member.get("organisation_id")
    return f"{org}/{person}" if person else str(org)


def seating_from_json(problem: Problem, plan: Mapping[str, Any]) -> Seating:
    """The seating of a plan in the JSON shape of :meth:`Plan.to_json` (e.g. edited).

    Members are matched by ``key`` or by ``organisation_id`` and ``person``.

    Raises:
        ValueError: a round or table count that does not fit, an unknown participant, or
            a participant missing from a round or seated twice in it (named).
    """
    rounds = plan.get("rounds")
    if not isinstance(rounds, list) or len(rounds) != problem.rounds:
        raise ValueError(f"'rounds': {problem.rounds} rounds expected")
    seating = np.full((problem.rounds, problem.size), -1, np.int64)
    for r, rnd in enumerate(rounds):
        tables = rnd.get("tables") if isinstance(rnd, Mapping) else None
        if not isinstance(tables, list) or len(tables) != problem.tables:
            raise ValueError(f"round {r + 1}: {problem.tables} tables expected")
        for t, table in enumerate(tables):
            members = table.get("members") if isinstance(table, Mapping) else None
            if not isinstance(members, list):
                raise ValueError(f"round {r + 1}, table {t + 1}: 'members' must be a list")
            for m in members:
                if not isinstance(m, Mapping):
                    raise ValueError(f"round {r + 1}, table {t + 1}: a member must be an object")
                key = _key(m)
                i = problem.keys.get(key)
                if i is None:
                    raise ValueError(f"round {r + 1}, table {t + 1}: unknown participant {key!r}")
                if seating[r, i] >= 0:
                    raise ValueError(f"round {r + 1}: {key} is seated twice")
                seating[r, i] = t
        missing = [problem.participants[i].key for i in np.flatnonzero(seating[r] < 0)]
        if missing:
            raise ValueError(f"round {r + 1}: not seated: {', '.join(missing)}")
    return seating


def locks_from_json(
    plan: Mapping[str, Any], *, people: list[str], tables: list[tuple[int, int]]
) -> dict[tuple[int, str], int]:
    """Seats to keep when re-solving: locked people's seats and locked tables' seats.

    Every seat of the people in ``people`` (all rounds) and of everyone at the tables in
    ``tables`` ((1-based round, 1-based table) pairs) is kept.

    Returns:
        (0-based round, participant key) → 0-based table.

    Raises:
        ValueError: the plan's shape is not the JSON of :meth:`Plan.to_json`.
    """
    wanted = set(people)
    at = set(tables)
    out: dict[tuple[int, str], int] = {}
    rounds = plan.get("rounds")
    if not isinstance(rounds, list):
        raise ValueError("'rounds' must be a list")
    for r, rnd in enumerate(rounds):
        for t, table in enumerate(rnd.get("tables", []) if isinstance(rnd, Mapping) else []):
            for m in table.get("members", []) if isinstance(table, Mapping) else []:
                if isinstance(m, Mapping):
                    key = _key(m)
                    if key in wanted or (r + 1, t + 1) in at:
                        out[(r, key)] = t
    return out


def score_plan(problem: Problem, plan: Mapping[str, Any]) -> Evaluation:
    """Score a plan in the JSON shape of :meth:`Plan.to_json` (e.g. after a swap).

    Raises:
        ValueError: the plan does not fit the problem (see :func:`seating_from_json`).
    """
    return problem.evaluate(seating_from_json(problem, plan))
