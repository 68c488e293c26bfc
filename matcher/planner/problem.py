"""A workshop's seating problem: who, the layout, the rules and the objective.

A :class:`Problem` holds the participants (people of organisations; several people per
organisation allowed), the layout (a number of tables or a table size; tables are
balanced, sizes differ by at most one), the rounds and the rules.

Hard rules (:data:`RULES`), never broken in a returned plan:

- ``one_per_organisation``: at most one person of an organisation at a table;
- ``no_repeat``: no pair seated together in two rounds (can be switched off);
- ``must_meet``: the pair sits together in exactly one round;
- ``must_not_meet``: the pair never sits together (pairs an organisation blocked in the
  store count too);
- ``host``: a host sits at its table in every round (so does a person locked in place);
- ``table_size``: no table above its size (only an edited plan can break it).

Soft terms of the objective: the pair scores of everyone seated together; per-table mix
targets (:class:`MixTargets`); per-table themes; existing partners seated together and,
when repeats are allowed, repeated meetings, each costing ``repeat_weight`` per meeting.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from matcher.domain.errors import ImportProblem, MatcherError
from matcher.domain.schema import Organisation
from matcher.domain.vocab import OrganisationKind
from matcher.planner.participants import (
    InvalidParticipantsError,
    Participant,
    participant_problem,
)

if TYPE_CHECKING:
    from matcher.planner.evaluation import Evaluation

__all__ = [
    "DEFAULT_TABLE_SIZE",
    "INDUSTRY_KINDS",
    "RESEARCH_KINDS",
    "RULES",
    "InfeasiblePlanError",
    "MixTargets",
    "PairScores",
    "PlanOptions",
    "Problem",
    "Seating",
    "choose_table_size",
    "default_time_limit",
    "word_affinity",
]

Seating = npt.NDArray[np.int64]
"""A (rounds, participants) array: the table (0-based) of each participant in each round."""

DEFAULT_TABLE_SIZE = 8
"""The largest table size chosen when none is given (see :func:`choose_table_size`)."""

RESEARCH_KINDS: frozenset[OrganisationKind] = frozenset(
    {OrganisationKind.RESEARCH, OrganisationKind.UNIVERSITY}
)
"""Kinds that count as research members for the mix target."""

INDUSTRY_KINDS: frozenset[OrganisationKind] = frozenset(
    {OrganisationKind.SME, OrganisationKind.LARGE_COMPANY}
)
"""Kinds that count as industry members for the mix target."""

RULES: dict[str, str] = {
    "one_per_organisation": "at most one person per organisation at a table",
    "no_repeat": "no pair seated together twice",
    "must_meet": "must-meet pairs sit together once",
    "must_not_meet": "must-not-meet pairs never sit together",
    "host": "hosts stay at their table",
    "locked": "locked people keep their seats",
    "table_size": "no table above its size",
    "layout": "tables and rounds",
}
"""The hard rules by name, in words."""


class InfeasiblePlanError(MatcherError):
    """No plan can keep a hard rule, or none was found in the time given.

    Attributes:
        rule: the rule's name (a key of :data:`RULES`).
        participants: the participants involved (their keys).
        proof: how impossibility is known: ``"counting"`` (a counting bound),
            ``"solver"`` (CP-SAT proved it), or None (none found in the time given).
        max_rounds: the largest number of rounds known to work with the same layout and
            rules (a seating was found), or None if not known.
        alternatives: what would work instead, in words.
    """

    def __init__(
        self,
        rule: str,
        participants: Sequence[str],
        message: str,
        *,
        proof: str | None = None,
        max_rounds: int | None = None,
        alternatives: Sequence[str] = (),
    ) -> None:
        self.rule = rule
        self.participants = list(participants)
        self.reason = message
        self.proof = proof
        self.max_rounds = max_rounds
        self.alternatives = list(alternatives)
        text = f"rule {rule!r} ({RULES.get(rule, rule)}) cannot be met: {message}"
        if alternatives:
            text += "; instead: " + "; ".join(alternatives)
        super().__init__(text)


@dataclass(frozen=True)
class MixTargets:
    """Per-table mix targets (soft: each unit of shortfall costs ``weight``).

    Args:
        min_countries: at least this many distinct countries at each table.
        research_and_industry: at least one research and one industry member per table.
        research_kinds: kinds that count as research.
        industry_kinds: kinds that count as industry.
        weight: cost of one unit of shortfall at one table in one round; None: twice the
            90th percentile of the pair scores, so a missed target outweighs a good pair.
    """

    min_countries: int = 0
    research_and_industry: bool = False
    research_kinds: frozenset[OrganisationKind] = RESEARCH_KINDS
    industry_kinds: frozenset[OrganisationKind] = INDUSTRY_KINDS
    weight: float | None = None


@dataclass(frozen=True)
class PlanOptions:
    """Layout, rules and search settings of a plan.

    Args:
        rounds: how many rounds.
        table_size: people per table at most (tables = ⌈participants / size⌉); with
            neither this nor ``tables``, chosen from the group (:func:`choose_table_size`).
        tables: how many tables (instead of ``table_size``).
        themes: a theme per table (1-based table → words or an ecosystem).
        mix: per-table mix targets.
        no_repeat: no pair seated together twice (hard); off, each repeated meeting
            costs ``repeat_weight``.
        avoid_partners: organisations that already collaborate (in the store) are kept
            apart: each meeting of such a pair costs ``repeat_weight`` (soft).
        repeat_weight: cost of a repeated meeting or of a meeting of existing partners;
            None: one more than the largest pair score, so such a meeting always costs
            at least 1 (more than any pair can bring).
        theme_weight: weight of a person's affinity to its table's theme; None: the
            90th percentile of the pair scores.
        seed: the search's seed.
        time_limit: seconds at most for the search; None: :func:`default_time_limit`.
        workers: CP-SAT's search threads (``num_workers``; it would take every core).
        steps: the assignment search's steps; None: as many as the time limit allows
            (the search then uses its time; with a number it is deterministic for a seed
            unless the time limit cuts it).
    """

    rounds: int = 3
    table_size: int | None = None
    tables: int | None = None
    themes: Mapping[int, str] = field(default_factory=dict)
    mix: MixTargets = MixTargets()
    no_repeat: bool = True
    avoid_partners: bool = True
    repeat_weight: float | None = None
    theme_weight: float | None = None
    seed: int = 0
    time_limit: float | None = None
    workers: int = 2
    steps: int | None = None

    def seconds(self, people: int) -> float:
        """The time limit, or its default for this many people (:func:`default_time_limit`)."""
        return self.time_limit if self.time_limit is not None else default_time_limit(people)


@dataclass(frozen=True)
class PairScores:
    """Symmetric pair scores between organisations: all the planner knows of the ranking.

    Args:
        ids: organisation ids, one per row.
        matrix: (len(ids), len(ids)) scores in [0, 1], symmetric; the diagonal is ignored.
        reasons: why a pair fits, in words (strongest first), if known.
    """

    ids: list[str]
    matrix: npt.NDArray[np.float64]
    reasons: Callable[[str, str], list[str]] | None = None


def default_time_limit(people: int) -> float:
    """10 seconds up to 300 people, then rising linearly to 60 seconds at 1,000."""
    if people <= 300:
        return 10.0
    return min(60.0, 10.0 + (people - 300) * 50 / 700)


def choose_table_size(n: int, rounds: int, *, no_repeat: bool = True, largest_org: int = 1) -> int:
    """The largest table size up to :data:`DEFAULT_TABLE_SIZE` that the counting bounds allow.

    Without repeats and over two rounds or more, a round-2 table of ``s`` people needs
    them from ``s`` different round-1 tables (so ``s`` ≤ the number of tables), and a
    person meets ``s − 1`` new people each round (so ``rounds × (s − 1)`` ≤ the others
    it may meet). The largest size that passes both is taken (as the widest table of
    the balanced layout it gives); 2 if none does.
    """
    for size in range(min(DEFAULT_TABLE_SIZE, n), 1, -1):
        tables = math.ceil(n / size)
        smallest, biggest = n // tables, -(-n // tables)
        if tables < largest_org:
            continue
        if not no_repeat or rounds < 2:
            return biggest
        if biggest <= tables and rounds * (smallest - 1) <= n - largest_org:
            return biggest
    return 2


def word_affinity(org: Organisation, theme: str) -> float:
    """Shared ecosystem 1; a keyword or profile word in the theme 0.5; else 0."""
    wanted = theme.strip().lower()
    for eco in org.ecosystems:
        if wanted in (eco.value, eco.label.lower()):
            return 1.0
    words = {w for w in wanted.replace(",", " ").split() if len(w) > 3}
    keywords = {k.lower() for k in org.keywords}
    if wanted in keywords or words & {w for k in keywords for w in k.split()}:
        return 0.5
    return 0.0


@dataclass
class Problem:
    """A compiled planning problem: participants, layout, rules and the score matrix.

    Build it with :meth:`build` (scores given) or
    :func:`matcher.planner.workshop.build_problem` (from the Matcher's state).
    """

    participants: list[Participant]
    organisations: list[Organisation]
    scores: npt.NDArray[np.float64]
    sizes: list[int]
    capacity: int
    rounds: int
    options: PlanOptions
    org_code: list[int]
    hosts: dict[int, int]
    must_meet: set[tuple[int, int]]
    must_not_meet: set[tuple[int, int]]
    partners: set[tuple[int, int]]
    country_code: list[int]
    research: list[bool]
    industry: list[bool]
    theme_affinity: npt.NDArray[np.float64]
    themes: list[str | None]
    mix_weight: float
    theme_weight: float
    repeat_weight: float
    fixed: Seating
    pair_reasons: Callable[[str, str], list[str]] | None = None
    keys: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Number of participants."""
        return len(self.participants)

    @property
    def tables(self) -> int:
        """Number of tables."""
        return len(self.sizes)

    def evaluate(self, seating: Seating) -> Evaluation:
        """Score a seating and list what it breaks (see :mod:`matcher.planner.evaluation`)."""
        from matcher.planner.evaluation import evaluate

        return evaluate(self, seating)

    def with_rounds(self, rounds: int) -> Problem:
        """The same problem over another number of rounds (locks dropped)."""
        fixed = np.full((rounds, self.size), -1, np.int64)
        for i, t in self.hosts.items():
            fixed[:, i] = t
        options = dataclasses.replace(self.options, rounds=rounds)
        return dataclasses.replace(
            self, rounds=rounds, options=options, fixed=fixed, notes=list(self.notes)
        )

    def conflicts(self) -> npt.NDArray[np.bool_]:
        """Pairs that may never share a table: one organisation, or must-not-meet."""
        out: npt.NDArray[np.bool_] = np.equal.outer(self.org_code, self.org_code)
        for a, b in self.must_not_meet:
            out[a, b] = out[b, a] = True
        np.fill_diagonal(out, False)
        return out

    def partner_mask(self) -> npt.NDArray[np.bool_]:
        """Pairs of existing partners whose meetings cost (must-meet pairs excepted)."""
        out = np.zeros((self.size, self.size), np.bool_)
        if self.options.avoid_partners:
            for a, b in self.partners - self.must_meet:
                out[a, b] = out[b, a] = True
        return out

    @classmethod
    def build(
        cls,
        participants: Sequence[Participant],
        options: PlanOptions,
        *,
        organisations: Mapping[str, Organisation],
        scores: PairScores,
        theme_affinity: Callable[[Organisation, str], float] | None = None,
        blocked: Iterable[tuple[str, str]] = (),
        partners: Iterable[tuple[str, str]] = (),
        locked: Mapping[tuple[int, str], int] | None = None,
    ) -> Problem:
        """Check the input and compile it.

        Args:
            participants: who comes.
            options: layout, rules, search settings.
            organisations: every participant's organisation by id (inline profiles of
                participants win over this mapping).
            scores: pair scores of the participants' organisations.
            theme_affinity: a person's fit with a table theme in [0, 1] (default
                :func:`word_affinity`).
            blocked: organisation pairs never to seat together.
            partners: organisation pairs that already collaborate.
            locked: seats kept as they are: (0-based round, participant key) → 0-based table.

        Raises:
            InfeasiblePlanError: a hard rule cannot be met (named, with who and a proof).
            InvalidParticipantsError: an unknown organisation or reference, a duplicate.
            ValueError: bad options.
        """
        from matcher.planner.feasibility import check

        people = list(participants)
        n = len(people)
        if options.rounds < 1:
            raise ValueError("rounds must be at least 1")
        if n < 2:
            raise InfeasiblePlanError("layout", [p.key for p in people], "fewer than 2 people")
        notes: list[str] = []
        org_sizes: dict[str, int] = {}
        for p in people:
            org_sizes[p.organisation_id] = org_sizes.get(p.organisation_id, 0) + 1
        if options.tables is None and options.table_size is None:
            chosen = choose_table_size(
                n,
                options.rounds,
                no_repeat=options.no_repeat,
                largest_org=max(org_sizes.values()),
            )
            tables = math.ceil(n / chosen)
            notes.append(
                f"table size {chosen} chosen for {n} people over {options.rounds} round(s): "
                f"{tables} tables (the largest size up to {DEFAULT_TABLE_SIZE} the counting "
                "bounds allow; give --table-size or --tables to choose)"
            )
        else:
            tables = _table_count(n, options)
        base, extra = divmod(n, tables)
        sizes = [base + (1 if t < extra else 0) for t in range(tables)]
        capacity = options.table_size or sizes[0]
        problems: list[ImportProblem] = []
        keys: dict[str, int] = {}
        for i, p in enumerate(people):
            if p.key in keys:
                problems.append(
                    participant_problem(p, "person", f"{p.key!r} is listed twice; name each person")
                )
            keys.setdefault(p.key, i)
        orgs: list[Organisation] = []
        for p in people:
            org = p.profile or organisations.get(p.organisation_id)
            if org is None:
                problems.append(
                    participant_problem(
                        p, "organisation_id", f"unknown organisation {p.organisation_id!r}"
                    )
                )
                continue
            orgs.append(org)
        score_row = {o: r for r, o in enumerate(scores.ids)}
        for p in people:
            if p.organisation_id not in score_row:
                problems.append(
                    participant_problem(
                        p, "organisation_id", f"no scores for {p.organisation_id!r}"
                    )
                )
        if problems:
            raise InvalidParticipantsError(problems)
        rows = np.array([score_row[p.organisation_id] for p in people], np.int64)
        matrix = np.asarray(scores.matrix, np.float64)[np.ix_(rows, rows)].copy()
        if not np.all(np.isfinite(matrix[~np.eye(n, dtype=bool)])):
            raise ValueError("pair scores must be finite")
        matrix = (matrix + matrix.T) / 2
        np.fill_diagonal(matrix, 0.0)
        org_codes: dict[str, int] = {}
        org_code = [org_codes.setdefault(p.organisation_id, len(org_codes)) for p in people]
        matrix[np.equal.outer(org_code, org_code)] = 0.0

        by_person: dict[str, list[int]] = {}
        by_org: dict[str, list[int]] = {}
        for i, p in enumerate(people):
            if p.person:
                by_person.setdefault(p.person, []).append(i)
            by_org.setdefault(p.organisation_id, []).append(i)

        def resolve(p: Participant, ref: str, field_name: str) -> int | None:
            if ref in keys:
                return keys[ref]
            found = by_person.get(ref, [])
            if len(found) == 1:
                return found[0]
            group = by_org.get(ref, [])
            if len(group) == 1:
                return group[0]
            if len(found) > 1 or len(group) > 1:
                why = f"{ref!r} is ambiguous: write organisation_id/person"
            else:
                why = f"{ref!r} is not a participant"
            problems.append(participant_problem(p, field_name, why))
            return None

        must_meet: set[tuple[int, int]] = set()
        must_not: set[tuple[int, int]] = set()
        for i, p in enumerate(people):
            for ref in p.must_meet:
                j = resolve(p, ref, "must_meet")
                if j is not None and j != i:
                    must_meet.add((min(i, j), max(i, j)))
            for ref in p.must_not_meet:
                j = resolve(p, ref, "must_not_meet")
                if j is not None and j != i:
                    must_not.add((min(i, j), max(i, j)))
        if problems:
            raise InvalidParticipantsError(problems)

        def person_pairs(pairs: Iterable[tuple[str, str]]) -> set[tuple[int, int]]:
            out: set[tuple[int, int]] = set()
            for a, b in pairs:
                for i in by_org.get(a, []):
                    for j in by_org.get(b, []):
                        if org_code[i] != org_code[j]:
                            out.add((min(i, j), max(i, j)))
            return out

        must_not |= person_pairs(blocked)
        partner_pairs = person_pairs(partners)
        hosts: dict[int, int] = {}
        for i, p in enumerate(people):
            if p.host_table is not None:
                if p.host_table > tables:
                    raise InfeasiblePlanError(
                        "host",
                        [p.key],
                        f"{p.key}{p.where} hosts table {p.host_table}, "
                        f"but there are only {tables} tables",
                    )
                hosts[i] = p.host_table - 1
        fixed = np.full((options.rounds, n), -1, np.int64)
        for i, t in hosts.items():
            fixed[:, i] = t
        for (r, key), t in (locked or {}).items():
            if key not in keys:
                raise ValueError(f"locked seat: {key!r} is not a participant")
            if not (0 <= r < options.rounds and 0 <= t < tables):
                raise ValueError(f"locked seat of {key}: round {r + 1}, table {t + 1} out of range")
            i = keys[key]
            if i in hosts and hosts[i] != t:
                raise InfeasiblePlanError(
                    "locked", [key], f"{key} hosts table {hosts[i] + 1} but is locked at {t + 1}"
                )
            fixed[r, i] = t
        countries: dict[str, int] = {}
        country_code = [
            countries.setdefault(o.country, len(countries)) if o.country else -1 for o in orgs
        ]
        mix = options.mix
        upper = matrix[np.triu_indices(n, 1)]
        p90 = float(np.quantile(upper, 0.9)) if len(upper) else 0.0
        scale = p90 if p90 > 0 else 1.0
        themes: list[str | None] = [None] * tables
        for t, theme in options.themes.items():
            if not 1 <= t <= tables:
                raise ValueError(f"theme for table {t}: there are tables 1 to {tables}")
            themes[t - 1] = theme.strip() or None
        affinity_of = theme_affinity or word_affinity
        affinity = np.zeros((n, tables))
        for t, named in enumerate(themes):
            if named:
                affinity[:, t] = [min(max(affinity_of(o, named), 0.0), 1.0) for o in orgs]
        problem = cls(
            participants=people,
            organisations=orgs,
            scores=matrix,
            sizes=sizes,
            capacity=max(capacity, sizes[0]),
            rounds=options.rounds,
            options=options,
            org_code=org_code,
            hosts=hosts,
            must_meet=must_meet,
            must_not_meet=must_not,
            partners=partner_pairs,
            country_code=country_code,
            research=[o.kind in mix.research_kinds for o in orgs],
            industry=[o.kind in mix.industry_kinds for o in orgs],
            theme_affinity=affinity,
            themes=themes,
            mix_weight=mix.weight if mix.weight is not None else 2 * scale,
            theme_weight=options.theme_weight if options.theme_weight is not None else scale,
            repeat_weight=(
                options.repeat_weight
                if options.repeat_weight is not None
                else 1.0 + float(upper.max(initial=0.0))
            ),
            fixed=fixed,
            pair_reasons=scores.reasons,
            keys=keys,
            notes=notes,
        )
        check(problem)
        return problem


def _table_count(n: int, options: PlanOptions) -> int:
    if options.tables is not None and options.table_size is not None:
        raise ValueError("give either the number of tables or the table size, not both")
    if options.tables is not None:
        if options.tables < 1:
            raise ValueError("tables must be at least 1")
        if options.tables * 2 > n:
            raise InfeasiblePlanError(
                "layout", [], f"{options.tables} tables need at least {2 * options.tables} people"
            )
        return options.tables
    size = options.table_size if options.table_size is not None else DEFAULT_TABLE_SIZE
    if size < 2:
        raise ValueError("table_size must be at least 2")
    return max(1, math.ceil(n / size))
