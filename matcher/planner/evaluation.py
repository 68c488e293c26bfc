"""A seating's objective, its parts, and the rules it breaks.

The objective of a seating is

    pair scores of everyone seated together (summed over rounds and tables)
    + theme affinity × theme weight
    − mix shortfall × mix weight
    − meetings of existing partners × repeat weight
    − repeated meetings × repeat weight (only when repeats are allowed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from matcher.planner.problem import Problem, Seating

__all__ = ["BrokenRule", "Evaluation", "evaluate", "shortfall", "together"]


@dataclass(frozen=True)
class BrokenRule:
    """A hard rule a seating breaks (or, with rule 'mix', a missed mix target)."""

    rule: str
    participants: list[str]
    message: str
    round: int | None = None
    table: int | None = None

    def to_json(self) -> dict[str, Any]:
        """As JSON."""
        return {
            "rule": self.rule,
            "round": self.round,
            "table": self.table,
            "participants": self.participants,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = ", ".join(
            f"{k} {v}" for k, v in (("round", self.round), ("table", self.table)) if v is not None
        )
        who = f" [{', '.join(self.participants)}]" if self.participants else ""
        return f"{self.rule}{f' ({where})' if where else ''}: {self.message}{who}"


def _num(x: float) -> float:
    return round(x, 6) + 0.0  # never -0.0


@dataclass(frozen=True)
class Evaluation:
    """A seating's objective (``score``), its parts and what it breaks.

    ``partners_together`` lists every pair of existing partners seated together (keys),
    the ones a must-meet asked for included; ``repeated_pairs`` counts pairs that meet in
    more than one round.
    """

    score: float
    pair_score: float
    theme_score: float
    mix_penalty: float
    partner_penalty: float
    repeat_penalty: float
    broken: list[BrokenRule]
    missed_targets: list[BrokenRule]
    partners_together: list[tuple[str, str]] = field(default_factory=list)
    repeated_pairs: int = 0

    def to_json(self) -> dict[str, Any]:
        """As JSON."""
        return {
            "score": _num(self.score),
            "pair_score": _num(self.pair_score),
            "theme_score": _num(self.theme_score),
            "mix_penalty": _num(self.mix_penalty),
            "partner_penalty": _num(self.partner_penalty),
            "repeat_penalty": _num(self.repeat_penalty),
            "partners_together": [list(p) for p in self.partners_together],
            "repeated_pairs": self.repeated_pairs,
            "broken": [b.to_json() for b in self.broken],
            "missed_targets": [m.to_json() for m in self.missed_targets],
        }


def together(problem: Problem, seating: Seating) -> npt.NDArray[np.int64]:
    """(n, n) matrix: in how many rounds each pair shares a table (diagonal zero)."""
    n = problem.size
    count = np.zeros((n, n), np.int64)
    eye = np.eye(problem.tables, dtype=np.int64)
    for row in seating:
        onehot = eye[row]
        count += onehot @ onehot.T
    np.fill_diagonal(count, 0)
    return count


def shortfall(problem: Problem, members: npt.NDArray[np.int64]) -> tuple[int, str]:
    """Units of mix shortfall of one table, and what is missing in words."""
    mix = problem.options.mix
    missing: list[str] = []
    short = 0
    if mix.min_countries:
        distinct = len({problem.country_code[i] for i in members} - {-1})
        if distinct < mix.min_countries:
            short += mix.min_countries - distinct
            missing.append(f"{distinct} countries of {mix.min_countries} wanted")
    if mix.research_and_industry:
        if not any(problem.research[i] for i in members):
            short += 1
            missing.append("no research member")
        if not any(problem.industry[i] for i in members):
            short += 1
            missing.append("no industry member")
    return short, "; ".join(missing)


def evaluate(problem: Problem, seating: Seating) -> Evaluation:
    """Score a seating and list the hard rules it breaks and the mix targets it misses.

    Raises:
        ValueError: the seating's shape or table numbers do not fit the problem.
    """
    seating = np.asarray(seating, np.int64)
    n, tables = problem.size, problem.tables
    if seating.shape != (problem.rounds, n):
        raise ValueError(f"a seating is {problem.rounds} rounds × {n} participants")
    if seating.size and (seating.min() < 0 or seating.max() >= tables):
        raise ValueError(f"tables are numbered 1 to {tables}")
    names = [p.key for p in problem.participants]
    broken: list[BrokenRule] = []
    missed: list[BrokenRule] = []
    pair_total = theme_total = mix_total = 0.0
    for r in range(problem.rounds):
        for t in range(tables):
            members = np.flatnonzero(seating[r] == t)
            sub = problem.scores[np.ix_(members, members)]
            pair_total += float(np.triu(sub, 1).sum())
            theme_total += float(problem.theme_affinity[members, t].sum())
            where = {"round": r + 1, "table": t + 1}
            if len(members) > problem.capacity:
                broken.append(
                    BrokenRule(
                        "table_size",
                        [names[i] for i in members],
                        f"{len(members)} people, more than {problem.capacity}",
                        **where,
                    )
                )
            seen: dict[int, list[int]] = {}
            for i in members:
                seen.setdefault(problem.org_code[i], []).append(int(i))
            for same in seen.values():
                if len(same) > 1:
                    org = problem.participants[same[0]].organisation_id
                    broken.append(
                        BrokenRule(
                            "one_per_organisation",
                            [names[i] for i in same],
                            f"{len(same)} people of {org}",
                            **where,
                        )
                    )
            short, text = shortfall(problem, members)
            if short:
                mix_total += short * problem.mix_weight
                missed.append(BrokenRule("mix", [], text, **where))
    for k in range(n):
        moved = [r for r in range(problem.rounds) if 0 <= problem.fixed[r, k] != seating[r, k]]
        if not moved:
            continue
        rule = "host" if k in problem.hosts else "locked"
        home = ", ".join(f"table {problem.fixed[r, k] + 1} in round {r + 1}" for r in moved)
        broken.append(BrokenRule(rule, [names[k]], f"belongs at {home} but sits elsewhere"))
    count = together(problem, seating)
    upper = np.triu(count, 1)
    repeated = int((upper > 1).sum())
    repeat_total = 0.0
    if problem.options.no_repeat:
        for a, b in zip(*np.nonzero(upper > 1), strict=True):
            broken.append(
                BrokenRule("no_repeat", [names[a], names[b]], f"together in {count[a, b]} rounds")
            )
    else:
        repeat_total = problem.repeat_weight * float(np.maximum(upper - 1, 0).sum())
    for a, b in sorted(problem.must_meet):
        if count[a, b] == 0:
            broken.append(BrokenRule("must_meet", [names[a], names[b]], "never together"))
    for a, b in sorted(problem.must_not_meet):
        if count[a, b] > 0 and problem.org_code[a] != problem.org_code[b]:
            rounds = [r + 1 for r in range(problem.rounds) if seating[r, a] == seating[r, b]]
            broken.append(
                BrokenRule(
                    "must_not_meet",
                    [names[a], names[b]],
                    "together in round(s) " + ", ".join(map(str, rounds)),
                )
            )
    mask = problem.partner_mask()
    partner_total = problem.repeat_weight * float(np.triu(count * mask, 1).sum())
    met_partners = [(names[a], names[b]) for a, b in sorted(problem.partners) if count[a, b] > 0]
    theme_total *= problem.theme_weight
    return Evaluation(
        score=pair_total + theme_total - mix_total - partner_total - repeat_total,
        pair_score=pair_total,
        theme_score=theme_total,
        mix_penalty=mix_total,
        partner_penalty=partner_total,
        repeat_penalty=repeat_total,
        broken=broken,
        missed_targets=missed,
        partners_together=met_partners,
        repeated_pairs=repeated,
    )
