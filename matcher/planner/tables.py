"""C2LAB workshop tables: who sits with whom, round by round.

A :class:`Problem` holds the participants (people of organisations; several people per
organisation allowed), the table layout (a number of tables or a table size; tables are
balanced, sizes differ by at most one), the rounds and the rules:

Hard rules, never broken in a returned plan:

- ``one_per_organisation``: at most one person of an organisation at a table;
- ``no_repeat``: no pair seated together in two rounds (can be switched off);
- ``must_meet``: the pair sits together in exactly one round;
- ``must_not_meet``: the pair never sits together (pairs an organisation blocked in the
  store count too, see :func:`build_problem`);
- ``host``: a host sits at its table in every round;
- ``table_size``: no table above its capacity (only an edited plan can break it).

Soft terms, added to the objective: per-table mix targets (:class:`MixTargets`: at least
so many countries, at least one research and one industry member; each unit of shortfall
at a table in a round costs ``MixTargets.weight``) and per-table themes (a person's
affinity to its table's theme, times ``PlanOptions.theme_weight``).

Objective = sum over rounds and tables of the pair scores of everyone seated together
(the ranking's reciprocal score of their organisations) + theme affinity − mix shortfall.

Kinds for the mix (:data:`RESEARCH_KINDS`, :data:`INDUSTRY_KINDS`): research and
universities are research; SMEs and large companies are industry; cluster organisations,
public bodies and others are intermediaries and count as neither.

The solver (:func:`solve`) seats a greedy constructive start, then anneals with swap and
move moves; it is seeded and deterministic for a seed unless the time limit cuts it short
(the plan says so). :func:`upper_bound` and :func:`exact_seating` (tiny instances) measure
its quality.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from matcher.domain.errors import ImportProblem, MatcherError
from matcher.domain.schema import Organisation
from matcher.domain.vocab import Ecosystem, FeedbackKind, OrganisationKind

if TYPE_CHECKING:
    from matcher.app.matcher import Matcher

__all__ = [
    "INDUSTRY_KINDS",
    "PARTICIPANT_COLUMNS",
    "RESEARCH_KINDS",
    "RULES",
    "BrokenRule",
    "Evaluation",
    "InfeasiblePlanError",
    "InvalidParticipantsError",
    "MixTargets",
    "PairScores",
    "Participant",
    "Plan",
    "PlanOptions",
    "Problem",
    "Seating",
    "build_problem",
    "exact_seating",
    "greedy_seating",
    "pair_scores",
    "parse_participants",
    "random_seating",
    "read_participants",
    "score_plan",
    "seating_from_json",
    "solve",
    "upper_bound",
]

logger = logging.getLogger(__name__)

Seating = npt.NDArray[np.int64]
"""A (rounds, participants) array: the table (0-based) of each participant in each round."""

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
    "table_size": "no table above its size",
    "layout": "tables and rounds",
}
"""The hard rules by name, in words."""

PARTICIPANT_COLUMNS: tuple[str, ...] = (
    "organisation_id",
    "person",
    "host_table",
    "must_meet",
    "must_not_meet",
    "name",
    "kind",
    "country",
    "region",
    "description",
    "ecosystems",
    "stages",
    "keywords",
    "offers",
    "seeks",
    "target_countries",
    "languages",
)
"""Columns of a participants CSV; only ``organisation_id`` is required (see the README)."""

_PROFILE_COLUMNS = PARTICIPANT_COLUMNS[5:]
_LIST_COLUMNS = frozenset({"ecosystems", "stages", "keywords", "target_countries", "languages"})


# -- input ---------------------------------------------------------------------------------


class InfeasiblePlanError(MatcherError):
    """No plan can keep a hard rule (or none was found in the time given).

    Attributes:
        rule: the rule's name (a key of :data:`RULES`).
        participants: the participants involved (their keys).
    """

    def __init__(self, rule: str, participants: Sequence[str], message: str) -> None:
        self.rule = rule
        self.participants = list(participants)
        super().__init__(f"rule {rule!r} ({RULES.get(rule, rule)}) cannot be met: {message}")


class InvalidParticipantsError(MatcherError):
    """Participants refused: each problem names its row and field."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        shown = "\n  ".join(str(p) for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"participants refused: {len(problems)} problem(s)\n  {shown}{more}")


@dataclass(frozen=True)
class Participant:
    """One person at the workshop, from an organisation.

    Args:
        organisation_id: the organisation (in the store, or given by ``profile``).
        person: the person's name; needed when an organisation sends several people.
        host_table: 1-based table this person hosts in every round.
        must_meet: participants (keys, person names or organisation ids) to sit with once.
        must_not_meet: participants never to sit with.
        profile: the organisation's profile when it is not in the store (cold start).
        source: where the participant came from, for messages (e.g. ``file.csv, line 3``).
    """

    organisation_id: str
    person: str | None = None
    host_table: int | None = None
    must_meet: tuple[str, ...] = ()
    must_not_meet: tuple[str, ...] = ()
    profile: Organisation | None = None
    source: str = ""

    @property
    def key(self) -> str:
        """``organisation_id/person``, or the organisation id when no person is named."""
        return f"{self.organisation_id}/{self.person}" if self.person else self.organisation_id


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
        table_size: people per table at most (tables = ⌈participants / size⌉).
        tables: how many tables (instead of ``table_size``).
        themes: a theme per table (1-based table → words or an ecosystem).
        mix: per-table mix targets.
        no_repeat: no pair seated together twice.
        theme_weight: weight of a person's affinity to its table's theme; None: the
            90th percentile of the pair scores.
        seed: the search's seed.
        time_limit: seconds at most for the search.
        effort: multiplies the search's iterations (the benchmark's reference uses 30).
    """

    rounds: int = 3
    table_size: int | None = None
    tables: int | None = None
    themes: Mapping[int, str] = field(default_factory=dict)
    mix: MixTargets = MixTargets()
    no_repeat: bool = True
    theme_weight: float | None = None
    seed: int = 0
    time_limit: float = 10.0
    effort: float = 1.0


@dataclass(frozen=True)
class PairScores:
    """Symmetric pair scores between organisations.

    Args:
        ids: organisation ids, one per row.
        matrix: (len(ids), len(ids)) scores, symmetric; the diagonal is ignored.
        reasons: why a pair fits, in words (the strongest reasons first), if known.
    """

    ids: list[str]
    matrix: npt.NDArray[np.float64]
    reasons: Callable[[str, str], list[str]] | None = None


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(";") if v.strip())


def parse_participants(text: str, *, name: str = "participants") -> list[Participant]:
    """Participants from CSV text (columns: :data:`PARTICIPANT_COLUMNS`).

    Rows with ``name`` and ``kind`` carry an inline profile (an organisation not in the
    store); the other profile columns are then read as in the platform's format.

    Raises:
        InvalidParticipantsError: a missing or unknown column, or a bad value; each
            problem names its line and field.
    """
    problems: list[ImportProblem] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    if "organisation_id" not in header:
        problems.append(ImportProblem(name, 1, "organisation_id", "column required"))
    for column in header:
        if column not in PARTICIPANT_COLUMNS:
            problems.append(
                ImportProblem(
                    name, 1, column, f"unknown column; known: {', '.join(PARTICIPANT_COLUMNS)}"
                )
            )
    if problems:
        raise InvalidParticipantsError(problems)
    out: list[Participant] = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue
        where = f"{name}, line {line}"
        org_id = row.get("organisation_id", "")
        if not org_id:
            problems.append(ImportProblem(name, line, "organisation_id", "value required"))
            continue
        host: int | None = None
        if row.get("host_table"):
            try:
                host = int(row["host_table"])
                if host < 1:
                    raise ValueError
            except ValueError:
                problems.append(
                    ImportProblem(name, line, "host_table", "a table number from 1 is needed")
                )
                continue
        profile: Organisation | None = None
        given = {c: row[c] for c in _PROFILE_COLUMNS if row.get(c)}
        if given:
            if "name" not in given or "kind" not in given:
                field_name = "name" if "name" not in given else "kind"
                problems.append(
                    ImportProblem(
                        name, line, field_name, "an inline profile needs both name and kind"
                    )
                )
                continue
            values: dict[str, Any] = {
                c: list(_split(v)) if c in _LIST_COLUMNS else v for c, v in given.items()
            }
            try:
                profile = Organisation(id=org_id, **values)
            except ValidationError as exc:
                for err in exc.errors():
                    loc = str(err["loc"][0]) if err["loc"] else ""
                    problems.append(ImportProblem(name, line, loc, err["msg"]))
                continue
        person = row.get("person") or None
        if person and "/" in person:
            problems.append(ImportProblem(name, line, "person", "a name cannot contain '/'"))
            continue
        out.append(
            Participant(
                organisation_id=org_id,
                person=person,
                host_table=host,
                must_meet=_split(row.get("must_meet", "")),
                must_not_meet=_split(row.get("must_not_meet", "")),
                profile=profile,
                source=where,
            )
        )
    if problems:
        raise InvalidParticipantsError(problems)
    if not out:
        raise InvalidParticipantsError([ImportProblem(name, 0, "", "no participants")])
    return out


def read_participants(path: Path) -> list[Participant]:
    """Participants from a CSV file (see :func:`parse_participants`).

    Raises:
        InvalidParticipantsError: bad content, named by line and field.
        FileNotFoundError: no such file.
    """
    return parse_participants(path.read_text(encoding="utf-8"), name=path.name)


# -- the problem ---------------------------------------------------------------------------


def _where(p: Participant) -> str:
    return f" ({p.source})" if p.source else ""


@dataclass
class Problem:
    """A compiled planning problem: participants, layout, rules and the score matrix.

    Build it with :meth:`build` (scores given) or :func:`build_problem` (scores from a
    :class:`~matcher.app.matcher.Matcher`).
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
    country_code: list[int]
    research: list[bool]
    industry: list[bool]
    theme_affinity: npt.NDArray[np.float64]
    themes: list[str | None]
    mix_weight: float
    theme_weight: float
    pair_reasons: Callable[[str, str], list[str]] | None = None
    keys: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of participants."""
        return len(self.participants)

    @property
    def tables(self) -> int:
        """Number of tables."""
        return len(self.sizes)

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
    ) -> Problem:
        """Check the input and compile it.

        Args:
            participants: who comes.
            options: layout, rules, search settings.
            organisations: every participant's organisation by id (inline profiles of
                participants win over this mapping).
            scores: pair scores of the participants' organisations.
            theme_affinity: a person's fit with a table theme in [0, 1] (default: shared
                ecosystem 1, a shared keyword or word of its profile 0.5).
            blocked: organisation pairs never to seat together.

        Raises:
            InfeasiblePlanError: a hard rule cannot be met (named, with who).
            InvalidParticipantsError: an unknown organisation or reference, a duplicate.
            ValueError: bad options.
        """
        people = list(participants)
        n = len(people)
        if options.rounds < 1:
            raise ValueError("rounds must be at least 1")
        if n < 2:
            raise InfeasiblePlanError("layout", [p.key for p in people], "fewer than 2 people")
        tables = _table_count(n, options)
        base, extra = divmod(n, tables)
        sizes = [base + (1 if t < extra else 0) for t in range(tables)]
        capacity = options.table_size or sizes[0]
        problems: list[ImportProblem] = []
        keys: dict[str, int] = {}
        for i, p in enumerate(people):
            if p.key in keys:
                problems.append(
                    _problem(p, "person", f"{p.key!r} is listed twice; name each person")
                )
            keys.setdefault(p.key, i)
        orgs: list[Organisation] = []
        for p in people:
            org = p.profile or organisations.get(p.organisation_id)
            if org is None:
                problems.append(
                    _problem(p, "organisation_id", f"unknown organisation {p.organisation_id!r}")
                )
                continue
            orgs.append(org)
        score_row = {o: r for r, o in enumerate(scores.ids)}
        for p in people:
            if p.organisation_id not in score_row:
                problems.append(
                    _problem(p, "organisation_id", f"no scores for {p.organisation_id!r}")
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
        same_org = np.equal.outer(org_code, org_code)
        matrix[same_org] = 0.0

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
            problems.append(_problem(p, field_name, why))
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
        for a, b in blocked:
            for i in by_org.get(a, []):
                for j in by_org.get(b, []):
                    if i != j:
                        must_not.add((min(i, j), max(i, j)))
        hosts: dict[int, int] = {}
        for i, p in enumerate(people):
            if p.host_table is not None:
                if p.host_table > tables:
                    raise InfeasiblePlanError(
                        "host",
                        [p.key],
                        f"{p.key}{_where(p)} hosts table {p.host_table}, "
                        f"but there are only {tables} tables",
                    )
                hosts[i] = p.host_table - 1
        countries: dict[str, int] = {}
        country_code = [
            countries.setdefault(o.country, len(countries)) if o.country else -1 for o in orgs
        ]
        mix = options.mix
        positive = matrix[np.triu_indices(n, 1)]
        p90 = float(np.quantile(positive, 0.9)) if len(positive) else 0.0
        scale = p90 if p90 > 0 else 1.0
        themes: list[str | None] = [None] * tables
        for t, theme in options.themes.items():
            if not 1 <= t <= tables:
                raise ValueError(f"theme for table {t}: there are tables 1 to {tables}")
            themes[t - 1] = theme.strip() or None
        affinity_of = theme_affinity or _word_affinity
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
            country_code=country_code,
            research=[o.kind in mix.research_kinds for o in orgs],
            industry=[o.kind in mix.industry_kinds for o in orgs],
            theme_affinity=affinity,
            themes=themes,
            mix_weight=mix.weight if mix.weight is not None else 2 * scale,
            theme_weight=options.theme_weight if options.theme_weight is not None else scale,
            pair_reasons=scores.reasons,
            keys=keys,
        )
        problem._check_feasible()
        return problem

    def _check_feasible(self) -> None:
        """Cheap necessary conditions, each failing with the rule and who."""
        people = self.participants
        names = [p.key for p in people]
        tables, rounds = self.tables, self.rounds
        groups: dict[int, list[int]] = {}
        for i, code in enumerate(self.org_code):
            groups.setdefault(code, []).append(i)
        for members in groups.values():
            if len(members) > tables:
                org = people[members[0]].organisation_id
                raise InfeasiblePlanError(
                    "one_per_organisation",
                    [names[i] for i in members],
                    f"{org} sends {len(members)} people but there are {tables} tables",
                )
        if len(self.hosts) > tables:
            raise InfeasiblePlanError(
                "host",
                [names[i] for i in self.hosts],
                f"{len(self.hosts)} hosts for {tables} tables",
            )
        at: dict[int, list[int]] = {}
        for i, t in self.hosts.items():
            at.setdefault(t, []).append(i)
        for t, hs in at.items():
            who = [names[i] for i in hs]
            if len(hs) > self.sizes[t] and len(hs) > min(self.sizes):
                raise InfeasiblePlanError("host", who, f"table {t + 1} has too many hosts")
            codes = [self.org_code[i] for i in hs]
            if len(set(codes)) < len(codes):
                raise InfeasiblePlanError(
                    "one_per_organisation", who, f"hosts of one organisation at table {t + 1}"
                )
            if len(hs) > 1 and rounds > 1 and self.options.no_repeat:
                raise InfeasiblePlanError(
                    "no_repeat", who, f"hosts of table {t + 1} would sit together every round"
                )
            for a in hs:
                for b in hs:
                    if a < b and (a, b) in self.must_not_meet:
                        raise InfeasiblePlanError(
                            "must_not_meet", [names[a], names[b]], f"both host table {t + 1}"
                        )
        for a, b in sorted(self.must_meet):
            who = [names[a], names[b]]
            if self.org_code[a] == self.org_code[b]:
                raise InfeasiblePlanError(
                    "must_meet", who, "they are of the same organisation, who never share a table"
                )
            if (a, b) in self.must_not_meet:
                raise InfeasiblePlanError("must_meet", who, "the pair is also a must-not-meet pair")
            ta, tb = self.hosts.get(a), self.hosts.get(b)
            if ta is not None and tb is not None and ta != tb:
                raise InfeasiblePlanError(
                    "must_meet", who, f"they host different tables ({ta + 1} and {tb + 1})"
                )
        widest = max(self.sizes)
        count = Counter(x for pair in self.must_meet for x in pair)
        for i, k in count.items():
            room = rounds * (widest - 1)
            if k > room:
                raise InfeasiblePlanError(
                    "must_meet",
                    [names[i]],
                    f"{names[i]} must meet {k} people but sits with at most {room} "
                    f"in {rounds} round(s)",
                )
        if self.options.no_repeat and rounds > 1 and widest > tables:
            raise InfeasiblePlanError(
                "no_repeat",
                names,
                f"the {widest} people of a table in round 2 must come from {widest} different "
                f"tables of round 1, but there are {tables}: use smaller tables or more people",
            )
        if self.options.no_repeat and rounds > 1:
            narrowest = min(self.sizes)
            need = rounds * (narrowest - 1)
            for members in groups.values():
                free = self.size - len(members)
                if need > free:
                    who = [names[i] for i in members]
                    raise InfeasiblePlanError(
                        "no_repeat",
                        who,
                        f"{who[0]} meets {narrowest - 1} new people in each of {rounds} rounds "
                        f"({need}) but only {free} others are there",
                    )

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(self, seating: Seating) -> Evaluation:
        """Score a seating and list the hard rules it breaks and the mix targets it misses.

        Raises:
            ValueError: the seating's shape or table numbers do not fit the problem.
        """
        seating = np.asarray(seating, np.int64)
        n, tables = self.size, self.tables
        if seating.shape != (self.rounds, n):
            raise ValueError(f"a seating is {self.rounds} rounds × {n} participants")
        if seating.size and (seating.min() < 0 or seating.max() >= tables):
            raise ValueError(f"tables are numbered 1 to {tables}")
        names = [p.key for p in self.participants]
        broken: list[BrokenRule] = []
        missed: list[BrokenRule] = []
        together = np.zeros((n, n), np.int64)
        pair_total = theme_total = mix_total = 0.0
        for r in range(self.rounds):
            for t in range(tables):
                members = np.flatnonzero(seating[r] == t)
                sub = self.scores[np.ix_(members, members)]
                pair_total += float(np.triu(sub, 1).sum())
                theme_total += float(self.theme_affinity[members, t].sum())
                together[np.ix_(members, members)] += 1
                where = {"round": r + 1, "table": t + 1}
                if len(members) > self.capacity:
                    broken.append(
                        BrokenRule(
                            "table_size",
                            [names[i] for i in members],
                            f"{len(members)} people, more than {self.capacity}",
                            **where,
                        )
                    )
                seen: dict[int, list[int]] = {}
                for i in members:
                    seen.setdefault(self.org_code[i], []).append(int(i))
                for same in seen.values():
                    if len(same) > 1:
                        broken.append(
                            BrokenRule(
                                "one_per_organisation",
                                [names[i] for i in same],
                                f"{len(same)} people of "
                                f"{self.participants[same[0]].organisation_id}",
                                **where,
                            )
                        )
                shortfall, text = self._shortfall(members)
                if shortfall:
                    mix_total += shortfall * self.mix_weight
                    missed.append(BrokenRule("mix", [], text, **where))
        for host, home in self.hosts.items():
            moved = [r + 1 for r in range(self.rounds) if seating[r, host] != home]
            if moved:
                broken.append(
                    BrokenRule(
                        "host",
                        [names[host]],
                        f"hosts table {home + 1} but sits elsewhere in round(s) "
                        + ", ".join(map(str, moved)),
                    )
                )
        if self.options.no_repeat:
            for a, b in zip(*np.nonzero(np.triu(together, 1) > 1), strict=True):
                broken.append(
                    BrokenRule(
                        "no_repeat",
                        [names[a], names[b]],
                        f"together in {together[a, b]} rounds",
                    )
                )
        for a, b in sorted(self.must_meet):
            if together[a, b] == 0:
                broken.append(BrokenRule("must_meet", [names[a], names[b]], "never together"))
        for a, b in sorted(self.must_not_meet):
            if together[a, b] > 0:
                rounds = [r + 1 for r in range(self.rounds) if seating[r, a] == seating[r, b]]
                broken.append(
                    BrokenRule(
                        "must_not_meet",
                        [names[a], names[b]],
                        "together in round(s) " + ", ".join(map(str, rounds)),
                    )
                )
        theme_total *= self.theme_weight
        return Evaluation(
            score=pair_total + theme_total - mix_total,
            pair_score=pair_total,
            theme_score=theme_total,
            mix_penalty=mix_total,
            broken=broken,
            missed_targets=missed,
        )

    def _shortfall(self, members: npt.NDArray[np.int64]) -> tuple[int, str]:
        mix = self.options.mix
        missing: list[str] = []
        short = 0
        if mix.min_countries:
            distinct = len({self.country_code[i] for i in members} - {-1})
            if distinct < mix.min_countries:
                short += mix.min_countries - distinct
                missing.append(f"{distinct} countries of {mix.min_countries} wanted")
        if mix.research_and_industry:
            if not any(self.research[i] for i in members):
                short += 1
                missing.append("no research member")
            if not any(self.industry[i] for i in members):
                short += 1
                missing.append("no industry member")
        return short, "; ".join(missing)


def _problem(p: Participant, field_name: str, message: str) -> ImportProblem:
    file, _, line = p.source.partition(", line ")
    return ImportProblem(
        file or "participants",
        int(line) if line.isdigit() else 0,
        field_name,
        f"{p.key}: {message}",
    )


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
    size = options.table_size if options.table_size is not None else 8
    if size < 2:
        raise ValueError("table_size must be at least 2")
    return max(1, math.ceil(n / size))


def _word_affinity(org: Organisation, theme: str) -> float:
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


@dataclass(frozen=True)
class Evaluation:
    """A seating's objective (``score``), its parts and what it breaks."""

    score: float
    pair_score: float
    theme_score: float
    mix_penalty: float
    broken: list[BrokenRule]
    missed_targets: list[BrokenRule]

    def to_json(self) -> dict[str, Any]:
        """As JSON."""
        return {
            "score": round(self.score, 6),
            "pair_score": round(self.pair_score, 6),
            "theme_score": round(self.theme_score, 6),
            "mix_penalty": round(self.mix_penalty, 6),
            "broken": [b.to_json() for b in self.broken],
            "missed_targets": [m.to_json() for m in self.missed_targets],
        }


# -- the search ----------------------------------------------------------------------------


class _Search:
    """Incremental state for local search over one seating.

    The objective is split into quality ``q`` (pair scores, theme, mix) and rule units
    ``u`` (−1 per pair that may not sit together but does, −1 per repeated meeting, +1
    per must-meet pair that met); violations = must-meet pairs − ``u``. For each round
    ``r``, ``gw[r][i, t]`` sums the pair scores of ``i`` with the people at table ``t``
    and ``gu[r][i, t]`` their rule units (``unit[r]``, which depends on the other rounds),
    so a swap's change is a few look-ups.
    """

    def __init__(self, problem: Problem, seating: Seating) -> None:
        self.p = problem
        n, tables, rounds = problem.size, problem.tables, problem.rounds
        self.n, self.tables, self.rounds = n, tables, rounds
        self.w = problem.scores
        mix = problem.options.mix
        conflict = np.equal.outer(problem.org_code, problem.org_code)
        for a, b in problem.must_not_meet:
            conflict[a, b] = conflict[b, a] = True
        np.fill_diagonal(conflict, False)
        self.conflict = conflict.astype(np.float64)
        self.mm = np.zeros((n, n), np.bool_)
        for a, b in problem.must_meet:
            self.mm[a, b] = self.mm[b, a] = True
        self.mm_total = len(problem.must_meet)
        self.no_repeat = problem.options.no_repeat
        self.seat: list[list[int]] = [list(map(int, row)) for row in seating]
        self.seat_np = [np.array(row, np.int64) for row in seating]
        self.members: list[list[list[int]]] = [
            [[i for i in range(n) if self.seat[r][i] == t] for t in range(tables)]
            for r in range(rounds)
        ]
        onehots = [np.eye(tables)[np.asarray(self.seat[r], np.int64)] for r in range(rounds)]
        count = np.zeros((n, n), np.int64)
        for o in onehots:
            count += (o @ o.T).astype(np.int64)
        self.count = count
        self.unit: list[npt.NDArray[np.float64]] = []
        self.gw: list[npt.NDArray[np.float64]] = []
        self.gu: list[npt.NDArray[np.float64]] = []
        for r in range(rounds):
            other = self.count - (onehots[r] @ onehots[r].T).astype(np.int64)
            unit = self._dyn(other) - self.conflict
            np.fill_diagonal(unit, 0.0)
            self.unit.append(unit)
            self.gw.append(self.w @ onehots[r])
            self.gu.append(unit @ onehots[r])
        self.affinity = problem.theme_affinity * problem.theme_weight
        self.min_countries = mix.min_countries
        self.need_mix = mix.research_and_industry
        self.mix_weight = problem.mix_weight
        ncountries = max(problem.country_code, default=-1) + 1
        self.country = problem.country_code
        self.research = [int(x) for x in problem.research]
        self.industry = [int(x) for x in problem.industry]
        self.cc = [[[0] * max(ncountries, 1) for _ in range(tables)] for _ in range(rounds)]
        self.distinct = [[0] * tables for _ in range(rounds)]
        self.rc = [[0] * tables for _ in range(rounds)]
        self.ic = [[0] * tables for _ in range(rounds)]
        for r in range(rounds):
            for i in range(n):
                t = self.seat[r][i]
                c = self.country[i]
                if c >= 0:
                    if self.cc[r][t][c] == 0:
                        self.distinct[r][t] += 1
                    self.cc[r][t][c] += 1
                self.rc[r][t] += self.research[i]
                self.ic[r][t] += self.industry[i]
        self.q, self.u = self.totals()

    def _dyn(self, other: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        out = np.where(self.mm & (other == 0), 1.0, 0.0)
        if self.no_repeat:
            out -= np.where(other >= 1, 1.0, 0.0)
        return out

    def _dyn_vec(
        self, other: npt.NDArray[np.int64], mm: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = (mm & (other == 0)).astype(np.float64)
        if self.no_repeat:
            out -= other >= 1
        return out

    def _short(self, distinct: int, research: int, industry: int) -> int:
        short = max(0, self.min_countries - distinct)
        if self.need_mix:
            short += (research == 0) + (industry == 0)
        return short

    def totals(self) -> tuple[float, float]:
        """Quality and rule units, from scratch."""
        c = np.triu(self.count, 1)
        q = float((self.w * c).sum())
        u = -float((self.conflict * c).sum())
        if self.no_repeat:
            u -= float(np.maximum(c - 1, 0).sum())
        u += float((self.mm & (c >= 1)).sum())
        for r in range(self.rounds):
            q += float(self.affinity[np.arange(self.n), self.seat[r]].sum())
            for t in range(self.tables):
                short = self._short(self.distinct[r][t], self.rc[r][t], self.ic[r][t])
                q -= self.mix_weight * short
        return q, u

    @property
    def violations(self) -> int:
        """Broken hard rules (counted as the search counts them)."""
        return round(self.mm_total - self.u)

    def _mix_delta(self, r: int, a: int, ta: int, b: int, tb: int) -> float:
        """Change of the mix term when a leaves ta for tb and b (or nobody: -1) the reverse."""
        if not (self.min_countries or self.need_mix):
            return 0.0
        ca = self.country[a]
        cb = self.country[b] if b >= 0 else -2
        ra, ia = self.research[a], self.industry[a]
        rb = self.research[b] if b >= 0 else 0
        ib = self.industry[b] if b >= 0 else 0
        delta = 0.0
        for t, out_c, in_c, d_r, d_i in (
            (ta, ca, cb, rb - ra, ib - ia),
            (tb, cb, ca, ra - rb, ia - ib),
        ):
            counts = self.cc[r][t]
            distinct = self.distinct[r][t]
            new = distinct
            if out_c != in_c:
                if out_c >= 0 and counts[out_c] == 1:
                    new -= 1
                if in_c >= 0 and counts[in_c] == 0:
                    new += 1
            old_s = self._short(distinct, self.rc[r][t], self.ic[r][t])
            new_s = self._short(new, self.rc[r][t] + d_r, self.ic[r][t] + d_i)
            delta -= self.mix_weight * (new_s - old_s)
        return delta

    def swap_delta(self, r: int, a: int, b: int) -> tuple[float, float]:
        """Change of (quality, rule units) when a and b (at different tables) swap in r."""
        ta, tb = self.seat[r][a], self.seat[r][b]
        g, h = self.gw[r], self.gu[r]
        dq = g[a, tb] - g[a, ta] + g[b, ta] - g[b, tb] - 2 * self.w[a, b]
        du = h[a, tb] - h[a, ta] + h[b, ta] - h[b, tb] - 2 * self.unit[r][a, b]
        aff = self.affinity
        dq += aff[a, tb] - aff[a, ta] + aff[b, ta] - aff[b, tb]
        return float(dq) + self._mix_delta(r, a, ta, b, tb), float(du)

    def move_delta(self, r: int, a: int, tb: int) -> tuple[float, float]:
        """Change of (quality, rule units) when a moves to table tb in round r."""
        ta = self.seat[r][a]
        g, h = self.gw[r], self.gu[r]
        dq = g[a, tb] - g[a, ta] + self.affinity[a, tb] - self.affinity[a, ta]
        return float(dq) + self._mix_delta(r, a, ta, -1, tb), float(h[a, tb] - h[a, ta])

    def _relocate(self, r: int, a: int, tb: int) -> None:
        """Move a to tb in round r, updating every structure (not ``q``, ``u``)."""
        ta = self.seat[r][a]
        column = self.w[:, a]
        self.gw[r][:, ta] -= column
        self.gw[r][:, tb] += column
        column = self.unit[r][:, a]
        self.gu[r][:, ta] -= column
        self.gu[r][:, tb] += column
        left = self.members[r][ta]
        left.remove(a)
        joined = self.members[r][tb]
        js = np.array(left + joined, np.int64)
        if len(js):
            steps = np.concatenate([np.full(len(left), -1), np.ones(len(joined), np.int64)])
            old = self.count[a, js]
            new = old + steps
            self.count[a, js] = new
            self.count[js, a] = new
            mm = self.mm[a, js]
            for r2 in range(self.rounds):
                if r2 == r:
                    continue
                where = self.seat_np[r2]
                sa = where[a]
                sj = where[js]
                with_ = (sj == sa).astype(np.int64)
                d = self._dyn_vec(new - with_, mm) - self._dyn_vec(old - with_, mm)
                unit = self.unit[r2]
                unit[a, js] += d
                unit[js, a] += d
                self.gu[r2][a] += np.bincount(sj, weights=d, minlength=self.tables)
                self.gu[r2][js, sa] += d
        joined.append(a)
        self.seat[r][a] = tb
        self.seat_np[r][a] = tb
        c = self.country[a]
        if c >= 0:
            self.cc[r][ta][c] -= 1
            if self.cc[r][ta][c] == 0:
                self.distinct[r][ta] -= 1
            if self.cc[r][tb][c] == 0:
                self.distinct[r][tb] += 1
            self.cc[r][tb][c] += 1
        self.rc[r][ta] -= self.research[a]
        self.rc[r][tb] += self.research[a]
        self.ic[r][ta] -= self.industry[a]
        self.ic[r][tb] += self.industry[a]

    def swap(self, r: int, a: int, b: int, dq: float, du: float) -> None:
        """Apply a swap whose changes are ``dq``, ``du``."""
        ta, tb = self.seat[r][a], self.seat[r][b]
        self._relocate(r, a, tb)
        self._relocate(r, b, ta)
        self.q += dq
        self.u += du

    def move(self, r: int, a: int, tb: int, dq: float, du: float) -> None:
        """Apply a move whose changes are ``dq``, ``du``."""
        self._relocate(r, a, tb)
        self.q += dq
        self.u += du

    def snapshot(self) -> list[list[int]]:
        """A copy of the current seats."""
        return [row[:] for row in self.seat]


END_HEAT = 1e-3
"""Final temperature, as a share of the starting one."""

TARGETED_SHARE = 0.5
"""Share of swaps that bring a person next to one of its best partners."""

START_HEAT = 0.15
"""Starting temperature, in units of the mean quality a random swap loses."""

PENALTY_RISE = 0.9
"""Share of the search with an adaptive penalty per broken rule (raised while rules are
broken, lowered while none is); its ceiling holds after."""


REPAIR_SHARE = 0.1
"""Share of the time limit kept for repairing a seating that breaks a rule."""


def _iterations(problem: Problem) -> int:
    """The search's default length: grows with the seats to fill, within a budget.

    A step costs about the same at any size (13–18 µs on a busy 2-core machine), so
    450,000 steps keep 300 people over 3 rounds inside 10 seconds.
    """
    return min(450_000, max(50_000, 1200 * problem.size * problem.rounds))


def _fill(problem: Problem, rng: random.Random, greedy: bool) -> Seating:
    """Seat hosts, then everyone else, round by round (best table, or at random)."""
    n, tables = problem.size, problem.tables
    seating = np.full((problem.rounds, n), -1, np.int64)
    lo, spare = min(problem.sizes), sum(problem.sizes) - min(problem.sizes) * tables
    org_size = Counter(problem.org_code)
    strength = np.sort(problem.scores, axis=1)[:, ::-1][:, : max(problem.sizes)].sum(axis=1)
    order = sorted(
        (i for i in range(n) if i not in problem.hosts),
        key=lambda i: (-org_size[problem.org_code[i]], -strength[i], i),
    )
    conflict = np.equal.outer(problem.org_code, problem.org_code).astype(np.float64)
    must = np.zeros((n, n))
    for a, b in problem.must_not_meet:
        conflict[a, b] = conflict[b, a] = 1.0
    for a, b in problem.must_meet:
        must[a, b] = must[b, a] = 1.0
    np.fill_diagonal(conflict, 0.0)
    met = np.zeros((n, n))
    other_country = np.not_equal.outer(problem.country_code, problem.country_code)
    count_countries = bool(problem.options.mix.min_countries)
    big = 1e6
    for r in range(problem.rounds):
        size = [0] * tables
        onehot = np.zeros((n, tables))
        for i, t in problem.hosts.items():
            seating[r, i] = t
            size[t] += 1
            onehot[i, t] = 1.0
        people = order if greedy else rng.sample(order, len(order))
        for i in people:
            full_big = sum(1 for s in size if s > lo)
            open_tables = [
                t for t in range(tables) if size[t] < lo or (size[t] == lo and full_big < spare)
            ]
            if not greedy:
                t = open_tables[int(rng.random() * len(open_tables))]
            else:
                value = problem.scores[i] @ onehot
                value += problem.theme_weight * problem.theme_affinity[i]
                value -= big * (conflict[i] @ onehot)
                seen = (met[i] > 0).astype(np.float64)
                if problem.options.no_repeat:
                    value -= big * (seen @ onehot)
                value += big / 10 * ((must[i] * (1 - seen)) @ onehot)
                if count_countries and problem.country_code[i] >= 0:
                    here = onehot.sum(axis=0)
                    same = (~other_country[i]).astype(np.float64) @ onehot
                    value += problem.mix_weight * ((here > 0) & (same == 0))
                t = max(open_tables, key=lambda t: (value[t], -t))
            seating[r, i] = t
            size[t] += 1
            onehot[i, t] = 1.0
        met += onehot @ onehot.T
    return seating


def greedy_seating(problem: Problem) -> Seating:
    """A greedy seating: round by round, each person to the table it adds most to.

    People of large organisations and with strong pairs go first; hosts are seated first.
    """
    return _fill(problem, random.Random(0), greedy=True)


def random_seating(problem: Problem, seed: int = 0) -> Seating:
    """A random seating with balanced tables and hosts in place (other rules ignored)."""
    return _fill(problem, random.Random(seed), greedy=False)


@dataclass(frozen=True)
class SearchStats:
    """How the search went."""

    iterations: int
    seconds: float
    stopped_early: bool
    seed: int


def _anneal(problem: Problem, start: Seating, options: PlanOptions) -> tuple[Seating, SearchStats]:
    """Simulated annealing with swap and move moves from ``start``.

    A move is accepted by the Metropolis rule on ``Δquality + λ·Δunits`` while the
    temperature falls geometrically. The penalty weight λ of a broken rule adapts
    (strategic oscillation): it grows while rules are broken and shrinks while none is,
    so the search crosses the boundary of the feasible seatings instead of freezing
    inside it; its ceiling, above any quality one move can gain, holds for the last
    tenth. The best seating is the one with the fewest violations, then the highest
    quality; if it still breaks a rule, an exhaustive repair tries every single swap and
    move that removes one.
    """
    started = time.perf_counter()
    rng = random.Random(options.seed)
    state = _Search(problem, start)
    n, rounds, tables = problem.size, problem.rounds, problem.tables
    movable = [i for i in range(n) if i not in problem.hosts]
    iterations = max(1, int(_iterations(problem) * options.effort))
    lo, hi = min(problem.sizes), max(problem.sizes)
    can_move = hi > lo
    if len(movable) < 2 or tables < 2:
        return start, SearchStats(0, 0.0, False, options.seed)
    # Starting temperature: the mean quality lost by a worsening random swap.
    sample = []
    for _ in range(300):
        r = int(rng.random() * rounds)
        a, b = rng.sample(movable, 2)
        if state.seat[r][a] != state.seat[r][b]:
            dq, _du = state.swap_delta(r, a, b)
            if dq < 0:
                sample.append(-dq)
    t0 = START_HEAT * max(float(np.mean(sample)) if sample else 0.0, 1e-6)
    ratio = math.log(END_HEAT)
    # The penalty of one broken rule: about one bad swap at first, at the end more than
    # any change of quality one move can make.
    lam0 = t0
    lam1 = 4 * max(problem.sizes) * max(float(np.abs(problem.scores).max()), 1e-9)
    lam1 += 4 * problem.mix_weight * (problem.options.mix.min_countries + 2)
    lam1 += 4 * problem.theme_weight + t0
    targeted = TARGETED_SHARE
    width = problem.rounds * (max(problem.sizes) - 1)
    allowed = np.where(state.conflict > 0, -np.inf, problem.scores)
    order = np.argsort(-allowed, axis=1, kind="stable")[:, :width]
    best_partners = [[int(j) for j in order[i] if allowed[i, j] > 0 and j != i] for i in range(n)]
    best = state.snapshot()
    best_key = (state.violations, -state.q)
    at_best = True  # the current seating is the best so far: copy it only when leaving it
    # Leave a tenth of the time for the repair and the plan's description.
    deadline = started + options.time_limit * (1 - REPAIR_SHARE)
    stopped = False
    it = 0
    temp, lam = t0, lam0
    seat = state.seat
    rand = rng.random
    m = len(movable)
    for it in range(iterations):
        if it % 512 == 0:
            if time.perf_counter() > deadline:
                stopped = True
                break
            frac = it / iterations
            temp = t0 * math.exp(ratio * frac)
            if frac >= PENALTY_RISE:
                lam = lam1
            elif state.u < state.mm_total:
                lam = min(lam * 1.25, lam1)
            else:
                lam = max(lam / 1.25, lam0)
        r = int(rand() * rounds)
        a = movable[int(rand() * m)]
        if can_move and rand() < 0.2:
            ta = seat[r][a]
            tb = int(rand() * tables)
            if tb == ta or len(state.members[r][ta]) <= lo or len(state.members[r][tb]) >= hi:
                continue
            dq, du = state.move_delta(r, a, tb)
            d = dq + lam * du
            if d < 0 and rand() >= math.exp(d / temp):
                continue
            if at_best and (dq < 0 or du < 0):
                best, at_best = state.snapshot(), False
            state.move(r, a, tb, dq, du)
        else:
            if rand() < targeted:
                # Bring a next to one of its best partners: swap with someone at its table.
                near = best_partners[a]
                if not near:
                    continue
                there = state.members[r][seat[r][near[int(rand() * len(near))]]]
                b = there[int(rand() * len(there))]
                if b in problem.hosts:
                    continue
            else:
                b = movable[int(rand() * m)]
            if seat[r][a] == seat[r][b]:
                continue
            dq, du = state.swap_delta(r, a, b)
            d = dq + lam * du
            if d < 0 and rand() >= math.exp(d / temp):
                continue
            if at_best and (dq < 0 or du < 0):
                best, at_best = state.snapshot(), False
            state.swap(r, a, b, dq, du)
        key = (state.violations, -state.q)
        if key < best_key:
            best_key, at_best = (key[0], key[1] + 1e-9), True
    if at_best:
        best = state.snapshot()
    q, u = state.totals()
    if abs(q - state.q) > 1e-6 * max(1.0, abs(q)) or abs(u - state.u) > 1e-6:
        logger.warning(
            "annealing: incremental values drifted (%.6g, %.6g)", q - state.q, u - state.u
        )
    if best_key[0] > 0:
        state = _Search(problem, np.array(best, np.int64))
        _repair(state, movable, lo, hi, started + options.time_limit)
        if (state.violations, -state.q) < best_key:
            best_key = (state.violations, -state.q)
            best = state.snapshot()
    seconds = time.perf_counter() - started
    logger.debug(
        "annealing: %d iterations in %.2f s, best: %d violations, quality %.4f",
        it + 1,
        seconds,
        best_key[0],
        -best_key[1],
    )
    return np.array(best, np.int64), SearchStats(it + 1, seconds, stopped, options.seed)


def _violations(state: _Search) -> list[tuple[int, int, list[int]]]:
    """Pairs that break a rule, with the rounds that could fix them."""
    count = state.count
    out: list[tuple[int, int, list[int]]] = []
    rounds = range(state.rounds)
    bad = np.triu(count, 1) * (state.conflict > 0)
    if state.no_repeat:
        bad = np.maximum(bad, np.triu(count > 1, 1))
    for a, b in zip(*np.nonzero(bad), strict=True):
        together = [r for r in rounds if state.seat[r][a] == state.seat[r][b]]
        out.append((int(a), int(b), together))
    for a, b in zip(*np.nonzero(np.triu(state.mm & (count == 0), 1)), strict=True):
        out.append((int(a), int(b), list(rounds)))
    return out


def _best_fix(
    state: _Search, movable: list[int], lo: int, hi: int
) -> tuple[str, int, int, int, float, float] | None:
    """The single swap or move that removes most broken rules (then keeps most quality)."""
    fixed = set(range(state.n)) - set(movable)
    best: tuple[str, int, int, int, float, float] | None = None
    for a, b, rounds in _violations(state):
        for r in rounds:
            for x, y in ((a, b), (b, a)):
                if x in fixed:
                    continue
                if state.mm[x, y]:
                    there = state.members[r][state.seat[r][y]]
                    targets = [z for z in there if z not in fixed and z != y]
                else:
                    targets = [z for z in movable if state.seat[r][z] != state.seat[r][x]]
                for z in targets:
                    dq, du = state.swap_delta(r, x, z)
                    if du > 0 and (best is None or (du, dq) > (best[4], best[5])):
                        best = ("swap", r, x, z, du, dq)
                ta = state.seat[r][x]
                if len(state.members[r][ta]) > lo:
                    for t in range(state.tables):
                        if t != ta and len(state.members[r][t]) < hi:
                            dq, du = state.move_delta(r, x, t)
                            if du > 0 and (best is None or (du, dq) > (best[4], best[5])):
                                best = ("move", r, x, t, du, dq)
    return best


def _apply(state: _Search, fix: tuple[str, int, int, int, float, float]) -> Callable[[], None]:
    """Apply a swap or move; return what undoes it."""
    how, r, x, z, du, dq = fix
    if how == "swap":
        state.swap(r, x, z, dq, du)

        def undo() -> None:
            state.swap(r, x, z, *state.swap_delta(r, x, z))

        return undo
    origin = state.seat[r][x]
    state.move(r, x, z, dq, du)

    def undo_move() -> None:
        state.move(r, x, origin, *state.move_delta(r, x, origin))

    return undo_move


def _repair(state: _Search, movable: list[int], lo: int, hi: int, deadline: float) -> None:
    """Fix broken rules, one at a time.

    The best single swap or move that removes one; else a swap that
    adds none followed by such a fix (undone when that fixes nothing).
    """
    while state.violations > 0 and time.perf_counter() < deadline:
        fix = _best_fix(state, movable, lo, hi)
        if fix is not None:
            _apply(state, fix)
            continue
        if not _two_step_fix(state, movable, lo, hi, deadline):
            return


def _two_step_fix(state: _Search, movable: list[int], lo: int, hi: int, deadline: float) -> bool:
    before = state.violations
    for a, b, rounds in _violations(state):
        for r in rounds:
            for x in (a, b):
                if x not in movable:
                    continue
                for z in movable:
                    if state.seat[r][z] == state.seat[r][x]:
                        continue
                    dq, du = state.swap_delta(r, x, z)
                    if du < 0:
                        continue
                    undo_first = _apply(state, ("swap", r, x, z, du, dq))
                    second = _best_fix(state, movable, lo, hi)
                    if second is not None:
                        undo_second = _apply(state, second)
                        if state.violations < before:
                            return True
                        undo_second()
                    undo_first()
                    if time.perf_counter() > deadline:
                        return False
    return False


def _describe(problem: Problem, members: Sequence[int], t: int) -> tuple[str, list[str]]:
    """A table's theme in words and why its people sit together."""
    orgs = [problem.organisations[i] for i in members]
    eco = Counter(e for o in orgs for e in o.ecosystems)
    keywords: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for o in orgs:
        for k in {k.lower(): k for k in o.keywords}.items():
            keywords[k[0]] += 1
            shown.setdefault(k[0], k[1])
    shared_eco = [e.label for e, c in eco.most_common() if c >= 2][:2]
    shared_kw = [shown[k] for k, c in keywords.most_common() if c >= 2][:3]
    derived = ", ".join(shared_eco)
    if shared_kw:
        derived += (" — " if derived else "") + ", ".join(shared_kw)
    if not derived:
        top = [e.label for e, _ in eco.most_common(2)]
        derived = "open table" + (f": {', '.join(top)}" if top else "")
    fixed = problem.themes[t]
    theme = f"{fixed} ({derived})" if fixed else derived
    pairs = sorted(
        ((float(problem.scores[a, b]), a, b) for a in members for b in members if a < b),
        reverse=True,
    )[:3]
    reasons: list[str] = []
    for score, a, b in pairs:
        if score <= 0:
            break
        oa, ob = problem.organisations[a], problem.organisations[b]
        why = problem.pair_reasons(oa.id, ob.id) if problem.pair_reasons else []
        if not why:
            why = _shared_words(oa, ob)
        text = f"{_label(problem, a)} – {_label(problem, b)} (score {score:.2f})"
        reasons.append(text + (f": {'; '.join(why[:2])}" if why else ""))
    return theme, reasons


def _label(problem: Problem, i: int) -> str:
    p = problem.participants[i]
    name = problem.organisations[i].name
    return f"{p.person} ({name})" if p.person else name


def _shared_words(a: Organisation, b: Organisation) -> list[str]:
    out = []
    eco = [e.label for e in a.ecosystems if e in b.ecosystems]
    if eco:
        out.append("shared ecosystems: " + ", ".join(eco))
    mine = {k.lower() for k in a.keywords}
    kws = [k for k in b.keywords if k.lower() in mine]
    if kws:
        out.append("shared technologies: " + ", ".join(kws))
    return out


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

    @classmethod
    def of(cls, problem: Problem, seating: Seating, stats: SearchStats | None = None) -> Plan:
        """Describe a seating: scores, broken rules, each table's theme and reasons."""
        described = [
            [
                _describe(problem, [int(i) for i in np.flatnonzero(seating[r] == t)], t)
                for t in range(problem.tables)
            ]
            for r in range(problem.rounds)
        ]
        return cls(problem, seating, problem.evaluate(seating), stats, described)

    @property
    def score(self) -> float:
        """The objective: pair scores + theme affinity − mix shortfall."""
        return self.evaluation.score

    def member(self, i: int) -> dict[str, Any]:
        """One participant as the JSON shows it."""
        p, o = self.problem.participants[i], self.problem.organisations[i]
        return {
            "key": p.key,
            "organisation_id": p.organisation_id,
            "person": p.person,
            "name": o.name,
            "country": o.country,
            "kind": o.kind.value,
            "host": i in self.problem.hosts,
        }

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON: rounds → tables → members, theme, reasons; score; seats."""
        problem = self.problem
        rounds = []
        for r in range(problem.rounds):
            tables = []
            for t in range(problem.tables):
                members = [int(i) for i in np.flatnonzero(self.seating[r] == t)]
                theme, reasons = self.tables[r][t]
                sub = problem.scores[np.ix_(members, members)]
                countries = sorted(
                    {m["country"] for m in map(self.member, members) if m["country"]}
                )
                tables.append(
                    {
                        "table": t + 1,
                        "members": [self.member(i) for i in members],
                        "theme": theme,
                        "reasons": reasons,
                        "countries": countries,
                        "score": round(float(np.triu(sub, 1).sum()), 6),
                    }
                )
            rounds.append({"round": r + 1, "tables": tables})
        out: dict[str, Any] = {"rounds": rounds, **self.evaluation.to_json()}
        out["participants"] = [
            {
                **self.member(i),
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
        }
        if self.stats is not None:
            out["search"] = {
                "seed": self.stats.seed,
                "iterations": self.stats.iterations,
                "seconds": round(self.stats.seconds, 3),
                "stopped_early": self.stats.stopped_early,
            }
        return out

    def to_csv(self) -> str:
        """One row per participant per round (round, table, who, host, theme)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            [
                "round",
                "table",
                "organisation_id",
                "person",
                "name",
                "country",
                "kind",
                "host",
                "theme",
            ]
        )
        for r in range(self.problem.rounds):
            for t in range(self.problem.tables):
                for i in np.flatnonzero(self.seating[r] == t):
                    m = self.member(int(i))
                    writer.writerow(
                        [r + 1, t + 1, m["organisation_id"], m["person"] or "", m["name"],
                         m["country"] or "", m["kind"], "yes" if m["host"] else "",
                         self.tables[r][t][0]]
                    )  # fmt: skip
        return buffer.getvalue()


def solve(problem: Problem, options: PlanOptions | None = None) -> Plan:
    """Plan the tables: a greedy start, then simulated annealing (seeded, time-limited).

    Args:
        problem: the compiled problem.
        options: search settings (seed, time limit, effort); default the problem's.

    Raises:
        InfeasiblePlanError: the best seating found still breaks a hard rule (the error
            names the rule and the participants).
    """
    opts = options or problem.options
    start = greedy_seating(problem)
    seating, stats = _anneal(problem, start, opts)
    plan = Plan.of(problem, seating, stats)
    if plan.evaluation.broken:
        first = plan.evaluation.broken[0]
        listing = "; ".join(str(b) for b in plan.evaluation.broken[:5])
        hint = " (the time limit cut the search short)" if stats.stopped_early else ""
        raise InfeasiblePlanError(
            first.rule,
            first.participants,
            f"no seating found that keeps every rule{hint}: {listing}",
        )
    logger.info(
        "planned %d people at %d tables over %d rounds: score %.4f in %.2f s",
        problem.size,
        problem.tables,
        problem.rounds,
        plan.score,
        stats.seconds,
    )
    return plan


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
                key = m.get("key") or (
                    f"{m.get('organisation_id')}/{m['person']}"
                    if m.get("person")
                    else str(m.get("organisation_id"))
                )
                i = problem.keys.get(str(key))
                if i is None:
                    raise ValueError(f"round {r + 1}, table {t + 1}: unknown participant {key!r}")
                if seating[r, i] >= 0:
                    raise ValueError(f"round {r + 1}: {key} is seated twice")
                seating[r, i] = t
        missing = [problem.participants[i].key for i in np.flatnonzero(seating[r] < 0)]
        if missing:
            raise ValueError(f"round {r + 1}: not seated: {', '.join(missing)}")
    return seating


def score_plan(problem: Problem, plan: Mapping[str, Any]) -> Evaluation:
    """Score a plan in the JSON shape of :meth:`Plan.to_json` (e.g. after a person moved).

    Returns its objective and parts, the hard rules it breaks (rule, round, table, who)
    and the mix targets it misses.

    Raises:
        ValueError: the plan does not fit the problem (see :func:`seating_from_json`).
    """
    return problem.evaluate(seating_from_json(problem, plan))


# -- references ----------------------------------------------------------------------------


def upper_bound(problem: Problem) -> float:
    """A provable upper bound on the objective of any seating that keeps the hard rules.

    Each person sits with at most ``rounds × (largest table − 1)`` others (distinct ones
    under no_repeat; never of its organisation or a must-not-meet partner), so the pair
    part is at most half the sum, over people, of their best such scores; the theme part
    at most each person's best table affinity in every round; the mix part is ≤ 0.
    """
    rounds = problem.rounds
    seats = max(problem.sizes) - 1
    w = problem.scores.copy()
    for a, b in problem.must_not_meet:
        w[a, b] = w[b, a] = 0.0
    w = np.maximum(w, 0.0)
    ranked = np.sort(w, axis=1)[:, ::-1]
    if problem.options.no_repeat:
        pair = ranked[:, : rounds * seats].sum()
    else:
        pair = rounds * ranked[:, :seats].sum()
    theme = rounds * problem.theme_weight * problem.theme_affinity.max(axis=1, initial=0.0).sum()
    return float(pair / 2 + theme)


def _partitions(
    people: list[int], sizes: list[int], allowed: Callable[[int, int], bool]
) -> Iterator[list[list[int]]]:
    """Every split of ``people`` into unlabelled tables of the given sizes."""
    if not people:
        yield []
        return
    first, rest = people[0], people[1:]
    for size in sorted(set(sizes), reverse=True):
        left = list(sizes)
        left.remove(size)
        for group in _combinations(rest, size - 1, first, allowed):
            chosen = set(group)
            remaining = [p for p in rest if p not in chosen]
            for tail in _partitions(remaining, left, allowed):
                yield [[first, *group], *tail]


def _combinations(
    pool: list[int], k: int, first: int, allowed: Callable[[int, int], bool]
) -> Iterator[list[int]]:
    def walk(start: int, picked: list[int]) -> Iterator[list[int]]:
        if len(picked) == k:
            yield list(picked)
            return
        for idx in range(start, len(pool) - (k - len(picked)) + 1):
            p = pool[idx]
            if all(allowed(p, q) for q in (first, *picked)):
                picked.append(p)
                yield from walk(idx + 1, picked)
                picked.pop()

    return walk(0, [])


def exact_seating(problem: Problem, *, max_people: int = 12) -> tuple[Seating, float]:
    """The best seating and its objective, by exhaustive search (tiny problems only).

    Every split into tables that keeps the per-round rules is scored once; rounds are
    then chosen best first with a bound (rounds are interchangeable), keeping no_repeat
    and must-meet.

    Raises:
        ValueError: too many people, or hosts or themes (tables not interchangeable).
        InfeasiblePlanError: no seating keeps the hard rules.
    """
    n = problem.size
    if n > max_people:
        raise ValueError(f"exact search is for at most {max_people} people, not {n}")
    if problem.hosts or any(problem.themes):
        raise ValueError("exact search needs interchangeable tables: no hosts, no themes")

    def allowed(a: int, b: int) -> bool:
        pair = (min(a, b), max(a, b))
        return problem.org_code[a] != problem.org_code[b] and pair not in problem.must_not_meet

    bit: dict[tuple[int, int], int] = {}
    for a in range(n):
        for b in range(a + 1, n):
            bit[(a, b)] = 1 << len(bit)
    scored: list[tuple[float, int, list[list[int]]]] = []
    for split in _partitions(list(range(n)), list(problem.sizes), allowed):
        value = 0.0
        mask = 0
        for table in split:
            members = np.array(table, np.int64)
            value += float(np.triu(problem.scores[np.ix_(members, members)], 1).sum())
            value -= problem.mix_weight * problem._shortfall(members)[0]
            for x in table:
                for y in table:
                    if x < y:
                        mask |= bit[(x, y)]
        scored.append((value, mask, split))
    scored.sort(key=lambda s: -s[0])
    rounds = problem.rounds
    need = 0
    for pair in problem.must_meet:
        need |= bit[pair]
    best: tuple[float, list[int]] = (-math.inf, [])
    values = [s[0] for s in scored]

    def dfs(start: int, chosen: list[int], value: float, used: int) -> None:
        nonlocal best
        depth = len(chosen)
        if depth == rounds:
            if (used & need) == need and value > best[0] + 1e-12:
                best = (value, list(chosen))
            return
        for k in range(start, len(scored)):
            if value + values[k] * (rounds - depth) <= best[0] + 1e-12:
                return
            v, mask, _ = scored[k]
            if problem.options.no_repeat and mask & used:
                continue
            chosen.append(k)
            dfs(k + (1 if problem.options.no_repeat else 0), chosen, value + v, used | mask)
            chosen.pop()

    dfs(0, [], 0.0, 0)
    if not best[1]:
        raise InfeasiblePlanError("no_repeat", [], "no seating keeps every rule")
    seating = np.zeros((rounds, n), np.int64)
    for r, k in enumerate(best[1]):
        for t, table in enumerate(scored[k][2]):
            seating[r, table] = t
    return seating, best[0]


# -- with the Matcher ----------------------------------------------------------------------


def pair_scores(
    matcher: Matcher, organisations: Sequence[Organisation]
) -> tuple[PairScores, list[tuple[str, str]]]:
    """Reciprocal pair scores among organisations, as the ranking scores pairs.

    Organisations in the loaded index are scored with every signal (graph included);
    profiles not in it (cold start) have their texts encoded and no graph signals, as
    :meth:`~matcher.app.matcher.Matcher.recommend_profile` treats them. Both sides are scored
    by the ranker and combined as the settings say (harmonic mean by default).

    Returns:
        The scores (with a reasons function for a pair) and the blocked pairs among them
        (organisation pairs where either side blocked the other).

    Raises:
        StateError: no usable index.
    """
    from matcher.graph import CollaborationGraph
    from matcher.ranking.rank import Ranked, combine
    from matcher.ranking.reasons import explain
    from matcher.ranking.signals import SIGNALS, ProfileTable, signal_columns

    state = matcher.state()
    table = state.table
    ranker = matcher.ranker
    how = matcher.settings.reciprocity
    orgs = list({o.id: o for o in organisations}.values())
    ids = [o.id for o in orgs]
    stored = [o for o in orgs if o.id in table.rows and table.organisations[table.rows[o.id]] == o]
    inline = [o for o in orgs if o not in stored]
    pos = {o: k for k, o in enumerate(ids)}
    n = len(ids)
    matrix = np.zeros((n, n))
    # Forward signal rows per pair for the reasons: (query org, candidate org) → vector.
    signals: dict[tuple[str, str], npt.NDArray[np.float64]] = {}

    def probs(fwd: dict[str, Any], rev: dict[str, Any]) -> npt.NDArray[np.float64]:
        return combine(
            ranker.probability(ranker.logits_of_columns(fwd)),
            ranker.probability(ranker.logits_of_columns(rev)),
            how,
        )

    def keep(queries: list[Organisation], cands: list[Organisation], fwd: dict[str, Any]) -> None:
        for a, qa in enumerate(queries):
            for b, cb in enumerate(cands):
                signals[(qa.id, cb.id)] = np.array([fwd[s][a, b] for s in SIGNALS])

    if stored:
        rows = np.array([table.rows[o.id] for o in stored], np.int64)
        fwd, rev = signal_columns(table, [table.query(int(r)) for r in rows], rows)
        sub = probs(fwd, rev)
        idx = [pos[o.id] for o in stored]
        matrix[np.ix_(idx, idx)] = sub
        keep(stored, stored, fwd)
    if inline:
        encoder = matcher.encoder
        texts = [t for o in inline for t in (o.profile_text() or o.name, o.offers, o.seeks) if t]
        distinct = list(dict.fromkeys(texts))
        vectors = dict(zip(distinct, encoder.encode(distinct), strict=True))
        zero = np.zeros(state.index.dimension, np.float32)

        def vec(text: str) -> npt.NDArray[np.float32]:
            return vectors[text] if text else zero

        if stored:
            rows = np.array([table.rows[o.id] for o in stored], np.int64)
            queries = [
                table.profile_query(o, vec(o.profile_text() or o.name), vec(o.offers), vec(o.seeks))
                for o in inline
            ]
            fwd, rev = signal_columns(table, queries, rows)
            sub = probs(fwd, rev)
            ia, ib = [pos[o.id] for o in inline], [pos[o.id] for o in stored]
            matrix[np.ix_(ia, ib)] = sub
            matrix[np.ix_(ib, ia)] = sub.T
            keep(inline, stored, fwd)
        ordered = sorted(inline, key=lambda o: o.id)
        graph = CollaborationGraph.from_rows([], organisations=[o.id for o in ordered])
        small = ProfileTable(
            ordered,
            np.stack([vec(o.profile_text() or o.name) for o in ordered]).astype(np.float32),
            np.stack([vec(o.offers) for o in ordered]).astype(np.float32),
            np.stack([vec(o.seeks) for o in ordered]).astype(np.float32),
            graph,
            table.as_of,
            np.zeros(len(ordered)),
        )
        rows = np.arange(len(ordered), dtype=np.int64)
        queries = [
            small.profile_query(o, vec(o.profile_text() or o.name), vec(o.offers), vec(o.seeks))
            for o in ordered
        ]
        fwd, rev = signal_columns(small, queries, rows)
        sub = probs(fwd, rev)
        idx = [pos[o.id] for o in ordered]
        matrix[np.ix_(idx, idx)] = sub
        keep(ordered, ordered, fwd)
    np.fill_diagonal(matrix, 0.0)
    matrix = (matrix + matrix.T) / 2
    by_id = {o.id: o for o in orgs}

    def reasons(a: str, b: str) -> list[str]:
        x = signals.get((a, b))
        if x is None:
            return []
        contributions = ranker.contributions(x[None, :])[0]
        ranked = Ranked(
            row=table.rows[b] if b in table.rows and by_id[b] in stored else 0,
            score=float(matrix[pos[a], pos[b]]),
            forward=0.0,
            reverse=0.0,
            signals=x,
            contributions=contributions,
        )
        if by_id[b] not in stored:
            return _shared_words(by_id[a], by_id[b])
        query_row = table.rows[a] if by_id[a] in stored else None
        return [r.text for r in explain(table, by_id[a], query_row, ranked)]

    blocked: list[tuple[str, str]] = []
    for o in stored:
        for other, kinds in matcher.store.feedback_about(o.id).items():
            if FeedbackKind.BLOCKED in kinds and other in pos:
                blocked.append((o.id, other))
    return PairScores(ids, matrix, reasons), blocked


def build_problem(
    matcher: Matcher, participants: Sequence[Participant], options: PlanOptions
) -> Problem:
    """Compile a problem whose pair scores come from the Matcher's loaded state.

    Participants' organisations come from the store unless a participant gives an inline
    profile; pairs an organisation blocked are must-not-meet; a table theme naming an
    ecosystem matches members in it, any other theme matches by text similarity.

    Raises:
        InvalidParticipantsError: an organisation neither in the store nor given inline.
        InfeasiblePlanError: a hard rule cannot be met.
        StateError: no usable index.
    """
    inline = {p.organisation_id: p.profile for p in participants if p.profile is not None}
    wanted = [p.organisation_id for p in participants if p.organisation_id not in inline]
    found = matcher.store.get_organisations(dict.fromkeys(wanted))
    missing = [p for p in participants if p.profile is None and p.organisation_id not in found]
    if missing:
        raise InvalidParticipantsError(
            [
                _problem(p, "organisation_id", "not in the store; give name and kind inline")
                for p in missing
            ]
        )
    organisations = {**found, **inline}
    scores, blocked = pair_scores(matcher, list(organisations.values()))
    affinity = _text_affinity(matcher, options, organisations) if options.themes else None
    return Problem.build(
        participants,
        options,
        organisations=organisations,
        scores=scores,
        theme_affinity=affinity,
        blocked=blocked,
    )


def _text_affinity(
    matcher: Matcher, options: PlanOptions, organisations: Mapping[str, Organisation]
) -> Callable[[Organisation, str], float]:
    """Affinity: 1 for a member of a named ecosystem, else text similarity to the theme."""
    ecosystems = {e.value: e for e in Ecosystem} | {e.label.lower(): e for e in Ecosystem}
    themes = [t for t in options.themes.values() if t.strip().lower() not in ecosystems]
    theme_vec = dict(zip(themes, matcher.encoder.encode(themes), strict=True)) if themes else {}
    state = matcher.state()
    org_vec: dict[str, npt.NDArray[np.float32]] = {}
    for o in organisations.values():
        if o.id in state.index:
            org_vec[o.id] = state.index.vector(o.id)
    pending = [o for o in organisations.values() if o.id not in org_vec]
    if pending and themes:
        encoded = matcher.encoder.encode([o.profile_text() or o.name for o in pending])
        org_vec.update({o.id: v for o, v in zip(pending, encoded, strict=True)})

    def affinity(org: Organisation, theme: str) -> float:
        eco = ecosystems.get(theme.strip().lower())
        if eco is not None:
            return 1.0 if eco in org.ecosystems else 0.0
        vec = org_vec.get(org.id)
        if vec is None:
            return _word_affinity(org, theme)
        return max(float(vec @ theme_vec[theme]), _word_affinity(org, theme))

    return affinity
